"""``write_rrd``: a session as a Rerun recording, read back with Rerun's own reader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sensorfusion_rerun import person_rgb
from sensorfusion_rerun._rrd import class_id_of, is_unix_time


@pytest.fixture(scope="module")
def rrd(vd: Any, synthetic_rrd: tuple[Path, Any]) -> Any:
    return vd.Rrd(synthetic_rrd[0])


def test_result_names_every_drawn_stream_and_what_was_left_out(vd: Any, synthetic_rrd: tuple[Path, Any]) -> None:
    out, result = synthetic_rrd
    assert result.paths == (out,) and out.stat().st_size > 0
    assert set(result.streams) == {
        "cam0/image", "cam0/depth", "hs/device_pose", "det:cam0/keypoints2d", "fusion:fusion/skeleton3d",
        "people:people/people", "radar:radar0/cloud", "tracks:tracks/tracks",
    }  # fmt: skip
    # per-person values have no picture; a backfill stream is drawn through the stream it corrects
    assert sorted(result.details["not_drawn"]) == ["fusion:fusion/backfill", "fusion:fusion/height"]
    assert result.frames == 8 * vd.N_FRAMES
    assert result.person_ids == (3, 7)
    assert result.details["t_first_ns"] == vd.t_ns(0) and result.details["t_last_ns"] == vd.t_ns(vd.N_FRAMES - 1)


def test_the_recording_is_named_after_the_session(synthetic: Any, synthetic_rrd: tuple[Path, Any]) -> None:
    import rerun.chunk as rc

    from sensorfusion.store import Session

    (entry,) = rc.RrdReader(synthetic_rrd[0]).recordings()
    assert entry.application_id == "sensorfusion"
    assert entry.recording_id == f"sensorfusion:synthetic.zarr:{Session.open(synthetic.path).created}"


def test_entities_and_the_sensor_time_timeline(vd: Any, rrd: Any) -> None:
    assert {
        "/world", "/world/cam0", "/world/cam0/image", "/world/cam0/image/image", "/world/cam0/image/depth",
        "/world/cam0/image/keypoints2d", "/world/fusion/skeleton3d", "/world/fusion/skeleton3d/ids",
        "/world/radar0", "/world/radar0/cloud", "/world/tracks/tracks", "/world/tracks/tracks/velocity",
        "/world/people/people", "/world/hs", "/world/hs/hcam", "/world/hs/hcam/image",
    } <= rrd.entities()  # fmt: skip
    assert rrd.timelines() == {"sensor_time"}  # no log_time / log_tick: the file depends on the frames only
    times, _ = rrd.column("/world/cam0/image/image", "Image:buffer")
    assert times == [vd.t_ns(i) for i in range(vd.N_FRAMES)]


def test_camera_frustum_and_poses_from_the_calibration(vd: Any, rrd: Any) -> None:
    cam = vd.CALIBRATION.sensors["cam0"]
    _, k = rrd.column("/world/cam0/image", "Pinhole:image_from_camera", index=None)
    # column-major 3x3
    np.testing.assert_allclose(np.asarray(k[0]).reshape(3, 3).T, cam.camera.K, rtol=1e-6)  # type: ignore[union-attr]
    _, res = rrd.column("/world/cam0/image", "Pinhole:resolution", index=None)
    assert res[0] == [[320.0, 240.0]]  # one value per row: a batch of one
    _, tr = rrd.column("/world/cam0", "Transform3D:translation", index=None, mono=True)
    _, mat = rrd.column("/world/cam0", "Transform3D:mat3x3", index=None, mono=True)
    np.testing.assert_allclose(tr[0], cam.world_from_sensor.translation_m, atol=1e-6)
    np.testing.assert_allclose(np.asarray(mat[0]).reshape(3, 3).T, cam.world_from_sensor.matrix[:3, :3], atol=1e-6)
    # the headset camera sits under its device, placed by device_from_sensor
    mount = vd.CALIBRATION.sensors["hcam"].mount
    assert mount is not None
    _, tr = rrd.column("/world/hs/hcam", "Transform3D:translation", index=None, mono=True)
    np.testing.assert_allclose(tr[0], mount.device_from_sensor.translation_m, atol=1e-6)


def test_device_pose_over_time(vd: Any, rrd: Any, synthetic: Any) -> None:
    times, tr = rrd.column("/world/hs", "Transform3D:translation", mono=True)
    _, mat = rrd.column("/world/hs", "Transform3D:mat3x3", mono=True)
    assert times == [vd.t_ns(i) for i in range(vd.N_FRAMES)]
    for i in range(vd.N_FRAMES):
        np.testing.assert_allclose(tr[i], synthetic.poses[i][:3, 3], atol=1e-6)
        np.testing.assert_allclose(np.asarray(mat[i]).reshape(3, 3).T, synthetic.poses[i][:3, :3], atol=1e-6)


def test_skeletons_with_bones_ids_and_stable_colours(vd: Any, rrd: Any, synthetic: Any) -> None:
    e = "/world/fusion/skeleton3d"
    times, positions = rrd.column(e, "Points3D:positions")
    _, classes = rrd.column(e, "Points3D:class_ids")
    _, joints = rrd.column(e, "Points3D:keypoint_ids")
    assert times == [vd.t_ns(i) for i in range(vd.N_FRAMES)]
    for i in range(vd.N_FRAMES):
        expect_pos, expect_cls, expect_joint = [], [], []
        for pid, sk in sorted(synthetic.skeletons[i].items()):
            ok = np.isfinite(sk).all(axis=-1)
            expect_pos.append(sk[ok])
            expect_cls += [pid] * int(ok.sum())
            expect_joint += list(np.flatnonzero(ok))
        np.testing.assert_allclose(np.asarray(positions[i]), np.concatenate(expect_pos), atol=1e-6)
        assert classes[i] == expect_cls and joints[i] == expect_joint
    assert 4 not in joints[0][:16]  # person 3's missing joint is left out, not drawn at NaN
    # the annotation context: one class per person, the skeleton's joints and bones, its colour
    # the annotation context: logged when people appear (frame 0: 3 and 7; 7 leaving needs none)
    ctx_times, ctx = rrd.column(e, "AnnotationContext:context")
    assert ctx_times == [vd.t_ns(0)]
    by_id = {c["class_id"]: c["class_description"] for c in ctx[0][0]}
    assert set(by_id) == {3, 7}
    for pid, desc in by_id.items():
        assert desc["info"]["label"] == f"person {pid}"
        r, g, b = person_rgb(pid)
        assert desc["info"]["color"] == (r << 24) | (g << 16) | (b << 8) | 0xFF
        assert [a["label"] for a in desc["keypoint_annotations"]] == list(vd.COCO17.joints)
        assert [(c["keypoint0"], c["keypoint1"]) for c in desc["keypoint_connections"]] == list(vd.COCO17.edges)
    _, labels = rrd.column(f"{e}/ids", "Points3D:labels")
    assert labels[0] == ["id 3", "id 7"] and labels[-1] == ["id 3"]


def test_keypoints2d_in_the_image_with_unknown_people_kept_apart(rrd: Any, synthetic: Any) -> None:
    e = "/world/cam0/image/keypoints2d"
    _, positions = rrd.column(e, "Points2D:positions")
    _, classes = rrd.column(e, "Points2D:class_ids")
    kp = synthetic.keypoints[0]
    keep = kp[..., 2] > 0
    np.testing.assert_allclose(np.asarray(positions[0]), kp[..., :2][keep], atol=1e-4)
    # person 3 is class 3; the unassociated person is a class of its own (60000 + its index)
    assert classes[0] == [3] * 17 + [class_id_of(-1, 1)] * 16
    _, ctx = rrd.column(e, "AnnotationContext:context")
    assert {c["class_id"] for c in ctx[0][0]} == {3, 60001}


def test_images_depth_radar_and_tracks(rrd: Any, synthetic: Any) -> None:
    _, buf = rrd.column("/world/cam0/image/image", "Image:buffer")
    assert bytes(buf[2][0]) == synthetic.images[2].tobytes()  # raw pixels with jpeg_quality=None
    _, dep = rrd.column("/world/cam0/image/depth", "DepthImage:buffer")
    _, meter = rrd.column("/world/cam0/image/depth", "DepthImage:meter")
    assert np.frombuffer(bytes(dep[1][0]), np.uint16)[0] == 1010 and meter[0] == [pytest.approx(1000.0)]
    _, cloud = rrd.column("/world/radar0/cloud", "Points3D:positions")
    np.testing.assert_allclose(np.asarray(cloud[3]), synthetic.cloud[3], atol=1e-6)  # in the radar's frame
    _, pos = rrd.column("/world/tracks/tracks", "Points3D:positions")
    _, labels = rrd.column("/world/tracks/tracks", "Points3D:labels")
    _, vec = rrd.column("/world/tracks/tracks/velocity", "Arrows3D:vectors")
    p, v, ids = synthetic.tracks[4]
    np.testing.assert_allclose(np.asarray(pos[4]), p, atol=1e-6)
    np.testing.assert_allclose(np.asarray(vec[4]), v, atol=1e-6)
    assert labels[4] == [f"track {i}" for i in ids]
    _, sizes = rrd.column("/world/people/people", "Boxes3D:half_sizes")
    np.testing.assert_allclose(np.asarray(sizes[0]), 0.25, atol=1e-6)


def test_jpeg_images_and_person_and_time_filters(vd: Any, synthetic: Any, tmp_path: Path) -> None:
    from sensorfusion_rerun import write_rrd

    from sensorfusion import ExportOptions

    calls: list[tuple[int, int]] = []
    opts = ExportOptions(
        streams=("cam0/image", "fusion/skeleton3d"),
        person_ids=(7,),
        start_ns=vd.t_ns(1),
        stop_ns=vd.t_ns(3),
        progress=lambda done, total: calls.append((done, total)),
    )
    result = write_rrd(synthetic.path, tmp_path / "f.rrd", options=opts, jpeg_quality=80)
    assert result.streams == ("cam0/image", "fusion:fusion/skeleton3d") and result.person_ids == (7,)
    assert calls[-1] == (2 * vd.N_FRAMES, 2 * vd.N_FRAMES)  # every frame read is counted
    rrd = vd.Rrd(tmp_path / "f.rrd")
    times, media = rrd.column("/world/cam0/image/image", "EncodedImage:media_type")
    assert times == [vd.t_ns(1), vd.t_ns(2)] and media[0] == ["image/jpeg"]
    _, blob = rrd.column("/world/cam0/image/image", "EncodedImage:blob")
    from io import BytesIO

    from PIL import Image

    decoded = np.asarray(Image.open(BytesIO(bytes(blob[0][0]))))
    assert decoded.shape == (240, 320, 3)
    _, classes = rrd.column("/world/fusion/skeleton3d", "Points3D:class_ids")
    assert classes == [[7] * 17, [7] * 17]
    assert "/world/radar0/cloud" not in rrd.entities()


def test_time_kinds_and_class_ids() -> None:
    assert not is_unix_time(2_000_000_000) and is_unix_time(1_700_000_000_000_000_000)
    assert class_id_of(5, 0) == 5 and class_id_of(-1, 0) == 60000 and class_id_of(-1, 2) == 60002
    assert person_rgb(5) == person_rgb(5) and person_rgb(5) != person_rgb(6)
    assert len({person_rgb(i) for i in range(20)}) == 20


def test_unix_clock_bgr_and_grey_images_and_an_unknown_skeleton(tmp_path: Path, vd: Any) -> None:
    """A Unix sensor clock gives a timestamp timeline; BGR images (OpenCV drivers) are logged as
    RGB; greyscale as L; a skeleton spec the registry lacks is drawn as joints without bones."""
    import pyarrow as pa
    from sensorfusion_rerun import write_mcap, write_rrd

    from sensorfusion import FieldSpec, Frame, FrameKind, StreamSpec
    from sensorfusion.store import SessionWriter

    t0 = 1_764_990_000_123_456_789
    bgr = StreamSpec(name="cam0/image", kind=FrameKind.IMAGE, fields={"image": FieldSpec(dtype="uint8", shape=(4, 6, 3))}, attrs={"color_order": "bgr"})  # fmt: skip
    grey = StreamSpec(name="ir0/image", kind=FrameKind.IMAGE, fields={"image": FieldSpec(dtype="uint8", shape=(4, 6))})
    sk = StreamSpec(name="odd/skeleton3d", kind=FrameKind.SKELETON3D, ragged=True, skeleton="not_registered",
                    fields={"joints": FieldSpec(dtype="float32", shape=(3, 3)), "person_id": FieldSpec(dtype="int64")})  # fmt: skip
    w = SessionWriter(tmp_path / "u.zarr", rig={"name": "u"}, calibration=vd.CALIBRATION)
    for spec in (bgr, grey, sk):
        w.add_stream(spec)
    img = np.arange(72, dtype=np.uint8).reshape(4, 6, 3)
    for i in range(3):
        t = t0 + i * 10_000_000
        w.write(Frame("cam0/image", t, t, i, {"image": img}))
        w.write(Frame("ir0/image", t, t, i, {"image": img[:, :, 0].copy()}))
        w.write(
            Frame("odd/skeleton3d", t, t, i, {"joints": np.ones((1, 3, 3), np.float32) * i, "person_id": np.array([2])})
        )
    w.close({})
    write_rrd(tmp_path / "u.zarr", tmp_path / "u.rrd", jpeg_quality=None)
    rrd = vd.Rrd(tmp_path / "u.rrd")
    table = rrd.table("/world/cam0/image/image")
    assert pa.types.is_timestamp(table.schema.field("sensor_time").type)
    times, buf = rrd.column("/world/cam0/image/image", "Image:buffer")
    assert times == [t0, t0 + 10_000_000, t0 + 20_000_000]  # exact int64 ns
    assert bytes(buf[0][0]) == img[:, :, ::-1].tobytes()  # BGR -> RGB
    assert "/cameras/ir0/image" in rrd.entities()  # an uncalibrated camera: its own 2D space
    _, ctx = rrd.column("/world/odd/skeleton3d", "AnnotationContext:context")
    assert ctx[-1][0][0]["class_description"]["keypoint_connections"] == []
    result = write_mcap(tmp_path / "u.zarr", tmp_path / "u.mcap", jpeg_quality=None)
    assert result.details["topics"]["/cam0/image"]["schema"] == "foxglove.RawImage"
    from mcap.reader import make_reader
    from mcap_protobuf.decoder import DecoderFactory

    with open(tmp_path / "u.mcap", "rb") as fh:
        msgs = {
            c.topic: (m, d)
            for _, c, m, d in make_reader(fh, decoder_factories=[DecoderFactory()]).iter_decoded_messages()
        }
    m, raw = msgs["/cam0/image"]
    assert raw.encoding == "bgr8" and raw.data == img.tobytes() and m.log_time == t0 + 20_000_000
    assert msgs["/ir0/image"][1].encoding == "mono8"


def test_the_default_blueprint_shows_the_world_and_each_camera(synthetic_rrd: tuple[Path, Any]) -> None:
    import rerun.chunk as rc

    reader = rc.RrdReader(synthetic_rrd[0])
    (blueprint,) = reader.blueprints()
    views = {}
    for chunk in reader.stream(store=blueprint).collect().stream():
        cols = chunk.to_record_batch().to_pydict()
        if "ViewBlueprint:space_origin" in cols:
            views[cols["ViewBlueprint:display_name"][0][0]] = (
                cols["ViewBlueprint:space_origin"][0][0],
                cols["ViewBlueprint:class_identifier"][0][0],
            )
    assert views == {"world": ("world", "3D"), "cam0": ("world/cam0/image", "2D")}


def test_source_frames_are_put_on_the_reference_clock(tmp_path: Path, vd: Any) -> None:
    """A source stream's frames move by its sensor's ``time_offset_ns`` plus the rig's
    ``sync.offsets_ns`` (the synchronizer's offsets); estimates already carry reference times."""
    from sensorfusion_rerun import write_mcap, write_rrd

    from sensorfusion import FieldSpec, Frame, FrameKind, RigCalibration, StreamSpec
    from sensorfusion.store import SessionWriter

    cal = RigCalibration.model_validate(
        {"sensors": {"cam0": {**vd.CALIBRATION.sensors["cam0"].model_dump(), "time_offset_ns": 1_000_000}}}
    )
    img = StreamSpec(name="cam0/image", kind=FrameKind.IMAGE, fields={"image": FieldSpec(dtype="uint8", shape=(4, 6))})
    kp = StreamSpec(name="cam0/keypoints2d", kind=FrameKind.KEYPOINTS2D, ragged=True, skeleton="coco17",
                    fields={"keypoints": FieldSpec(dtype="float32", shape=(17, 3)), "person_id": FieldSpec(dtype="int64")})  # fmt: skip
    w = SessionWriter(
        tmp_path / "o.zarr", rig={"name": "o", "sync": {"offsets_ns": {"cam0/image": 500}}}, calibration=cal
    )
    w.add_stream(img)
    w.add_stream(kp, stage="det")
    for i in range(2):
        t = vd.t_ns(i)
        w.write(Frame("cam0/image", t, t, i, {"image": np.zeros((4, 6), np.uint8)}))
        ref = t + 1_000_500
        w.write(Frame("cam0/keypoints2d", ref, ref, i, {"keypoints": np.ones((1, 17, 3), np.float32), "person_id": np.array([1])}), stage="det")  # fmt: skip
    w.close({})
    write_rrd(tmp_path / "o.zarr", tmp_path / "o.rrd")
    rrd = vd.Rrd(tmp_path / "o.rrd")
    image_times, _ = rrd.column("/world/cam0/image/image", "EncodedImage:blob")
    kp_times, _ = rrd.column("/world/cam0/image/keypoints2d", "Points2D:positions")
    assert image_times == kp_times == [vd.t_ns(i) + 1_000_500 for i in range(2)]
    result = write_mcap(tmp_path / "o.zarr", tmp_path / "o.mcap")
    assert result.details["topics"]["/cam0/image"]["messages"] == 2


def test_point_layouts_of_the_other_plugins(tmp_path: Path, vd: Any) -> None:
    """RGB-D points (``xyz`` in a camera's frame), overhead floor positions (``position_m`` with a
    ``person_id``: each person's colour; ``(x, y)`` ones on the floor) and rotated boxes in an
    image are drawn too."""
    from sensorfusion_rerun import person_rgb, write_mcap, write_rrd

    from sensorfusion import FieldSpec, Frame, FrameKind, StreamSpec
    from sensorfusion.store import SessionWriter

    rgbd = StreamSpec(name="cam0/points", kind=FrameKind.POINT_CLOUD, ragged=True, attrs={"frame": "cam0"},
                      fields={"xyz": FieldSpec(dtype="float32", shape=(3,))})  # fmt: skip
    floor = StreamSpec(name="ceil0/floor", kind=FrameKind.POINT_CLOUD, ragged=True, attrs={"frame": "world"},
                       fields={"position_m": FieldSpec(dtype="float32", shape=(3,)), "person_id": FieldSpec(dtype="int64")})  # fmt: skip
    rboxes = StreamSpec(name="cam0/rboxes", kind=FrameKind.BOXES, ragged=True, attrs={"format": "rapid"},
                        fields={"rbox": FieldSpec(dtype="float32", shape=(5,)), "person_id": FieldSpec(dtype="int64")})  # fmt: skip
    w = SessionWriter(tmp_path / "p.zarr", rig={"name": "p"}, calibration=vd.CALIBRATION)
    w.add_stream(rgbd, stage="rgbd")
    w.add_stream(floor, stage="loc")
    w.add_stream(rboxes, stage="det")
    gt_floor = StreamSpec(name="gt/floor", kind=FrameKind.POINT_CLOUD, ragged=True, attrs={"frame": "world"},
                          fields={"position_m": FieldSpec(dtype="float32", shape=(2,)), "person_id": FieldSpec(dtype="int64")})  # fmt: skip
    w.add_stream(gt_floor)
    floor_xy = np.array([[1.0, 2.0], [3.0, -1.0]], np.float32)
    w.write(Frame("gt/floor", vd.t_ns(0), 0, 0, {"position_m": floor_xy, "person_id": np.array([4, 9])}))
    box = np.array([[100.0, 50.0, 20.0, 10.0, 90.0]], np.float32)  # 20 px wide along image +y
    w.write(Frame("cam0/rboxes", vd.t_ns(0), 0, 0, {"rbox": box, "person_id": np.array([4])}), stage="det")
    pts = np.array([[0.0, 0.0, 2.0], [0.1, 0.2, np.nan], [0.3, 0.1, 1.5]], np.float32)
    pos = np.array([[1.0, 2.0, 0.0], [3.0, -1.0, 0.0]], np.float32)
    w.write(Frame("cam0/points", vd.t_ns(0), 0, 0, {"xyz": pts}), stage="rgbd")
    w.write(Frame("ceil0/floor", vd.t_ns(0), 0, 0, {"position_m": pos, "person_id": np.array([4, 9])}), stage="loc")
    w.close({})
    write_rrd(tmp_path / "p.zarr", tmp_path / "p.rrd")
    rrd = vd.Rrd(tmp_path / "p.rrd")
    _, cloud = rrd.column("/world/cam0/points", "Points3D:positions")  # under the camera: its frame
    np.testing.assert_allclose(np.asarray(cloud[0]), pts[[0, 2]])
    _, floor_pos = rrd.column("/world/ceil0/floor", "Points3D:positions")
    _, colors = rrd.column("/world/ceil0/floor", "Points3D:colors")
    np.testing.assert_allclose(np.asarray(floor_pos[0]), pos)
    assert colors[0] == [(r << 24) | (g << 16) | (b << 8) | 0xFF for r, g, b in (person_rgb(4), person_rgb(9))]
    _, gt = rrd.column("/world/gt/floor", "Points3D:positions")
    np.testing.assert_allclose(np.asarray(gt[0]), [[1.0, 2.0, 0.0], [3.0, -1.0, 0.0]])  # (x, y) at z = 0
    _, strips = rrd.column("/world/cam0/image/rboxes", "LineStrips2D:strips")
    np.testing.assert_allclose(
        np.asarray(strips[0][0]), [[105, 40], [105, 60], [95, 60], [95, 40], [105, 40]], atol=1e-4
    )
    result = write_mcap(tmp_path / "p.zarr", tmp_path / "p.mcap")
    assert result.details["topics"]["/cam0/rboxes"]["schema"] == "foxglove.ImageAnnotations"
    assert {t for t, v in result.details["topics"].items() if v["schema"] == "foxglove.PointCloud"} == {
        "/cam0/points",
        "/ceil0/floor",
        "/gt/floor",
    }


def test_the_annotation_context_follows_who_is_present(tmp_path: Path, vd: Any) -> None:
    """Re-logged on the timeline when someone new appears, with the people present then: it
    stays as small as the crowd at one time, however many ids a long run sees."""
    from sensorfusion_rerun import write_rrd

    from sensorfusion import FieldSpec, Frame, FrameKind, StreamSpec
    from sensorfusion.store import SessionWriter

    sk = StreamSpec(name="fusion/skeleton3d", kind=FrameKind.SKELETON3D, ragged=True, skeleton="coco17",
                    fields={"joints": FieldSpec(dtype="float32", shape=(17, 3)), "person_id": FieldSpec(dtype="int64")})  # fmt: skip
    w = SessionWriter(tmp_path / "c.zarr", rig={"name": "c"}, calibration=vd.CALIBRATION)
    w.add_stream(sk, stage="fusion")
    present = [[1], [2], [2], [1, 2], [5]]
    for i, ids in enumerate(present):
        joints = np.stack([vd.skeleton(i, p) for p in ids])
        w.write(Frame(sk.name, vd.t_ns(i), 0, i, {"joints": joints, "person_id": np.array(ids)}), stage="fusion")
    w.close({})
    write_rrd(tmp_path / "c.zarr", tmp_path / "c.rrd")
    times, ctx = vd.Rrd(tmp_path / "c.rrd").column("/world/fusion/skeleton3d", "AnnotationContext:context")
    assert times == [vd.t_ns(0), vd.t_ns(1), vd.t_ns(3), vd.t_ns(4)]
    assert [sorted(c["class_id"] for c in row[0]) for row in ctx] == [[1], [2], [1, 2], [5]]
