"""download_file against a local HTTP server that honours Range and can drop the connection."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from zoedam_lib.data.nyu import download
from zoedam_lib.data.nyu.download import download_file
from zoedam_lib.utils.errors import DataFileError

PAYLOAD = np.random.default_rng(0).bytes(200_000)


@dataclass
class ServerState:
    payload: bytes = PAYLOAD
    honour_range: bool = True  # False: answer 200 with the whole file, like a server without Range
    send_length: bool = True  # False: no Content-Length, the body ends when the connection closes
    drop_after: int | None = None  # send this many body bytes then close, on the next request only
    ranges: list[str | None] = field(default_factory=list)  # the Range header of every request


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        state: ServerState = self.server.state
        data, start = state.payload, 0
        requested = self.headers.get("Range")
        state.ranges.append(requested)
        if requested and state.honour_range:
            start = int(re.match(r"bytes=(\d+)-", requested).group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        if state.send_length:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.close_connection = True
        self.end_headers()
        if state.drop_after is not None:
            body, state.drop_after = body[:state.drop_after], None
            self.close_connection = True
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, ServerState]]:
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(var, "*")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.state = ServerState()
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/nyu.mat", httpd.state
    httpd.shutdown()
    httpd.server_close()


def fetch(url: str, out: Path, **kwargs: object) -> Path:
    return download_file(url, out, chunk_size=8192, progress=False, **kwargs)


def test_interrupted_download_resumes(server: tuple[str, ServerState], tmp_path: Path) -> None:
    url, state = server
    out = tmp_path / "nyu.mat"
    state.drop_after = 70_000
    message = rf"{re.escape(url)} was interrupted.*70,000 bytes are kept.*re-run"
    with pytest.raises(DataFileError, match=message):
        fetch(url, out, expected_size=len(PAYLOAD))
    part = tmp_path / "nyu.mat.part"
    assert not out.exists() and part.stat().st_size == 70_000
    assert fetch(url, out, expected_size=len(PAYLOAD)) == out
    assert state.ranges == [None, "bytes=70000-"]
    assert out.read_bytes() == PAYLOAD and not part.exists()


def test_server_ignoring_range_restarts(server: tuple[str, ServerState], tmp_path: Path) -> None:
    url, state = server
    out = tmp_path / "nyu.mat"
    state.drop_after = 50_000
    with pytest.raises(DataFileError, match="interrupted"):
        fetch(url, out)
    state.honour_range = False
    fetch(url, out)
    assert state.ranges[-1] == "bytes=50000-"
    assert out.read_bytes() == PAYLOAD


def test_size_mismatch(server: tuple[str, ServerState], tmp_path: Path) -> None:
    url, state = server
    with pytest.raises(DataFileError, match=r"200,000 bytes but 200,001 were expected"):
        fetch(url, tmp_path / "a.mat", expected_size=len(PAYLOAD) + 1)
    state.send_length = False  # the size is only known at the end
    with pytest.raises(DataFileError, match=r"has 200,000 bytes but 200,001 .*delete the \.part"):
        fetch(url, tmp_path / "b.mat", expected_size=len(PAYLOAD) + 1)
    assert not (tmp_path / "b.mat").exists()


def test_complete_file_is_not_downloaded_again(server: tuple[str, ServerState], tmp_path: Path) -> None:
    url, state = server
    out = fetch(url, tmp_path / "nyu.mat", expected_size=len(PAYLOAD))
    assert len(state.ranges) == 1
    assert fetch(url, out, expected_size=len(PAYLOAD)) == out and fetch(url, out) == out
    assert len(state.ranges) == 1
    with pytest.raises(DataFileError, match="exists with 200,000 bytes, expected 5.*delete it"):
        fetch(url, out, expected_size=5)


def test_complete_part_is_finished(server: tuple[str, ServerState], tmp_path: Path) -> None:
    url, state = server
    (tmp_path / "nyu.mat.part").write_bytes(PAYLOAD)  # a run that stopped just before the rename
    out = fetch(url, tmp_path / "nyu.mat")
    assert state.ranges == ["bytes=200000-"] and out.read_bytes() == PAYLOAD


def test_unreachable_server(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/x.mat"
    with pytest.raises(DataFileError, match=rf"{re.escape(url)} was interrupted.*0 bytes are kept.*re-run"):
        fetch(url, tmp_path / "x.mat")


def test_download_nyu(server: tuple[str, ServerState], tmp_path: Path,
                      monkeypatch: pytest.MonkeyPatch) -> None:
    url, state = server
    monkeypatch.setattr(download, "NYU_LABELED_URL", url)
    monkeypatch.setattr(download, "NYU_LABELED_SIZE", len(PAYLOAD))
    monkeypatch.setattr(download, "SPLITS_MAT_URL", url.replace("nyu.mat", "splits.mat"))
    out = download.download_nyu(tmp_path / "nyu", progress=False)
    assert out == tmp_path / "nyu" / "nyu_depth_v2_labeled.mat" and out.read_bytes() == PAYLOAD
    assert (tmp_path / "nyu" / "splits.mat").is_file() and len(state.ranges) == 2
    download.download_nyu(tmp_path / "nyu", progress=False)
    assert len(state.ranges) == 2
