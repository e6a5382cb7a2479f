"""The people model: determinism, room bounds, heights, rigid bones, behaviours, crossing."""

from __future__ import annotations

import numpy as np
import pytest
from sensorfusion_sim import CAPSULE_NAMES, PeopleSim, body_capsules, capsule_radii_m, heights_from_joints

from sensorfusion.schema import builtin_skeletons

COCO17 = next(s for s in builtin_skeletons() if s.name == "coco17")
J = {n: i for i, n in enumerate(COCO17.joints)}
TIMES_S = np.arange(0.0, 90.0, 0.1)


@pytest.fixture(scope="module")
def sim() -> PeopleSim:
    return PeopleSim(seed=11, people=3)


@pytest.fixture(scope="module")
def track(sim: PeopleSim) -> np.ndarray:
    return np.stack([sim.joints_at(t) for t in TIMES_S])  # (T, P, 17, 3)


def test_same_seed_same_joints_in_any_query_order() -> None:
    a, b = PeopleSim(seed=5), PeopleSim(seed=5)
    late_first = [a.joints_at(t) for t in (61.3, 0.5, 17.0)]
    early_first = [b.joints_at(t) for t in (0.5, 17.0, 61.3)]
    for x, y in zip(late_first, [early_first[2], early_first[0], early_first[1]], strict=True):
        assert x.tobytes() == y.tobytes()


def test_different_seeds_differ() -> None:
    assert not np.allclose(PeopleSim(seed=1).joints_at(20.0), PeopleSim(seed=2).joints_at(20.0))


def test_shapes_and_empty_room() -> None:
    assert PeopleSim(seed=0, people=0).joints_at(3.0).shape == (0, 17, 3)
    assert PeopleSim(seed=0, people=5).joints_at(3.0).shape == (5, 17, 3)


def test_people_stay_in_the_room(sim: PeopleSim, track: np.ndarray) -> None:
    hx, hy = sim.room_m[0] / 2, sim.room_m[1] / 2
    assert np.all(np.abs(track[..., 0]) < hx) and np.all(np.abs(track[..., 1]) < hy)
    assert np.all(track[..., 2] > 0.0)
    assert np.all(track[..., 2] < 2.1)


def test_heights_differ_and_match_the_body(sim: PeopleSim, track: np.ndarray) -> None:
    h = sim.heights_m
    assert np.all((h >= 1.55) & (h <= 1.95))
    assert len(np.unique(np.round(h, 3))) == len(h)
    np.testing.assert_allclose(heights_from_joints(track[0]), h, rtol=1e-9)
    # standing at t=0: eyes near 0.92 of the height
    np.testing.assert_allclose(track[0, :, J["left_eye"], 2] / h, 0.915, atol=0.03)


def test_bones_are_rigid(track: np.ndarray) -> None:
    edges = [(i, p) for i, p in enumerate(COCO17.parents) if p >= 0]
    edges += [(J["left_hip"], J["right_hip"]), (J["left_shoulder"], J["right_shoulder"]), (J["left_ear"], J["nose"])]
    for a, b in edges:
        length = np.linalg.norm(track[:, :, a] - track[:, :, b], axis=-1)  # (T, P)
        assert np.ptp(length, axis=0).max() < 1e-9, (COCO17.joints[a], COCO17.joints[b])


def test_behaviours_all_occur(sim: PeopleSim) -> None:
    seen = {k for t in TIMES_S[::5] for k in sim.behaviours_at(t)}
    assert {"walk", "turn", "wave", "crouch"} <= seen


def test_crouch_lowers_the_pelvis_and_wave_raises_a_wrist(sim: PeopleSim, track: np.ndarray) -> None:
    pelvis_z = 0.5 * (track[:, :, J["left_hip"], 2] + track[:, :, J["right_hip"], 2])
    wrist_z = np.maximum(track[:, :, J["left_wrist"], 2], track[:, :, J["right_wrist"], 2])
    nose_z = track[:, :, J["nose"], 2]
    kinds = np.array([sim.behaviours_at(t) for t in TIMES_S])  # (T, P)
    stand = pelvis_z[0] / sim.heights_m
    assert np.any((kinds == "crouch") & (pelvis_z < (stand - 0.1) * sim.heights_m))
    assert np.all(pelvis_z[kinds == "walk"] > 0.45 * np.broadcast_to(sim.heights_m, pelvis_z.shape)[kinds == "walk"])
    assert np.any((kinds == "wave") & (wrist_z > nose_z))
    assert not np.any((kinds == "walk") & (wrist_z > nose_z))


def test_gait_alternates_the_feet(sim: PeopleSim, track: np.ndarray) -> None:
    # person 0 walks across the room first: the ankles overtake each other repeatedly
    sel = TIMES_S < 4.0
    fwd = track[sel, 0, J["left_ankle"], :2] - track[sel, 0, J["right_ankle"], :2]
    heading = track[sel, 0, J["nose"], :2] - 0.5 * (
        track[sel, 0, J["left_ear"], :2] + track[sel, 0, J["right_ear"], :2]
    )
    lead = np.sign(np.einsum("ti,ti->t", fwd, heading))
    assert np.count_nonzero(np.diff(lead[lead != 0]) != 0) >= 4
    # the arms counter-swing: left wrist ahead when the right ankle is ahead
    wr = track[sel, 0, J["left_wrist"], :2] - track[sel, 0, J["right_wrist"], :2]
    arm = np.einsum("ti,ti->t", wr, heading)
    legs = np.einsum("ti,ti->t", fwd, heading)
    assert np.corrcoef(arm, legs)[0, 1] < -0.5


def test_two_people_cross_without_colliding() -> None:
    sim = PeopleSim(seed=0, people=3)
    ts = np.arange(0.0, 9.0, 0.05)
    pos = np.stack([sim.positions_at(t) for t in ts])  # (T, P, 2)
    a, b = pos[:, 0], pos[:, 1]

    def crosses(p: np.ndarray, q: np.ndarray) -> bool:
        for i in range(len(p) - 1):
            d1, d2 = p[i + 1] - p[i], q[1:] - q[:-1]
            r = q[:-1] - p[i]
            den = d1[0] * d2[:, 1] - d1[1] * d2[:, 0]
            ok = np.abs(den) > 1e-12
            s = np.where(ok, (r[:, 0] * d2[:, 1] - r[:, 1] * d2[:, 0]) / np.where(ok, den, 1), -1)
            u = np.where(ok, (r[:, 0] * d1[1] - r[:, 1] * d1[0]) / np.where(ok, den, 1), -1)
            if np.any(ok & (s >= 0) & (s <= 1) & (u >= 0) & (u <= 1)):
                return True
        return False

    assert crosses(a, b)
    assert np.linalg.norm(a - b, axis=-1).min() > 0.5


def test_capsules_follow_the_joints(sim: PeopleSim, track: np.ndarray) -> None:
    a, b, r = body_capsules(track[100])
    assert a.shape == b.shape == (3, len(CAPSULE_NAMES), 3)
    np.testing.assert_allclose(r, sim.capsule_radii_m)
    np.testing.assert_allclose(capsule_radii_m(sim.heights_m), sim.capsule_radii_m)
    assert np.all(r > 0.02) and np.all(r < 0.2)
