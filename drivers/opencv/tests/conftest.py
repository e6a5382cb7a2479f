"""Fixtures for the OpenCV driver tests: media written at test time (cv2.VideoWriter videos,
image folders) and an MJPEG stream served over HTTP on 127.0.0.1 from a thread."""

from __future__ import annotations

import http.server
import os
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

DATA = Path(os.environ.get("SENSORFUSION_TEST_DATA", Path(__file__).resolve().parents[3] / ".." / "shared" / "data"))


def frame_bgr(i: int, width: int = 64, height: int = 48) -> np.ndarray:
    """Frame ``i``: blue left half (BGR 200, 30, 30), a grey right half whose level encodes ``i``."""
    img = np.zeros((height, width, 3), np.uint8)
    img[:, : width // 2] = (200, 30, 30)
    img[:, width // 2 :] = min(10 * i, 250)
    return img


def write_video(path: Path, n: int, fps: float, *, fourcc: str = "MJPG", width: int = 64, height: int = 48) -> Path:
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    assert w.isOpened(), f"cannot write {path} with {fourcc}"
    for i in range(n):
        w.write(frame_bgr(i, width, height))
    w.release()
    return path


def write_folder(folder: Path, n: int, *, ext: str = ".png", width: int = 64, height: int = 48) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        cv2.imwrite(str(folder / f"img{i}{ext}"), frame_bgr(i, width, height))
    return folder


@contextmanager
def mjpeg_server(n: int = 10_000, period_s: float = 0.01, width: int = 64, height: int = 48) -> Iterator[str]:
    """Serve ``multipart/x-mixed-replace`` JPEG frames on 127.0.0.1 (a thread); yields the URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            for i in range(n):
                _ok, buf = cv2.imencode(".jpg", frame_bgr(i % 25, width, height))
                part = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(buf)
                try:
                    self.wfile.write(part + buf.tobytes() + b"\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    return
                if stop.wait(period_s):
                    return

    stop = threading.Event()
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/stream.mjpg"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
        time.sleep(0.01)


@pytest.fixture
def media() -> SimpleNamespace:
    """The helpers above, for test modules (which cannot import this conftest)."""
    return SimpleNamespace(
        data=DATA, frame_bgr=frame_bgr, write_video=write_video, write_folder=write_folder, mjpeg_server=mjpeg_server
    )
