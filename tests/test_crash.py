"""A recording killed with SIGKILL opens and holds everything up to its last commit."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import zarr

from sensorfusion.store import Session

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")

COMMIT_INTERVAL_S = 0.25
RUN_S = 3.0
# what a kill may lose: the frames buffered since the last commit (one commit interval) plus
# slack for a loaded machine (a late writer thread, a slow commit)
MAX_LOSS_S = 1.0 + COMMIT_INTERVAL_S

CHILD = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from sensorfusion import FieldSpec, Frame, FrameKind, StreamSpec
    from sensorfusion.store import SessionWriter

    path, interval = sys.argv[1], float(sys.argv[2])
    image = StreamSpec(name="cam0/image", kind=FrameKind.IMAGE, rate_hz=10,
                       fields={"image": FieldSpec(dtype="uint8", shape=(48, 64, 3))})
    people = StreamSpec(name="cam0/keypoints2d", kind=FrameKind.KEYPOINTS2D, ragged=True,
                        fields={"keypoints": FieldSpec(dtype="float32", shape=(17, 3)),
                                "person_id": FieldSpec(dtype="int64")})
    w = SessionWriter(path, rig={"name": "crash"}, calibration=None, commit_interval_s=interval)
    w.add_stream(image)
    w.add_stream(people, stage="pose")
    w.start()
    rng = np.random.default_rng(0)
    seq = 0
    while True:
        t = time.time_ns()
        img = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
        img[0, 0, :] = seq % 256
        w.write(Frame("cam0/image", t, t, seq, {"image": img}))
        n = seq % 3
        w.write(Frame("cam0/keypoints2d", t, t, seq,
                      {"keypoints": np.full((n, 17, 3), seq, np.float32),
                       "person_id": np.full(n, seq, np.int64)}), stage="pose")
        print(t, seq, flush=True)
        seq += 1
        time.sleep(0.1)
    """
)


def test_sigkill_keeps_committed_frames(tmp_path: Path) -> None:
    path = tmp_path / "crash.zarr"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    stderr_path = tmp_path / "stderr.txt"
    with (
        stderr_path.open("w") as stderr,
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), str(COMMIT_INTERVAL_S)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=env,
        ) as proc,
    ):
        printed, kill_at = _run_and_kill(proc, stderr_path)
    _check(path, printed, kill_at)


def _run_and_kill(proc: subprocess.Popen[str], stderr_path: Path) -> tuple[list[tuple[float, int, int]], float]:
    lines: queue.Queue[tuple[float, int, int]] = queue.Queue()

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            t_ns, seq = line.split()
            lines.put((time.monotonic(), int(t_ns), int(seq)))

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        first = lines.get(timeout=60)  # imports can be slow on a loaded machine
    except queue.Empty:
        proc.kill()
        proc.wait()
        pytest.fail(f"writer subprocess printed nothing: {stderr_path.read_text()}")
    time.sleep(RUN_S)
    kill_at = time.monotonic()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    thread.join(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    printed = [first]
    while not lines.empty():
        printed.append(lines.get())
    assert len(printed) >= 10, f"the producer should have written for about 3 s at 10 Hz: {stderr_path.read_text()}"
    return printed, kill_at


def _check(path: Path, printed: list[tuple[float, int, int]], kill_at: float) -> None:

    session = Session.open(path)
    assert not session.finished
    root = zarr.open_group(path, mode="r")
    for group in ("streams/cam0/image", "estimates/pose/cam0/keypoints2d"):
        for _, arr in root[group].arrays():
            arr[:]  # every array reads, half-written tail included

    frames = list(session.read("cam0/image"))
    recorded = [f.t_sensor_ns for f in frames]
    # committed frames are exactly a prefix of what was written, in order, intact
    assert [f.seq for f in frames] == list(range(len(frames)))
    for f in frames:
        assert int(f["image"][0, 0, 0]) == f.seq % 256
    by_seq = {seq: t_ns for _, t_ns, seq in printed}
    for f in frames:
        if f.seq in by_seq:  # (the newest frame may be committed before its line was printed)
            assert by_seq[f.seq] == f.t_sensor_ns
    assert len(frames) <= len(printed) + 1
    # ... and cover everything written up to a commit interval (plus slack) before the kill
    must_have = [seq for arrived, _, seq in printed if arrived < kill_at - MAX_LOSS_S]
    assert must_have, "no frame was written early enough to be checked"
    assert len(frames) > max(must_have), (
        f"lost frames written more than {MAX_LOSS_S} s before the kill: "
        f"recorded {len(frames)} frames, printed {len(printed)}"
    )
    assert recorded == sorted(recorded)

    # the estimate stream obeys the same bound (a kill inside a commit may leave it one commit
    # behind the image stream, never more than the loss bound)
    pose = list(session.read("pose:cam0/keypoints2d"))
    assert [f.seq for f in pose] == list(range(len(pose)))
    assert len(pose) > max(must_have), f"recorded {len(pose)} pose frames, printed {len(printed)}"
    for f in pose:
        n = f.seq % 3
        assert f["keypoints"].shape == (n, 17, 3) and f["person_id"].shape == (n,)
        np.testing.assert_array_equal(f["person_id"], np.full(n, f.seq))
