"""One kernel idiom: each Numba twin module has the CUDA launchers' public names and leading
arguments (the host may add keyword-only options after them)."""

from __future__ import annotations

import importlib
import inspect

import pytest

from mxlite.ops import _cuda
from mxlite.ops._launchers import BY_TWIN as LAUNCHERS

pytest.importorskip("numba")


def _positional(fn: object) -> list[str]:
    return [
        p.name
        for p in inspect.signature(fn).parameters.values()  # type: ignore[arg-type]
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]


def test_every_cuda_launcher_has_a_twin_and_no_twin_is_orphaned() -> None:
    twins = {name for names in LAUNCHERS.values() for name in names}
    launchers = {n for n in _cuda.__all__ if callable(getattr(_cuda, n)) and n[0].islower()}
    # device-only utilities: table layouts, the source loader, kernel lookup, SM count
    helpers = {
        "fill_table",
        "const_table",
        "value_pattern",
        "kernel_source",
        "get_kernel",
        "sm_count",
    }
    assert twins == launchers - helpers


@pytest.mark.parametrize(
    ("module", "name"), [(m, n) for m, names in LAUNCHERS.items() for n in names]
)
def test_twin_has_the_launcher_name_and_leading_arguments(module: str, name: str) -> None:
    twin = importlib.import_module(f"mxlite.ops._numba.{module}")
    assert name in twin.__dict__, f"mxlite.ops._numba.{module} lacks {name}"
    host, device = getattr(twin, name), getattr(_cuda, name)
    assert _positional(host) == _positional(device)
    extra = [
        p for p in inspect.signature(host).parameters.values() if p.name not in _positional(device)
    ]
    assert all(p.kind is p.KEYWORD_ONLY for p in extra), extra
