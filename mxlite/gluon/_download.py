"""``gluon.utils.download`` and ``check_sha1``, with MXNet 1.9.1's signatures, on the standard
library (``urllib``).

A download streams into a temporary file next to the target (:func:`mxlite._formats.atomic_file.
atomic_write`: fsync, then an atomic rename), so the target holds either its old bytes or the
complete, checked new ones: a dropped connection, a short body (fewer bytes than the server's
``Content-Length``), a wrong SHA-1 or a crash never replaces a good file or leaves a partial
one under its name. As in MXNet, ``retries`` is the number of attempts, a file that already
exists (with the right SHA-1 when one is given) is not fetched again unless ``overwrite``, and
a wrong SHA-1 after downloading raises ``UserWarning``.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from typing import IO, Any

from mxlite._formats.atomic_file import atomic_write
from mxlite.base import CheckError

__all__ = ["download", "check_sha1", "replace_file", "data_dir", "DownloadError"]

_CHUNK = 1 << 20
_TIMEOUT_S = 60.0
_DEFAULT_REPO = "https://apache-mxnet.s3-accelerate.dualstack.amazonaws.com/"
_MSG_OFFLINE = (
    "Could not download {url} to {fname} after {attempts} attempt(s): {reason}. Check that this "
    "machine is online and can reach {host}; else download the file on a machine that is and "
    "copy it to {fname}, or point MXNET_GLUON_REPO at a reachable mirror."
)
_MSG_HASH = (
    "File {fname} is downloaded but the content hash does not match. The repo may be outdated or "
    'download may be incomplete. If the "repo_url" is overridden, consider switching to the '
    "default repo. (expected sha1 {want}, got {got}; {fname} was left as it was)"
)


class DownloadError(OSError):
    """The URL could not be fetched (no network, connection refused or dropped, short body)."""


class _AlreadyThere(Exception):
    """Another process put a good copy of the file in place while this one downloaded."""


def data_dir() -> str:
    """MXNet's data folder: ``$MXNET_HOME``, else ``~/.mxnet`` (``%APPDATA%/mxnet`` on Windows)."""
    if os.name == "nt":
        default = os.path.join(os.environ.get("APPDATA", ""), "mxnet")
    else:
        default = os.path.join(os.path.expanduser("~"), ".mxnet")
    return os.getenv("MXNET_HOME", default)


def _get_repo_url() -> str:
    """The base URL of MXNet's dataset and model repository (``MXNET_GLUON_REPO`` overrides)."""
    repo_url = os.environ.get("MXNET_GLUON_REPO", _DEFAULT_REPO)
    return repo_url if repo_url.endswith("/") else repo_url + "/"


def _get_repo_file_url(namespace: str, filename: str) -> str:
    """The URL of ``filename`` in ``namespace`` of the Gluon repository."""
    return f"{_get_repo_url()}{namespace}/{filename}"


def check_sha1(filename: str, sha1_hash: str) -> bool:
    """Whether the SHA-1 of the file's content is ``sha1_hash`` (hexadecimal)."""
    sha1 = hashlib.sha1()
    with open(filename, "rb") as f:
        while True:
            data = f.read(_CHUNK)
            if not data:
                break
            sha1.update(data)
    return sha1.hexdigest() == sha1_hash


def replace_file(src: str, dst: str) -> None:
    """Rename ``src`` over ``dst`` atomically (``os.replace``).

    Raises:
        OSError: the rename failed (``src`` is removed then, as in MXNet).
    """
    try:
        os.replace(src, dst)
    except OSError as err:
        try:
            os.remove(src)
        except OSError:
            pass
        raise OSError(
            f"Moving downloaded temp file - {src}, to {dst} failed. Please retry the download."
        ) from err


def _target_name(url: str, path: str | None) -> str:
    if path is None:
        fname = url.split("/")[-1]
        if not fname:
            raise CheckError(
                "Can't construct file-name from this URL. Please set the `path` option manually."
            )
        return fname
    path = os.path.expanduser(path)
    if os.path.isdir(path):
        return os.path.join(path, url.split("/")[-1])
    return path


