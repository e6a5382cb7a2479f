"""Schema: stream contracts, calibration models, radar model, transforms; random specs round-trip."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from sensorfusion import FieldSpec, Frame, FrameKind, SchemaError, StreamSpec, Transform
from sensorfusion.schema import CameraModel, RadarModel, RigCalibration
from sensorfusion.store import Session, SessionWriter
from sensorfusion.testing import frames_for, stream_specs

KP = StreamSpec(
    name="cam0/keypoints2d",
    kind=FrameKind.KEYPOINTS2D,
    ragged=True,
    skeleton="coco17",
    fields={"keypoints": FieldSpec(dtype="float32", shape=(17, 3)), "person_id": FieldSpec(dtype="int64")},
)


def test_stream_name_must_be_sensor_slash_channel():
    with pytest.raises(ValidationError, match="sensor/channel"):
        StreamSpec(name="cam0", kind=FrameKind.IMAGE, fields={"image": FieldSpec(dtype="uint8", shape=(2, 2, 3))})


def test_frame_contract_errors_say_expected_and_actual():
    good = {"keypoints": np.zeros((2, 17, 3), np.float32), "person_id": np.zeros(2, np.int64)}
    KP.validate_frame(Frame(KP.name, 0, 0, 0, good))
    with pytest.raises(SchemaError, match=r"expected dtype float32, actual float64"):
        KP.validate_frame(Frame(KP.name, 0, 0, 0, {**good, "keypoints": np.zeros((2, 17, 3))}))
    with pytest.raises(SchemaError, match=r"expected shape \('n', 17, 3\), actual \(2, 16, 3\)"):
        KP.validate_frame(Frame(KP.name, 0, 0, 0, {**good, "keypoints": np.zeros((2, 16, 3), np.float32)}))
    with pytest.raises(SchemaError, match="share their leading dimension"):
        KP.validate_frame(Frame(KP.name, 0, 0, 0, {**good, "person_id": np.zeros(3, np.int64)}))
    with pytest.raises(SchemaError, match="expected fields"):
        KP.validate_frame(Frame(KP.name, 0, 0, 0, {"keypoints": good["keypoints"]}))
    assert KP.empty()["keypoints"].shape == (0, 17, 3)


def test_field_spec_rejects_non_numeric():
    with pytest.raises(ValidationError):
        FieldSpec(dtype="U10")


@pytest.mark.parametrize(
    "data",
    [
        {"model": "pinhole", "width": 640, "height": 480, "fx": 500, "fy": 500, "cx": 320, "cy": 240, "k1": -0.1},
        {
            "model": "kannala_brandt",
            "width": 800,
            "height": 800,
            "fx": 300,
            "fy": 300,
            "cx": 400,
            "cy": 400,
            "k1": 0.01,
        },
        {"model": "scaramuzza", "width": 1280, "height": 960, "poly": [-250.0, 0.0, 1e-3], "cx": 640, "cy": 480},
        {
            "model": "double_sphere",
            "width": 640,
            "height": 480,
            "fx": 300,
            "fy": 300,
            "cx": 320,
            "cy": 240,
            "xi": -0.2,
            "alpha": 0.6,
        },
        {
            "model": "fisheye624",
            "width": 640,
            "height": 480,
            "f": 241.7,
            "cu": 320.6,
            "cv": 242.6,
            "k0": -0.027,
            "p0": 0.0019,
            "s3": 2e-5,
        },
    ],
)
def test_camera_models_are_a_discriminated_union(data):
    cam = TypeAdapter(CameraModel).validate_python(data)
    assert cam.model == data["model"]
    again = TypeAdapter(CameraModel).validate_python(cam.model_dump(mode="json"))
    assert again == cam


def test_unknown_camera_model_lists_choices():
    with pytest.raises(ValidationError) as info:
        TypeAdapter(CameraModel).validate_python({"model": "fisheye", "width": 1, "height": 1})
    text = str(info.value)
    for choice in ("pinhole", "kannala_brandt", "scaramuzza", "double_sphere", "fisheye624"):
        assert choice in text


def test_radar_model_derived_resolutions():
    # a common xWR14xx profile: 77 GHz, 60 MHz/us, 256 samples at 5 Msps, 3 TX x 4 RX
    r = RadarModel(
        start_freq_ghz=77,
        freq_slope_mhz_per_us=60,
        adc_samples=256,
        sample_rate_ksps=5000,
        idle_time_us=100,
        ramp_end_time_us=60,
        chirps_per_frame=32,
        frame_period_ms=50,
        tx_positions=((0, 0), (4, 0), (2, 1)),
    )
    bandwidth = 60e12 * 256 / 5e6
    assert r.range_resolution_m == pytest.approx(299792458 / (2 * bandwidth))
    assert r.range_resolution_m == pytest.approx(0.0488, abs=1e-4)
    assert r.max_range_m == pytest.approx(5e6 * 299792458 / (2 * 60e12))
    lam = 299792458 / 77e9
    assert r.max_velocity_m_per_s == pytest.approx(lam / (4 * 3 * 160e-6))
    assert r.velocity_resolution_m_per_s == pytest.approx(lam / (2 * 32 * 3 * 160e-6))
    assert r.num_virtual_antennas == 12
    with pytest.raises(ValidationError, match="exceeds ramp_end_time_us"):
        RadarModel(
            start_freq_ghz=77,
            freq_slope_mhz_per_us=60,
            adc_samples=512,
            sample_rate_ksps=5000,
            idle_time_us=1,
            ramp_end_time_us=60,
            chirps_per_frame=1,
            frame_period_ms=1,
        )


def test_transform_checks_rotation_and_inverts():
    t = Transform.from_rotvec(np.array([0.1, -0.2, 0.3]), np.array([1.0, 2.0, 3.0]))
    p = np.array([[0.5, -1.0, 2.0]])
    np.testing.assert_allclose(t.inverse().apply(t.apply(p)), p, atol=1e-12)
    with pytest.raises(ValidationError, match="orthonormal"):
        Transform(rotation=((1, 0, 0), (0, 2, 0), (0, 0, 1)))
    with pytest.raises(ValidationError, match="determinant"):
        Transform(rotation=((-1, 0, 0), (0, 1, 0), (0, 0, 1)))


def test_rig_calibration_camera_lookup_names_choices():
    cal = RigCalibration.model_validate(
        {
            "sensors": {
                "cam0": {"camera": {"model": "pinhole", "width": 2, "height": 2, "fx": 1, "fy": 1, "cx": 1, "cy": 1}}
            }
        }
    )
    assert cal.camera("cam0").model == "pinhole"
    from sensorfusion import ConfigError

    with pytest.raises(ConfigError, match=r"calibration.sensors.cam9.camera.*valid choices: cam0"):
        cal.camera("cam9")


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(data=st.data())
def test_random_streams_round_trip_through_a_session(tmp_path_factory, data):
    spec = data.draw(stream_specs())
    frames = [data.draw(frames_for(spec, seq=i, t_sensor_ns=i * 1000)) for i in range(data.draw(st.integers(0, 5)))]
    for f in frames:
        spec.validate_frame(f)
    path = tmp_path_factory.mktemp("rt") / "s.zarr"
    w = SessionWriter(str(path), rig={"name": "rt"}, calibration=None)
    w.add_stream(spec)
    for f in frames:
        w.write(f)
    w.close()
    back = list(Session.open(str(path)).read(spec.name))
    assert len(back) == len(frames)
    for a, b in zip(frames, back, strict=True):
        assert (a.t_sensor_ns, a.seq) == (b.t_sensor_ns, b.seq)
        for k in a.data:
            assert isinstance(b.data[k], np.ndarray), f"{k} came back as {type(b.data[k]).__name__}"
            assert a.data[k].dtype == b.data[k].dtype and a.data[k].shape == b.data[k].shape
            assert a.data[k].tobytes() == b.data[k].tobytes()


def test_angles_are_radians_everywhere():
    # a guard: no public schema field takes degrees
    from sensorfusion.schema import RigConfig

    names = " ".join(RigConfig.model_json_schema().__repr__().split())
    assert "_deg" not in names
    assert math.isclose(RadarModel.model_fields["tx_positions"].default[0][0], 0.0)


def test_person_values_is_the_kind_for_per_person_measurements() -> None:
    """Issue 12.7: a head height has its own kind instead of posing as ``boxes``."""
    from sensorfusion.schema import person_values_spec

    spec = person_values_spec("head/height", {"height_m": "float32"})
    assert spec.kind == FrameKind.PERSON_VALUES == "person_values" and spec.ragged
    assert set(spec.fields) == {"person_id", "height_m"}
    with pytest.raises(ValueError, match="person_id int64"):
        StreamSpec(name="head/height", kind=FrameKind.PERSON_VALUES, fields={"height_m": FieldSpec(dtype="float32")})
    with pytest.raises(ValueError, match="at least one value"):
        StreamSpec(
            name="h/x", kind=FrameKind.PERSON_VALUES, ragged=True, fields={"person_id": FieldSpec(dtype="int64")}
        )
