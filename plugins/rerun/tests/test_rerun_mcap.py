"""``write_mcap``: a session as MCAP with Foxglove's protobuf schemas, read back with ``mcap``'s
reader (CRCs validated) and decoded with the schemas the file carries."""

from __future__ import annotations

import io
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from google.protobuf.descriptor_pb2 import FileDescriptorSet
from mcap.reader import make_reader
from mcap_protobuf.decoder import DecoderFactory
from sensorfusion_rerun import person_rgb
from sensorfusion_rerun._export_mcap import quaternion_xyzw


def _read(path: Path) -> tuple[Any, dict[str, list[tuple[int, str, Any]]]]:
    """(summary, topic -> [(log time, schema name, decoded message)]) with every CRC checked."""
    by_topic: dict[str, list[tuple[int, str, Any]]] = defaultdict(list)
    with open(path, "rb") as fh:
        reader = make_reader(fh, decoder_factories=[DecoderFactory()], validate_crcs=True)
        summary = reader.get_summary()
        for schema, channel, message, decoded in reader.iter_decoded_messages(log_time_order=True):
            by_topic[channel.topic].append((message.log_time, schema.name, decoded))
    return summary, dict(by_topic)


@pytest.fixture(scope="module")
def mcap(synthetic_mcap: tuple[Path, Any]) -> tuple[Any, dict[str, list[tuple[int, str, Any]]]]:
    return _read(synthetic_mcap[0])


def _rotation(q: Any) -> np.ndarray:
    x, y, z, w = q.x, q.y, q.z, q.w
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def test_the_file_carries_foxglove_protobuf_schemas(synthetic_mcap: tuple[Path, Any], mcap: Any) -> None:
    summary, topics = mcap
    schemas = {s.name: s for s in summary.schemas.values()}
    assert set(schemas) == {
        "foxglove.FrameTransforms", "foxglove.CameraCalibration", "foxglove.RawImage", "foxglove.ImageAnnotations",
        "foxglove.SceneUpdate", "foxglove.PointCloud",
    }  # fmt: skip
    for s in schemas.values():
        assert s.encoding == "protobuf"
        fds = FileDescriptorSet.FromString(s.data)
        assert any(f.package == "foxglove" for f in fds.file)
    assert {c.message_encoding for c in summary.channels.values()} == {"protobuf"}
    counts = {summary.channels[cid].topic: n for cid, n in summary.statistics.channel_message_counts.items()}
    assert counts == {t: len(m) for t, m in topics.items()}
    assert counts == {k: v["messages"] for k, v in synthetic_mcap[1].details["topics"].items()}
    assert summary.statistics.message_start_time == 2_000_000_000


def test_a_streaming_read_checks_every_record(synthetic_mcap: tuple[Path, Any]) -> None:
    """Record by record, without the summary's index: magic, CRCs of every chunk and of the data
    section, the layout Header ... DataEnd, summary ... Footer."""
    from mcap.records import DataEnd, Footer, Header, Message, Metadata
    from mcap.stream_reader import StreamReader

    with open(synthetic_mcap[0], "rb") as fh:
        records = list(StreamReader(fh, validate_crcs=True).records)
    assert isinstance(records[0], Header) and isinstance(records[-1], Footer)
    assert sum(isinstance(r, DataEnd) for r in records) == 1
    messages = [r for r in records if isinstance(r, Message)]
    assert len(messages) == sum(v["messages"] for v in synthetic_mcap[1].details["topics"].values())
    meta = next(r for r in records if isinstance(r, Metadata))
    assert meta.name == "sensorfusion" and meta.metadata["session"] == "synthetic.zarr"


def test_frame_transforms_place_every_sensor_and_the_moving_device(vd: Any, mcap: Any, synthetic: Any) -> None:
    _, topics = mcap
    tf = topics["/tf"]
    static = {t.child_frame_id: t for t in tf[0][2].transforms}
    assert set(static) == {"cam0", "radar0", "hcam"}
    assert static["cam0"].parent_frame_id == "world" and static["hcam"].parent_frame_id == "hs"
    for child, t in static.items():
        cal = vd.CALIBRATION.sensors[child]
        m = cal.mount.device_from_sensor.matrix if cal.mount else cal.world_from_sensor.matrix
        np.testing.assert_allclose(_rotation(t.rotation), m[:3, :3], atol=1e-9)
        np.testing.assert_allclose([t.translation.x, t.translation.y, t.translation.z], m[:3, 3], atol=1e-9)
    poses = [(lt, msg.transforms[0]) for lt, _, msg in tf[1:]]
    assert [lt for lt, _ in poses] == [vd.t_ns(i) for i in range(vd.N_FRAMES)]
    for i, (_, t) in enumerate(poses):
        assert (t.parent_frame_id, t.child_frame_id) == ("world", "hs")
        np.testing.assert_allclose(_rotation(t.rotation), synthetic.poses[i][:3, :3], atol=1e-9)
        assert t.timestamp.seconds * 10**9 + t.timestamp.nanos == vd.t_ns(i)


