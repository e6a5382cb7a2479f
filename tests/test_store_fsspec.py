"""Sessions on fsspec stores: a real S3 protocol server on loopback (moto's server mode, through
s3fs) and ``memory://``. Record to S3, inspect it, replay it, and compare with the same run on
local disk; damage found on an object store as on disk; a batch from S3 to S3; and an
unreachable or unknown store is one line, exit 2, at once."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sensorfusion import FieldSpec, Frame, FrameKind, StoreError, StreamSpec
from sensorfusion.cli import main
from sensorfusion.store import Session, SessionWriter, inspect_session

pytest.importorskip("s3fs", reason="sensorfusion[remote] is not installed")
moto_server = pytest.importorskip("moto.server", reason="moto[server] is not installed")

ROOT = Path(__file__).resolve().parents[1]
SIM_RIG = ROOT / "examples" / "sim_rig.yaml"
FRAMES = 5
BUCKET = "sessions"
_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 (a free port), a bucket, and the environment pointing
    botocore (and so s3fs, and child processes) at it; restored afterwards."""
    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    saved = {k: os.environ.get(k) for k in [*_CREDENTIALS, "AWS_ENDPOINT_URL_S3"]}
    os.environ.update({**_CREDENTIALS, "AWS_ENDPOINT_URL_S3": endpoint})
    import fsspec

    fsspec.filesystem("s3", skip_instance_cache=True).mkdir(BUCKET)
    yield endpoint
    server.stop()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _small_rig_text() -> str:
    """The demo rig with two 160x120 cameras and two people: fewer streams, fewer requests."""
    text = SIM_RIG.read_text().replace("cameras: 4", "cameras: 2").replace("people: 3", "people: 2")
    return text.replace("width: 640", "width: 160").replace("height: 480", "height: 120")