def _fetch_into(url: str, out: IO[bytes], context: Any) -> str:
    """Stream ``url`` into ``out``; returns the SHA-1 of what was written.

    Raises:
        RuntimeError: the server answered with a status other than 200.
        DownloadError: the connection dropped before ``Content-Length`` bytes arrived.
        OSError: the network failed (``urllib.error.URLError``, timeouts, resets).
    """
    import urllib.error
    import urllib.request

    sha1 = hashlib.sha1()
    try:
        resp = urllib.request.urlopen(url, timeout=_TIMEOUT_S, context=context)
    except urllib.error.HTTPError as err:
        raise RuntimeError(f"Failed downloading url {url} (HTTP {err.code} {err.reason})") from None
    with resp:
        status = getattr(resp, "status", None)
        if status is not None and status != 200:
            raise RuntimeError(f"Failed downloading url {url} (HTTP status {status})")
        expected = resp.headers.get("Content-Length")
        received = 0
        while True:
            chunk = resp.read(_CHUNK)
            if not chunk:
                break
            out.write(chunk)
            sha1.update(chunk)
            received += len(chunk)
    if expected is not None and expected.isdigit() and received != int(expected):
        raise DownloadError(
            f"the connection closed after {received} of {int(expected)} bytes of {url}"
        )
    return sha1.hexdigest()


def _attempt(url: str, fname: str, sha1_hash: str | None, context: Any, overwrite: bool) -> None:
    """One download into ``fname`` through a temporary file; ``fname`` changes only on success.

    Unless ``overwrite``, a good copy that another process put in place meanwhile is kept and
    the download discarded (with MXNet's warning).
    """
    try:
        with atomic_write(fname) as out:
            got = _fetch_into(url, out, context)
            if sha1_hash and got != sha1_hash:
                raise UserWarning(_MSG_HASH.format(fname=fname, want=sha1_hash, got=got))
            if (
                not overwrite
                and os.path.exists(fname)
                and (not sha1_hash or check_sha1(fname, sha1_hash))
            ):
                raise _AlreadyThere
    except _AlreadyThere:
        warnings.warn(
            f"File {fname} exists in file system so the downloaded file is deleted", stacklevel=3
        )


def download(
    url: str,
    path: str | None = None,
    overwrite: bool = False,
    sha1_hash: str | None = None,
    retries: int = 5,
    verify_ssl: bool = True,
) -> str:
    """Download ``url`` to a file; returns the file's path.

    Args:
        url: what to fetch (``http``, ``https``, ``file``, ...).
        path: the target file, or a folder to put it in under the URL's last component
            (default: that name in the current folder).
        overwrite: fetch even when the file exists.
        sha1_hash: the expected SHA-1 (hex); an existing file with another hash is fetched
            again, and a download with another hash is refused.
        retries: the number of attempts (at least one is made).
        verify_ssl: check HTTPS certificates (a warning is issued when False).

    Raises:
        CheckError: ``retries`` is negative, or no file name can be derived from the URL.
        DownloadError: the network failed on every attempt (offline, refused, dropped).
        RuntimeError: the server answered with a status other than 200 on every attempt.
        UserWarning: the downloaded content's SHA-1 is not ``sha1_hash`` (the file is kept
            as it was).
    """
    fname = _target_name(url, path)
    if retries < 0:
        raise CheckError(f"Number of retries should be at least 0, currently it's {retries}")
    context = None
    if not verify_ssl:
        warnings.warn(
            "Unverified HTTPS request is being made (verify_ssl=False). "
            "Adding certificate verification is strongly advised.",
            stacklevel=2,
        )
        import ssl

        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if not (
        overwrite or not os.path.exists(fname) or (sha1_hash and not check_sha1(fname, sha1_hash))
    ):
        return fname
    dirname = os.path.dirname(os.path.abspath(fname))
    os.makedirs(dirname, exist_ok=True)
    attempts = max(1, retries)
    for attempt in range(1, attempts + 1):
        try:
            print(f"Downloading {fname} from {url}...")
            _attempt(url, fname, sha1_hash, context, overwrite)
            return fname
        except Exception as err:
            if attempt >= attempts:
                if isinstance(err, OSError):
                    import urllib.parse

                    host = urllib.parse.urlsplit(url).hostname or url
                    reason = getattr(err, "reason", None) or err
                    raise DownloadError(
                        _MSG_OFFLINE.format(
                            url=url, fname=fname, attempts=attempts, reason=reason, host=host
                        )
                    ) from err
                raise
            left = attempts - attempt
            print(
                f"download failed due to {err!r}, retrying, {left} attempt{'s' if left > 1 else ''} "
                "left"
            )
    return fname  # pragma: no cover - the loop returns or raises
