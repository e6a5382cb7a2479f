"""The Zarr session store: writer, reader, inspection and the replay driver."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr

from sensorfusion import (
    DriverContext,
    EndOfStream,
    FieldSpec,
    Frame,
    FrameKind,
    RigCalibration,
    SchemaError,
    StoreError,
    StreamSpec,
)
from sensorfusion._builtin.replay import ReplayDriver, ReplayParams
from sensorfusion.store import (
    SCHEMA_VERSION,
    Session,
    SessionWriter,
    StreamInfo,
    _reader,
    format_inspect,
    inspect_session,
)

H, W = 24, 32

IMAGE = StreamSpec(
    name="cam0/image", kind=FrameKind.IMAGE, rate_hz=30, fields={"image": FieldSpec(dtype="uint8", shape=(H, W, 3))}
)
DEPTH = StreamSpec(
    name="cam0/depth", kind=FrameKind.DEPTH, rate_hz=30, fields={"depth": FieldSpec(dtype="uint16", shape=(H, W))}
)
KEYPOINTS = StreamSpec(
    name="cam0/keypoints2d",
    kind=FrameKind.KEYPOINTS2D,
    ragged=True,
    skeleton="coco17",
    fields={"keypoints": FieldSpec(dtype="float32", shape=(17, 3)), "person_id": FieldSpec(dtype="int64")},
)
CALIBRATION = RigCalibration.model_validate(
    {
        "sensors": {
            "cam0": {
                "camera": {"model": "pinhole", "width": W, "height": H, "fx": 30.0, "fy": 30.0, "cx": 16.0, "cy": 12.0}
            }
        }
    }
)
RIG = {"name": "test-rig", "sensors": [{"id": "cam0", "driver": "sim"}]}


def _calibration() -> RigCalibration | None:
    return CALIBRATION


def make_frames(n: int, *, seed: int = 0, t0: int = 1_000_000_000, dt: int = 33_333_333) -> dict[str, list[Frame]]:
    """``n`` frames of each test stream; every third keypoint frame has no people."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[Frame]] = {"cam0/image": [], "cam0/depth": [], "cam0/keypoints2d": []}
    for i in range(n):
        ts, th = t0 + i * dt, t0 + i * dt + 2_000_000 + int(rng.integers(0, 1000))
        out["cam0/image"].append(Frame("cam0/image", ts, th, i, {"image": rng.integers(0, 256, (H, W, 3), np.uint8)}))
        out["cam0/depth"].append(
            Frame("cam0/depth", ts + 1, th + 1, i, {"depth": rng.integers(0, 65535, (H, W), np.uint16)})
        )
        p = i % 3
        out["cam0/keypoints2d"].append(
            Frame(
                "cam0/keypoints2d",
                ts,
                th + 3,
                i,
                {
                    "keypoints": rng.normal(size=(p, 17, 3)).astype(np.float32),
                    "person_id": np.arange(p, dtype=np.int64) + 10 * i,
                },
            )
        )
    return out


def assert_same(a: Frame, b: Frame) -> None:
    assert a.stream == b.stream
    assert (a.t_sensor_ns, a.t_host_ns, a.seq) == (b.t_sensor_ns, b.t_host_ns, b.seq)
    assert set(a.data) == set(b.data)
    for k in a.data:
        assert a.data[k].dtype == b.data[k].dtype
        np.testing.assert_array_equal(a.data[k], b.data[k])


def record(
    path: Path,
    frames: dict[str, list[Frame]],
    *,
    compression: str = "zstd",
    estimates: bool = True,
    commit_every: int = 4,
    **kwargs: Any,
) -> None:
    with SessionWriter(
        path,
        rig=RIG,
        calibration=_calibration(),
        compression=compression,  # type: ignore[arg-type]
        **kwargs,
    ) as w:
        w.add_stream(IMAGE)
        w.add_stream(DEPTH)
        w.add_stream(KEYPOINTS)
        if estimates:
            w.add_stream(KEYPOINTS, stage="pose")
        n = len(frames["cam0/image"])
        for i in range(n):
            for name in ("cam0/image", "cam0/depth", "cam0/keypoints2d"):
                assert w.write(frames[name][i])
            if estimates:
                w.write(frames["cam0/keypoints2d"][i], stage="pose")
            if (i + 1) % commit_every == 0:
                w.commit()
        w.event("reconnect", "cam0", "cable wiggled", t_ns=123, attempt=np.int64(2))
        w.set_stats({"drops": {"cam0/image": 1}, "fps": 29.9})