@pytest.fixture(scope="module")
def small_rig(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rig = tmp_path_factory.mktemp("rig") / "small.yaml"
    rig.write_text(_small_rig_text())
    return rig


def _run(*args: str, rig: Path = SIM_RIG) -> int:
    return main(["run", str(rig), "--fast", "--quiet", *args])


def _same_session(a: Session, b: Session) -> None:
    """The same framesets' results and the same recorded data. A run stopped by
    ``--max-frames`` records however many more source frames arrived before the stop: the
    source streams are compared over the frames both hold."""
    assert a.streams().keys() == b.streams().keys()
    assert {k: v.count for k, v in a.estimates().items()} == {k: v.count for k, v in b.estimates().items()}
    for name, stage in (("gt/skeleton3d", None), ("cam0/image", None), ("fusion/skeleton3d", "fusion")):
        fa, fb = list(a.read(name, stage=stage)), list(b.read(name, stage=stage))
        n = min(len(fa), len(fb))
        assert n >= FRAMES if stage is None else len(fa) == len(fb) > 0
        for x, y in zip(fa[:n], fb[:n], strict=True):
            assert x.t_sensor_ns == y.t_sensor_ns
            for field, value in x.data.items():
                np.testing.assert_array_equal(value, y.data[field])


def test_record_inspect_replay_on_s3_equal_local(
    s3: str, small_rig: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"s3://{BUCKET}/take.zarr"
    # to S3 through the writer in its own process (as live runs record: it gets the URL and
    # the environment naming the endpoint), to disk through the writer thread
    in_child = tmp_path / "rig-writer-process.yaml"
    in_child.write_text(_small_rig_text().replace("record:\n", "record:\n  writer: process\n", 1))
    assert _run("--max-frames", str(FRAMES), "--out", url, rig=in_child) == 0
    assert _run("--max-frames", str(FRAMES), "--out", str(tmp_path / "take.zarr"), rig=small_rig) == 0
    on_s3, local = Session.open(url), Session.open(tmp_path / "take.zarr")
    assert on_s3.finished and on_s3.path == url
    assert on_s3.rig["record"]["writer"] == "process"
    _same_session(on_s3, local)

    # inspect: the same streams and counts, every chunk read back and checked
    capsys.readouterr()
    assert main(["inspect", url, "--verify", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["verified"] and not info["damage"] and info["path"] == url
    local_info = inspect_session(tmp_path / "take.zarr")
    assert [(s["name"], s["stage"]) for s in info["streams"]] == [
        (s["name"], s["stage"]) for s in local_info["streams"]
    ]
    for mine, theirs in zip(info["streams"], local_info["streams"], strict=True):  # see _same_session
        assert mine["count"] == theirs["count"] if mine["stage"] else min(mine["count"], theirs["count"]) >= FRAMES
    assert all(s["bytes"] > 0 for s in info["streams"])

    # replay from S3 and from disk: the same results
    assert _run("--replay", url, "--out", str(tmp_path / "from-s3.zarr"), "--json") == 0
    from_s3 = json.loads(capsys.readouterr().out)
    assert _run("--replay", str(tmp_path / "take.zarr"), "--out", str(tmp_path / "from-disk.zarr"), "--json") == 0
    from_disk = json.loads(capsys.readouterr().out)
    assert from_s3["replay_of"] == url and from_s3["framesets"] == from_disk["framesets"] == FRAMES
    assert from_s3["sinks"]["mpjpe"] == from_disk["sinks"]["mpjpe"]
    _same_session(Session.open(tmp_path / "from-s3.zarr"), Session.open(tmp_path / "from-disk.zarr"))

    # an existing session is not overwritten without --overwrite
    assert _run("--max-frames", "2", "--out", url, rig=small_rig) == 2
    assert "already exists" in capsys.readouterr().err


IMAGE = StreamSpec(
    name="cam0/image", kind=FrameKind.IMAGE, rate_hz=30, fields={"image": FieldSpec(dtype="uint8", shape=(8, 8, 3))}
)


def _frame(i: int) -> Frame:
    return Frame(
        stream="cam0/image",
        t_sensor_ns=i * 33_000_000,
        t_host_ns=i * 33_000_000,
        seq=i,
        data={"image": np.full((8, 8, 3), i, np.uint8)},
    )


@pytest.mark.parametrize("base", ["memory://sf-test", f"s3://{BUCKET}"])
def test_commits_damage_and_crash_on_an_object_store(s3: str, base: str) -> None:
    """The writer's guarantees hold on an fsspec store: committed frames read back after a
    "crash" (no close), an unfinished session; a deleted chunk is named by --verify."""
    import fsspec

    url = f"{base}/crash-{int(time.time_ns())}.zarr"
    w = SessionWriter(url, rig={"name": "t"}, calibration=None)
    w.add_stream(IMAGE)
    for i in range(5):
        w.write(_frame(i))
    w.commit()
    w.write(_frame(5))  # buffered, never committed: lost with the "crash"
    s = Session.open(url)
    assert not s.finished and s.streams()["cam0/image"].count == 5
    assert [int(f.data["image"][0, 0, 0]) for f in s.read("cam0/image")] == [0, 1, 2, 3, 4]
    with pytest.raises(StoreError, match="already exists"):
        SessionWriter(url, rig={"name": "t"}, calibration=None)

    fs, path = fsspec.url_to_fs(url)
    fs.rm(f"{path}/streams/cam0/image/image/c/0/0/0/0")  # small frames: one chunk holds all five
    info = inspect_session(url, verify=True)
    assert [(d["stream"], d["start"], d["stop"]) for d in info["damage"]] == [("cam0/image", 0, 5)]
    assert "missing" in info["damage"][0]["problem"]


def test_batch_from_s3_to_s3(s3: str, small_rig: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import fsspec

    assert _run("--max-frames", "3", "--out", str(tmp_path / "a.zarr"), rig=small_rig) == 0
    fs = fsspec.filesystem("s3")
    for name in ("a", "b"):  # upload (a copy of a session is a session)
        fs.put(str(tmp_path / "a.zarr"), f"{BUCKET}/in/{name}.zarr", recursive=True)
    capsys.readouterr()
    out = f"s3://{BUCKET}/out"
    code = main(["batch", str(SIM_RIG), f"s3://{BUCKET}/in/*.zarr", "--out", out, "--no-ray", "--json"])
    doc = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and doc["ok"] == 2
    assert [s["output"] for s in doc["sessions"]] == [f"{out}/a.zarr", f"{out}/b.zarr"]
    assert all(Session.open(s["output"]).finished for s in doc["sessions"])
    code = main(["batch", str(SIM_RIG), f"s3://{BUCKET}/in/*.zarr", "--out", out, "--no-ray", "--json"])
    assert code == 0 and json.loads(capsys.readouterr().out.strip().splitlines()[-1])["skipped"] == 2


def test_memory_store_in_one_process(small_rig: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """memory:// lives in this process: the recorder writes in a thread, not a child process."""
    url = f"memory://sf-run/{time.time_ns()}.zarr"
    assert _run("--max-frames", "3", "--out", url, rig=small_rig) == 0
    assert Session.open(url).finished
    assert main(["inspect", url]) == 0
    assert "sim-demo" in capsys.readouterr().out


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sensorfusion", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **_CREDENTIALS, **env},
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["inspect", "s3://sessions/x.zarr"], "cannot reach s3://sessions/x.zarr"),
        (["run", str(SIM_RIG), "--out", "s3://sessions/x.zarr"], "--out: cannot reach s3://sessions/x.zarr"),
        (["run", str(SIM_RIG), "--replay", "s3://sessions/x.zarr"], "--replay: cannot reach s3://sessions/x.zarr"),
        (["batch", str(SIM_RIG), "s3://sessions/*.zarr", "--out", "o", "--no-ray"], "cannot reach s3://sessions/"),
        (["run", str(SIM_RIG), "--out", "nosuch://x/y.zarr"], "unknown storage protocol (got 'nosuch://')"),
        (["inspect", "nosuch://x/y.zarr"], "unknown storage protocol"),
    ],
)
def test_an_unreachable_store_is_one_line_exit_2_at_once(args: list[str], message: str, tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    t0 = time.monotonic()
    proc = _cli(*args, env={"AWS_ENDPOINT_URL_S3": closed})
    elapsed = time.monotonic() - t0
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in proc.stderr
    assert elapsed < 20  # botocore's default retries would take ~12 s on top of the start


def test_a_missing_bucket_is_named(s3: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("--out", "s3://no-such-bucket/x.zarr") == 2
    assert "bucket 'no-such-bucket' does not exist" in capsys.readouterr().err


def test_default_sessions_place_may_be_a_url(
    small_rig: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``$SENSORFUSION_SESSIONS`` replaces ``sessions/``; the rig's name is still made safe."""
    import fsspec

    base = f"memory://sf-default-{time.time_ns()}"
    monkeypatch.setenv("SENSORFUSION_SESSIONS", base)
    hostile = small_rig.parent / "hostile.yaml"
    hostile.write_text(small_rig.read_text().replace("name: sim-demo", "name: ../../etc/x"))
    assert _run("--max-frames", "2", rig=hostile) == 0
    fs, path = fsspec.url_to_fs(base)
    (made,) = fs.ls(path, detail=False)
    assert made.rsplit("/", 1)[-1].startswith("etc_x-") and made.endswith(".zarr")
    assert Session.open(f"memory://{made.lstrip('/')}").finished


def test_a_missing_fsspec_package_is_named(tmp_path: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("gcsfs") is not None:
        pytest.skip("gcsfs is installed (this checks the message when it is not)")
    proc = _cli("inspect", "gs://bucket/run.zarr", env={})
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1
    assert "gs:// needs a package that is not installed" in lines[0] and "gcsfs" in lines[0]


def test_batch_into_memory_needs_one_process(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("ray")
    code = main(["batch", str(SIM_RIG), str(SIM_RIG), "--out", "memory://x/out"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "Ray workers cannot write there (use --no-ray" in err[0]
