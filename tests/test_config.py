"""Malformed rig files and arguments exit 2 with the field path, the bad value and the choices."""

from __future__ import annotations

import textwrap

import pytest

from sensorfusion import ConfigError
from sensorfusion.run import main as run_main
from sensorfusion.schema import load_rig

GOOD = """
name: counters
sensors:
  - {id: a, driver: sfx.counter, params: {rate_hz: 100, frames: 10}}
  - {id: b, driver: sfx.counter, params: {rate_hz: 50, frames: 5}}
stages:
  - {id: total, estimator: sfx.sum, inputs: ["*/value"]}
"""


def run_text(tmp_path, text, *extra):
    rig = tmp_path / "rig.yaml"
    rig.write_text(textwrap.dedent(text))
    return run_main([str(rig), "--fast", "--no-record", "--quiet", *extra])


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        pytest.param(
            GOOD.replace("driver: sfx.counter, params: {rate_hz: 50", "driver: sfx.countr, params: {rate_hz: 50"),
            ["sensors[1].driver", "unknown driver", "'sfx.countr'", "valid choices:", "sfx.counter", "replay"],
            id="unknown-driver",
        ),
        pytest.param(
            GOOD.replace("rate_hz: 50", "rate_hz: fast"),
            ["sensors[1].params.rate_hz", "'fast'", "valid number"],
            id="wrong-type",
        ),
        pytest.param(
            GOOD.replace("frames: 5}", "frames: 5, fps: 3}"),
            ["sensors[1].params.fps", "unknown field"],
            id="unknown-param",
        ),
        pytest.param(
            GOOD.replace("id: b,", "id: a,"), ["sensors[1].id", "duplicate sensor id", "'a'"], id="duplicate-sensor"
        ),
        pytest.param(
            GOOD + "  - {id: t2, estimator: sfx.sum, inputs: ['nothere/*']}\n",
            ["stages[1].inputs", "'nothere/*'", "a/value"],
            id="input-matches-nothing",
        ),
        pytest.param(
            GOOD.replace("estimator: sfx.sum", "estimator: sfx.summ"),
            ["stages[0].estimator", "unknown estimator", "sfx.sum"],
            id="unknown-estimator",
        ),
        pytest.param(
            GOOD + "sync: {reference: c/value}\n",
            ["sync.reference", "'c/value'", "a/value, b/value"],
            id="bad-reference",
        ),
        pytest.param(
            GOOD + "record: {compression: gzip}\n",
            ["record.compression", "'gzip'", "zstd", "lz4", "none"],
            id="bad-choice",
        ),
        pytest.param(GOOD + "sensors_typo: 1\n", ["sensors_typo", "unknown field"], id="unknown-top-level"),
        pytest.param("name: x\nsensors: [\n", ["invalid YAML", "line"], id="bad-yaml"),
        pytest.param("- just\n- a list\n", ["mapping at the top level"], id="not-a-mapping"),
        pytest.param("name: x\n", ["sensors", "Field required"], id="missing-sensors"),
        pytest.param(
            GOOD + "calibration: {file: nowhere.json}\n",
            ["calibration.file", "calibration file not found", "nowhere.json"],
            id="missing-calibration-file",
        ),
        pytest.param(
            GOOD + "calibration: {sensors: {zz: {}}}\n",
            ["calibration.sensors.zz", "produces no stream"],
            id="calibration-unknown-sensor",
        ),
        pytest.param(
            GOOD + "calibration: {sensors: {a: {camera: {model: pinhol, width: 1, height: 1}}}}\n",
            ["calibration.sensors.a.camera", "pinhol"],
            id="bad-camera-model",
        ),
    ],
)
def test_bad_rig_exits_2_with_field_path(fixture_plugins, tmp_path, capsys, text, expect):
    assert run_text(tmp_path, text) == 2
    err = capsys.readouterr().err
    for e in expect:
        assert e in err, f"{e!r} not in {err!r}"


