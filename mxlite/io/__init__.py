"""``mx.io``: data iterators (MXNet 1.9.1's ``mxnet.io``): ``DataDesc``, ``DataBatch``,
``DataIter``, ``NDArrayIter``, ``ResizeIter`` and ``PrefetchingIter``."""

from mxlite.io import io, utils
from mxlite.io.io import DataBatch, DataDesc, DataIter, PrefetchingIter, ResizeIter
from mxlite.io.ndarray_iter import NDArrayIter
from mxlite.io.utils import _getdata_by_idx, _has_instance, _init_data

__all__ = [
    "DataBatch",
    "DataDesc",
    "DataIter",
    "NDArrayIter",
    "PrefetchingIter",
    "ResizeIter",
    "io",
    "utils",
]
