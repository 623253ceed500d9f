"""Initializers made of other initializers or data: Load, Mixed and FusedRNN."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from typing import Any

from mxlite.base import CheckError
from mxlite.initializers import _fill
from mxlite.initializers.base import InitDesc, Initializer, create, register

__all__ = ["Load", "Mixed", "FusedRNN", "fused_rnn_layout"]


class Load:
    """Initialize arrays from a parameter file or a ``name -> NDArray`` dict.

    ``arg:``/``aux:`` prefixes of the stored names are dropped. Not an Initializer subclass (as in
    MXNet), but mxlite's ``create`` passes it through, so gluon's ``initialize`` accepts it.

    Args:
        param: file name (read with ``mx.nd.load``) or dict of name -> NDArray.
        default_init: initializer for names not found in ``param``.
        verbose: log where each array came from (``logging.info``).

    Raises:
        CheckError: ``param`` is neither a file name nor a dict (an AssertionError, as in MXNet).
    """

    _mxlite_initializer_like = True

    def __init__(
        self, param: str | dict[str, Any], default_init: Any = None, verbose: bool = False
    ) -> None:
        if isinstance(param, str):
            from mxlite import ndarray

            param = ndarray.load(param)
        if not isinstance(param, dict):
            raise CheckError(
                f"Load needs a parameter file name or a dict of name -> NDArray, got {type(param).__name__}"
            )
        self.param: dict[str, Any] = {}
        for name, arr in param.items():
            if name.startswith("arg:") or name.startswith("aux:"):
                self.param[name[4:]] = arr
            else:
                self.param[name] = arr
        self.default_init = default_init
        self.verbose = verbose

    def __call__(self, name: Any, arr: Any) -> None:
        """Copy the stored array called ``name`` into ``arr``, or fall back to ``default_init``.

        Raises:
            CheckError: shape mismatch, or ``name`` missing with no ``default_init``.
        """
        if name in self.param:
            src = self.param[name]
            if tuple(arr.shape) != tuple(src.shape):
                raise CheckError(
                    f"Parameter {name} cannot be initialized from loading. "
                    f"Shape mismatch, target {tuple(arr.shape)} vs loaded {tuple(src.shape)}"
                )
            _fill.write(arr, src)
            if self.verbose:
                logging.info("Initialized %s by loading", name)
        else:
            if self.default_init is None:
                raise CheckError(
                    f"Cannot Initialize {name}. Not found in loaded param and no default Initializer is provided."
                )
            self.default_init(name, arr)
            if self.verbose:
                logging.info("Initialized %s by default", name)


class Mixed:
    """Pick an initializer per array by the first regular expression that matches its name.

    Args:
        patterns: regular expressions (``re.match``, anchored at the start of the name).
        initializers: one initializer per pattern.

    Raises:
        CheckError: the two lists differ in length (an AssertionError, as in MXNet).
    """

    _mxlite_initializer_like = True

    def __init__(self, patterns: Sequence[str], initializers: Sequence[Any]) -> None:
        if len(patterns) != len(initializers):
            raise CheckError(
                f"Mixed needs one initializer per pattern: got {len(patterns)} patterns and "
                f"{len(initializers)} initializers"
            )
        self.map = list(zip([re.compile(p) for p in patterns], initializers))

    def __call__(self, name: Any, arr: Any) -> None:
        """Initialize ``arr`` with the initializer of the first pattern matching ``name``.

        Raises:
            ValueError: no pattern matches.
        """
        for prog, init in self.map:
            if prog.match(name):
                init(name, arr)
                return
        raise ValueError(
            f"Parameter name {name} did not match any pattern. Consider "
            'add a ".*" pattern at the and with default Initializer.'
        )


_GATES = {
    "rnn_relu": [""],
    "rnn_tanh": [""],
    "lstm": ["_i", "_f", "_c", "_o"],
    "gru": ["_r", "_z", "_o"],
}


def fused_rnn_layout(
    size: int, num_hidden: int, num_layers: int, mode: str, bidirectional: bool
) -> list[tuple[str, int, tuple[int, ...]]]:
    """MXNet's FusedRNNCell packing: ``(name, start, shape)`` of each piece of the flat vector.

    All weights first (per layer, per direction: the i2h weights of every gate, then the h2h
    weights), then all biases in the same order. Names are MXNet's with an empty prefix, e.g.
    ``l0_i2h_f_weight``, ``r1_h2h_bias``.

    Raises:
        ValueError: unknown ``mode``.
        CheckError: ``size`` does not fit these arguments.
    """
    if mode not in _GATES:
        raise ValueError(f"Unknown FusedRNN mode {mode!r}: use one of {sorted(_GATES)}")
    gates = _GATES[mode]
    dirs = ["l", "r"] if bidirectional else ["l"]
    b, m, h = len(dirs), len(gates), num_hidden
    if b * h * m == 0:
        raise CheckError("Invalid parameters size for FusedRNNCell")
    num_input = size // b // h // m - (num_layers - 1) * (h + b * h + 2) - h - 2
    out: list[tuple[str, int, tuple[int, ...]]] = []
    pos = 0
    for layer in range(num_layers):
        for d in dirs:
            i2h = (h, b * h) if layer > 0 else (h, num_input)
            for kind, shp in (("i2h", i2h), ("h2h", (h, h))):
                for g in gates:
                    out.append((f"{d}{layer}_{kind}{g}_weight", pos, shp))
                    pos += shp[0] * shp[1]
    for layer in range(num_layers):
        for d in dirs:
            for kind in ("i2h", "h2h"):
                for g in gates:
                    out.append((f"{d}{layer}_{kind}{g}_bias", pos, (h,)))
                    pos += h
    if pos != size or num_input <= 0:
        raise CheckError(
            f"Invalid parameters size for FusedRNNCell: {size} elements do not fit num_hidden={num_hidden}, "
            f"num_layers={num_layers}, mode={mode!r}, bidirectional={bidirectional}"
        )
    return out


@register
class FusedRNN(Initializer):
    """Initialize the flat parameter vector of a fused RNN layer piece by piece.

    Each packed weight/bias gets ``init`` (or the global initializer when None) under its MXNet
    name; for ``'lstm'`` every forget-gate bias (i2h and h2h) is set to ``forget_bias``.

    Args:
        init: initializer (or its ``dumps()`` string) for the unpacked weights; None: global one.
        num_hidden: hidden size, as given to the fused cell.
        num_layers: number of layers.
        mode: ``'rnn_relu'``, ``'rnn_tanh'``, ``'lstm'`` or ``'gru'``.
        bidirectional: whether the cell is bidirectional.
        forget_bias: LSTM forget-gate bias.
    """

    def __init__(
        self,
        init: Any,
        num_hidden: int,
        num_layers: int,
        mode: str,
        bidirectional: bool = False,
        forget_bias: float = 1.0,
    ) -> None:
        if isinstance(init, str):
            klass, kwargs = json.loads(init)
            init = create(klass, **kwargs)
        super().__init__(
            init=init.dumps() if init is not None else None,
            num_hidden=num_hidden,
            num_layers=num_layers,
            mode=mode,
            bidirectional=bidirectional,
            forget_bias=forget_bias,
        )
        self._init = init
        self._num_hidden = num_hidden
        self._num_layers = num_layers
        self._mode = mode
        self._bidirectional = bidirectional
        self._forget_bias = forget_bias

    def _init_weight(self, desc: Any, arr: Any) -> None:
        from mxlite.ndarray.ndarray import NDArray

        raw = _fill.raw_of(arr)
        layout = fused_rnn_layout(
            int(raw.size), self._num_hidden, self._num_layers, self._mode, self._bidirectional
        )
        global_init = getattr(desc, "global_init", None)
        in_place = bool(raw.flags.c_contiguous)
        flat = raw.reshape(-1) if in_place else raw.copy().reshape(-1)
        for name, start, shape in layout:
            count = 1
            for d in shape:
                count *= d
            piece = NDArray(flat[start : start + count].reshape(shape).copy(), _fill.ctx_of(arr))
            sub = InitDesc(name, global_init=global_init)
            sub._stream_name = f"{getattr(desc, '_stream_name', None) or desc}/{name}"
            sub._draw = getattr(desc, "_draw", None)
            if self._mode == "lstm" and name.endswith("_f_bias"):
                _fill.constant(piece, self._forget_bias)
            elif self._init is None:
                if global_init is None:
                    raise ValueError(
                        f"FusedRNN(init=None) initializing {desc} needs a global initializer: call it with "
                        "an InitDesc whose global_init is set, or pass init=..."
                    )
                global_init(sub, piece)
            else:
                self._init(sub, piece)
            flat[start : start + count] = piece._data.reshape(-1)
        if not in_place:
            raw[...] = flat.reshape(raw.shape)
