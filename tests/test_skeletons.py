"""Built-in skeleton specs and the mappings between them."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import sensorfusion
from sensorfusion.schema._skeletons import (
    BLAZEPOSE33,
    BODY25B,
    COCO17,
    COCO_WHOLEBODY133,
    H36M17,
    KINECT25,
    SMPL24,
    SkeletonRegistry,
    SkeletonSpec,
    builtin_skeletons,
)

EXPECTED = {
    "coco17": 17,
    "body_25b": 25,
    "blazepose33": 33,
    "coco_wholebody133": 133,
    "h36m17": 17,
    "kinect25": 25,
    "smpl24": 24,
}
SPECS = builtin_skeletons()
NAMES = [s.name for s in SPECS]


@pytest.fixture(scope="module")
def reg() -> SkeletonRegistry:
    return SkeletonRegistry(SPECS)


def test_builtins_are_the_module_constants() -> None:
    assert SPECS == [COCO17, BODY25B, BLAZEPOSE33, COCO_WHOLEBODY133, H36M17, KINECT25, SMPL24]
    assert sorted(NAMES) == sorted(EXPECTED)


@pytest.mark.parametrize("spec", SPECS, ids=NAMES)
def test_joint_count_and_unique_names(spec: SkeletonSpec) -> None:
    assert spec.num_joints == EXPECTED[spec.name]
    assert len(set(spec.joints)) == spec.num_joints
    assert spec.description


@pytest.mark.parametrize("spec", SPECS, ids=NAMES)
def test_parents_form_a_forest(spec: SkeletonSpec) -> None:
    assert len(spec.parents) == spec.num_joints
    assert -1 in spec.parents
    for start in range(spec.num_joints):
        seen = set()
        j = start
        while j != -1:
            assert j not in seen, f"{spec.name}: cycle through {spec.joints[j]}"
            seen.add(j)
            j = spec.parents[j]


@pytest.mark.parametrize("spec", SPECS, ids=NAMES)
def test_edges_in_range_and_distinct(spec: SkeletonSpec) -> None:
    assert spec.edges
    for a, b in spec.edges:
        assert 0 <= a < spec.num_joints and 0 <= b < spec.num_joints and a != b
    assert len({frozenset(e) for e in spec.edges}) == len(spec.edges)


@pytest.mark.parametrize("spec", SPECS, ids=NAMES)
def test_derived_joints_are_affine(spec: SkeletonSpec) -> None:
    # weights summing to one keep conversions independent of the coordinate origin
    for name, terms in spec.derived.items():
        assert name not in spec.joints
        assert sum(w for _, w in terms) == pytest.approx(1.0)


def test_index_orders() -> None:
    assert BLAZEPOSE33.joints[:4] == ("nose", "left_eye_inner", "left_eye", "left_eye_outer")
    assert BLAZEPOSE33.joints[-2:] == ("left_foot_index", "right_foot_index")
    assert BODY25B.joints[:17] == COCO17.joints
    assert BODY25B.joints[17:] == (
        "upper_neck",
        "head_top",
        "left_big_toe",
        "left_small_toe",
        "left_heel",
        "right_big_toe",
        "right_small_toe",
        "right_heel",
    )
    assert H36M17.parents == (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
    assert SMPL24.parents == (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
    assert KINECT25.joints[0] == "spine_base" and KINECT25.joints[20] == "neck"
    wb = COCO_WHOLEBODY133
    assert wb.joints[:23] == BODY25B.joints[:17] + BODY25B.joints[19:]
    assert wb.joints[23] == "face_0" and wb.joints[90] == "face_67"
    assert wb.joints[91] == "left_hand_0" and wb.joints[112] == "right_hand_0"
    assert wb.joints[wb.parents[91]] == "left_wrist"
    assert [wb.joints[wb.parents[wb.index(f"left_hand_{i}")]] for i in (1, 5, 8)] == [
        "left_hand_0",
        "left_hand_0",
        "left_hand_7",
    ]
    assert wb.joints[wb.parents[wb.index("face_30")]] == "nose"


@pytest.mark.parametrize(("src", "dst"), list(itertools.product(NAMES, NAMES)))
def test_every_spec_maps_to_every_other(reg: SkeletonRegistry, src: str, dst: str) -> None:
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(2, EXPECTED[src], 3))
    out = reg.convert(pts, src, dst)
    assert out.shape == (2, EXPECTED[dst], 3)
    mapped = ~np.isnan(out).any(axis=(0, 2))
    assert mapped.sum() >= 8  # at least the limbs
    m = reg.mapping(src, dst)
    assert m.shape == (EXPECTED[dst], EXPECTED[src])
    if src == dst:
        np.testing.assert_array_equal(out, pts)


def test_coco_body25b_round_trip_is_exact(reg: SkeletonRegistry) -> None:
    pts = np.random.default_rng(1).normal(size=(5, 17, 2))
    there = reg.convert(pts, "coco17", "body_25b")
    assert np.isnan(there[:, 17:19]).all()  # upper_neck and head_top cannot be made from COCO
    back = reg.convert(there, "body_25b", "coco17")
    np.testing.assert_array_equal(back, pts)
    pairs = reg.shared_joints("coco17", "body_25b")
    assert pairs == [(i, i) for i in range(17)]


def test_shared_joints_excludes_derived(reg: SkeletonRegistry) -> None:
    pairs = reg.shared_joints("coco17", "h36m17")
    names = {COCO17.joints[a] for a, _ in pairs}
    assert "pelvis" not in names and "neck" not in names
    assert names == {
        f"{s}_{j}" for s in ("left", "right") for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
    }
    for a, b in pairs:
        assert COCO17.joints[a] == H36M17.joints[b]
    assert reg.shared_joints("h36m17", "coco17") == [(b, a) for a, b in sorted(pairs, key=lambda p: p[1])]


def test_h36m_pelvis_is_the_coco_hip_midpoint(reg: SkeletonRegistry) -> None:
    pts = np.random.default_rng(2).normal(size=(3, 17, 3))
    out = reg.convert(pts, "coco17", "h36m17")
    lh, rh = COCO17.index("left_hip"), COCO17.index("right_hip")
    np.testing.assert_allclose(out[:, H36M17.index("pelvis")], (pts[:, lh] + pts[:, rh]) / 2)
    ls, rs = COCO17.index("left_shoulder"), COCO17.index("right_shoulder")
    np.testing.assert_allclose(out[:, H36M17.index("neck")], (pts[:, ls] + pts[:, rs]) / 2)
    np.testing.assert_array_equal(out[:, H36M17.index("left_knee")], pts[:, COCO17.index("left_knee")])
    for unmapped in ("spine", "neck_nose", "head_top"):
        assert np.isnan(out[:, H36M17.index(unmapped)]).all()


def test_nan_propagation_is_local(reg: SkeletonRegistry) -> None:
    pts = np.random.default_rng(3).normal(size=(17, 3))
    pts[COCO17.index("left_wrist")] = np.nan
    out = reg.convert(pts, "coco17", "coco_wholebody133")
    nan_rows = {COCO_WHOLEBODY133.joints[i] for i in np.flatnonzero(np.isnan(out).any(axis=-1))}
    expected = {"left_wrist", *COCO_WHOLEBODY133.joints[17:]}  # the wrist, and the feet/face/hands COCO lacks
    assert nan_rows == expected
    # derived joints that do not use the wrist stay finite
    h36m = reg.convert(pts, "coco17", "h36m17")
    assert np.isfinite(h36m[H36M17.index("pelvis")]).all()
    assert np.isnan(h36m[H36M17.index("left_wrist")]).all()
    assert np.isfinite(h36m[H36M17.index("right_wrist")]).all()


def test_nan_in_one_coordinate_stays_in_that_coordinate(reg: SkeletonRegistry) -> None:
    pts = np.ones((17, 3))
    pts[COCO17.index("left_hip"), 1] = np.nan
    out = reg.convert(pts, "coco17", "smpl24")
    pelvis = out[SMPL24.index("pelvis")]
    assert np.isnan(pelvis[1]) and np.isfinite(pelvis[[0, 2]]).all()


def test_blazepose_feet_and_face_corners(reg: SkeletonRegistry) -> None:
    pts = np.random.default_rng(4).normal(size=(33, 2))
    out = reg.convert(pts, "blazepose33", "coco_wholebody133")
    wb, bp = COCO_WHOLEBODY133, BLAZEPOSE33
    np.testing.assert_array_equal(out[wb.index("left_big_toe")], pts[bp.index("left_foot_index")])
    np.testing.assert_array_equal(out[wb.index("left_heel")], pts[bp.index("left_heel")])
    assert np.isnan(out[wb.index("left_small_toe")]).all()
    np.testing.assert_array_equal(out[wb.index("face_54")], pts[bp.index("mouth_left")])
    np.testing.assert_array_equal(out[wb.index("face_36")], pts[bp.index("right_eye_outer")])
    back = reg.convert(out, "coco_wholebody133", "blazepose33")
    kept = ~np.isnan(back).any(axis=-1)
    np.testing.assert_array_equal(back[kept], pts[kept])
    assert {bp.joints[i] for i in np.flatnonzero(~kept)} == {
        f"{s}_{k}_knuckle" for s in ("left", "right") for k in ("pinky", "index", "thumb")
    }


def test_unknown_skeleton_lists_choices(reg: SkeletonRegistry) -> None:
    with pytest.raises(sensorfusion.ConfigError) as exc:
        reg.convert(np.zeros((17, 2)), "coco17", "nope")
    message = str(exc.value)
    assert "nope" in message
    for name in NAMES:
        assert name in message
    assert exc.value.choices == sorted(NAMES)


def test_register_conflict_raises_schema_error(reg: SkeletonRegistry) -> None:
    reg.register(COCO17)  # the same definition again is fine
    other = COCO17.model_copy(update={"description": "something else"})
    with pytest.raises(sensorfusion.SchemaError):
        SkeletonRegistry(SPECS).register(other)


def test_spec_rejects_derived_shadowing_a_joint() -> None:
    with pytest.raises(ValueError, match="already a joint"):
        SkeletonSpec(name="x", joints=("a", "b"), parents=(-1, 0), derived={"a": (("b", 1.0),)})


@st.composite
def _pair_and_points(draw: st.DrawFn) -> tuple[str, str, np.ndarray]:
    src = draw(st.sampled_from(NAMES))
    dst = draw(st.sampled_from(NAMES))
    lead = draw(st.integers(0, 2))
    shape = (*((2,) * lead), EXPECTED[src], draw(st.integers(1, 3)))
    pts = draw(arrays(np.float64, shape, elements=st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)))
    return src, dst, pts


@settings(max_examples=60, deadline=None)
@given(_pair_and_points())
def test_convert_applies_the_weight_matrix(case: tuple[str, str, np.ndarray]) -> None:
    src, dst, pts = case
    reg = SkeletonRegistry(SPECS)
    m = reg.mapping(src, dst)
    expected = np.einsum("ds,...sc->...dc", np.nan_to_num(m), pts)
    expected[..., np.isnan(m).all(axis=1), :] = np.nan
    np.testing.assert_allclose(reg.convert(pts, src, dst), expected, rtol=1e-12, atol=1e-9)
