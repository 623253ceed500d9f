"""``gluon.model_zoo.vision``: MXNet 1.9.1's image classification networks and ``get_model``.

Every network is built as MXNet builds it (same blocks, order, name scopes and Parameter
names), so a ``.params`` file saved by MXNet for a model-zoo network (``save_parameters``, or the
published pretrained files) loads into mxlite's network unchanged and predicts the same, and the
reverse. ``pretrained=True`` loads MXNet's pretrained file from ``root`` (see
:mod:`mxlite.gluon.model_zoo.model_store`).
"""

from __future__ import annotations

from typing import Any

from mxlite.gluon.block import HybridBlock
from mxlite.gluon.model_zoo.vision import (
    alexnet as _alexnet,
)
from mxlite.gluon.model_zoo.vision import (
    densenet as _densenet,
)
from mxlite.gluon.model_zoo.vision import (
    inception as _inception,
)
from mxlite.gluon.model_zoo.vision import (
    mobilenet as _mobilenet,
)
from mxlite.gluon.model_zoo.vision import (
    resnet as _resnet,
)
from mxlite.gluon.model_zoo.vision import (
    squeezenet as _squeezenet,
)
from mxlite.gluon.model_zoo.vision import (
    vgg as _vgg,
)
from mxlite.gluon.model_zoo.vision.alexnet import *  # noqa: F403
from mxlite.gluon.model_zoo.vision.densenet import *  # noqa: F403
from mxlite.gluon.model_zoo.vision.inception import *  # noqa: F403
from mxlite.gluon.model_zoo.vision.mobilenet import *  # noqa: F403
from mxlite.gluon.model_zoo.vision.resnet import *  # noqa: F403
from mxlite.gluon.model_zoo.vision.squeezenet import *  # noqa: F403
from mxlite.gluon.model_zoo.vision.vgg import *  # noqa: F403

_MODELS = {
    **{f"resnet{n}_v{v}": getattr(_resnet, f"resnet{n}_v{v}")
       for v in (1, 2) for n in (18, 34, 50, 101, 152)},
    **{f"vgg{n}{bn}": getattr(_vgg, f"vgg{n}{bn}") for bn in ("", "_bn") for n in (11, 13, 16, 19)},
    "alexnet": _alexnet.alexnet,
    **{f"densenet{n}": getattr(_densenet, f"densenet{n}") for n in (121, 161, 169, 201)},
    "squeezenet1.0": _squeezenet.squeezenet1_0,
    "squeezenet1.1": _squeezenet.squeezenet1_1,
    "inceptionv3": _inception.inception_v3,
    "mobilenet1.0": _mobilenet.mobilenet1_0,
    "mobilenet0.75": _mobilenet.mobilenet0_75,
    "mobilenet0.5": _mobilenet.mobilenet0_5,
    "mobilenet0.25": _mobilenet.mobilenet0_25,
    "mobilenetv2_1.0": _mobilenet.mobilenet_v2_1_0,
    "mobilenetv2_0.75": _mobilenet.mobilenet_v2_0_75,
    "mobilenetv2_0.5": _mobilenet.mobilenet_v2_0_5,
    "mobilenetv2_0.25": _mobilenet.mobilenet_v2_0_25,
}  # fmt: skip


def get_model(name: str, **kwargs: Any) -> HybridBlock:
    """The model-zoo network ``name`` (case-insensitive), e.g. ``'resnet18_v1'``,
    ``'mobilenetv2_0.5'``; keyword arguments go to its constructor (``classes``,
    ``pretrained``, ``ctx``, ``root``, ...).

    Raises:
        ValueError: an unknown name (the message lists the names).
    """
    name = name.lower()
    if name not in _MODELS:
        raise ValueError(
            "Model {} is not supported. Available options are\n\t{}".format(
                name, "\n\t".join(sorted(_MODELS))
            )
        )
    return _MODELS[name](**kwargs)  # type: ignore[no-any-return]


__all__ = [
    "get_model",
    *_alexnet.__all__,
    *_densenet.__all__,
    *_inception.__all__,
    *_resnet.__all__,
    *_squeezenet.__all__,
    *_vgg.__all__,
    *_mobilenet.__all__,
]
