"""One test per hook (a meta-test fails when a hook has none), and the docs check."""

from __future__ import annotations

import inspect
import re
import textwrap
from pathlib import Path

import pytest

from sensorfusion import hookspecs
from sensorfusion.cli import main as cli_main
from sensorfusion.plugins import PluginHost
from sensorfusion.run import main as run_main

HOOKS = sorted(n for n in dir(hookspecs) if n.startswith("sensorfusion_"))
DOCS = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"

RIG = textwrap.dedent(
    """
    name: counters
    sensors:
      - {id: a, driver: sfx.counter, params: {rate_hz: 100, frames: 40, fail_at: [7]}, restart: {initial_s: 0.01}}
      - {id: b, driver: sfx.counter, params: {rate_hz: 50, frames: 20}}
    sync: {tolerance_ms: 5, timeout_ms: 100000}
    stages:
      - {id: total, estimator: sfx.sum, inputs: ["*/value"]}
    sinks:
      - {id: collect, sink: sfx.collect, inputs: ["total/sum"], queue: {size: 1, policy: drop_oldest}}
    """
)


@pytest.fixture
def ran(fixture_plugins, tmp_path):
    import sfx_good_plugin

    rig = tmp_path / "rig.yaml"
    rig.write_text(RIG)
    code = run_main([str(rig), "--fast", "--no-record", "--quiet"])
    assert code == 0
    return {name: [kw for n, kw in sfx_good_plugin.CALLS if n == name] for name, _ in sfx_good_plugin.CALLS}


def test_every_hook_has_a_test():
    names = {n for n, _ in inspect.getmembers(__import__(__name__), inspect.isfunction)} | set(globals())
    missing = [h for h in HOOKS if f"test_hook_{h}" not in names]
    assert not missing, f"hooks without a test_hook_<name> test: {missing}"


def _signature(name: str) -> str:
    fn = getattr(hookspecs, name)
    return f"{name}{inspect.signature(fn)}".replace("'", "")


def test_every_hook_is_documented_with_its_signature():
    text = DOCS.read_text(encoding="utf-8")
    headings = set(re.findall(r"^### `(.+)`$", text, flags=re.M))
    missing = [h for h in HOOKS if _signature(h) not in headings]
    assert not missing, f"docs/plugins.md lacks a '### `signature`' heading for: {[_signature(h) for h in missing]}"


def test_every_hook_has_a_docstring_naming_firstresult():
    for h in HOOKS:
        doc = getattr(hookspecs, h).__doc__ or ""
        assert "firstresult" in doc or "Called" in doc, h


def test_hook_sensorfusion_add_drivers(fixture_plugins):
    assert "sfx.counter" in PluginHost().drivers


def test_hook_sensorfusion_add_estimators(fixture_plugins):
    assert "sfx.sum" in PluginHost().estimators


def test_hook_sensorfusion_add_sinks(fixture_plugins):
    assert "sfx.collect" in PluginHost().sinks


def test_hook_sensorfusion_add_skeletons(fixture_plugins):
    spec = PluginHost().skeletons.get("sfx_stick")
    assert spec.joints == ("head", "pelvis")


def test_hook_sensorfusion_add_commands(fixture_plugins, capsys):
    assert cli_main(["sfx-hello", "--who", "plugin"]) == 0
    assert capsys.readouterr().out.strip() == "hello plugin"


def test_hook_sensorfusion_add_calibration_formats(fixture_plugins, tmp_path):
    import sensorfusion
    from sensorfusion import RigCalibration, SensorCalibration
    from sensorfusion.schema import PinholeCamera

    host = PluginHost()
    assert "sfx" in host.calibration_formats and "sfx-cams" in host.calibration_formats
    cal = RigCalibration(
        sensors={"c0": SensorCalibration(camera=PinholeCamera(width=64, height=48, fx=50.0, fy=51.0, cx=32.0, cy=24.0))}
    )
    path = tmp_path / "rig.sfxcam"
    assert sensorfusion.save_calibration(cal, path, host=host) == "sfx"  # the format from the file name
    assert sensorfusion.detect_calibration_format(path, host=host) == "sfx"  # sniffed
    back = sensorfusion.load_calibration(path, host=host)
    assert back.camera("c0").fx == 50.0
    assert sensorfusion.load_calibration(path, "sfx-cams", host=host, scale=2.0).sensors["c0"] == back.sensors["c0"]


def test_hook_sensorfusion_add_exporters(fixture_plugins, tmp_path):
    import sensorfusion
    from sensorfusion import ConfigError, ExportOptions

    host = PluginHost()
    assert "sfx-counts" in host.exporters and "counts" in host.exporters
    rec = next(r for r in host.records if r.name == "sfx_good")
    assert rec.provides["exporters"] == ["sfx-counts (counts)"]
    rig = tmp_path / "rig.yaml"
    rig.write_text(RIG)
    session = tmp_path / "s.zarr"
    assert run_main([str(rig), "--fast", "--out", str(session), "--quiet"]) == 0
    out = tmp_path / "deep" / "counts.sfxcounts"
    result = sensorfusion.export_session(session, out, host=host)  # the format from the suffix
    assert result.format == "sfx-counts" and result.paths == (out,)
    lines = out.read_text().splitlines()
    assert lines == ["a/value 40", "b/value 20"] and result.frames == 60
    one = sensorfusion.export_session(
        session, tmp_path / "one.txt", format="counts", options=ExportOptions(streams=("b/value",)), host=host
    )
    assert one.streams == ("b/value",) and (tmp_path / "one.txt").read_text() == "b/value 20\n"
    with pytest.raises(ConfigError) as bad:
        sensorfusion.export_session(session, tmp_path / "x.c3dx", host=host)
    assert bad.value.field_path == "--to" and "sfx-counts (.sfxcounts)" in str(bad.value)
    with pytest.raises(ConfigError) as unknown:
        sensorfusion.export_session(session, tmp_path / "x.txt", format="nope", host=host)
    assert "sfx-counts" in str(unknown.value)
    with pytest.raises(ConfigError) as stream:
        sensorfusion.export_session(session, out, options=ExportOptions(streams=("c/value",)), host=host)
    assert stream.value.field_path == "--stream" and "a/value" in str(stream.value)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError) as unwritable:
        sensorfusion.export_session(session, blocker / "x.sfxcounts", host=host)
    assert unwritable.value.field_path == "--out"


def test_hook_sensorfusion_session_started(ran):
    (call,) = ran["session_started"]
    assert call["run"].rig_name == "counters"
    assert call["run"].streams == ("a/value", "b/value")
    assert call["run"].stages == ("total", "collect")


def test_hook_sensorfusion_driver_failed(ran):
    (call,) = ran["driver_failed"]
    assert call["sensor_id"] == "a" and "disconnect at 7" in str(call["error"]) and call["restart_in_s"] == 0.01


def test_hook_sensorfusion_frame_dropped(ran):
    reasons = {(c["stream"], c["reason"]) for c in ran["frame_dropped"]}
    # a/value runs at twice b's rate and b is the reference, so half of a's frames are unmatched
    assert ("a/value", "unmatched") in reasons
    assert all(c["count"] > 0 for c in ran["frame_dropped"])


def test_hook_sensorfusion_session_finished(ran):
    (call,) = ran["session_finished"]
    s = call["summary"]
    assert s["framesets"] == 20
    assert s["sinks"]["collect"]["framesets_seen"] <= 20
    assert any(e["kind"] == "driver_failed" for e in s["events"])
