"""``mx.random``: the global seed and mxlite's counter-based random streams.

MXNet keeps one stateful generator per device, so the values a parameter gets depend on the device
and on everything drawn before it. mxlite uses counter-based Philox4x32-10 streams instead
(:mod:`mxlite.ops`): a stream is a 64-bit key, and element ``j`` of a stream is a pure function of
``(key, j)``. Two kinds of streams exist:

* **Parameter streams** -- :func:`param_key` hashes (global seed, parameter name, salt) with
  BLAKE2b (stable across processes and machines, unlike Python's ``hash``). The initializers pass
  a salt made of shape, dtype and initializer, so a parameter's initial value is a pure function
  of (seed, name, shape, dtype, initializer): the same on every device and replica, whatever the
  number of devices or the order in which parameters are initialized.
* **The ad-hoc stream** -- ``mx.nd.random.*`` draws take consecutive, non-overlapping ranges of one
  global stream: :func:`next_adhoc` hands out ``(key, offset)`` and moves the counter past the
  draw (rounded up to a whole Philox block of 4 elements).

:func:`seed` sets the one global seed and rewinds the ad-hoc stream. Like MXNet's, an unseeded
process is deterministic (the seed starts at 0).

``mx.random.uniform``, ``normal``, ... are ``mx.nd.random``'s functions, looked up on first use.
"""

from __future__ import annotations

import ctypes
import hashlib
import numbers
import struct
import threading
from typing import Any

from mxlite.context import Context

__all__ = [
    "seed",
    "get_seed",
    "param_key",
    "encode_salt",
    "salted_param_key",
    "adhoc_key",
    "next_adhoc",
    "adhoc_offset",
]

_DEFAULT_SEED = 0
_BLOCK = 4  # elements per Philox block: ad-hoc draws start on a block boundary
_MAX_OFFSET = 1 << 62  # mxlite.ops.MAX_STREAM_ELEMENTS
_PERSON_PARAM = b"mxlite.param.v1"
_PARAM_HASHERS: dict[int, Any] = {}  # seed -> BLAKE2b already fed with the seed (param_key)
_U64_LEN = struct.Struct("<Q")
_TWO_U32 = struct.Struct("<II")
_PERSON_ADHOC = b"mxlite.adhoc.v1"

_MSG_SEED = "seed_state must be int"  # MXNet's message, verbatim
_MSG_CTX = (
    "{ctx!r} is not a context: use 'all', a Context such as mx.cpu(0) / mx.gpu(1), or 'cpu'/'gpu'"
)
_MSG_NAME = "param_key: name must be a str (the parameter's full name), got {got}"
_MSG_SALT = "param_key: salt must be a str, got {got}"
_MSG_COUNT = "next_adhoc: n_elements must be an int >= 0, got {got!r}"
_MSG_EXHAUSTED = (
    "The ad-hoc random stream is exhausted (2**62 elements drawn since the last seed); "
    "call mx.random.seed(...) to start a new one."
)

# Random functions of mx.random that live in mx.nd.random (MXNet: the very same objects).
_ND_RANDOM_NAMES = frozenset(
    {
        "uniform",
        "normal",
        "randn",
        "exponential",
        "gamma",
        "poisson",
        "negative_binomial",
        "generalized_negative_binomial",
        "multinomial",
        "shuffle",
        "randint",
    }
)