@pytest.mark.parametrize("compression", ["zstd", "lz4", "none"])
def test_round_trip(tmp_path: Path, compression: str) -> None:
    frames = make_frames(11)
    path = tmp_path / "s.zarr"
    record(path, frames, compression=compression)
    s = Session.open(path)
    assert s.schema_version == SCHEMA_VERSION
    assert s.finished
    assert s.rig == RIG
    assert s.calibration == CALIBRATION
    assert s.attrs["software"]["zarr"] == zarr.__version__
    assert set(s.streams()) == {"cam0/image", "cam0/depth", "cam0/keypoints2d"}
    assert set(s.estimates()) == {"pose:cam0/keypoints2d"}
    info = s.streams()["cam0/image"]
    assert isinstance(info, StreamInfo)
    assert (info.count, info.stage, info.spec) == (11, None, IMAGE)
    assert info.t_first_ns == frames["cam0/image"][0].t_sensor_ns
    assert info.t_last_ns == frames["cam0/image"][-1].t_sensor_ns
    assert s.estimates()["pose:cam0/keypoints2d"].stage == "pose"
    for name, expected in frames.items():
        got = list(s.read(name))
        assert len(got) == len(expected)
        for a, b in zip(got, expected, strict=True):
            assert_same(a, b)
        ts = s.timestamps(name)
        np.testing.assert_array_equal(ts["seq"], np.arange(11))
        np.testing.assert_array_equal(ts["t_host_ns"], [f.t_host_ns for f in expected])
    # estimates, by key or by stage, and slicing
    est = list(s.read("cam0/keypoints2d", stage="pose", start=2, stop=7))
    assert [f.seq for f in est] == [2, 3, 4, 5, 6]
    for a, b in zip(est, frames["cam0/keypoints2d"][2:7], strict=True):
        assert_same(a, b)
    assert [f.seq for f in s.read("pose:cam0/keypoints2d", start=9, stop=100)] == [9, 10]
    empty = next(iter(s.read("cam0/keypoints2d")))
    assert empty["keypoints"].shape == (0, 17, 3) and empty["person_id"].shape == (0,)
    np.testing.assert_array_equal(
        s.offsets("cam0/keypoints2d"), np.concatenate([[0], np.cumsum([i % 3 for i in range(11)])])
    )
    # events, stats, summary
    assert s.events == [{"t_ns": 123, "kind": "reconnect", "source": "cam0", "message": "cable wiggled", "attempt": 2}]
    assert s.stats["fps"] == 29.9
    assert s.stats["recorder"]["frames_written"] == 44
    assert s.summary == {}
    codecs = zarr.open_array(path / "streams/cam0/depth/depth", mode="r").metadata.codecs
    names = [type(c).__name__ for c in codecs]
    assert {"zstd": "ZstdCodec", "lz4": "BloscCodec", "none": "BytesCodec"}[compression] == names[-2]
    assert names[-1] == "Crc32cCodec" and s.integrity == "crc32c"  # every chunk carries its checksum


def test_summary_and_unfinished(tmp_path: Path) -> None:
    path = tmp_path / "s.zarr"
    w = SessionWriter(path, rig=RIG, calibration=None)
    w.add_stream(IMAGE)
    w.write(make_frames(1)["cam0/image"][0])
    w.commit()
    s = Session.open(path)
    assert not s.finished and s.calibration == RigCalibration()
    w.close(summary={"frames": 1, "ok": True})
    s = Session.open(path)
    assert s.finished and s.summary == {"frames": 1, "ok": True}
    with pytest.raises(StoreError, match="closed"):
        w.write(make_frames(1)["cam0/image"][0])
    with pytest.raises(StoreError, match="already exists"):
        SessionWriter(path, rig=RIG, calibration=None)
    SessionWriter(path, rig=RIG, calibration=None, overwrite=True).close()
    assert Session.open(path).streams() == {}


