"""The ``rerun`` sink: the SDK's sink contract, its configuration errors, and the example rig
(``examples/sim_rerun.yaml``: the simulated room, ``--fast``) recording an ``.rrd`` that Rerun's
reader finds the session's own frames in; the exporters through the exporter hook."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sensorfusion_rerun import RerunSink, RerunSinkParams

from sensorfusion import ConfigError, FrameSet, RigCalibration, StageContext, StreamSpec, export_session
from sensorfusion.plugins import PluginHost
from sensorfusion.schema import SkeletonRegistry, builtin_skeletons
from sensorfusion.store import Session
from sensorfusion.testing import SinkContract

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "sim_rerun.yaml"


def _framesets(path: Path) -> tuple[list[StreamSpec], list[FrameSet]]:
    """The synthetic session's frames grouped by sensor time, as the sink sees them live."""
    s = Session.open(path)
    infos = {**s.streams(), **s.estimates()}
    by_t: dict[int, dict[str, Any]] = {}
    for key in infos:
        for f in s.read(key):
            by_t.setdefault(f.t_sensor_ns, {})[f.stream] = f
    specs = sorted({i.spec.name: i.spec for i in infos.values()}.values(), key=lambda sp: sp.name)
    return specs, [FrameSet(i, t, t, frames) for i, (t, frames) in enumerate(sorted(by_t.items()))]


class TestRerunSinkContract(SinkContract):
    sink_class = RerunSink
    params: dict[str, Any] = {"jpeg_quality": 60}
    plugin_name = "rerun"

    @pytest.fixture(autouse=True)
    def _data(self, synthetic: Any, vd: Any) -> None:
        self.specs, self.sets = _framesets(synthetic.path)
        self.cal = vd.CALIBRATION

    def input_specs(self) -> list[StreamSpec]:
        return self.specs

    def calibration(self) -> RigCalibration:
        return self.cal  # type: ignore[no-any-return]

    def framesets(self) -> list[FrameSet]:
        return self.sets

    def test_the_sink_writes_what_it_was_given(self, tmp_path: Path, vd: Any) -> None:
        sink = self.make_sink(str(tmp_path))
        for fs in self.framesets():
            sink.write(fs)
        sink.close()
        summary = sink.summary()
        assert summary["save"] == str(tmp_path / "dut.rrd") and summary["framesets"] == vd.N_FRAMES
        assert summary["drawn"]["fusion/skeleton3d"] == "world/fusion/skeleton3d"
        assert sorted(summary["not_drawn"]) == ["fusion/backfill", "fusion/height"]
        rrd = vd.Rrd(tmp_path / "dut.rrd")
        assert rrd.timelines() == {"sensor_time", "frameset"}
        times, _ = rrd.column("/world/hs", "Transform3D:translation")
        assert times == [vd.t_ns(i) for i in range(vd.N_FRAMES)]
        steps, _ = rrd.column("/world/fusion/skeleton3d", "Points3D:positions", index="frameset")
        assert steps == list(range(vd.N_FRAMES))


def _context(out_dir: str | None, inputs: list[StreamSpec] | None = None) -> StageContext:
    return StageContext("viewer", inputs or [], RigCalibration(), SkeletonRegistry(builtin_skeletons()), out_dir=out_dir, config_path="sinks[1]")  # fmt: skip


def test_the_sink_needs_a_destination() -> None:
    with pytest.raises(ConfigError) as e:
        RerunSink(RerunSinkParams(), _context(None))
    assert e.value.field_path == "sinks[1].params.save" and "spawn: true" in str(e.value)
    with pytest.raises(ConfigError) as e:
        RerunSink(RerunSinkParams(save="out.txt"), _context(None))
    assert "ends in .rrd" in str(e.value)
    assert RerunSink(RerunSinkParams(), _context("/tmp/x")).save_path == "/tmp/x/viewer.rrd"


@pytest.fixture(scope="module")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    from sensorfusion.run import main as run_main

    pytest.importorskip("sensorfusion_sim", reason="the simulator (drivers/sim) is not installed")
    out = tmp_path_factory.mktemp("sim_rerun") / "run.zarr"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = run_main([str(EXAMPLE), "--fast", "--duration", "0.5", "--out", str(out), "--json", "--quiet"])
    assert code == 0
    return out, json.loads(buf.getvalue().strip().splitlines()[-1])


def test_the_example_rig_records_the_session_in_rerun(example_run: tuple[Path, dict[str, Any]], vd: Any) -> None:
    out, summary = example_run
    viewer = summary["sinks"]["viewer"]
    rrd_path = out.parent / "viewer.rrd"
    assert viewer["save"] == str(rrd_path) and viewer["framesets"] > 5
    rrd = vd.Rrd(rrd_path)
    ents = rrd.entities()
    for cam in ("cam0", "cam1", "cam2", "cam3"):
        assert {
            f"/world/{cam}",
            f"/world/{cam}/image",
            f"/world/{cam}/image/image",
            f"/world/{cam}/image/keypoints2d",
        } <= ents
    session = Session.open(out)
    # the fused skeletons in the viewer are the session's, frame for frame, at their sensor times
    recorded = list(session.read("fusion:fusion/skeleton3d"))
    times, positions = rrd.column("/world/fusion/skeleton3d", "Points3D:positions")
    _, classes = rrd.column("/world/fusion/skeleton3d", "Points3D:class_ids")
    assert times == [f.t_sensor_ns for f in recorded]
    for f, pos, cls in zip(recorded, positions, classes, strict=True):
        joints, pids = np.asarray(f.data["joints"]), np.asarray(f.data["person_id"])
        ok = np.isfinite(joints).all(axis=-1)
        np.testing.assert_allclose(np.asarray(pos), joints[ok], atol=1e-6)
        assert cls == [int(p) for p, row in zip(pids, ok, strict=True) for _ in range(int(row.sum()))]
    # the camera frusta are the session's calibration
    cal = session.calibration.sensors["cam2"]
    _, tr = rrd.column("/world/cam2", "Transform3D:translation", index=None, mono=True)
    np.testing.assert_allclose(tr[0], cal.world_from_sensor.translation_m, atol=1e-6)
    # every frameset's image (the source may have recorded a few more after the last set)
    times, _ = rrd.column("/world/cam0/image/image", "EncodedImage:blob")
    assert len(times) == viewer["framesets"]
    assert times == [int(t) for t in session.timestamps("cam0/image")["t_sensor_ns"][: len(times)]]