def test_camera_calibration_and_images(vd: Any, mcap: Any, synthetic: Any) -> None:
    _, topics = mcap
    assert len(topics["/cam0/calibration"]) == vd.N_FRAMES + 1  # at the start, then with each image
    fisheye = topics["/hcam/calibration"][0][2]  # a camera without images still has its frustum
    assert (fisheye.distortion_model, fisheye.frame_id, list(fisheye.D)) == (
        "kannala_brandt",
        "hcam",
        [0.05, 0.0, 0.0, 0.0],
    )
    cal = topics["/cam0/calibration"][0][2]
    cam = vd.CALIBRATION.sensors["cam0"].camera
    assert (cal.frame_id, cal.width, cal.height, cal.distortion_model) == ("cam0", 320, 240, "plumb_bob")
    np.testing.assert_allclose(np.reshape(cal.K, (3, 3)), cam.K)
    np.testing.assert_allclose(cal.D, [-0.1, 0.01, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(np.reshape(cal.P, (3, 4))[:, :3], cam.K)
    img = topics["/cam0/image"][2][2]
    assert (img.encoding, img.width, img.height, img.step) == ("rgb8", 320, 240, 960)
    assert img.data == synthetic.images[2].tobytes()
    depth = topics["/cam0/depth"][1][2]
    assert depth.encoding == "16UC1" and np.frombuffer(depth.data, "<u2")[0] == 1010


def test_skeletons_as_scene_updates(vd: Any, mcap: Any, synthetic: Any) -> None:
    _, topics = mcap
    msgs = topics["/fusion/skeleton3d"]
    assert [lt for lt, _, _ in msgs] == [vd.t_ns(i) for i in range(vd.N_FRAMES)]
    edges = vd.COCO17.edges
    for i, (_, schema, update) in enumerate(msgs):
        assert schema == "foxglove.SceneUpdate"
        assert [d.type for d in update.deletions] == [1]  # ALL: last frame's people go
        ents = {e.id: e for e in update.entities}
        assert set(ents) == {f"person/{p}" for p in synthetic.skeletons[i]}
        for pid, sk in synthetic.skeletons[i].items():
            e = ents[f"person/{pid}"]
            ok = np.isfinite(sk).all(axis=-1)
            assert e.frame_id == "world" and e.metadata[0].value == str(pid)
            got = np.array([[s.pose.position.x, s.pose.position.y, s.pose.position.z] for s in e.spheres])
            np.testing.assert_allclose(got, sk[ok], atol=1e-6)
            line = e.lines[0]
            assert line.type == 2  # LINE_LIST
            n_bones = sum(1 for a, b in edges if ok[a] and ok[b])
            assert len(line.points) == 2 * n_bones
            r, g, b = person_rgb(pid)
            assert (round(line.color.r * 255), round(line.color.g * 255), round(line.color.b * 255)) == (r, g, b)
            assert e.texts[0].text == f"id {pid}"


def test_keypoints_radar_tracks_and_boxes(mcap: Any, synthetic: Any) -> None:
    _, topics = mcap
    ann = topics["/cam0/keypoints2d"][0][2]
    points = [a for a in ann.points if a.type == 1]  # POINTS
    kp = synthetic.keypoints[0]
    got = np.array([[p.x, p.y] for p in points[0].points])
    np.testing.assert_allclose(got, kp[0, :, :2], atol=1e-4)
    assert len(points[1].points) == 16  # the undetected joint is left out
    cloud = topics["/radar0/cloud"][3][2]
    assert cloud.frame_id == "radar0" and cloud.point_stride == 12
    assert [f.name for f in cloud.fields] == ["x", "y", "z"]
    np.testing.assert_allclose(np.frombuffer(cloud.data, "<f4").reshape(-1, 3), synthetic.cloud[3])
    tracks = topics["/tracks/tracks"][4][2]
    pos, _, ids = synthetic.tracks[4]
    assert [e.id for e in tracks.entities] == [f"track/{i}" for i in ids]
    p0 = tracks.entities[0].spheres[0].pose.position
    np.testing.assert_allclose([p0.x, p0.y, p0.z], pos[0], atol=1e-6)
    boxes = topics["/people/people"][0][2]
    assert len(boxes.entities[0].cubes) == 2


def test_compressed_images_and_options(vd: Any, synthetic: Any, tmp_path: Path) -> None:
    from PIL import Image
    from sensorfusion_rerun._export_mcap import export_mcap

    from sensorfusion import ConfigError, ExportOptions
    from sensorfusion.store import Session

    session = Session.open(synthetic.path)
    out = tmp_path / "c.mcap"
    result = export_mcap(
        session, out, ExportOptions(streams=("cam0/image",), extra={"jpeg_quality": "85"}, start_ns=vd.t_ns(3))
    )
    assert result.frames == 2 and result.streams == ("cam0/image",)
    _, topics = _read(out)
    assert sorted(topics) == ["/cam0/calibration", "/cam0/image", "/hcam/calibration", "/tf"]
    msg = topics["/cam0/image"][0][2]
    assert topics["/cam0/image"][0][1] == "foxglove.CompressedImage" and msg.format == "jpeg"
    assert Image.open(io.BytesIO(msg.data)).size == (320, 240)
    with pytest.raises(ConfigError) as e:
        export_mcap(session, out, ExportOptions(extra={"quality": "3"}))
    assert e.value.field_path == "--option" and "jpeg_quality" in (e.value.choices or [])
    with pytest.raises(ConfigError) as e:
        export_mcap(session, out, ExportOptions(extra={"jpeg_quality": "300"}))
    assert e.value.field_path == "--option"


@pytest.mark.parametrize("angle", [0.0, 0.3, 1.7, 3.1, np.pi])
@pytest.mark.parametrize("axis", [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 2, -0.5)])
def test_quaternion_of_a_rotation(angle: float, axis: tuple[float, float, float]) -> None:
    from sensorfusion import Transform

    k = np.asarray(axis, float) / np.linalg.norm(axis)
    r = Transform.from_rotvec(k * angle, np.zeros(3)).matrix[:3, :3]
    q = quaternion_xyzw(r)
    assert q[3] >= 0 and np.isclose(np.linalg.norm(q), 1.0)

    class Q:
        x, y, z, w = q

    np.testing.assert_allclose(_rotation(Q), r, atol=1e-12)
