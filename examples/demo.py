"""A short tour of mxlite, written as MXNet 1.x code: contexts, NDArray, parameters, save and load.

Runs on any machine (GPU parts are skipped with a note when no GPU is usable). It checks what it
shows and exits non-zero when a check fails, so ``make demo`` doubles as a smoke test.

Run: ``make demo`` (creates .venv first) or ``python examples/demo.py``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile

import numpy as np

import mxlite as mx
from mxlite import nd

# What the parameters part needs; it is skipped, with a note, until all of them exist.
PARAMETER_MODULES = ("mxlite.gluon.parameter", "mxlite.initializer", "mxlite.random")


def section(title: str) -> None:
    """Print a section heading."""
    print(f"\n== {title} " + "=" * max(0, 70 - len(title)))


def check(ok: bool, what: str) -> None:
    """Fail the demo loudly when something it shows is not what it says."""
    if not ok:
        raise SystemExit(f"demo check failed: {what}")


def has_module(name: str) -> bool:
    """Whether ``name`` (an mxlite module) can be imported in this checkout."""
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def demo_contexts() -> list[mx.Context]:
    """Contexts are plain values; data lives on one. Returns the contexts the demo uses."""
    section("contexts")
    n_gpus = mx.context.num_gpus()
    print(f"mx.cpu() = {mx.cpu()}, mx.gpu(1) = {mx.gpu(1)}, usable GPUs: {n_gpus}")
    print(f"default context: {mx.context.current_context()}")
    with mx.cpu(1):
        print(f"inside `with mx.cpu(1):` the default is {mx.context.current_context()}")
        check(mx.context.current_context() == mx.cpu(1), "with-block context")
    if n_gpus == 0:
        try:
            nd.zeros((2,), ctx=mx.gpu(0))
        except mx.MXNetError as err:
            print(f"no GPU here, so mx.gpu(0) data fails with a clear error:\n  {err}")
        else:
            check(False, "placing data on gpu(0) without a GPU must raise")
        return [mx.cpu(0), mx.cpu(1)]
    return [mx.gpu(i) for i in range(n_gpus)] + [mx.cpu(0)]


def demo_ndarray(ctxs: list[mx.Context]) -> None:
    """NDArray: arithmetic, in-place updates through views, copies between contexts."""
    section("NDArray")
    w = nd.arange(6, ctx=ctxs[0]).reshape((2, 3))
    w[:] += 1  # in place, as on an MXNet parameter's data()
    w[0, 0] = 42
    print("w after w[:] += 1 and w[0, 0] = 42:", w)
    check(w.asnumpy().tolist() == [[42, 2, 3], [4, 5, 6]], "in-place updates")

    other = w.copyto(ctxs[-1])
    other *= other.abs() >= 5  # keep entries with |x| >= 5, as in a pruning loop
    print(f"copied to {other.context} and masked:", other)
    check(other.context == ctxs[-1], "copyto keeps the target context")
    check(other.asnumpy().tolist() == [[42, 0, 0], [0, 5, 6]], "masking")

    total = nd.dot(w, w.T).sum().asscalar()
    print(f"sum(w . w^T) = {total} ({type(total).__name__})")
    check(total == float(np.dot(w.asnumpy(), w.asnumpy().T).sum()), "dot/sum agree with NumPy")


def demo_parameters(ctxs: list[mx.Context]) -> dict[str, nd.NDArray]:
    """Gluon parameters with a replica per context; returns their data for the save/load part."""
    section("parameters")
    from mxlite import gluon

    mx.random.seed(7)
    weight = gluon.Parameter("weight", shape=(3, 4))
    weight.initialize(init=mx.init.Xavier(), ctx=ctxs)
    bias = gluon.Parameter("bias", shape=(3,))
    bias.initialize(init=mx.init.Uniform(0.1), ctx=ctxs)
    print(f"{weight} on {weight.list_ctx()}")
    replicas = [d.asnumpy() for d in weight.list_data()]
    check(all(np.array_equal(replicas[0], r) for r in replicas), "replicas are identical")
    print(f"{len(replicas)} identical replicas; weight.data({ctxs[0]}):", weight.data(ctxs[0]))

    # Counter-based init: a parameter's initial value depends on the seed and its name only, not
    # on the contexts or the order in which parameters are initialized.
    mx.random.seed(7)
    other_bias = gluon.Parameter("bias", shape=(3,))
    other_bias.initialize(init=mx.init.Uniform(0.1), ctx=ctxs[-1])
    again = gluon.Parameter("weight", shape=(3, 4))
    again.initialize(init=mx.init.Xavier(), ctx=ctxs[-1])
    same = np.array_equal(again.data(ctxs[-1]).asnumpy(), replicas[0])
    print(f"same seed, other context and init order -> same weight: {same} (MXNet 1.x: False)")
    check(same, "counter-based initialization is reproducible")

    for g in weight.list_grad():
        g[:] = 1.0
    weight.zero_grad()
    check(all(g.asnumpy().sum() == 0 for g in weight.list_grad()), "zero_grad on every replica")
    print("zero_grad() cleared the gradient on every context")
    return {"weight": weight.data(ctxs[0]), "bias": bias.data(ctxs[0])}


def demo_save_load(arrays: dict[str, nd.NDArray]) -> None:
    """MXNet's binary .params format (loads in real MXNet 1.9.1), safetensors and npz."""
    section("save / load")
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("demo.params", "demo.safetensors", "demo.npz"):
            path = os.path.join(tmp, name)
            nd.save(path, arrays)
            loaded = nd.load(path)
            check(sorted(loaded) == sorted(arrays), f"{name}: same keys")
            for key, value in arrays.items():
                check(
                    np.array_equal(loaded[key].asnumpy(), value.asnumpy()),
                    f"{name}: {key} round-trips",
                )
            print(
                f"{name:17s} {os.path.getsize(path):5d} bytes, round trip exact: {sorted(loaded)}"
            )
        with open(os.path.join(tmp, "demo.params"), "rb") as f:
            magic = int.from_bytes(f.read(8), "little")
        print(f".params list magic: {magic:#x} (MXNet's 0x112)")
        check(magic == 0x112, ".params magic")


def main() -> int:
    print(f"mxlite {mx.__version__} (numpy {np.__version__})")
    ctxs = demo_contexts()
    demo_ndarray(ctxs)
    missing = [name for name in PARAMETER_MODULES if not has_module(name)]
    if not missing:
        arrays = demo_parameters(ctxs)
    else:
        section("parameters")
        print(f"NOTE: skipped: {', '.join(missing)} not in this checkout yet")
        arrays = {"weight": nd.ones((3, 4)) * 0.5, "bias": nd.zeros((3,))}
    demo_save_load(arrays)
    print("\ndemo finished: every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