def test_the_plugin_registers_the_sink_and_both_exporters() -> None:
    host = PluginHost()
    assert "rerun" in host.sinks and host.sinks.plugin_of("rerun") == "rerun"
    names = {e.name: e for e in host.exporters}
    assert {"rrd", "mcap"} <= set(names)
    assert names["rrd"].suffix == ".rrd" and names["mcap"].suffix == ".mcap"
    assert not names["rrd"].missing() and not names["mcap"].missing()


def test_exports_through_the_hook_with_clear_errors(synthetic: Any, tmp_path: Path) -> None:
    from sensorfusion import ExportOptions

    r = export_session(synthetic.path, tmp_path / "a.rrd")  # the suffix picks the exporter
    assert r.format == "rrd" and (tmp_path / "a.rrd").stat().st_size > 0
    m = export_session(synthetic.path, tmp_path / "b.bin", format="foxglove")
    assert m.format == "mcap" and m.frames > 0
    with pytest.raises(ConfigError) as e:
        export_session(synthetic.path, tmp_path / "c.rrd", options=ExportOptions(streams=("nope/skeleton3d",)))
    assert e.value.field_path == "--stream" and "fusion:fusion/skeleton3d" in (e.value.choices or [])
    with pytest.raises(ConfigError) as e:
        export_session(synthetic.path, tmp_path / "c.mcap", options=ExportOptions(streams=("fusion:fusion/height",)))
    assert e.value.field_path == "--stream" and "nothing a viewer draws" in str(e.value)
    with pytest.raises(ConfigError) as e:
        export_session(synthetic.path, tmp_path / "c.mcap", options=ExportOptions(person_ids=(99,)))
    assert e.value.field_path == "--person" and e.value.choices == ["3", "7"]
    with pytest.raises(ConfigError) as e:
        export_session(synthetic.path, tmp_path / "c.rrd", options=ExportOptions(extra={"world_up": "sideways"}))
    assert e.value.field_path == "--option"


# rerun --save streams to the file as it receives: no footer (Rerun's reader says so, then scans it)
@pytest.mark.filterwarnings("ignore:RRD file has no footer")
def test_connect_streams_to_a_rerun_server(synthetic: Any, vd: Any, tmp_path: Path) -> None:
    """``connect:`` sends the recording over gRPC to a running Rerun: here Rerun's own binary
    (``rerun --save``, headless: it writes what it receives to a file)."""
    import shutil
    import signal
    import socket
    import subprocess
    import sys
    import time

    exe = shutil.which("rerun", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("the rerun binary (rerun-sdk's CLI) is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    received = tmp_path / "received.rrd"
    log = open(tmp_path / "rerun.log", "wb")
    server = subprocess.Popen([exe, "--port", str(port), "--save", str(received)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while b"Listening for gRPC" not in (tmp_path / "rerun.log").read_bytes():
            assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "rerun.log").read_text()
            time.sleep(0.1)
        specs, sets = _framesets(synthetic.path)
        ctx = StageContext("live", specs, vd.CALIBRATION, SkeletonRegistry(builtin_skeletons()))
        sink = RerunSink(RerunSinkParams(connect=f"rerun+http://127.0.0.1:{port}/proxy", images=False), ctx)
        assert sink.save_path is None
        for fs in sets:
            sink.write(fs)
        sink.close()
        time.sleep(0.5)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    rrd = vd.Rrd(received)
    assert "/world/fusion/skeleton3d" in rrd.entities() and "/world/cam0/image/image" not in rrd.entities()
    times, _ = rrd.column("/world/fusion/skeleton3d", "Points3D:positions")
    assert times == [vd.t_ns(i) for i in range(vd.N_FRAMES)]


def test_listing_plugins_imports_no_viewer_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys, contextlib, io\n"
        "from sensorfusion.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['plugins'])\n"
        "print(sorted(m for m in ('rerun', 'mcap', 'mcap_protobuf', 'foxglove_schemas_protobuf', 'pyarrow')"
        " if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_the_export_command_writes_both_formats(
    synthetic: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("sensorfusion_export", reason="the export command (plugins/export) is not installed")
    from sensorfusion.cli import main

    assert main(["export", str(synthetic.path), "--to", "rrd", "--out", str(tmp_path / "s.rrd"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["format"] == "rrd" and doc["details"]["entities"]["hs/device_pose"] == "world/hs"
    assert main(["export", str(synthetic.path), "--out", str(tmp_path / "s.mcap"), "--person", "7", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["format"] == "mcap" and doc["person_ids"] == [7]
    assert main(["export", str(synthetic.path), "--to", "mcap", "--stream", "fusion:fusion/height"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--stream" in err[0] and "nothing a viewer draws" in err[0]