def test_count_is_authoritative_after_partial_commit(tmp_path: Path) -> None:
    frames = make_frames(6)
    path = tmp_path / "s.zarr"
    w = SessionWriter(path, rig=RIG, calibration=None)
    w.add_stream(IMAGE)
    w.add_stream(KEYPOINTS)
    for i in range(4):
        w.write(frames["cam0/image"][i])
        w.write(frames["cam0/keypoints2d"][i])
    w.commit()
    # simulate a commit interrupted after the data went in but before `count` was published
    w._append(w._streams["cam0/image"], frames["cam0/image"][4:6])
    w._append(w._streams["cam0/keypoints2d"], frames["cam0/keypoints2d"][4:6])
    root = zarr.open_group(path, mode="r")
    assert root["streams/cam0/image/image"].shape[0] >= 6  # arrays grow in steps past count
    assert root["streams/cam0/keypoints2d/offsets"].shape[0] >= 7
    s = Session.open(path)
    assert s.streams()["cam0/image"].count == 4
    assert [f.seq for f in s.read("cam0/image")] == [0, 1, 2, 3]
    assert len(s.timestamps("cam0/keypoints2d")["seq"]) == 4
    got = list(s.read("cam0/keypoints2d"))
    for a, b in zip(got, frames["cam0/keypoints2d"][:4], strict=True):
        assert_same(a, b)


def test_schema_validation_and_unknown_stream(tmp_path: Path) -> None:
    w = SessionWriter(tmp_path / "s.zarr", rig=RIG, calibration=None)
    w.add_stream(IMAGE)
    with pytest.raises(SchemaError, match="dtype"):
        w.write(Frame("cam0/image", 0, 0, 0, {"image": np.zeros((H, W, 3), np.float32)}))
    with pytest.raises(SchemaError, match="shape"):
        w.write(Frame("cam0/image", 0, 0, 0, {"image": np.zeros((H, W), np.uint8)}))
    with pytest.raises(StoreError, match="add_stream"):
        w.write(make_frames(1)["cam0/depth"][0])
    w.add_stream(IMAGE)  # idempotent
    with pytest.raises(StoreError, match="another spec"):
        w.add_stream(IMAGE.model_copy(update={"rate_hz": 1.0}))
    w.close()


