"""``Block.summary``: one forward pass with hooks, printed in MXNet 1.9.1's table layout."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from mxlite.base import CheckError
from mxlite.ndarray.ndarray import NDArray

__all__ = ["print_summary"]

_LINE = "{:>20}  {:>42} {:>15}"


def _shape_str(args: Any) -> str:
    """MXNet's rendering of the shapes of (nested) outputs."""

    def shapes(obj: Any) -> Any:
        if isinstance(obj, (list, tuple)):
            return [shapes(item) for item in obj]
        return obj.shape if isinstance(obj, NDArray) else obj

    result = shapes(args)
    text = str(result)[1:-1] if isinstance(result, list) else str(result)
    return text.replace("L", "")


def print_summary(block: Any, inputs: tuple[Any, ...]) -> None:
    """Run ``block(*inputs)`` once and print per-layer output shapes and parameter counts.

    Raises:
        CheckError: a HybridBlock in the tree is hybridized (as MXNet refuses).
    """
    from mxlite.gluon.block import HybridBlock
    from mxlite.gluon.nn.basic_layers import HybridSequential, Sequential

    summary: OrderedDict[str, dict[str, Any]] = OrderedDict()
    seen: set[int] = set()
    hooks = []

    def hook(blk: Any, _: Any, outputs: Any) -> None:
        key = f"{blk.__class__.__name__}-{len(summary)}"
        entry: dict[str, Any] = {
            "output_shape": _shape_str(outputs),
            "trainable": 0,
            "shared": 0,
            "n_params": 0,
        }
        for param in blk.params.values():
            size = param.data().size
            entry["n_params"] += size
            entry["trainable"] += 0 if param.grad_req == "null" else size
            if id(param) in seen:
                entry["shared"] += size
            else:
                seen.add(id(param))
        summary[key] = entry

    def register(blk: Any) -> None:
        if isinstance(blk, HybridBlock) and blk._active:
            raise CheckError(f'"{blk.name}" must not be hybridized to print summary.')
        if not isinstance(blk, (Sequential, HybridSequential)):
            hooks.append(blk.register_forward_hook(hook))

    summary["Input"] = {
        "output_shape": _shape_str(inputs),
        "n_params": 0,
        "trainable": 0,
        "shared": 0,
    }
    try:
        block.apply(register)
        block(*inputs)
        print("-" * 80)
        print(_LINE.format("Layer (type)", "Output Shape", "Param #"))
        print("=" * 80)
        total = trainable = shared = 0
        for layer, entry in summary.items():
            print(_LINE.format(layer, str(entry["output_shape"]), entry["n_params"]))
            total += entry["n_params"]
            trainable += entry["trainable"]
            shared += entry["shared"]
        print("=" * 80)
        print("Parameters in forward computation graph, duplicate included")
        print("   Total params: " + str(total))
        print("   Trainable params: " + str(trainable))
        print("   Non-trainable params: " + str(total - trainable))
        print("Shared params in forward computation graph: " + str(shared))
        print("Unique parameters in model: " + str(total - shared))
        print("-" * 80)
    finally:
        for handle in hooks:
            handle.detach()
