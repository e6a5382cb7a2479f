"""Shared fixtures: a small synthetic session with every kind the viewers draw (known values), its
``.rrd`` and MCAP exports, and a readback helper for ``.rrd`` files (Rerun's own reader)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sensorfusion import FieldSpec, Frame, FrameKind, RigCalibration, StreamSpec
from sensorfusion.schema import builtin_skeletons, device_pose_spec, person_values_spec
from sensorfusion.store import SessionWriter

T0_NS = 2_000_000_000  # sensor time of the first frame: a duration clock (not Unix time)
DT_NS = 33_333_333
N_FRAMES = 5
COCO17 = next(s for s in builtin_skeletons() if s.name == "coco17")


def _rot_z(a: float) -> list[list[float]]:
    c, s = math.cos(a), math.sin(a)
    return [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]


def _cam_looking_along_x() -> list[list[float]]:
    # OpenCV camera axes (x right, y down, z forward) in a z-up world, looking along world +x
    return [[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]


CALIBRATION = RigCalibration.model_validate(
    {
        "sensors": {
            "cam0": {
                "camera": {"model": "pinhole", "width": 320, "height": 240, "fx": 300.0, "fy": 310.0,
                           "cx": 160.5, "cy": 119.5, "k1": -0.1, "k2": 0.01},
                "world_from_sensor": {"rotation": _cam_looking_along_x(), "translation_m": [-3.0, 0.5, 1.5]},
            },
            "radar0": {"world_from_sensor": {"rotation": _rot_z(0.3), "translation_m": [0.0, -2.0, 1.0]}},
            "hcam": {
                "camera": {"model": "kannala_brandt", "width": 64, "height": 48, "fx": 40.0, "fy": 40.0,
                           "cx": 32.0, "cy": 24.0, "k1": 0.05, "k2": 0.0, "k3": 0.0, "k4": 0.0},
                "mount": {"device": "hs", "device_from_sensor": {"rotation": _rot_z(-0.2), "translation_m": [0.05, 0.0, 0.1]}},
            },
        }
    }
)  # fmt: skip


def t_ns(i: int) -> int:
    return T0_NS + i * DT_NS


def skeleton(i: int, person: int) -> np.ndarray:
    """``(17, 3)`` joints of a person at frame ``i``: a column of joints drifting along +x."""
    j = np.arange(17, dtype=np.float32)
    return np.stack([0.1 * i + person + 0.01 * j, np.full(17, 0.5 * person), 1.7 - 0.09 * j], axis=-1).astype(
        np.float32
    )


@dataclass(frozen=True)
class Synthetic:
    path: Path
    skeletons: dict[int, dict[int, np.ndarray]]  # frame -> person id -> (17, 3) joints (NaN: missing)
    images: list[np.ndarray]
    depth: list[np.ndarray]
    keypoints: list[np.ndarray]  # (P, 17, 3)
    keypoint_ids: list[np.ndarray]
    cloud: list[np.ndarray]  # (N, 3) radar0 frame
    tracks: list[tuple[np.ndarray, np.ndarray, np.ndarray]]  # (position, velocity, id)
    poses: list[np.ndarray]  # world_from_device


def _specs() -> dict[str, tuple[StreamSpec, str | None]]:
    kp = {"keypoints": FieldSpec(dtype="float32", shape=(17, 3)), "person_id": FieldSpec(dtype="int64")}
    sk = {"joints": FieldSpec(dtype="float32", shape=(17, 3)), "person_id": FieldSpec(dtype="int64")}
    return {
        "image": (StreamSpec(name="cam0/image", kind=FrameKind.IMAGE, fields={"image": FieldSpec(dtype="uint8", shape=(240, 320, 3))}, attrs={"color_order": "rgb"}), None),
        "depth": (StreamSpec(name="cam0/depth", kind=FrameKind.DEPTH, fields={"depth": FieldSpec(dtype="uint16", shape=(240, 320))}, attrs={"depth_scale_m": 0.001}), None),
        "kp": (StreamSpec(name="cam0/keypoints2d", kind=FrameKind.KEYPOINTS2D, fields=kp, ragged=True, skeleton="coco17"), "det"),
        "sk": (StreamSpec(name="fusion/skeleton3d", kind=FrameKind.SKELETON3D, fields=sk, ragged=True, skeleton="coco17"), "fusion"),
        "backfill": (StreamSpec(name="fusion/backfill", kind=FrameKind.SKELETON3D, fields=sk, ragged=True, skeleton="coco17", attrs={"backfill_of": "fusion/skeleton3d"}), "fusion"),
        "cloud": (StreamSpec(name="radar0/cloud", kind=FrameKind.POINT_CLOUD, ragged=True, attrs={"frame": "radar0"},
                             fields={k: FieldSpec(dtype="float32") for k in ("x", "y", "z", "velocity")}), "radar"),
        "tracks": (StreamSpec(name="tracks/tracks", kind=FrameKind.BOXES, ragged=True, attrs={"frame": "world"},
                              fields={"position_m": FieldSpec(dtype="float32", shape=(3,)), "velocity_m_per_s": FieldSpec(dtype="float32", shape=(3,)),
                                      "track_id": FieldSpec(dtype="int64"), "hits": FieldSpec(dtype="int64")}), "tracks"),
        "people": (StreamSpec(name="people/people", kind=FrameKind.BOXES, ragged=True, attrs={"frame": "world"},
                              fields={"center_m": FieldSpec(dtype="float32", shape=(3,)), "size_m": FieldSpec(dtype="float32", shape=(3,))}), "people"),
        "pose": (device_pose_spec("hs", rate_hz=30.0), None),
        "height": (person_values_spec("fusion/height", {"height_m": FieldSpec(dtype="float32")}), "fusion"),
    }  # fmt: skip


def make_session(path: Path) -> Synthetic:
    specs = _specs()
    w = SessionWriter(path, rig={"name": "viewer-test"}, calibration=CALIBRATION)
    for spec, stage in specs.values():
        w.add_stream(spec, stage=stage)
    rng = np.random.default_rng(5)
    skel: dict[int, dict[int, np.ndarray]] = {}
    images, depth, kps, kp_ids, clouds, tracks, poses = [], [], [], [], [], [], []
    for i in range(N_FRAMES):
        t = t_ns(i)

        def put(key: str, data: dict[str, np.ndarray], t: int = t, i: int = i) -> None:
            spec, stage = specs[key]
            w.write(Frame(spec.name, t, t, i, data), stage=stage)

        img = rng.integers(0, 255, size=(240, 320, 3), dtype=np.uint8)
        images.append(img)
        put("image", {"image": img})
        dep = np.full((240, 320), 1000 + 10 * i, np.uint16)
        depth.append(dep)
        put("depth", {"depth": dep})
        # people 3 and 7 (7 leaves after frame 2); a missing joint (NaN) on person 3
        people = {3: skeleton(i, 3)} | ({7: skeleton(i, 7)} if i <= 2 else {})
        people[3][4] = np.nan
        skel[i] = people
        ids = np.array(sorted(people), np.int64)
        put("sk", {"joints": np.stack([people[p] for p in ids]), "person_id": ids})
        put("backfill", {"joints": np.stack([people[p] for p in ids]), "person_id": ids})
        kp = np.concatenate([rng.uniform(0, 300, size=(2, 17, 2)), np.full((2, 17, 1), 0.9)], axis=-1).astype(
            np.float32
        )
        kp[1, 0, 2] = 0.0  # an undetected joint
        kps.append(kp)
        kp_ids.append(np.array([3, -1], np.int64))  # one associated, one not
        put("kp", {"keypoints": kp, "person_id": kp_ids[-1]})
        n = 4 + i
        cloud = rng.uniform(-1, 1, size=(n, 3)).astype(np.float32)
        clouds.append(cloud)
        put("cloud", {"x": cloud[:, 0], "y": cloud[:, 1], "z": cloud[:, 2], "velocity": np.zeros(n, np.float32)})
        pos = np.array([[0.1 * i, 1.0, 1.0], [2.0, -1.0, 1.0]], np.float32)
        vel = np.array([[3.0, 0.0, 0.0], [0.0, -1.0, 0.0]], np.float32)
        tid = np.array([11, 12], np.int64)
        tracks.append((pos, vel, tid))
        put("tracks", {"position_m": pos, "velocity_m_per_s": vel, "track_id": tid, "hits": np.array([5, 6], np.int64)})
        put("people", {"center_m": pos, "size_m": np.full((2, 3), 0.5, np.float32)})
        pose = np.eye(4)
        pose[:3, :3] = np.array(_rot_z(0.1 * i))
        pose[:3, 3] = [0.2 * i, 0.0, 1.6]
        poses.append(pose)
        put("pose", {"world_from_device": pose})
        put("height", {"person_id": ids, "height_m": np.full(len(ids), 1.7, np.float32)})
    w.close({})
    return Synthetic(path, skel, images, depth, kps, kp_ids, clouds, tracks, poses)


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Synthetic:
    return make_session(tmp_path_factory.mktemp("viewers") / "synthetic.zarr")


@pytest.fixture(scope="session")
def synthetic_rrd(synthetic: Synthetic) -> tuple[Path, Any]:
    from sensorfusion_rerun import write_rrd

    out = synthetic.path.with_suffix(".rrd")
    return out, write_rrd(synthetic.path, out, jpeg_quality=None)


@pytest.fixture(scope="session")
def synthetic_mcap(synthetic: Synthetic) -> tuple[Path, Any]:
    from sensorfusion_rerun import write_mcap

    out = synthetic.path.with_suffix(".mcap")
    return out, write_mcap(synthetic.path, out, jpeg_quality=None)


class Rrd:
    """An ``.rrd`` file read back with Rerun's own reader (``rerun.chunk.RrdReader`` and its
    DataFusion query engine, the successor of ``rerun.dataframe``)."""

    def __init__(self, path: Path) -> None:
        import rerun.chunk as rc

        self.store = rc.RrdReader(path).stream().collect()

    def entities(self) -> set[str]:
        return {c.entity_path for c in self.store.stream()}

    def timelines(self) -> set[str]:
        return {t for c in self.store.stream() for t in c.timeline_names}

    def table(self, entity: str, index: str | None = "sensor_time") -> Any:
        return self.store.reader(index=index, contents=entity).to_arrow_table()

    def column(
        self, entity: str, component: str, index: str | None = "sensor_time", *, mono: bool = False
    ) -> tuple[list[Any], list[Any]]:
        """``(index values, component values)`` of the rows where ``component`` was logged (each
        value a batch, a list; ``mono``: the one value of each batch)."""
        t = self.table(entity, index)
        values = t.column(f"{entity}:{component}").to_pylist()
        times = t.column(index).cast("int64").to_pylist() if index is not None else [None] * len(values)
        rows = [(ti, v[0] if mono else v) for ti, v in zip(times, values, strict=True) if v is not None]
        return [r[0] for r in rows], [r[1] for r in rows]


@pytest.fixture(scope="session")
def vd() -> Any:
    """This module (its constants, ``t_ns``, ``Rrd``...): test files are imported in importlib
    mode, where a conftest cannot be imported by name."""
    import sys

    return sys.modules[__name__]
