"""Key-value stores for data parallelism (``mx.kv`` / ``mx.kvstore``), laid out as MXNet's
``mxnet.kvstore`` package: ``base`` holds the interface, its registry and ``TestStore``;
``kvstore`` the single-process ``KVStore`` ('local', 'device', ...) and ``create``."""

from __future__ import annotations

from mxlite.kvstore.base import KVStoreBase, TestStore
from mxlite.kvstore.kvstore import KVStore, create

__all__ = ["KVStore", "KVStoreBase", "TestStore", "create"]
