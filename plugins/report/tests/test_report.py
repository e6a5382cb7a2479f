"""`sensorfusion report` on a session recorded from the simulated rig (examples/sim_rig.yaml),
on a recording killed with SIGKILL, and on a session with nothing to fuse; the page is opened
in a real headless browser (Debian's chromium driven by Playwright)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sensorfusion_report import SECTIONS, analyse_session

from sensorfusion import FieldSpec, Frame, FrameKind, StreamSpec
from sensorfusion.cli import main as cli_main
from sensorfusion.store import Session, SessionWriter

ROOT = Path(__file__).resolve().parents[3]
SIM_RIG = ROOT / "examples" / "sim_rig.yaml"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main(argv)
    return code, out.getvalue(), err.getvalue()


def _start_killed_recording(session: Path) -> tuple[subprocess.Popen[bytes], threading.Thread, dict[str, Any]]:
    """A paced sim-rig run in a subprocess (two 320x240 cameras, to spare the CPU the other
    recording needs), killed with SIGKILL by a watcher thread once it has committed a few fused
    framesets (it runs while the module's other session records)."""
    text = SIM_RIG.read_text(encoding="utf-8")
    small = (
        text.replace("cameras: 4", "cameras: 2")
        .replace("width: 640", "width: 320")
        .replace("height: 480", "height: 240")
    )
    assert all(x in small for x in ("cameras: 2", "width: 320", "height: 240")), "examples/sim_rig.yaml changed"
    rig = session.with_suffix(".yaml")
    rig.write_text(small, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sensorfusion.run", str(rig), "--out", str(session), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    state: dict[str, Any] = {"committed": 0}

    def watch() -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            with contextlib.suppress(Exception):  # the session may not exist or be half-created yet
                fused = Session.open(session).estimates().get("fusion:fusion/skeleton3d")
                if fused is not None and fused.count >= 3:
                    state["committed"] = fused.count
                    break
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=30)
        state["stderr"] = err.decode(errors="replace")

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return proc, thread, state


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One sim-rig session (1 s, --fast), its run summary and its report (HTML and --json); and a
    sim-rig recording killed with SIGKILL after a few commits (recorded meanwhile, in a subprocess)."""
    d = tmp_path_factory.mktemp("report")
    killed = d / "killed.zarr"
    proc, watcher, killed_state = _start_killed_recording(killed)
    session = d / "sim.zarr"
    code, out, err = _cli(["run", str(SIM_RIG), "--fast", "--duration", "1", "--out", str(session), "--json"])
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    page = d / "report.html"
    code, out, err = _cli(["report", str(session), "--out", str(page), "--json"])
    assert code == 0, err
    watcher.join(timeout=120)
    killed_state["returncode"] = proc.returncode
    return {
        "dir": d,
        "session": session,
        "summary": summary,
        "page": page,
        "report": json.loads(out),
        "killed": killed,
        "killed_state": killed_state,
    }


def test_the_numbers_agree_with_the_run(recorded: dict[str, Any]) -> None:
    rep, summary = recorded["report"], recorded["summary"]
    sections = rep["sections"]
    assert rep["finished"] is True and rep["skeleton_stream"] == "fusion:fusion/skeleton3d"
    assert sections["summary"]["framesets"] == summary["framesets"]
    assert sections["summary"]["rig_name"] == "sim-demo"
    # rates from the stored timestamps: the sim cameras' declared 30 fps, nothing lost
    for cam in ("cam0/image", "cam1/image", "cam2/image", "cam3/image"):
        assert sections["streams"][cam]["mean_rate_hz"] == pytest.approx(30.0, rel=1e-3)
        assert sections["streams"][cam]["frames_lost"] == 0
    # MPJPE: people paired as the metrics.mpjpe sink pairs them, so the totals are the sink's
    sink = summary["sinks"]["mpjpe"]
    assert sections["mpjpe"]["mpjpe_mm"] == pytest.approx(sink["mpjpe_mm"], abs=0.02)
    assert sections["mpjpe"]["median_mm"] == pytest.approx(sink["median_mm"], abs=0.02)
    assert sections["mpjpe"]["matched_person_frames"] == sink["matched_person_frames"]
    # reprojection: the fusion's own per-view inlier error is the same order as ours (ours keeps
    # the views it rejected, so its median is compared)
    per_view = summary["estimators"]["fusion"]["per_view"]
    assert sorted(sections["reprojection"]) == ["cam0", "cam1", "cam2", "cam3"]
    for cam, v in sections["reprojection"].items():
        fused = per_view[f"{cam}/keypoints2d"]["mean_reprojection_error_px"]
        assert 0.5 * fused < v["median_px"] < 1.5 * fused, (cam, v, fused)
        assert v["matched_person_frames"] >= 0.95 * 3 * summary["framesets"]  # three people, nearly always paired
    # three people walking in a 6 m room; bones of a rigid body stay within a few centimetres
    assert sections["trajectories"]["floor_axes"] == "xy"
    assert len(sections["trajectories"]["people"]) == 3
    bones = sections["bones"]
    assert bones["skeleton"] == "coco17" and len(bones["people"]) == 3
    for person in bones["people"].values():
        assert person["median_std_mm"] < 30
        assert 300 < person["median_length_mm"]["left_hip–left_knee"] < 600
        # each estimated person is paired with a different true one, whose bones it measures well
        assert person["median_abs_bias_mm"] < 15
    assert sorted(p["ground_truth_id"] for p in bones["people"].values()) == [0, 1, 2]


def test_trajectories_follow_the_ground_truth(recorded: dict[str, Any]) -> None:
    data = analyse_session(Session.open(recorded["session"]))
    traj = data.trajectories
    assert not hasattr(traj, "reason"), traj
    assert len(traj.ground_truth) == 3  # type: ignore[union-attr]
    for person in traj.people:  # type: ignore[union-attr]
        # the nearest true path at the same instants, on the floor, within a few centimetres
        best = min(
            float(
                np.nanmedian(
                    np.linalg.norm(
                        g.floor_m[np.searchsorted(g.t_s, person.t_s).clip(0, len(g.t_s) - 1)] - person.floor_m, axis=1
                    )
                )
            )
            for g in traj.ground_truth  # type: ignore[union-attr]
        )
        assert best < 0.1, (person.person_id, best)
    assert set(traj.cameras) == {"cam0", "cam1", "cam2", "cam3"}  # type: ignore[union-attr]


def test_the_page_is_self_contained(recorded: dict[str, Any]) -> None:
    html = recorded["page"].read_text(encoding="utf-8")
    for _, heading in SECTIONS:
        assert f">{heading}</h2>" in html
    assert html.count('<img src="data:image/svg+xml;base64,') == 5  # every section applies
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert "<script" not in html and 'src="http' not in html and 'href="http' not in html
    assert "Not shown" not in html and "did not finish" not in html


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One headless chromium (a fresh profile) for the module's pages."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; ./dev.sh setup does it as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield ctx
        finally:
            ctx.close()


def _browser_problems(browser: Any, page_url: str, screenshot: Path, expected_images: int) -> list[str]:
    """Open the page in chromium; every console error, page error, failed or non-local request,
    undecoded image and missing section heading is a problem."""
    problems: list[str] = []
    page = browser.new_page()
    try:
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url[:100]}"))
        page.on(
            "request",
            lambda r: None if r.url.startswith(("file:", "data:")) else problems.append(f"request: {r.url[:100]}"),
        )
        page.goto(page_url, wait_until="load")
        images = page.evaluate(
            "Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight, i.alt])"
        )
        if len(images) != expected_images:
            problems.append(f"{len(images)} images, expected {expected_images}")
        for complete, width, height, alt in images:
            if not complete or width <= 0 or height <= 0:
                problems.append(f"image {alt!r} not decoded ({width}x{height})")
        headings = page.evaluate("Array.from(document.querySelectorAll('section > h2')).map(h => h.textContent)")
        for _, heading in SECTIONS:
            if heading not in headings:
                problems.append(f"heading {heading!r} missing")
        page.screenshot(path=str(screenshot), full_page=True)
    finally:
        page.close()
    return problems


def test_the_page_renders_in_a_browser(recorded: dict[str, Any], browser: Any) -> None:
    page: Path = recorded["page"]
    shot = recorded["dir"] / "report.png"
    assert _browser_problems(browser, page.as_uri(), shot, expected_images=5) == []
    assert shot.stat().st_size > 50_000
    keep = os.environ.get("SENSORFUSION_REPORT_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)
    # the check fails on a broken page: an undecodable figure, a lost heading, a script error
    broken = page.with_name("broken.html")
    html = page.read_text(encoding="utf-8")
    html = html.replace("data:image/svg+xml;base64,", "data:image/svg+xml;base64,AAAA", 1)
    html = html.replace(">Bone-length stability</h2>", ">Bones</h2>")
    html = html.replace("default-src 'none'", "default-src 'none'; script-src 'unsafe-inline'")
    html = html.replace("</body>", "<script>undefinedFunction()</script></body>")
    broken.write_text(html, encoding="utf-8")
    problems = _browser_problems(browser, broken.as_uri(), broken.with_suffix(".png"), expected_images=5)
    assert any("not decoded" in p for p in problems), problems
    assert any("Bone-length stability" in p for p in problems), problems
    assert any("page error" in p for p in problems), problems


def test_png_figures(recorded: dict[str, Any]) -> None:
    out = recorded["dir"] / "pngs"
    code, _, err = _cli(["report", str(recorded["session"]), "--out", str(out), "--format", "png", "--quiet"])
    assert code == 0, err
    names = sorted(p.name for p in out.iterdir())
    assert names == ["bones.png", "mpjpe.png", "reprojection.png", "streams.png", "trajectories.png"]
    for p in out.iterdir():
        head = p.read_bytes()[:24]
        assert head[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
        assert width > 400 and height > 200, (p.name, width, height)


def test_bad_input_is_one_line_and_exit_2(recorded: dict[str, Any], tmp_path: Path) -> None:
    cases = [
        ([str(tmp_path / "missing.zarr"), "--out", str(tmp_path / "r.html")], "no such session"),
        ([str(tmp_path), "--out", str(tmp_path / "r.html")], "not a sensorfusion session"),
        ([str(recorded["session"]), "--out", str(tmp_path / "r.html"), "--skeleton", "nope/skeleton3d"], "--skeleton"),
        ([str(recorded["session"]), "--out", str(tmp_path)], "--out"),
    ]
    for argv, expected in cases:
        code, _, err = _cli(["report", *argv])
        assert code == 2, (argv, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("sensorfusion report: error:"), err
        assert expected in lines[0], err
    assert not (tmp_path / "r.html").exists()


def test_a_session_with_nothing_to_fuse_says_why(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """One camera, a gap of 5 frames in seq and a driver failure: rates and losses are drawn,
    every other section keeps its heading and gives its reason in one line."""
    path = tmp_path / "plain.zarr"
    spec = StreamSpec(
        name="cam0/image", kind=FrameKind.IMAGE, rate_hz=10, fields={"image": FieldSpec(dtype="uint8", shape=(8, 8, 3))}
    )
    t0 = 1_000_000_000
    with SessionWriter(path, rig={"name": "plain"}, calibration=None) as w:
        w.add_stream(spec)
        w.start()
        for seq in [*range(0, 10), *range(15, 30)]:
            t = t0 + seq * 100_000_000
            w.write(Frame("cam0/image", t, t, seq, {"image": np.zeros((8, 8, 3), np.uint8)}))
        w.event("driver_failed", "cam0", "USB reset", t_ns=t0 + 1_200_000_000)
    page = tmp_path / "plain.html"
    code, out, err = _cli(["report", str(path), "--out", str(page), "--json"])
    assert code == 0, err
    sections = json.loads(out)["sections"]
    assert sections["streams"]["cam0/image"]["frames_lost"] == 5
    # the rate dips over the gap: one frame in the 0.6 s after the last one before it
    assert sections["streams"]["cam0/image"]["min_rate_hz"] == pytest.approx(1 / 0.6, rel=1e-3)
    assert sections["summary"]["events"] == {"driver_failed": 1}
    for name in ("reprojection", "trajectories", "bones", "mpjpe"):
        assert sections[name]["note"], name
    html = page.read_text(encoding="utf-8")
    assert html.count("<img ") == 1 and html.count("Not shown:") == 4
    assert "USB reset" in html and "ground truth" in html
    if Path(CHROMIUM).exists():  # the browser check where there is one (the page itself is checked above)
        browser = request.getfixturevalue("browser")
        assert _browser_problems(browser, page.as_uri(), tmp_path / "plain.png", expected_images=1) == []


def test_a_killed_recording_reports_what_it_committed(recorded: dict[str, Any], tmp_path: Path) -> None:
    """A paced sim run killed with SIGKILL after a few commits: the report says it did not finish
    and still shows what was committed."""
    state, session = recorded["killed_state"], recorded["killed"]
    assert state["committed"] >= 3, f"the recording committed no fused frame: {state.get('stderr')}"
    assert state["returncode"] == -signal.SIGKILL
    assert not Session.open(session).finished
    page = tmp_path / "killed.html"
    code, out, err = _cli(["report", str(session), "--out", str(page), "--json"])
    assert code == 0, err
    rep = json.loads(out)
    assert rep["finished"] is False
    sections = rep["sections"]
    assert sections["summary"]["finished"] is False and sections["summary"]["committed_frames"] > 0
    assert len(sections["trajectories"]["people"]) >= 1 and sections["mpjpe"]["mpjpe_mm"] is not None
    html = page.read_text(encoding="utf-8")
    assert "This recording did not finish" in html
    assert html.count('<img src="data:image/svg+xml;base64,') == 5
    assert sorted(sections["reprojection"]) == ["cam0", "cam1"]


def test_the_stored_capture_volume_is_read_back() -> None:
    """A stored rig lists every capture-volume field, defaults included (floor_axes of a box):
    the report reads it back as the rig declared it."""
    from sensorfusion_report._analysis import _volume_config

    from sensorfusion.schema import CaptureVolumeConfig

    box = CaptureVolumeConfig(shape="box", min_m=(-3, -2.25, 0), max_m=(3, 3, 2.5))
    config, note = _volume_config(box.model_dump(mode="json"))
    assert config == box and note == ""
    poly = CaptureVolumeConfig(shape="polygon", polygon_m=[(0, 0), (2, 0), (2, 3)], floor_axes="xz")
    assert _volume_config(poly.model_dump(mode="json"))[0] == poly
    assert _volume_config(None) == (None, "the rig declares no capture volume")


def test_long_lines_are_drawn_from_bins() -> None:
    """A long recording's lines are binned to a bounded number of points (means; maxima for
    cumulative counts, so the last count is kept)."""
    from sensorfusion_report._figures import _MAX_POINTS, _thin

    t = np.arange(100_000) / 30.0
    y = np.where(np.arange(100_000) % 7 == 0, np.nan, 2.0)
    tb, yb = _thin(t, y)
    assert len(tb) == len(yb) == _MAX_POINTS and np.all(yb == 2.0) and np.all(np.diff(tb) > 0)
    lost = np.cumsum(np.arange(100_000) % 1000 == 999)
    assert _thin(t, lost, how="max")[1][-1] == lost[-1] == 100
    assert _thin(t[:10], y[:10])[0] is t[:10] or len(_thin(t[:10], y[:10])[0]) == 10


def test_floor_tracks_are_drawn_when_there_is_no_3d_skeleton(tmp_path: Path) -> None:
    """A session with floor tracks only (as the overhead plugin writes them): the paths come from
    them, with their true lengths; the sections that need skeletons say why they are not shown."""
    path = tmp_path / "tracks.zarr"
    spec = StreamSpec(
        name="floor/tracks",
        kind=FrameKind.BOXES,
        ragged=True,
        fields={"position_m": FieldSpec(dtype="float32", shape=(3,)), "track_id": FieldSpec(dtype="int64")},
        attrs={"frame": "world", "floor": True},
    )
    with SessionWriter(path, rig={"name": "tracks"}, calibration=None) as w:
        w.add_stream(spec, stage="floor")
        w.start()
        for i in range(10):  # track 7 walks 0.1 m along x per frame, track 9 stands still
            pos = np.array([[0.1 * i, 1.0, 0.0], [-1.0, -1.0, 0.0]], np.float32)
            t = 1_000_000_000 + i * 100_000_000
            w.write(Frame("floor/tracks", t, t, i, {"position_m": pos, "track_id": np.array([7, 9])}), stage="floor")
    code, out, err = _cli(["report", str(path), "--out", str(tmp_path / "tracks.html"), "--json"])
    assert code == 0, err
    sections = json.loads(out)["sections"]
    traj = sections["trajectories"]
    assert traj["source"] == "floor:floor/tracks" and traj["floor_axes"] == "xy"
    assert traj["people"]["7"] == {"frames": 10, "path_length_m": pytest.approx(0.9, abs=1e-6)}
    assert traj["people"]["9"]["path_length_m"] == 0.0
    assert "note" in sections["bones"] and "note" in sections["reprojection"] and "note" in sections["mpjpe"]
