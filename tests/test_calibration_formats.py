"""Calibration files through the format hook: one load_calibration for the whole SDK."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import sensorfusion
from sensorfusion import CalibrationFormat, ConfigError, PluginError, RigCalibration, SensorCalibration, hookimpl
from sensorfusion.plugins import PluginHost
from sensorfusion.schema import PinholeCamera


def _rig() -> RigCalibration:
    cam = PinholeCamera(width=640, height=480, fx=500.0, fy=501.0, cx=320.0, cy=240.0, k1=-0.1)
    return RigCalibration(sensors={"cam0": SensorCalibration(camera=cam)})


def _record(host: PluginHost, name: str):
    return next(r for r in host.records if r.name == name)


def test_core_json_and_yaml_round_trip_without_any_plugin(tmp_path: Path) -> None:
    host = PluginHost(autoload=False)
    assert [f.name for f in sensorfusion.calibration_formats(host=host)] == ["sensorfusion"]
    for name in ("rig.json", "rig.yaml"):
        path = tmp_path / name
        assert sensorfusion.save_calibration(_rig(), path, "sensorfusion", host=host) == "sensorfusion"
        assert sensorfusion.detect_calibration_format(path, host=host) == "sensorfusion"
        assert sensorfusion.load_calibration(path, host=host) == _rig()


def test_without_the_toolkit_a_foreign_file_says_what_to_install(tmp_path: Path) -> None:
    host = PluginHost(autoload=False)
    toml = tmp_path / "Calib.toml"
    toml.write_text("[cam_01]\nmatrix = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]\nrotation = [0, 0, 0]\n")
    with pytest.raises(ConfigError, match="pip install sensorfusion-calibration") as info:
        sensorfusion.load_calibration(toml, host=host)
    assert info.value.choices == ["sensorfusion"]
    # the same missing package, reported the same way, when the format is named
    with pytest.raises(
        ConfigError,
        match=r"unknown calibration format.*pip install sensorfusion-calibration.*valid choices: sensorfusion",
    ):
        sensorfusion.load_calibration(toml, "pose2sim", host=host)


def test_unknown_format_lists_the_installed_ones(tmp_path: Path) -> None:
    pytest.importorskip("sensorfusion_calibration", reason="the calibration toolkit is not installed")
    path = tmp_path / "rig.json"
    sensorfusion.save_calibration(_rig(), path)
    with pytest.raises(ConfigError) as info:
        sensorfusion.load_calibration(path, "colmap")
    assert info.value.field_path == "format" and info.value.value == "colmap"
    assert {"sensorfusion", "pose2sim", "aniposelib", "anipose", "caliscope", "voxelpose", "freemocap"} <= set(
        info.value.choices or []
    )


def test_a_file_two_formats_claim_is_refused_as_ambiguous(tmp_path: Path) -> None:
    class Greedy:
        @hookimpl
        def sensorfusion_add_calibration_formats(self):
            return [CalibrationFormat("greedy", load=lambda p: _rig(), sniff=lambda p, head: True)]

    host = PluginHost(autoload=False, extra_plugins=[("greedy", Greedy())])
    path = tmp_path / "rig.json"
    sensorfusion.save_calibration(_rig(), path, host=host)
    with pytest.raises(ConfigError, match="ambiguous calibration file: it reads as sensorfusion and as greedy"):
        sensorfusion.load_calibration(path, host=host)
    assert sensorfusion.load_calibration(path, "greedy", host=host) == _rig()


def test_a_format_name_taken_twice_fails_the_second_plugin_whole() -> None:
    class Again:
        @hookimpl
        def sensorfusion_add_calibration_formats(self):
            return [CalibrationFormat("sensorfusion", load=lambda p: _rig())]

    host = PluginHost(autoload=False, extra_plugins=[("again", Again())])
    rec = _record(host, "again")
    assert rec.status == "failed" and "'sensorfusion' is already registered by plugin 'core'" in (rec.reason or "")


def test_a_bad_file_names_the_format_the_file_and_the_field(tmp_path: Path) -> None:
    host = PluginHost(autoload=False)
    path = tmp_path / "rig.json"
    path.write_text(json.dumps({"sensors": {"cam0": {"camera": {"model": "pinhole", "width": 10}}}}))
    with pytest.raises(ConfigError, match=r"rig.json: sensors.cam0.camera.pinhole.height: Field required"):
        sensorfusion.load_calibration(path, host=host)
    with pytest.raises(ConfigError, match="calibration file not found"):
        sensorfusion.load_calibration(tmp_path / "nowhere.json", host=host)


def test_a_broken_format_is_attributed_to_its_plugin(tmp_path: Path) -> None:
    def crash(path: Path) -> RigCalibration:
        raise RuntimeError("bug in the reader")

    class Broken:
        @hookimpl
        def sensorfusion_add_calibration_formats(self):
            return [CalibrationFormat("broken", load=crash)]

    host = PluginHost(autoload=False, extra_plugins=[("brokenplugin", Broken())])
    path = tmp_path / "x.bin"
    path.write_text("x")
    with pytest.raises(
        PluginError,
        match="plugin 'brokenplugin': calibration format 'broken': load raised RuntimeError: bug in the reader",
    ):
        sensorfusion.load_calibration(path, "broken", host=host)


def test_rig_file_calibration_goes_through_the_formats(tmp_path: Path) -> None:
    from sensorfusion.scheduler._graph import build_rig
    from sensorfusion.schema import load_rig

    sensorfusion.save_calibration(_rig(), tmp_path / "calib.yaml", "sensorfusion")
    rig = tmp_path / "rig.yaml"
    rig.write_text(
        "sensors: [{id: r, driver: replay, params: {path: nowhere.zarr}}]\n"
        "calibration: {file: calib.yaml, format: nope}\n"
    )
    with pytest.raises(
        ConfigError, match=r"calibration\.format: unknown calibration format.*valid choices: sensorfusion"
    ) as info:
        build_rig(load_rig(rig), PluginHost(autoload=False), base_dir=tmp_path)
    assert info.value.value == "nope"
