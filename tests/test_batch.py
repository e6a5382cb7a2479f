"""``sensorfusion batch`` on a real local Ray (one start for the module): every session
replayed, a broken one isolated and listed, finished ones skipped on the next batch, the
results equal to running the sessions one after another in this process, a rig that takes
``${input}``, and the message naming what to install when Ray is missing."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sensorfusion.cli import main
from sensorfusion.store import Session

ray = pytest.importorskip("ray", reason="sensorfusion[ray] is not installed")

ROOT = Path(__file__).resolve().parents[1]
SIM_RIG = ROOT / "examples" / "sim_rig.yaml"
FRAMES = 6


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two short recordings of a small simulated rig (seeds 1 and 2) and one broken session (a
    Zarr group that claims to be a session and holds no streams)."""
    d = tmp_path_factory.mktemp("batch-in")
    # small: two 160x120 cameras, two people (the batch replays them through the demo rig)
    rig_text = SIM_RIG.read_text().replace("cameras: 4", "cameras: 2").replace("people: 3", "people: 2")
    rig_text = rig_text.replace("width: 640", "width: 160").replace("height: 480", "height: 120")
    for seed in (1, 2):
        rig = d / f"rig{seed}.yaml"
        rig.write_text(rig_text.replace("seed: 7", f"seed: {seed}"))
        out = d / f"take{seed}.zarr"
        assert main(["run", str(rig), "--max-frames", str(FRAMES), "--fast", "--quiet", "--out", str(out)]) == 0
    bad = d / "broken.zarr"
    bad.mkdir()
    (bad / "zarr.json").write_text(
        json.dumps({"zarr_format": 3, "node_type": "group", "attributes": {"schema_version": 2, "finished": True}})
    )
    return d


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """One local Ray for every test of the module (a start costs seconds); ``batch`` uses a
    running Ray instead of starting its own."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=128 << 20)
    yield
    ray.shutdown()


def _batch(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    code = main(["batch", str(SIM_RIG), *args, "--json"])
    out, err = capsys.readouterr()
    return code, json.loads(out.strip().splitlines()[-1]), err


def _by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {Path(s["output"]).name: s for s in doc["sessions"]}


def test_batch_on_ray_isolates_a_failure_and_resumes(
    sessions: Path, local_ray: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results"
    code, doc, err = _batch(capsys, str(sessions / "*.zarr"), "--out", str(out), "--jobs", "2")
    assert code == 1  # one session failed
    assert doc["executor"] == "ray:local" and (doc["ok"], doc["failed"], doc["skipped"]) == (2, 1, 0)
    res = _by_name(doc)
    assert set(res) == {"broken.zarr", "take1.zarr", "take2.zarr"}
    broken = res["broken.zarr"]
    assert broken["status"] == "failed" and "no recorded stream" in broken["error"]
    assert f"error: {broken['input']}: " in err  # the failure is listed with its error
    for name in ("take1.zarr", "take2.zarr"):
        r = res[name]
        assert r["status"] == "ok" and r["error"] is None
        # replaying a session re-runs what was recorded: the recorded limits
        assert r["framesets"] == FRAMES and r["drops"] == 0
        assert r["metric"]["name"] == "mpjpe_mm" and 0 < r["metric"]["value"] < 200
        assert r["wall_s"] > 0
        s = Session.open(out / name)
        assert s.finished and s.attrs["summary"]["replay_of"] == str(sessions / name)
        assert s.streams()["cam0/image"].count >= FRAMES
    stamps = {n: (out / n / "zarr.json").stat().st_mtime_ns for n in ("take1.zarr", "take2.zarr")}

    # a second batch skips the finished sessions (their figures from the stored summary) and
    # tries the failed one again
    code, doc, _ = _batch(capsys, str(sessions / "*.zarr"), "--out", str(out), "--jobs", "2")
    assert code == 1 and (doc["ok"], doc["failed"], doc["skipped"]) == (0, 1, 2)
    res2 = _by_name(doc)
    for name, stamp in stamps.items():
        assert res2[name]["status"] == "skipped"
        assert res2[name]["metric"] == res[name]["metric"] and res2[name]["framesets"] == FRAMES
        assert (out / name / "zarr.json").stat().st_mtime_ns == stamp  # not touched

    # the table and the skip notice for a person
    code = main(["batch", str(SIM_RIG), str(sessions / "take1.zarr"), "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0 and "1 of 1 sessions already finished" in text and "take1.zarr" in text and "skipped" in text
    # --redo runs it again; in a log (no terminal) each finished session is a line on stderr
    code = main(["batch", str(SIM_RIG), str(sessions / "take1.zarr"), "--out", str(out), "--redo", "--no-ray"])
    captured = capsys.readouterr()
    assert code == 0 and "[1/1] take1.zarr ok" in captured.err and "1 ok, 0 failed, 0 skipped" in captured.out


def test_ray_results_equal_one_after_another_in_process(
    sessions: Path, local_ray: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = [str(sessions / "take1.zarr"), str(sessions / "take2.zarr")]
    code_r, on_ray, _ = _batch(capsys, *inputs, "--out", str(tmp_path / "ray"))
    code_l, local, _ = _batch(capsys, *inputs, "--out", str(tmp_path / "local"), "--no-ray")
    assert code_r == code_l == 0 and local["executor"] == "local"
    for a, b in zip(on_ray["sessions"], local["sessions"], strict=True):
        assert (a["framesets"], a["drops"], a["metric"]) == (b["framesets"], b["drops"], b["metric"])


def test_an_unfinished_output_runs_again(sessions: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "results"
    take = str(sessions / "take1.zarr")
    assert _batch(capsys, take, "--out", str(out), "--no-ray")[0] == 0
    meta = out / "take1.zarr" / "zarr.json"
    doc = json.loads(meta.read_text())
    doc["attributes"]["finished"] = False  # as after a kill
    meta.write_text(json.dumps(doc))
    code, res, _ = _batch(capsys, take, "--out", str(out), "--no-ray")
    assert code == 0 and res["ok"] == 1 and res["skipped"] == 0
    assert Session.open(out / "take1.zarr").finished

    doc = json.loads(meta.read_text())
    doc["attributes"]["summary"]["interrupted"] = True  # finished, but stopped by a Ctrl-C
    meta.write_text(json.dumps(doc))
    code, res, _ = _batch(capsys, take, "--out", str(out), "--no-ray")
    assert code == 0 and res["ok"] == 1 and res["skipped"] == 0


def test_a_rig_that_reads_its_input(sessions: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A rig naming ``${input}`` runs once per input (here the replay driver reads it: any
    driver with a path parameter does the same, e.g. opencv.rig's videos)."""
    rig = tmp_path / "per_input.yaml"
    rig.write_text(
        "name: per-input\nsensors:\n  - id: rec\n    driver: replay\n"
        "    params: {path: '${input}', streams: ['gt/skeleton3d'], timing: fast}\n"
    )
    code = main(["batch", str(rig), str(sessions / "take*.zarr"), "--out", str(tmp_path / "o"), "--no-ray", "--json"])
    doc = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and doc["ok"] == 2
    for name in ("take1.zarr", "take2.zarr"):
        s = Session.open(tmp_path / "o" / name)
        assert (
            s.finished
            and s.streams()["gt/skeleton3d"].count == Session.open(sessions / name).streams()["gt/skeleton3d"].count
        )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nothing-*.zarr"], "matches nothing"),
        (["missing.zarr"], "not found"),
        (["{rig}"], "not a recorded session"),
        (["{sessions}/take1.zarr", "--jobs", "0"], "--jobs: must be >= 1"),
        (["{sessions}/take1.zarr", "--no-ray", "--address", "x:1"], "--address needs Ray"),
        (["{sessions}/take1.zarr", "--address", "127.0.0.1:{closed}"], "--address: cannot reach the Ray cluster"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    sessions: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    args = [a.format(sessions=sessions, rig=SIM_RIG, closed=closed) for a in args]
    code = main(["batch", str(SIM_RIG), *args, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0]


def test_without_ray_it_says_what_to_install(sessions: Path, tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['ray'] = None  # import ray -> ImportError, as when it is not installed\n"
        "from sensorfusion.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "batch", str(SIM_RIG), str(sessions / "take1.zarr"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "pip install 'sensorfusion[ray]'" in proc.stderr
    assert not list(tmp_path.iterdir())  # nothing written


def test_a_task_needs_only_the_rig_text(sessions: Path, tmp_path: Path) -> None:
    """A cluster's node need not hold the rig file: the task gets its text."""
    from sensorfusion._builtin.batch import BatchJob, run_job

    job = BatchJob(input=str(sessions / "take1.zarr"), kind="replay", output=str(tmp_path / "t.zarr"), name="t")
    nowhere = str(tmp_path / "not-on-this-node" / "rig.yaml")
    res = run_job(nowhere, job.__dict__, {"rig_text": SIM_RIG.read_text()})
    assert res["status"] == "ok" and res["framesets"] == FRAMES, res
    res = run_job(nowhere, job.__dict__, {})  # without the text: the missing file is the error
    assert res["status"] == "failed" and "not found" in res["error"]


def test_a_folder_of_videos_per_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The opencv.rig driver over each trial folder's videos (``${input}/cam0.avi``...), real
    files written with OpenCV; each trial's session holds its own videos' frames."""
    cv2 = pytest.importorskip("cv2")
    from sensorfusion.plugins import get_plugin_host

    if "opencv.rig" not in get_plugin_host().drivers.names():
        pytest.skip("sensorfusion-opencv is not installed")
    import numpy as np

    levels = {"trialA": 40, "trialB": 200}
    for trial, level in levels.items():
        (tmp_path / trial).mkdir()
        for cam in ("cam0", "cam1"):
            vw = cv2.VideoWriter(str(tmp_path / trial / f"{cam}.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (32, 24))
            for _ in range(8):
                vw.write(np.full((24, 32, 3), level, np.uint8))
            vw.release()
    rig = tmp_path / "videos.yaml"
    rig.write_text(
        "name: videos\nsensors:\n  - id: rig\n    driver: opencv.rig\n"
        "    params: {views: {cam0: '${input}/cam0.avi', cam1: '${input}/cam1.avi'}}\n"
    )
    out = tmp_path / "out"
    code = main(["batch", str(rig), str(tmp_path / "trial*"), "--out", str(out), "--no-ray", "--json"])
    doc = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and doc["ok"] == 2, doc
    for trial, level in levels.items():
        s = Session.open(out / f"{trial}.zarr")
        assert s.finished and s.streams()["cam0/image"].count == s.streams()["cam1/image"].count == 8
        first = next(iter(s.read("cam1/image")))
        assert abs(float(first.data["image"].mean()) - level) < 10  # this trial's video, not the other's