class _State:
    """The global seed and the ad-hoc stream's key and next free position (guarded by ``lock``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seed = _DEFAULT_SEED
        self.adhoc_key = _adhoc_key_for(_DEFAULT_SEED)
        self.adhoc_offset = 0
        self.draws: dict[str, int] = {}  # stream name -> initializations since the last seed


def _digest(person: bytes, *parts: bytes) -> tuple[int, int]:
    """BLAKE2b-64 of length-prefixed ``parts`` as two little-endian uint32 words."""
    h = hashlib.blake2b(digest_size=8, person=person)
    for part in parts:
        h.update(struct.pack("<Q", len(part)))
        h.update(part)
    d = h.digest()
    return int.from_bytes(d[:4], "little"), int.from_bytes(d[4:], "little")


def _adhoc_key_for(seed_value: int) -> tuple[int, int]:
    return _digest(_PERSON_ADHOC, struct.pack("<q", seed_value))


_STATE = _State()


def seed(seed_state: int, ctx: Any = "all") -> None:
    """Seed mxlite's random streams (MXNet's ``mx.random.seed``).

    The seed is taken as MXNet takes it, as a C ``int``: it is wrapped to 32 bits, so
    ``seed(2**32)`` equals ``seed(0)`` and ``seed(-1)`` equals ``seed(2**32 - 1)``.

    mxlite has one global seed, not one generator per device: draws do not depend on the device,
    so seeding one context (``ctx=mx.gpu(1)``) sets the seed for every context, and gives the same
    numbers on every device as MXNet's per-context seeding intends. Seeding rewinds the ad-hoc
    stream of ``mx.nd.random``; parameter initialization depends on the seed only.

    Args:
        seed_state: an integer.
        ctx: ``'all'`` (default) or a context; it is checked, then treated as ``'all'``.

    Raises:
        ValueError: ``seed_state`` is not an int (MXNet's message: "seed_state must be int").
        KeyError: ``ctx`` names no device type (as MXNet).
    """
    if not isinstance(seed_state, numbers.Integral):
        raise ValueError(_MSG_SEED)
    if not (isinstance(ctx, str) and ctx == "all"):
        try:
            Context(ctx)
        except (ValueError, TypeError) as err:
            raise KeyError(_MSG_CTX.format(ctx=ctx)) from err
    value = ctypes.c_int(int(seed_state)).value
    with _STATE.lock:
        _STATE.seed = value
        _STATE.adhoc_key = _adhoc_key_for(value)
        _STATE.adhoc_offset = 0
        _STATE.draws.clear()


def next_draw(name: str) -> int:
    """How many times the array called ``name`` was initialized since the last :func:`seed`
    (0 the first time), counting this call: initializing a name again draws fresh values, as in
    MXNet, while one seed still gives one sequence of values. Thread-safe."""
    with _STATE.lock:
        draw = _STATE.draws.get(name, 0)
        _STATE.draws[name] = draw + 1
        return draw


def get_seed() -> int:
    """The current global seed (a signed 32-bit value; 0 until :func:`seed` is called)."""
    return _STATE.seed


def param_key(name: str, salt: str = "") -> tuple[int, int]:
    """Philox key of the stream of parameter ``name`` under the current seed.

    ``BLAKE2b-64(seed, name, salt)`` split into two uint32 words: stable across processes, Python
    versions and machines. Initializers pass ``salt`` = shape, dtype and initializer so that a
    parameter re-created with another shape or initializer gets an independent stream.

    Args:
        name: the parameter's full name (``'dense0_weight'``).
        salt: anything else the values must depend on.

    Raises:
        TypeError: ``name`` or ``salt`` is not a str.
    """
    if not isinstance(name, str):
        raise TypeError(_MSG_NAME.format(got=type(name).__name__))
    if not isinstance(salt, str):
        raise TypeError(_MSG_SALT.format(got=type(salt).__name__))
    return salted_param_key(name, encode_salt(salt))


def encode_salt(salt: str) -> bytes:
    """``salt`` as :func:`salted_param_key` takes it (UTF-8 with its length prefix); callers that
    key many names with one salt encode it once."""
    data = salt.encode("utf-8")
    return _U64_LEN.pack(len(data)) + data


def salted_param_key(name: str, salt: bytes) -> tuple[int, int]:
    """:func:`param_key` of ``name`` with a salt already passed through :func:`encode_salt`
    (no type checks: ``name`` must be a str)."""
    # Same bytes as _digest(_PERSON_PARAM, seed, name, salt); the hasher fed with the seed part
    # is kept per seed and copied (thousands of parameters are keyed per initialize()).
    seed_value = _STATE.seed
    base = _PARAM_HASHERS.get(seed_value)
    if base is None:
        base = hashlib.blake2b(digest_size=8, person=_PERSON_PARAM)
        part = struct.pack("<q", seed_value)
        base.update(struct.pack("<Q", len(part)))
        base.update(part)
        _PARAM_HASHERS.clear()
        _PARAM_HASHERS[seed_value] = base
    h = base.copy()
    data = name.encode("utf-8")
    h.update(_U64_LEN.pack(len(data)) + data + salt)
    words: tuple[int, int] = _TWO_U32.unpack(h.digest())
    return words


def adhoc_key() -> tuple[int, int]:
    """Key of the global ad-hoc stream under the current seed."""
    return _STATE.adhoc_key


def adhoc_offset() -> int:
    """Next free position of the ad-hoc stream (a multiple of 4)."""
    return _STATE.adhoc_offset


def next_adhoc(n_elements: int) -> tuple[tuple[int, int], int]:
    """Reserve ``n_elements`` of the ad-hoc stream for one draw: returns ``(key, offset)``.

    The counter moves by ``n_elements`` rounded up to a multiple of 4 (whole Philox blocks), so
    successive draws never share a value, and every draw starts on a block boundary. Thread-safe.

    Raises:
        ValueError: ``n_elements`` is not an int >= 0.
        MXNetError: the stream is exhausted (2**62 elements since the last seed).
    """
    if (
        not isinstance(n_elements, numbers.Integral)
        or isinstance(n_elements, bool)
        or n_elements < 0
    ):
        raise ValueError(_MSG_COUNT.format(got=n_elements))
    step = -(-int(n_elements) // _BLOCK) * _BLOCK
    with _STATE.lock:
        offset = _STATE.adhoc_offset
        if offset + step > _MAX_OFFSET:
            from mxlite.base import MXNetError  # noqa: PLC0415 - only on this rare path

            raise MXNetError(_MSG_EXHAUSTED)
        _STATE.adhoc_offset = offset + step
        return _STATE.adhoc_key, offset


def __getattr__(name: str) -> Any:
    """``mx.random.uniform`` & co.: the functions of ``mx.nd.random`` (imported on first use)."""
    if name in _ND_RANDOM_NAMES:
        from mxlite.ndarray import random as nd_random  # noqa: PLC0415 - ndarray sits above us

        if hasattr(nd_random, name):
            return getattr(nd_random, name)
    raise AttributeError(f"module 'mxlite.random' has no attribute {name!r}")
