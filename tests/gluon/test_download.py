"""gluon.utils.download against a local HTTP server on 127.0.0.1: fetching, SHA-1 checks,
retries, a server that drops the connection mid-file, HTTP errors, no network; a partial or
wrong download never replaces a good file and leaves nothing behind. The same server is also
fetched by MXNet 1.9.1's download (the oracle) to compare what callers see."""

from __future__ import annotations

import hashlib
import http.server
import inspect
import os
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import mxlite as mx
from mxlite.base import CheckError
from mxlite.gluon._download import DownloadError, check_sha1, download
from tests._support.oracle import run_oracle_json

PAYLOAD = bytes(range(256)) * 400  # 100 kB
SHA1 = hashlib.sha1(PAYLOAD).hexdigest()
GOOD_OLD = b"an older, good copy"


class _Handler(http.server.BaseHTTPRequestHandler):
    hits: Counter[str] = Counter()
    flaky_failures = 2

    def log_message(self, *args: object) -> None:  # keep the test output quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        _Handler.hits[self.path] += 1
        if self.path.startswith("/missing"):
            self.send_error(404, "Not Found")
            return
        drop = self.path.startswith("/drop") or (
            self.path.startswith("/flaky") and _Handler.hits[self.path] <= self.flaky_failures
        )
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        if drop:  # half the body, then hang up
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(PAYLOAD)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def test_download_into_a_folder_with_sha1(
    server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"{server}/data/good.bin"
    path = download(url, path=str(tmp_path), sha1_hash=SHA1)
    assert path == str(tmp_path / "good.bin")
    assert Path(path).read_bytes() == PAYLOAD and check_sha1(path, SHA1)
    assert f"Downloading {path} from {url}..." in capsys.readouterr().out
    hits = _Handler.hits["/data/good.bin"]
    assert download(url, path=str(tmp_path), sha1_hash=SHA1) == path  # present and right
    assert download(url, path=str(tmp_path)) == path  # present, no hash to check
    assert _Handler.hits["/data/good.bin"] == hits
    assert not check_sha1(path, "0" * 40)
    assert leftovers(tmp_path, {"good.bin"}) == []


def test_download_to_a_file_name_and_the_current_folder(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "sub" / "renamed.bin"
    assert download(f"{server}/x/good.bin", path=str(target)) == str(target)
    assert target.read_bytes() == PAYLOAD
    monkeypatch.chdir(tmp_path)
    assert download(f"{server}/x/good.bin") == "good.bin"
    assert (tmp_path / "good.bin").read_bytes() == PAYLOAD


def test_overwrite_replaces_an_existing_file(server: str, tmp_path: Path) -> None:
    target = tmp_path / "good.bin"
    target.write_bytes(GOOD_OLD)
    assert download(f"{server}/good.bin", path=str(target)) == str(target)
    assert target.read_bytes() == GOOD_OLD  # exists, no hash: kept
    download(f"{server}/good.bin", path=str(target), overwrite=True)
    assert target.read_bytes() == PAYLOAD


def test_a_wrong_sha1_never_replaces_the_file(server: str, tmp_path: Path) -> None:
    target = tmp_path / "good.bin"
    target.write_bytes(GOOD_OLD)
    url = f"{server}/wrong-hash/good.bin"
    with pytest.raises(UserWarning, match="content hash does not match") as info:
        download(url, path=str(target), sha1_hash="0" * 40, retries=2)
    assert "was left as it was" in str(info.value)
    assert _Handler.hits["/wrong-hash/good.bin"] == 2  # retries is the number of attempts
    assert target.read_bytes() == GOOD_OLD
    assert leftovers(tmp_path, {"good.bin"}) == []


def test_a_dropped_connection_never_replaces_the_file(server: str, tmp_path: Path) -> None:
    target = tmp_path / "drop.bin"
    target.write_bytes(GOOD_OLD)
    with pytest.raises(DownloadError, match="closed after 51200 of 102400 bytes") as info:
        download(f"{server}/drop.bin", path=str(target), sha1_hash=SHA1, retries=3)
    assert isinstance(info.value, OSError) and "after 3 attempt(s)" in str(info.value)
    assert _Handler.hits["/drop.bin"] == 3
    assert target.read_bytes() == GOOD_OLD
    assert leftovers(tmp_path, {"drop.bin"}) == []
    fresh = tmp_path / "fresh"
    with pytest.raises(DownloadError):
        download(f"{server}/drop.bin", path=str(fresh), retries=0)
    assert not fresh.exists() and leftovers(tmp_path, {"drop.bin"}) == []


def test_retries_recover_from_dropped_connections(
    server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = download(f"{server}/flaky.bin", path=str(tmp_path), sha1_hash=SHA1, retries=3)
    assert Path(path).read_bytes() == PAYLOAD
    assert _Handler.hits["/flaky.bin"] == 3
    out = capsys.readouterr().out
    assert "retrying, 2 attempts left" in out and "retrying, 1 attempt left" in out


def test_http_errors_and_no_network(server: str, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"Failed downloading url .*/missing.bin \(HTTP 404"):
        download(f"{server}/missing.bin", path=str(tmp_path), retries=1)
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/file.bin"
    with pytest.raises(DownloadError) as info:
        download(url, path=str(tmp_path), retries=2)
    message = str(info.value)
    assert "Could not download" in message and "after 2 attempt(s)" in message
    assert "online" in message and "127.0.0.1" in message and "MXNET_GLUON_REPO" in message
    assert leftovers(tmp_path, set()) == []


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(
        CheckError, match="Number of retries should be at least 0, currently it's -1"
    ):
        download("http://127.0.0.1:9/x.bin", path=str(tmp_path), retries=-1)
    with pytest.raises(CheckError, match="Please set the `path` option manually"):
        download("http://127.0.0.1:9/folder/")
    target = tmp_path / "x.bin"
    target.write_bytes(b"present")
    with pytest.warns(UserWarning, match="Unverified HTTPS request"):
        download("https://127.0.0.1:9/x.bin", path=str(target), verify_ssl=False)


def test_public_names_and_signature() -> None:
    assert mx.gluon.utils.download is download and mx.gluon.utils.check_sha1 is check_sha1
    assert str(inspect.signature(download)).startswith("(url: 'str', path: 'str | None' = None")
    params = inspect.signature(download).parameters
    assert [(p.name, p.default) for p in params.values()] == [
        ("url", inspect.Parameter.empty),
        ("path", None),
        ("overwrite", False),
        ("sha1_hash", None),
        ("retries", 5),
        ("verify_ssl", True),
    ]
    assert mx.gluon.utils._get_repo_file_url("gluon/dataset/mnist", "a.gz").endswith(
        "/gluon/dataset/mnist/a.gz"
    )


@pytest.mark.oracle
def test_mxnet_download_sees_the_same(server: str, tmp_path: Path) -> None:
    script = f"""
        import contextlib, io, os
        from mxnet.gluon.utils import download, check_sha1
        out = {{}}
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            path = download("{server}/oracle/good.bin", path="{tmp_path}", sha1_hash="{SHA1}")
        out["path"] = path
        out["printed"] = buf.getvalue().splitlines()[0]
        out["sha1"] = check_sha1(path, "{SHA1}")
        for name, kwargs in [("missing", dict(url="{server}/missing.bin", path="{tmp_path}", retries=1)),
                             ("hash", dict(url="{server}/oracle/hash.bin", path="{tmp_path}",
                                           sha1_hash="0" * 40, retries=1)),
                             ("retries", dict(url="x", retries=-1))]:
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    download(**kwargs)
            except BaseException as e:
                out[name] = [type(e).__name__, str(e)]
        print(json.dumps(out))
    """
    ref = run_oracle_json(script)
    mine_dir = tmp_path / "mine"
    mine_dir.mkdir()
    assert ref["path"] == str(tmp_path / "good.bin") and ref["sha1"] is True
    path = download(f"{server}/oracle/good.bin", path=str(mine_dir), sha1_hash=SHA1)
    assert os.path.basename(path) == os.path.basename(ref["path"])
    assert ref["printed"] == f"Downloading {ref['path']} from {server}/oracle/good.bin..."
    assert ref["missing"][0] == "RuntimeError"
    assert ref["missing"][1] == f"Failed downloading url {server}/missing.bin"
    with pytest.raises(RuntimeError) as info:
        download(f"{server}/missing.bin", path=str(mine_dir), retries=1)
    assert str(info.value).startswith(ref["missing"][1])
    assert ref["hash"][0] == "UserWarning"
    with pytest.raises(UserWarning) as warn_info:
        download(f"{server}/oracle/hash.bin", path=str(mine_dir), sha1_hash="0" * 40, retries=1)
    assert str(warn_info.value).startswith(ref["hash"][1].replace(str(tmp_path), str(mine_dir)))
    assert ref["retries"] == [
        "AssertionError",
        "Number of retries should be at least 0, currently it's -1",
    ]
