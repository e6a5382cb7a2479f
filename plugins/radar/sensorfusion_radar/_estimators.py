"""The radar estimators: ``radar.process``, ``radar.cluster``, ``radar.track``, ``radar.pose``
and ``radar.fuse`` (see the distribution README for every param and stream)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sensorfusion import ConfigError, Estimator, FieldSpec, FrameKind, FrameSet, StageContext, StreamSpec
from sensorfusion.schema import RadarModel, Transform

from ._chain import ChainConfig, RadarChain
from ._cluster import cluster_people
from ._fuse import RadarCameraFuser
from ._track import KalmanTracker

__all__ = [
    "ClusterParams",
    "FuseParams",
    "PoseParams",
    "ProcessParams",
    "RadarCluster",
    "RadarFuse",
    "RadarPose",
    "RadarProcess",
    "RadarTrack",
    "TrackParams",
    "points_in_world",
]

_POINT_FIELDS = {k: FieldSpec(dtype="float32") for k in ("x", "y", "z", "velocity", "snr")}


def _world_from(context: StageContext, sensor: str) -> Transform:
    cal = context.calibration.sensors.get(sensor)
    return cal.world_from_sensor if cal is not None else Transform()


def points_in_world(data: Mapping[str, np.ndarray], world_from_sensor: Transform) -> np.ndarray:
    """``(N, 5)`` ``x, y, z, velocity, snr`` with positions moved to the world frame. Accepts
    the point fields of ``radar.process`` / ``sim.rig`` (``x, y, z, velocity, snr``) and of
    ``ti_mmwave.uart`` (``xyz_m (3,), velocity_m_per_s, snr_db``; NaN SNR counts as 0 dB)."""
    if "xyz_m" in data:
        xyz = np.asarray(data["xyz_m"], dtype=np.float64).reshape(-1, 3)
        vel = np.asarray(data["velocity_m_per_s"], dtype=np.float64)
        snr = np.nan_to_num(np.asarray(data["snr_db"], dtype=np.float64))
    else:
        xyz = np.column_stack([data["x"], data["y"], data["z"]]).astype(np.float64)
        vel = np.asarray(data["velocity"], dtype=np.float64)
        snr = np.asarray(data["snr"], dtype=np.float64)
    xyz = world_from_sensor.apply(xyz) if xyz.size else xyz.reshape(0, 3)
    out: np.ndarray = np.column_stack([xyz, vel, snr])
    return out


def _check_point_fields(context: StageContext, specs: list[StreamSpec], param: str) -> None:
    for s in specs:
        if {"xyz_m", "velocity_m_per_s", "snr_db"} <= set(s.fields):
            continue
        missing = {"x", "y", "z", "velocity", "snr"} - set(s.fields)
        if missing:
            raise ConfigError(
                f"point cloud stream {s.name} lacks fields {sorted(missing)} (or xyz_m, velocity_m_per_s, snr_db)",
                field_path=context.param_path(param),
                value=s.name,
            )


# -- radar.process ---------------------------------------------------------------------------


class ProcessParams(ChainConfig):
    """Params of ``radar.process``: the chain settings plus where the radar model comes from."""

    output_channel: str = Field(
        default="cloud", pattern=r"^[A-Za-z0-9_.\-]+$", description="channel of the output point cloud"
    )
    cfg: str | None = Field(default=None, description="TI .cfg file giving the radar model (else the rig calibration)")


class RadarProcess(Estimator):
    """ADC cube streams ``<radar>/<adc>`` -> point clouds ``<radar>/<output_channel>``."""

    name = "radar.process"
    Params = ProcessParams
    input_kinds = (FrameKind.RADAR_ADC_CUBE,)

    def __init__(self, params: BaseModel, context: StageContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, ProcessParams)
        self.p = params
        self.chains: dict[str, tuple[str, RadarChain]] = {}
        cfg_model = self._model_from_cfg(params.cfg) if params.cfg else None
        for s in context.inputs_of_kind(FrameKind.RADAR_ADC_CUBE):
            model = cfg_model or self._model_from_calibration(s.sensor)
            field = next((k for k, f in s.fields.items() if np.dtype(f.dtype).kind == "c"), None)
            if field is None:
                raise ConfigError(
                    f"stream {s.name} has no complex field", field_path=context.param_path("inputs"), value=s.name
                )
            self.chains[s.name] = (
                field,
                RadarChain(model, ChainConfig(**params.model_dump(exclude={"output_channel", "cfg"}))),
            )
        self._frames = 0
        self._points = 0

    def _model_from_cfg(self, path: str) -> RadarModel:
        try:
            from sensorfusion_ti_mmwave._cfg import parse_cfg  # type: ignore[import-not-found,unused-ignore]
        except ImportError as exc:
            raise ConfigError(
                "reading a .cfg needs the ti-mmwave driver (pip install sensorfusion-ti-mmwave)",
                field_path=self.context.param_path("cfg"),
                value=path,
            ) from exc
        try:
            with open(path, encoding="utf-8") as fh:
                model, _ = parse_cfg(fh.read())
        except OSError as exc:
            raise ConfigError(f"cannot read: {exc}", field_path=self.context.param_path("cfg"), value=path) from exc
        return model  # type: ignore[no-any-return,unused-ignore]

    def _model_from_calibration(self, sensor: str) -> RadarModel:
        cal = self.context.calibration.sensors.get(sensor)
        if cal is None or cal.radar is None:
            raise ConfigError(
                "no radar model for this sensor: give calibration.sensors.<id>.radar or the cfg param",
                field_path=f"calibration.sensors.{sensor}.radar",
                choices=sorted(k for k, v in self.context.calibration.sensors.items() if v.radar is not None),
            )
        return cal.radar

    def outputs(self) -> list[StreamSpec]:
        return [
            StreamSpec(
                name=f"{name.split('/')[0]}/{self.p.output_channel}",
                kind=FrameKind.POINT_CLOUD,
                fields=dict(_POINT_FIELDS),
                ragged=True,
                attrs={
                    "frame": name.split("/")[0],
                    "units": {"x": "m", "y": "m", "z": "m", "velocity": "m/s", "snr": "dB"},
                },
            )
            for name in self.chains
        ]

    def process(self, frameset: FrameSet) -> Mapping[str, Mapping[str, np.ndarray]]:
        out: dict[str, Mapping[str, np.ndarray]] = {}
        for name, (field, chain) in self.chains.items():
            f = frameset.get(name)
            if f is None:
                continue
            pts = chain.process(np.asarray(f[field]))
            out[f"{name.split('/')[0]}/{self.p.output_channel}"] = pts
            self._frames += 1
            self._points += int(pts["x"].shape[0])
        return out

    def summary(self) -> dict[str, Any]:
        return {"frames": self._frames, "mean_points": self._points / max(self._frames, 1)}


# -- radar.cluster ---------------------------------------------------------------------------


class ClusterParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    eps_m: float = Field(default=0.4, gt=0, description="DBSCAN neighbourhood radius (metres)")
    min_points: int = Field(default=4, ge=1, description="DBSCAN core point count")
    z_weight: float = Field(default=0.25, ge=0, description="scale of height in the clustering distance")
    min_snr_db: float = Field(default=-1e9, description="drop weaker points first")
    max_speed_m_per_s: float | None = Field(default=None, gt=0, description="drop faster points (multipath ghosts)")
    static_points: bool = Field(default=True, description="keep zero-velocity points")


class RadarCluster(Estimator):
    """Point clouds of one or more radars (in the world frame through the calibration) ->
    person candidates ``<stage>/people``."""

    name = "radar.cluster"
    Params = ClusterParams
    input_kinds = (FrameKind.POINT_CLOUD,)

    def __init__(self, params: BaseModel, context: StageContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, ClusterParams)
        self.p = params
        self.inputs = context.inputs_of_kind(FrameKind.POINT_CLOUD)
        _check_point_fields(context, self.inputs, "inputs")
        self.world = {s.name: _world_from(context, s.sensor) for s in self.inputs}
        self.out_name = f"{context.stage_id}/people"
        self._people = 0
        self._frames = 0

    def outputs(self) -> list[StreamSpec]:
        return [
            StreamSpec(
                name=self.out_name,
                kind=FrameKind.BOXES,
                ragged=True,
                fields={
                    "center_m": FieldSpec(dtype="float32", shape=(3,)),
                    "size_m": FieldSpec(dtype="float32", shape=(3,)),
                    "num_points": FieldSpec(dtype="int64"),
                    "velocity_m_per_s": FieldSpec(dtype="float32"),
                },
                attrs={"frame": "world", "velocity": "mean radial velocity of the points"},
            )
        ]

    def world_points(self, frameset: FrameSet) -> np.ndarray | None:
        parts = [
            points_in_world(f.data, self.world[s.name]) for s in self.inputs if (f := frameset.get(s.name)) is not None
        ]
        if not parts:
            return None
        pts = np.concatenate(parts)
        keep = np.nan_to_num(pts[:, 4], nan=-np.inf) >= self.p.min_snr_db
        if self.p.max_speed_m_per_s is not None:
            keep &= np.abs(pts[:, 3]) <= self.p.max_speed_m_per_s
        if not self.p.static_points:
            keep &= pts[:, 3] != 0
        out: np.ndarray = pts[keep]
        return out

    def process(self, frameset: FrameSet) -> Mapping[str, Mapping[str, np.ndarray]]:
        pts = self.world_points(frameset)
        if pts is None:
            return {}
        c = cluster_people(
            pts[:, :3], pts[:, 3], pts[:, 4], eps_m=self.p.eps_m, min_points=self.p.min_points, z_weight=self.p.z_weight
        )
        self._frames += 1
        self._people += c.center_m.shape[0]
        return {
            self.out_name: {
                "center_m": c.center_m.astype(np.float32),
                "size_m": c.size_m.astype(np.float32),
                "num_points": c.num_points,
                "velocity_m_per_s": c.velocity_m_per_s.astype(np.float32),
            }
        }

    def summary(self) -> dict[str, Any]:
        return {"frames": self._frames, "mean_people": self._people / max(self._frames, 1)}


# -- radar.track -----------------------------------------------------------------------------


class TrackParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    process_accel_m_per_s2: float = Field(default=2.0, gt=0, description="white-acceleration process noise")
    measurement_std_m: float = Field(default=0.15, gt=0, description="cluster centre noise (std)")
    max_gate_m: float = Field(default=1.0, gt=0, description="never associate farther than this")
    confirm_hits: int = Field(default=3, ge=1, description="hits before a track is reported")
    max_misses: int = Field(default=10, ge=0, description="missed frames before a track dies")


class RadarTrack(Estimator):
    """Person candidates (a ``BOXES`` stream with ``center_m``) -> ``<stage>/tracks``."""

    name = "radar.track"
    Params = TrackParams
    input_kinds = (FrameKind.BOXES,)

    def __init__(self, params: BaseModel, context: StageContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, TrackParams)
        self.inputs = [s for s in context.inputs_of_kind(FrameKind.BOXES)]
        for s in self.inputs:
            if "center_m" not in s.fields:
                raise ConfigError(
                    f"stream {s.name} has no center_m field", field_path=context.param_path("inputs"), value=s.name
                )
        self.tracker = KalmanTracker(
            process_accel_m_per_s2=params.process_accel_m_per_s2,
            measurement_std_m=params.measurement_std_m,
            max_gate_m=params.max_gate_m,
            confirm_hits=params.confirm_hits,
            max_misses=params.max_misses,
        )
        self.out_name = f"{context.stage_id}/tracks"

    def outputs(self) -> list[StreamSpec]:
        return [
            StreamSpec(
                name=self.out_name,
                kind=FrameKind.BOXES,
                ragged=True,
                fields={
                    "position_m": FieldSpec(dtype="float32", shape=(3,)),
                    "velocity_m_per_s": FieldSpec(dtype="float32", shape=(3,)),
                    "track_id": FieldSpec(dtype="int64"),
                    "hits": FieldSpec(dtype="int64"),
                },
                attrs={"frame": "world"},
            )
        ]

    def process(self, frameset: FrameSet) -> Mapping[str, Mapping[str, np.ndarray]]:
        frames = [f for s in self.inputs if (f := frameset.get(s.name)) is not None]
        if not frames:
            return {}
        det = np.concatenate([np.asarray(f["center_m"], dtype=np.float64).reshape(-1, 3) for f in frames])
        tracks = self.tracker.step(frameset.t_ref_ns * 1e-9, det)
        return {
            self.out_name: {
                "position_m": np.array([t.position_m for t in tracks], dtype=np.float32).reshape(-1, 3),
                "velocity_m_per_s": np.array([t.velocity_m_per_s for t in tracks], dtype=np.float32).reshape(-1, 3),
                "track_id": np.array([t.track_id for t in tracks], dtype=np.int64),
                "hits": np.array([t.hits for t in tracks], dtype=np.int64),
            }
        }

    def summary(self) -> dict[str, Any]:
        return {"tracks_started": self.tracker.next_id}


# -- radar.pose ------------------------------------------------------------------------------


class PoseParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    weights: str = Field(description="checkpoint written by sensorfusion_radar.train")
    eps_m: float = Field(default=0.4, gt=0, description="DBSCAN radius that splits the points into people")
    min_points: int = Field(default=4, ge=1, description="fewest points of a person")
    frame: Literal["world", "sensor"] = Field(
        default="world", description="the frame the model was trained in: world (sim, sessions) or sensor (MARS)"
    )
    history_gate_m: float = Field(
        default=0.5,
        gt=0,
        description="multi-frame models: a person's cluster continues the previous frame's nearest cluster "
        "(floor plane) within this distance, when no radar.track id links them",
    )


class RadarPose(Estimator):
    """Point clouds -> skeletons ``<stage>/skeleton3d`` (world frame) with the learned model;
    ``person_id`` is the id of the nearest track when a ``radar.track`` output is an input.

    Multi-frame models (checkpoint ``frames > 1``) get each person's points of the previous
    ``frames - 1`` frames too (causal): the estimator keeps a per-person history of clouds,
    linking this frame's DBSCAN clusters to the previous frame's by radar track id when both
    have one, else by the nearest centroid on the floor plane (within ``history_gate_m``,
    one-to-one). A person not seen in a frame loses its history, as in training."""

    name = "radar.pose"
    Params = PoseParams
    input_kinds = (FrameKind.POINT_CLOUD, FrameKind.BOXES)

    def __init__(self, params: BaseModel, context: StageContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, PoseParams)
        from ._pose import load_pose_model

        self.p = params
        self.model = load_pose_model(params.weights, field_path=context.param_path("weights"))
        self.skeleton = context.skeletons.get(self.model.skeleton, field_path=context.param_path("weights"))
        self.clouds = context.inputs_of_kind(FrameKind.POINT_CLOUD)
        _check_point_fields(context, self.clouds, "inputs")
        self.tracks = [s for s in context.inputs_of_kind(FrameKind.BOXES) if "track_id" in s.fields]
        self.world = {s.name: _world_from(context, s.sensor) for s in self.clouds}
        self.out_name = f"{context.stage_id}/skeleton3d"
        # previous frame's people: centroid (3,), track id (-1 none), clouds newest first
        self._prev: list[tuple[np.ndarray, int, list[np.ndarray]]] = []
        self._linked = 0
        self._people = 0

    def outputs(self) -> list[StreamSpec]:
        return [
            StreamSpec(
                name=self.out_name,
                kind=FrameKind.SKELETON3D,
                ragged=True,
                skeleton=self.skeleton.name,
                fields={
                    "joints": FieldSpec(dtype="float32", shape=(self.skeleton.num_joints, 3)),
                    "person_id": FieldSpec(dtype="int64"),
                },
                attrs={"frame": "world", "units": "m"},
            )
        ]

    def _histories(self, centers: np.ndarray, ids: np.ndarray) -> list[list[np.ndarray]]:
        """Each current cluster's previous clouds (newest first): the previous frame's person
        with the same track id, else the nearest unclaimed one within the gate."""
        hist: list[list[np.ndarray]] = [[] for _ in range(centers.shape[0])]
        if self.model.frames <= 1 or not self._prev:
            return hist
        free = list(range(len(self._prev)))
        for k in range(centers.shape[0]):
            if ids[k] < 0:
                continue
            j = next((j for j in free if self._prev[j][1] == ids[k]), None)
            if j is not None:
                hist[k] = self._prev[j][2]
                free.remove(j)
        rest = [k for k in range(centers.shape[0]) if not hist[k]]
        if rest and free:
            from scipy.optimize import linear_sum_assignment

            pc = np.stack([self._prev[j][0] for j in free])
            d = np.hypot(centers[rest, None, 0] - pc[None, :, 0], centers[rest, None, 1] - pc[None, :, 1])
            for r, c in zip(*linear_sum_assignment(d), strict=True):
                if d[r, c] <= self.p.history_gate_m:
                    hist[rest[r]] = self._prev[free[c]][2]
        return hist

    def process(self, frameset: FrameSet) -> Mapping[str, Mapping[str, np.ndarray]]:
        parts = []
        for s in self.clouds:
            f = frameset.get(s.name)
            if f is None:
                continue
            pts = points_in_world(f.data, self.world[s.name] if self.p.frame == "world" else Transform())
            parts.append(pts)
        if not parts:
            return {}
        pts = np.concatenate(parts).astype(np.float64)
        c = cluster_people(pts[:, :3], pts[:, 3], pts[:, 4], eps_m=self.p.eps_m, min_points=self.p.min_points)
        clouds = [pts[c.labels == k] for k in range(c.center_m.shape[0])]
        ids = np.full(len(clouds), -1, dtype=np.int64)
        tf = next((frameset.get(s.name) for s in self.tracks if frameset.get(s.name) is not None), None)
        if tf is not None and len(clouds) and len(tf["track_id"]):
            tp = np.asarray(tf["position_m"], dtype=np.float64)
            for k in range(len(clouds)):
                d = np.hypot(tp[:, 0] - c.center_m[k, 0], tp[:, 1] - c.center_m[k, 1])
                if d.min() < 0.7:
                    ids[k] = int(tf["track_id"][int(np.argmin(d))])
        hist = self._histories(c.center_m, ids)
        joints = self.model.predict(clouds, hist) if clouds else np.zeros((0, self.skeleton.num_joints, 3))
        keep = self.model.frames - 1
        self._linked += sum(1 for h in hist if h)
        self._people += len(clouds)
        self._prev = [(c.center_m[k].copy(), int(ids[k]), [clouds[k], *hist[k]][:keep]) for k in range(len(clouds))]
        return {
            self.out_name: {
                "joints": joints.astype(np.float32).reshape(-1, self.skeleton.num_joints, 3),
                "person_id": ids,
            }
        }

    def summary(self) -> dict[str, Any]:
        return {"frames_of_context": self.model.frames, "people": self._people, "with_history": self._linked}


# -- radar.fuse ------------------------------------------------------------------------------


class FuseParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_distance_m: float = Field(default=0.7, gt=0, description="association gate on the floor plane")
    max_dropout_s: float = Field(
        default=10.0, ge=0, description="how long a radar-only person keeps its last camera shape"
    )
    camera_id_base: int = Field(default=1_000_000, ge=0, description="ids of camera-only people start here")


class RadarFuse(Estimator):
    """Radar tracks (``radar.track`` output) + camera skeletons (``*/skeleton3d``) ->
    ``<stage>/skeleton3d`` with radar track ids; people stay through a camera dropout."""

    name = "radar.fuse"
    Params = FuseParams
    input_kinds = (FrameKind.BOXES, FrameKind.SKELETON3D)

    def __init__(self, params: BaseModel, context: StageContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, FuseParams)
        tracks = [
            s for s in context.inputs_of_kind(FrameKind.BOXES) if "track_id" in s.fields and "position_m" in s.fields
        ]
        skels = context.inputs_of_kind(FrameKind.SKELETON3D)
        if len(tracks) != 1 or len(skels) != 1:
            raise ConfigError(
                "radar.fuse needs exactly one radar track stream (radar.track output) and one camera skeleton3d stream",
                field_path=context.param_path("inputs").replace(".params.inputs", ".inputs"),
                value=[s.name for s in context.inputs],
            )
        self.track_stream, self.skel_stream = tracks[0], skels[0]
        self.skeleton = context.skeletons.get(self.skel_stream.skeleton or "coco17")
        self.fuser = RadarCameraFuser(
            self.skeleton.num_joints,
            max_distance_m=params.max_distance_m,
            max_dropout_s=params.max_dropout_s,
            camera_id_base=params.camera_id_base,
        )
        self.out_name = f"{context.stage_id}/skeleton3d"

    def outputs(self) -> list[StreamSpec]:
        return [
            StreamSpec(
                name=self.out_name,
                kind=FrameKind.SKELETON3D,
                ragged=True,
                skeleton=self.skeleton.name,
                fields={
                    "joints": FieldSpec(dtype="float32", shape=(self.skeleton.num_joints, 3)),
                    "person_id": FieldSpec(dtype="int64"),
                    "source": FieldSpec(dtype="int8"),
                },
                attrs={
                    "frame": "world",
                    "units": "m",
                    "source": {"0": "camera+radar", "1": "radar only", "2": "camera only"},
                },
            )
        ]

    def process(self, frameset: FrameSet) -> Mapping[str, Mapping[str, np.ndarray]]:
        tf = frameset.get(self.track_stream.name)
        sf = frameset.get(self.skel_stream.name)
        if tf is None and sf is None:
            return {}
        fused = self.fuser.step(
            frameset.t_ref_ns * 1e-9,
            np.zeros((0, 3)) if tf is None else tf["position_m"],
            np.zeros(0, dtype=np.int64) if tf is None else tf["track_id"],
            None if sf is None else sf["joints"],
            None if sf is None else sf["person_id"],
        )
        return {
            self.out_name: {
                "joints": fused.joints.astype(np.float32),
                "person_id": fused.person_id,
                "source": fused.source,
            }
        }

    def summary(self) -> dict[str, Any]:
        f = self.fuser
        return {"fused": f.matched, "radar_only": f.radar_only, "camera_only": f.camera_only}
