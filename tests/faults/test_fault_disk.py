"""Write failures (disk full, read-only, permissions) stop the recording cleanly: one line
naming the path and the cause, exit 1, and everything committed before stays readable."""

from __future__ import annotations

import errno
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from faultkit import fault_env, write_rig

from sensorfusion.run import main as run_main
from sensorfusion.store import Session

RIG = """
name: disk
sensors:
  - {id: a, driver: faults.ticker, params: {rate_hz: 100, payload_bytes: 100000, noise: true, frames: 300}}
stages:
  - {id: copy, estimator: faults.stall, inputs: ["a/value"]}
record: {commit_interval_s: 0.1}
"""


def _fail_chunk_writes_after(monkeypatch: pytest.MonkeyPatch, budget: int, err: int) -> list[int]:
    """A store that runs out of room: chunk writes raise ``err`` once ``budget`` bytes are used."""
    import zarr.storage._local as local

    real = local._put
    used = [0]

    def put(path: Path, value: Any, exclusive: bool = False) -> int:
        if "/c/" in str(path) or (str(path).endswith("zarr.json") and used[0] >= budget):
            size = len(value.as_buffer_like())
            if used[0] + size > budget:
                used[0] = budget
                raise OSError(
                    err, "No space left on device" if err == errno.ENOSPC else "Read-only file system", str(path)
                )
            used[0] += size
        return real(path, value, exclusive=exclusive)

    monkeypatch.setattr(local, "_put", put)
    return used


def _committed_frames_intact(path: Path) -> int:
    s = Session.open(path)
    assert not s.finished
    frames = list(s.read("a/value"))
    assert [f.seq for f in frames] == list(range(len(frames)))
    for f in frames:
        expected = np.random.default_rng(f.seq).integers(0, 256, f["blob"].size, dtype=np.uint8)
        assert np.array_equal(f["blob"], expected) and int(f["value"]) == f.seq
    return len(frames)


@pytest.mark.parametrize(("err", "cause"), [(errno.ENOSPC, "ENOSPC"), (errno.EROFS, "EROFS")])
def test_write_failure_mid_run_is_one_line_and_keeps_what_was_committed(
    fault_plugins: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    err: int,
    cause: str,
) -> None:
    out = tmp_path / "s.zarr"
    _fail_chunk_writes_after(monkeypatch, 4_000_000, err)
    # the writer in this process, where the failing store is (the tmpfs tests below use the
    # default: a writer process)
    rig = RIG.replace("record: {commit_interval_s: 0.1}", "record: {commit_interval_s: 0.1, writer: thread}")
    rc = run_main([write_rig(tmp_path, rig), "--out", str(out), "--quiet"])
    captured = capsys.readouterr()
    assert rc == 1, captured.err
    lines = [ln for ln in captured.err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert str(out) in lines[0] and cause in lines[0], lines[0]
    assert _committed_frames_intact(out) > 0


def _unshare_ok() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"], capture_output=True)
    return probe.returncode == 0


needs_mount = pytest.mark.skipif(not _unshare_ok(), reason="cannot mount a tmpfs in a user+mount namespace here")


def _in_namespace(tmp_path: Path, mount_opts: str, rig: str, extra: str = "") -> tuple[int, str, Path]:
    """Run the CLI with ``--out`` on a fresh tmpfs (``mount_opts``) in a private mount namespace;
    copy what it wrote out before the namespace goes away."""
    import sys

    mnt = tmp_path / "mnt"
    mnt.mkdir()
    kept = tmp_path / "kept"
    kept.mkdir()
    script = textwrap.dedent(
        f"""
        mount -t tmpfs -o {mount_opts} tmpfs {mnt} || exit 99
        {sys.executable} -m sensorfusion.run {rig} --out {mnt}/s.zarr --quiet {extra}
        rc=$?
        [ -d {mnt}/s.zarr ] && cp -a {mnt}/s.zarr {kept}/
        exit $rc
        """
    )
    proc = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, env=fault_env(), timeout=120
    )
    return proc.returncode, proc.stderr, kept / "s.zarr"


@needs_mount
def test_full_tmpfs(tmp_path: Path) -> None:
    rc, err, kept = _in_namespace(tmp_path, "size=3m", write_rig(tmp_path, RIG))
    assert rc == 1, err[-2000:]
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "ENOSPC" in lines[0] and "s.zarr" in lines[0], err[-2000:]
    assert _committed_frames_intact(kept) > 0


@needs_mount
def test_read_only_target_fails_before_any_work(tmp_path: Path) -> None:
    rc, err, kept = _in_namespace(tmp_path, "ro,size=1m", write_rig(tmp_path, RIG))
    assert rc == 1, err[-2000:]
    (line,) = [ln for ln in err.splitlines() if ln.strip()]
    assert "EROFS" in line and "s.zarr" in line, line
    assert not kept.exists()
