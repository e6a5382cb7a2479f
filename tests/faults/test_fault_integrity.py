"""Damaged sessions: missing or corrupt chunks and metadata are found (``inspect --verify``),
named by stream and frame range, and a replay either stops with that error (exit 2) or, with
``--skip-damaged``, leaves the damaged frames out and records that it did — never zeros,
never exit 0 with nothing done, never a traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from faultkit import run, write_rig

from sensorfusion.store import Session

RIG = """
name: integrity
sensors:
  - {id: a, driver: faults.ticker, params: {rate_hz: 100, payload_bytes: 200000}}
stages:
  - {id: copy, estimator: faults.stall, inputs: ["a/value"]}
"""
FRAMES = 60


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    d = tmp_path_factory.mktemp("integrity")
    rig = write_rig(d, RIG)
    out = d / "orig.zarr"
    res = run([rig, "--fast", "--max-frames", str(FRAMES), "--out", str(out), "--json"], 120)
    assert res.rc == 0, res.stderr[-2000:]
    return rig, out


@pytest.fixture
def session(recorded: tuple[str, Path], tmp_path: Path) -> tuple[str, Path]:
    rig, orig = recorded
    copy = tmp_path / "damaged.zarr"
    shutil.copytree(orig, copy)
    return rig, copy


def _blob_chunks(path: Path) -> tuple[int, list[Path]]:
    arr_dir = path / "streams" / "a" / "value" / "blob"
    per_chunk = json.loads((arr_dir / "zarr.json").read_text())["chunk_grid"]["configuration"]["chunk_shape"][0]
    return per_chunk, sorted((arr_dir / "c").glob("*/*"), key=lambda p: int(p.parent.name))


def _no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr[-3000:]


def test_healthy_session_verifies(recorded: tuple[str, Path]) -> None:
    _, orig = recorded
    res = run(["inspect", str(orig), "--verify", "--json"], 60, module="sensorfusion")
    assert res.rc == 0, res.stderr
    info = json.loads(res.stdout)
    assert info["damage"] == [] and info["integrity"] == "crc32c" and info["verified"] is True


@pytest.mark.parametrize("how", ["corrupt", "missing"])
def test_damaged_chunk_is_named_and_replay_stops(session: tuple[str, Path], how: str) -> None:
    rig, path = session
    per_chunk, chunks = _blob_chunks(path)
    victim = chunks[2]  # frames 2*per_chunk ... 3*per_chunk - 1
    if how == "corrupt":
        raw = bytearray(victim.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        victim.write_bytes(bytes(raw))
    else:
        victim.unlink()
    first, last = 2 * per_chunk, 3 * per_chunk - 1
    expect = f"stream a/value frames {first}-{last}" if last > first else f"stream a/value frame {first}"

    res = run(["inspect", str(path), "--verify"], 60, module="sensorfusion")
    assert res.rc == 2, res.stderr
    _no_traceback(res.stderr)
    assert any(expect in ln and ("missing" if how == "missing" else "corrupt") in ln for ln in res.error_lines), (
        res.stderr
    )

    out = path.parent / "replay.zarr"
    res = run([rig, "--fast", "--replay", str(path), "--out", str(out), "--quiet"], 120)
    assert res.rc == 2, f"rc={res.rc}\n{res.stderr[-2000:]}"
    _no_traceback(res.stderr)
    (line,) = res.error_lines
    assert expect in line and "--skip-damaged" in line, line


@pytest.mark.parametrize("how", ["corrupt", "missing"])
def test_skip_damaged_leaves_the_frames_out_and_records_it(session: tuple[str, Path], how: str) -> None:
    rig, path = session
    per_chunk, chunks = _blob_chunks(path)
    victim = chunks[1]
    if how == "corrupt":
        victim.write_bytes(b"\0" * 100)
    else:
        victim.unlink()
    out = path.parent / "replay.zarr"
    res = run([rig, "--fast", "--replay", str(path), "--skip-damaged", "--out", str(out), "--json"], 120)
    assert res.rc == 0, res.stderr[-2000:]
    s = res.summary
    frames = Session.open(path).streams()["a/value"].count
    assert s["framesets"] == min(FRAMES, frames - per_chunk)
    (ev,) = [e for e in s["events"] if e["kind"] == "damaged_skipped"]
    assert (ev["stream"], ev["start"], ev["stop"]) == ("a/value", per_chunk, 2 * per_chunk)
    replayed = Session.open(out)
    assert any(e["kind"] == "damaged_skipped" for e in replayed.events)
    seqs = [f.seq for f in replayed.read("a/value")]
    assert seqs == [i for i in range(frames) if not per_chunk <= i < 2 * per_chunk]
    for f in replayed.read("a/value"):  # never zeros in place of the lost frames
        assert np.all(f["blob"] == f.seq % 251)


def test_truncated_stream_metadata_is_a_one_line_error(session: tuple[str, Path]) -> None:
    rig, path = session
    meta = path / "streams" / "a" / "value" / "zarr.json"
    meta.write_text(meta.read_text()[:40])
    for args, module in (
        (["inspect", str(path)], "sensorfusion"),
        ([rig, "--fast", "--replay", str(path), "--no-record"], "sensorfusion.run"),
    ):
        res = run(args, 60, module=module)
        assert res.rc == 2, f"{args}: rc={res.rc}\n{res.stderr[-2000:]}"
        _no_traceback(res.stderr)
        assert res.error_lines and "streams/a/value" in res.error_lines[0], res.stderr


def test_garbage_timestamp_chunk_is_a_one_line_error(session: tuple[str, Path]) -> None:
    rig, path = session
    (chunk,) = (path / "streams" / "a" / "value" / "t_sensor_ns" / "c").glob("*")
    chunk.write_bytes(np.random.default_rng(0).integers(0, 256, 333, dtype=np.uint8).tobytes())
    res = run(["inspect", str(path)], 60, module="sensorfusion")
    assert res.rc == 2, res.stderr
    _no_traceback(res.stderr)
    assert any("a/value" in ln and "t_sensor_ns" in ln for ln in res.error_lines), res.stderr
    res = run([rig, "--fast", "--replay", str(path), "--no-record"], 60)
    assert res.rc == 2, f"rc={res.rc}\n{res.stderr[-2000:]}"
    _no_traceback(res.stderr)
    (line,) = res.error_lines
    assert "a/value" in line and "t_sensor_ns" in line, line