def test_missing_camera_calibration_names_the_sensor(fixture_plugins, tmp_path, capsys):
    text = GOOD.replace("estimator: sfx.sum", "estimator: triangulate.dlt")
    # counters are not keypoint streams: the estimator rejects the kind first
    assert run_text(tmp_path, text) == 2
    err = capsys.readouterr().err
    assert "stages[0].inputs" in err and "keypoints2d" in err


def test_bad_arguments_exit_2(fixture_plugins, tmp_path, capsys):
    assert run_text(tmp_path, GOOD, "--duration", "-1") == 2
    assert "--duration" in capsys.readouterr().err
    assert run_main(["nowhere.yaml"]) == 2
    assert run_main(["--bogus"]) == 2


def test_good_rig_runs(fixture_plugins, tmp_path):
    assert run_text(tmp_path, GOOD) == 0


def test_load_rig_error_object_carries_fields():
    with pytest.raises(ConfigError) as info:
        load_rig(text="sensors: [{id: a, driver: x}]\nrecord: {compression: brotli}\n")
    e = info.value
    assert e.field_path == "record.compression" and e.value == "brotli" and e.choices == ["zstd", "lz4", "none"]


def test_calibration_file_in_a_foreign_format_is_read_through_the_toolkit(fixture_plugins, tmp_path, capsys):
    pytest.importorskip("sensorfusion_calibration", reason="the calibration toolkit (calibration/) is not installed")
    import os
    from pathlib import Path

    data = Path(os.environ.get("SENSORFUSION_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    toml = data / "pose2sim-demo-single" / "calibration" / "Calib_qualisys.toml"
    if not toml.exists():
        pytest.skip(f"reference data not found at {toml}")
    from sensorfusion._calibration_io import load_rig_calibration
    from sensorfusion.schema import CalibrationConfig

    cal = load_rig_calibration(CalibrationConfig(file=str(toml)), base_dir=tmp_path)
    assert len(cal.sensors) == 4
    assert all(c.camera is not None and c.camera.model == "pinhole" for c in cal.sensors.values())
    bad = tmp_path / "weird.txt"
    bad.write_text("no calibration here\n")
    with pytest.raises(ConfigError, match=r"calibration\.(file|format)"):
        load_rig_calibration(CalibrationConfig(file=str(bad)), base_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"calibration\.format.*valid choices"):
        load_rig_calibration(CalibrationConfig(file=str(toml), format="nope"), base_dir=tmp_path)


def test_every_error_of_a_rig_is_shown_at_once(fixture_plugins, tmp_path, capsys):
    """Issue 12.7: schema errors all together, then every unknown component and bad params block."""
    from sensorfusion.schema import load_rig

    with pytest.raises(ConfigError) as info:
        load_rig(
            text="sensors: [{id: a, driver: x, restart: {initial_s: -1}}]\nrecord: {compression: brotli}\nsync: {tolerance_ms: -5}\n"
        )
    paths = [e.field_path for e in info.value.errors]
    assert len(paths) == 3 and "record.compression" in paths and "sync.tolerance_ms" in paths
    assert str(info.value).count("\n  also ") == 2
    rig = (
        "sensors:\n"
        "  - {id: a, driver: sfx.countr}\n"
        "  - {id: b, driver: sfx.counter, params: {rate_hz: 10, nope: 1}}\n"
        "stages:\n"
        "  - {id: s, estimator: sfx.summ, inputs: ['*/value']}\n"
        "sinks:\n"
        "  - {id: k, sink: sfx.collect, inputs: ['s/sum'], params: {bogus: true}}\n"
    )
    assert run_text(tmp_path, rig) == 2
    err = capsys.readouterr().err
    for expect in ("sensors[0].driver: unknown driver", "sensors[1].params.nope: unknown field",
                   "stages[0].estimator: unknown estimator", "sinks[0].params.bogus: unknown field", "(4 errors)"):  # fmt: skip
        assert expect in err, (expect, err)