def test_not_a_session_and_too_new(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not a sensorfusion session"):
        Session.open(tmp_path / "missing.zarr")
    (tmp_path / "file.txt").write_text("hello")
    with pytest.raises(StoreError, match="not a sensorfusion session"):
        Session.open(tmp_path / "file.txt")
    zarr.open_group(tmp_path / "plain.zarr", mode="w", zarr_format=3)
    with pytest.raises(StoreError, match="no schema_version"):
        Session.open(tmp_path / "plain.zarr")
    path = tmp_path / "s.zarr"
    SessionWriter(path, rig=RIG, calibration=None).close()
    zarr.open_group(path, mode="r+").attrs.update({"schema_version": SCHEMA_VERSION + 1})
    with pytest.raises(StoreError, match="newer"):
        Session.open(path)
    with pytest.raises(StoreError):
        inspect_session(tmp_path / "missing.zarr")


def test_older_schema_versions_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.zarr"
    record(path, make_frames(3), estimates=False)
    zarr.open_group(path, mode="r+").attrs.update({"schema_version": 1})
    s = Session.open(path)
    assert s.schema_version == 1 and s.streams()["cam0/image"].count == 3
    # pretend the layout moved on to version 2: a v1 session is migrated on open
    monkeypatch.setattr(_reader, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(_reader.MIGRATIONS, 1, lambda a: {**a, "migrated": True})
    s = Session.open(path)
    assert s.schema_version == 1 and s.attrs["schema_version"] == 2 and s.attrs["migrated"] is True
    assert [f.seq for f in s.read("cam0/image")] == [0, 1, 2]
    monkeypatch.delitem(_reader.MIGRATIONS, 1)
    with pytest.raises(StoreError, match="no migration"):
        Session.open(path)


def test_frames_in_order(tmp_path: Path) -> None:
    frames = make_frames(9)
    path = tmp_path / "s.zarr"
    record(path, frames)
    s = Session.open(path)
    merged = list(s.frames_in_order())
    assert len(merged) == 27  # sources only
    keys = [(f.t_host_ns, f.stream, f.seq) for f in merged]
    assert keys == sorted(keys)
    expected = sorted((f for fs in frames.values() for f in fs), key=lambda f: (f.t_host_ns, f.stream, f.seq))
    for a, b in zip(merged, expected, strict=True):
        assert_same(a, b)
    only = list(s.frames_in_order(["*/image", "cam0/dep*"]))
    assert {f.stream for f in only} == {"cam0/image", "cam0/depth"} and len(only) == 18


def test_frames_in_order_ties_and_reordered_host_times(tmp_path: Path) -> None:
    spec_b = IMAGE.model_copy(update={"name": "b/image"})
    spec_a = IMAGE.model_copy(update={"name": "a/image"})
    img = np.zeros((H, W, 3), np.uint8)
    path = tmp_path / "s.zarr"
    with SessionWriter(path, rig=RIG, calibration=None) as w:
        w.add_stream(spec_b)
        w.add_stream(spec_a)
        for seq, th in enumerate([10, 20, 20, 15, 40]):  # host time jumps back once
            w.write(Frame("b/image", seq, th, seq, {"image": img}))
            w.write(Frame("a/image", seq, th, seq, {"image": img}))
    got = [(f.t_host_ns, f.stream, f.seq) for f in Session.open(path).frames_in_order()]
    assert got == sorted(got)
    assert got[:3] == [(10, "a/image", 0), (10, "b/image", 0), (15, "a/image", 3)]


def test_background_mode_threads_and_drops(tmp_path: Path) -> None:
    path = tmp_path / "s.zarr"
    frames = make_frames(40)["cam0/image"]
    w = SessionWriter(path, rig=RIG, calibration=None, commit_interval_s=0.05).start()
    w.add_stream(IMAGE)
    w.add_stream(IMAGE.model_copy(update={"name": "cam1/image"}))

    def produce(name: str) -> None:
        for f in frames:
            assert w.write(Frame(name, f.t_sensor_ns, f.t_host_ns, f.seq, f.data))
            time.sleep(0.002)

    threads = [threading.Thread(target=produce, args=(n,)) for n in ("cam0/image", "cam1/image")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    deadline = time.monotonic() + 10
    while w.stats()["commits"] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert w.stats()["commits"] >= 1, "the background thread commits on its own"
    w.close()
    s = Session.open(path)
    assert s.finished and s.stats["recorder"]["commits"] >= 2
    for name in ("cam0/image", "cam1/image"):
        assert [f.seq for f in s.read(name)] == list(range(40))

    # a tiny bound with no chance to commit: the background writer drops and counts
    path2 = tmp_path / "drops.zarr"
    w = SessionWriter(path2, rig=RIG, calibration=None, commit_interval_s=10, max_buffer_mb=3 * H * W * 3 / 2**20)
    w.add_stream(IMAGE)
    w.start()
    accepted = [w.write(f) for f in frames[:10]]
    assert accepted == [True] * 3 + [False] * 7
    assert w.dropped == 7
    w.close()
    s = Session.open(path2)
    assert s.streams()["cam0/image"].count == 3
    assert s.stats["recorder"]["dropped"] == {"cam0/image": 7}
    assert [e["kind"] for e in s.events] == ["drop"]
    assert inspect_session(path2)["drops"] == {"recorder": {"cam0/image": 7}}

    # in foreground mode a full buffer commits inline instead of dropping
    path3 = tmp_path / "fg.zarr"
    w = SessionWriter(path3, rig=RIG, calibration=None, max_buffer_mb=3 * H * W * 3 / 2**20)
    w.add_stream(IMAGE)
    assert all(w.write(f) for f in frames[:10])
    assert Session.open(path3).streams()["cam0/image"].count >= 6  # committed without close
    w.close()
    assert Session.open(path3).streams()["cam0/image"].count == 10


def test_chunking() -> None:
    from sensorfusion.store._writer import _data_chunks

    assert _data_chunks((720, 1280, 3), 1, 16384) == (1, 720, 1280, 3)  # 2.6 MiB: one frame a chunk
    assert _data_chunks((720, 1280), 2, 16384) == (1, 720, 1280)  # large frames: a chunk each (no partial rewrites)
    assert _data_chunks((200, 200), 2, 16384) == (52, 200, 200)  # 80 KB frames share 4 MiB chunks
    assert _data_chunks((4,), 4, 16384) == (16384, 4)  # tiny frames: capped length
    assert _data_chunks((17, 3), 4, 65536) == (20560, 17, 3)  # 4 MiB of 204-byte items
    big = _data_chunks((2160, 3840, 3), 1, 16384)  # 24 MiB frame: split along rows
    assert big[0] == 1 and big[1] < 2160 and big[1] * 3840 * 3 <= 8 * 2**20
    assert _data_chunks((0, 3), 4, 16384)[1:] == (1, 3)


def test_maybe_commit(tmp_path: Path) -> None:
    w = SessionWriter(tmp_path / "s.zarr", rig=RIG, calibration=None, commit_interval_s=0.2)
    w.add_stream(IMAGE)
    w.write(make_frames(1)["cam0/image"][0])
    assert not w.maybe_commit()
    time.sleep(0.25)
    assert w.maybe_commit()
    assert Session.open(tmp_path / "s.zarr").streams()["cam0/image"].count == 1
    w.close()


def test_inspect(tmp_path: Path) -> None:
    frames = make_frames(10)
    frames["cam0/depth"].pop(4)  # a lost frame: a gap in seq
    frames["cam0/depth"].append(Frame("cam0/depth", 0, 0, 10, frames["cam0/depth"][0].data))
    frames["cam0/depth"].pop()
    path = tmp_path / "s.zarr"
    with SessionWriter(path, rig=RIG, calibration=None) as w:
        for spec in (IMAGE, DEPTH):
            w.add_stream(spec)
        w.add_stream(KEYPOINTS, stage="pose")
        for f in frames["cam0/image"] + frames["cam0/depth"]:
            w.write(f)
        for f in frames["cam0/keypoints2d"]:
            w.write(f, stage="pose")
        w.event("drop", "sync", "late frame", stream="cam0/depth")
        w.set_stats({"drops": {"sync": {"cam0/depth": 1}}})
    info = inspect_session(path)
    assert json.loads(json.dumps(info)) == info
    assert info["schema_version"] == SCHEMA_VERSION and info["finished"] and info["rig_name"] == "test-rig"
    assert [(s["name"], s["stage"]) for s in info["streams"]] == [
        ("cam0/depth", None),
        ("cam0/image", None),
        ("cam0/keypoints2d", "pose"),
    ]
    depth, image = info["streams"][0], info["streams"][1]
    assert depth["count"] == 9 and depth["seq_gaps"] == 1
    assert image["count"] == 10 and image["seq_gaps"] == 0 and image["kind"] == "image"
    assert image["duration_s"] == pytest.approx(9 * 0.033333333)
    assert image["fps"] == pytest.approx(30.0, rel=1e-3)
    assert image["bytes"] > 0
    assert set(image) == {
        "name",
        "stage",
        "kind",
        "count",
        "t_first_ns",
        "t_last_ns",
        "duration_s",
        "fps",
        "seq_gaps",
        "bytes",
    }
    assert info["drops"] == {"sync": {"cam0/depth": 1}}
    assert info["events"][0]["stream"] == "cam0/depth"
    text = format_inspect(info)
    assert "cam0/image" in text and "pose" in text and "late frame" in text


def _driver(path: Path, timing: str = "fast", streams: list[str] | None = None, realtime: bool = True) -> ReplayDriver:
    params = ReplayParams(path=str(path), timing=timing, **({"streams": streams} if streams else {}))  # type: ignore[arg-type]
    return ReplayDriver(params, DriverContext(sensor_id="rec", realtime=realtime))


def _drain(driver: ReplayDriver) -> list[Frame]:
    driver.open()
    out: list[Frame] = []
    with pytest.raises(EndOfStream):
        while True:
            batch = driver.read()
            assert len(batch) <= 32
            out.extend(batch)
    driver.close()
    return out


def test_replay_fast_reproduces_frames(tmp_path: Path) -> None:
    frames = make_frames(40)
    path = tmp_path / "s.zarr"
    record(path, frames)
    from sensorfusion.plugins import PluginHost

    assert PluginHost(autoload=False).drivers.get("replay", field_path="driver") is ReplayDriver
    driver = _driver(path)
    assert ReplayDriver.name == "replay"
    assert [s.name for s in driver.streams()] == ["cam0/depth", "cam0/image", "cam0/keypoints2d"]
    assert driver.streams()[1] == IMAGE
    assert driver.calibration() == CALIBRATION
    got = _drain(driver)
    expected = sorted((f for fs in frames.values() for f in fs), key=lambda f: (f.t_host_ns, f.stream, f.seq))
    assert len(got) == len(expected) == 120
    for a, b in zip(got, expected, strict=True):
        assert_same(a, b)
    with pytest.raises(EndOfStream):
        driver.read()
    # stream selection
    only = _drain(_driver(path, streams=["*/image"]))
    assert [f.seq for f in only] == list(range(40)) and {f.stream for f in only} == {"cam0/image"}


def test_replay_unknown_streams_is_config_error(tmp_path: Path) -> None:
    from sensorfusion import ConfigError

    path = tmp_path / "s.zarr"
    record(path, make_frames(2), estimates=False)
    with pytest.raises(ConfigError, match="cam0/image"):
        _driver(path, streams=["nope/*"]).streams()
    with pytest.raises(StoreError):
        _driver(tmp_path / "missing.zarr").streams()


def test_replay_recorded_timing(tmp_path: Path) -> None:
    path = tmp_path / "s.zarr"
    gap = 50_000_000
    with SessionWriter(path, rig=RIG, calibration=None) as w:
        w.add_stream(IMAGE)
        for i in range(11):  # 0.5 s of recording
            w.write(Frame("cam0/image", i, 10**12 + i * gap, i, {"image": np.full((H, W, 3), i, np.uint8)}))
    t0 = time.monotonic()
    got = _drain(_driver(path, timing="recorded"))
    elapsed = time.monotonic() - t0
    assert [f.seq for f in got] == list(range(11))
    assert 0.45 <= elapsed < 3.0
    # a non-real-time run replays fast whatever the timing says
    t0 = time.monotonic()
    assert len(_drain(_driver(path, timing="recorded", realtime=False))) == 11
    assert time.monotonic() - t0 < 0.45


def test_replay_stops_promptly(tmp_path: Path) -> None:
    path = tmp_path / "s.zarr"
    with SessionWriter(path, rig=RIG, calibration=None) as w:
        w.add_stream(IMAGE)
        for i, th in enumerate([0, 10 * 10**9]):  # 10 s gap
            w.write(Frame("cam0/image", i, th, i, {"image": np.zeros((H, W, 3), np.uint8)}))
    driver = _driver(path, timing="recorded")
    driver.open()
    assert len(driver.read()) == 1
    threading.Timer(0.1, driver.context.stop.set).start()
    t0 = time.monotonic()
    while not driver.context.stop.is_set():
        assert driver.read() == []
    assert driver.read() == []
    assert time.monotonic() - t0 < 1.0


def test_background_writer_waits_instead_of_dropping_when_asked(tmp_path):
    from sensorfusion import FieldSpec, Frame, FrameKind, StreamSpec
    from sensorfusion.store import Session, SessionWriter

    spec = StreamSpec(
        name="cam0/image", kind=FrameKind.IMAGE, fields={"image": FieldSpec(dtype="uint8", shape=(256, 256, 3))}
    )
    frames = [Frame("cam0/image", i, i, i, {"image": np.full((256, 256, 3), i % 251, np.uint8)}) for i in range(60)]
    results = {}
    for policy in ("drop", "wait"):
        w = SessionWriter(
            str(tmp_path / f"{policy}.zarr"),
            rig={"name": policy},
            calibration=None,
            max_buffer_mb=0.5,
            commit_interval_s=0.2,
            when_full=policy,
        )
        w.add_stream(spec)
        w.start()
        ok = [w.write(f) for f in frames]
        w.close()
        results[policy] = (sum(ok), Session.open(str(tmp_path / f"{policy}.zarr")).streams()["cam0/image"].count)
    assert results["wait"] == (60, 60)
    assert results["drop"][0] < 60 and results["drop"][1] == results["drop"][0]


def test_a_stage_named_output_does_not_repeat_the_stage_in_its_path(tmp_path: Path) -> None:
    """Issue 12.7: a stage ``head`` writing ``head/height`` lives at ``estimates/head/height``, not
    ``estimates/head/head/height``; a per-sensor output keeps its sensor level; schema 1 sessions
    (the old layout) still read."""
    import zarr

    spec_own = StreamSpec(name="head/height", kind=FrameKind.PERSON_VALUES, ragged=True,
                          fields={"person_id": FieldSpec(dtype="int64"), "height_m": FieldSpec(dtype="float32")})  # fmt: skip
    spec_cam = StreamSpec(name="cam0/height", kind=FrameKind.PERSON_VALUES, ragged=True,
                          fields={"person_id": FieldSpec(dtype="int64"), "height_m": FieldSpec(dtype="float32")})  # fmt: skip
    path = tmp_path / "s.zarr"
    w = SessionWriter(path, rig={"name": "r"}, calibration=CALIBRATION)
    w.add_stream(spec_own, stage="head")
    w.add_stream(spec_cam, stage="head")
    for i in range(3):
        data = {"person_id": np.array([7], np.int64), "height_m": np.array([1.7 + i], np.float32)}
        w.write(Frame("head/height", i, i, i, data), stage="head")
        w.write(Frame("cam0/height", i, i, i, data), stage="head")
    w.close({})
    root = zarr.open_group(path, mode="r")
    assert "estimates/head/height" in root and "estimates/head/head" not in root
    assert "estimates/head/cam0/height" in root
    s = Session.open(path)
    assert set(s.estimates()) == {"head:head/height", "head:cam0/height"}
    assert s.group_path("head/height", stage="head") == "estimates/head/height"
    assert [float(f.data["height_m"][0]) for f in s.read("head:head/height")] == pytest.approx([1.7, 2.7, 3.7])
    # the schema-1 layout (a stage's own outputs under estimates/<stage>/<stage>/) still reads
    old = zarr.open_group(path, mode="r+")
    old.require_group("estimates/head/head")
    import shutil

    shutil.move(str(path / "estimates" / "head" / "height"), str(path / "estimates" / "head" / "head" / "height"))
    old.attrs.update({"schema_version": 1})
    s1 = Session.open(path)
    assert s1.schema_version == 1 and set(s1.estimates()) == {"head:head/height", "head:cam0/height"}
    assert s1.group_path("head/height", stage="head") == "estimates/head/head/height"
    assert s1.timestamps("head/height", stage="head")["seq"].tolist() == [0, 1, 2]
