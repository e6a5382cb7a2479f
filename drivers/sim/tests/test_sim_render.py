"""The capsule renderer: silhouettes where the joints project, z-buffered occlusion, the room."""

from __future__ import annotations

import numpy as np
import pytest
from sensorfusion_sim import CameraRenderer, PeopleSim, make_rig

from sensorfusion.geometry import world_to_pixels

RIG = make_rig(4)


def _renderer(cam: str = "cam0", **rig_kw: float) -> CameraRenderer:
    rig = make_rig(4, **rig_kw) if rig_kw else RIG  # type: ignore[arg-type]
    cal = rig.sensors[cam]
    return CameraRenderer(cal.camera, cal.world_from_sensor)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def renderer() -> CameraRenderer:
    return _renderer()


def test_empty_room(renderer: CameraRenderer) -> None:
    buf = renderer.render_buffers(np.zeros((0, 17, 3)))
    assert buf.image.shape == (480, 640, 3) and buf.image.dtype == np.uint8
    assert np.all(buf.person_id == -1)
    assert np.all(np.isfinite(buf.depth_m)) and np.all(buf.depth_m > 0)
    assert len(np.unique(buf.image.reshape(-1, 3), axis=0)) > 10  # a floor and walls, not a flat fill


@pytest.mark.parametrize("k1", [0.0, -0.15])
def test_pixels_appear_where_the_joints_project(k1: float) -> None:
    r = _renderer("cam1", k1=k1)
    joints = PeopleSim(seed=3, people=1).joints_at(2.0)
    buf = r.render_buffers(joints)
    cal = make_rig(4, k1=k1).sensors["cam1"]
    uv = world_to_pixels(cal.camera, cal.world_from_sensor, joints[0], tier="numpy")  # type: ignore[arg-type]
    body = [5, 6, 7, 8, 11, 12, 13, 14, 15, 16]  # shoulders, elbows, hips, knees, ankles
    px = np.round(uv[body]).astype(int)
    assert np.all((px[:, 0] >= 0) & (px[:, 0] < 640) & (px[:, 1] >= 0) & (px[:, 1] < 480))
    hits = [np.any(buf.person_id[y - 1 : y + 2, x - 1 : x + 2] == 0) for x, y in px]
    assert all(hits), hits
    # and the silhouette is about as tall as the projected skeleton
    rows = np.nonzero(np.any(buf.person_id == 0, axis=1))[0]
    assert rows.max() - rows.min() >= 0.9 * (uv[:, 1].max() - uv[:, 1].min())


def test_nearer_person_hides_the_farther(renderer: CameraRenderer) -> None:
    cal = RIG.sensors["cam0"]
    eye = np.asarray(cal.world_from_sensor.translation_m)
    towards_centre = -eye[:2] / np.linalg.norm(eye[:2])
    person = PeopleSim(seed=4, people=1).joints_at(0.0)[0]
    person[:, :2] -= person[[11, 12], :2].mean(axis=0)  # pelvis over the origin

    def placed(distance_m: float) -> np.ndarray:
        out = person.copy()
        out[:, :2] += eye[:2] + distance_m * towards_centre
        return out

    near, far = placed(2.0), placed(3.0)
    near_alone = renderer.render_buffers(near[None], np.array([0]))
    far_alone = renderer.render_buffers(far[None], np.array([1]))
    overlap = (near_alone.person_id == 0) & (far_alone.person_id == 1)
    assert np.count_nonzero(overlap) > 200
    assert np.all(near_alone.depth_m[overlap] < far_alone.depth_m[overlap])
    for joints, ids in ((np.stack([near, far]), np.array([0, 1])), (np.stack([far, near]), np.array([1, 0]))):
        buf = renderer.render_buffers(joints, ids)
        assert np.all(buf.person_id[overlap] == 0)
        np.testing.assert_array_equal(buf.depth_m[overlap], near_alone.depth_m[overlap])
        np.testing.assert_array_equal(buf.image[overlap], near_alone.image[overlap])
        only_far = (far_alone.person_id == 1) & ~overlap
        assert np.count_nonzero(only_far) > 50 and np.all(buf.person_id[only_far] == 1)


def test_rendering_is_deterministic(renderer: CameraRenderer) -> None:
    joints = PeopleSim(seed=1).joints_at(7.0)
    assert renderer.render(joints).tobytes() == renderer.render(joints.copy()).tobytes()
