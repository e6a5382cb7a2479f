"""``egocentric.fuse``: headset wearers' egocentric skeletons fused with the room's cameras.

Per frameset:

1. **Association, identity from the headset.** Each wearer's egocentric skeleton (world frame,
   with per-joint ``sigma_m``) is projected into every room camera through its model; in each
   view the wearers and the 2D detections are paired by the Hungarian method on the median
   pixel distance over the joints both have (gated by ``gate_px``, at least
   ``min_common_joints``). A wearer's identity therefore never moves to a bystander: it is the
   headset's, and a detection joins the wearer only when it sits where the wearer's own body is.
2. **Drift.** Where at least two room views see a wearer's joints, the room's triangulation of
   them against the egocentric skeleton measures the headset's tracking drift (median offset
   over ``drift_min_joints`` or more joints), followed with a time constant of
   ``drift_time_constant_s`` and kept while the room is blind.
3. **Fusion per joint.** Gauss–Newton on the joint's position: the room views' reprojection
   residuals (``noise_px``, any camera model, views farther than ``threshold_px`` after the
   first step dropped) plus the egocentric estimate (corrected for drift) as a Gaussian prior
   of its own ``sigma_m`` (at least ``ego_sigma_floor_m``). Seen by the room, the legs come
   from the room; hidden from the room, the wearer comes from the headset. ``sigma_m`` is the
   posterior spread.
4. **Bystanders.** Detections no wearer took go through the core's multi-person fusion
   (association, robust triangulation, tracking) and are reported with ids from
   ``bystander_id_offset`` up, so they never collide with a wearer's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy.optimize import linear_sum_assignment

from sensorfusion import ConfigError, Estimator, FieldSpec, FrameKind, FrameSet, StageContext, StreamSpec
from sensorfusion.fusion import FusionSettings, PersonFusion, view_model
from sensorfusion.geometry import project_with_jacobian, transform_points

__all__ = ["EgoRoomFusion", "FuseParams"]

_BIG = 1e9


class FuseParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min_confidence: float = Field(
        default=0.3, ge=0, le=1, description="room 2D keypoints at or below this are not used"
    )
    gate_px: float = Field(
        default=60.0, gt=0, description="association: median pixel distance of a wearer's projection"
    )
    min_common_joints: int = Field(
        default=4, ge=1, description="association: joints a wearer and a detection must share"
    )
    ego_min_confidence: float = Field(default=0.0, ge=0, le=1, description="egocentric joints used for association")
    noise_px: float = Field(default=3.0, gt=0, description="room 2D keypoint noise (pixels, 1 sigma)")
    threshold_px: float = Field(
        default=25.0, gt=0, description="a room view farther than this from the fused joint is dropped"
    )
    ego_sigma_floor_m: float = Field(default=0.02, gt=0, description="never trust an egocentric joint more than this")
    ego_sigma_default_m: float = Field(default=0.15, gt=0, description="sigma of an egocentric joint that reports none")
    iterations: int = Field(default=5, ge=1, le=50, description="Gauss-Newton steps per joint")
    drift_correction: bool = Field(
        default=True, description="estimate the headset's tracking drift where the room sees"
    )
    drift_time_constant_s: float = Field(default=2.0, gt=0, description="how fast the drift estimate follows")
    drift_min_joints: int = Field(default=4, ge=1, description="joints seen by two room views needed to measure drift")
    ego_hold_s: float = Field(
        default=0.5, ge=0, description="keep a wearer's last egocentric skeleton this long for association"
    )
    bystanders: bool = Field(default=True, description="fuse the detections no wearer took (core multi-person fusion)")
    bystander_id_offset: int = Field(default=1000, ge=0, description="bystander track ids start here")
    tier: str = Field(default="auto", description="kernel tier of the bystanders' triangulation")


class _Wearer:
    def __init__(self) -> None:
        self.correction = np.zeros(3)  # added to the egocentric skeleton: minus the headset's drift
        self.drift_t: float | None = None
        self.last: tuple[float, np.ndarray, np.ndarray, np.ndarray] | None = None


class EgoRoomFusion(Estimator):
    """Fuse headset wearers (egocentric ``SKELETON3D`` inputs with ``person_id``, ``sigma_m``)
    with the room cameras' 2D keypoints (see the module docstring). Output ``<stage>/skeleton3d``:
    ``joints``, ``person_id`` (wearers: the headset's; bystanders: ``bystander_id_offset`` +
    track), ``confidence``, ``sigma_m``, ``views`` (room views used per joint)."""

    name = "egocentric.fuse"
    Params = FuseParams
    input_kinds = (FrameKind.SKELETON3D, FrameKind.KEYPOINTS2D)

    def __init__(self, params: BaseModel, context: StageContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, FuseParams)
        self.p = params
        where = f"{context.config_path or context.stage_id}.inputs"
        self.ego = context.inputs_of_kind(FrameKind.SKELETON3D)
        self.kps = context.inputs_of_kind(FrameKind.KEYPOINTS2D)
        if not self.ego:
            raise ConfigError(
                "needs at least one egocentric skeleton3d input (egocentric.learned / .stereo)", field_path=where
            )
        skeletons = {s.skeleton for s in [*self.ego, *self.kps]}
        if len(skeletons) != 1 or None in skeletons:
            raise ConfigError(
                "every input must declare the same skeleton", field_path=where, value=sorted(map(str, skeletons))
            )
        self.skeleton = context.skeletons.get(str(next(iter(skeletons))), field_path=where)
        self.views = []
        for s in self.kps:
            cal = context.calibration.sensors.get(s.sensor)
            if cal is None or cal.camera is None:
                raise ConfigError(
                    "no camera calibration for a room view",
                    field_path=f"calibration.sensors.{s.sensor}.camera",
                    value=s.name,
                )
            if cal.mount is not None:
                raise ConfigError(
                    f"{s.name}: the room views must be cameras fixed in the world; {s.sensor} is mounted on {cal.mount.device!r}",
                    field_path=where,
                    value=s.name,
                )
            m = cal.world_from_sensor.matrix
            self.views.append((s.name, cal.camera, np.linalg.inv(m)))
        self.bystander_fusion: PersonFusion | None = None
        if params.bystanders and len(self.kps) >= 2:
            models = [
                view_model(cal_cam, context.calibration.sensors[s.sensor].world_from_sensor)
                for s, (_, cal_cam, _) in zip(self.kps, self.views, strict=True)
            ]
            self.bystander_fusion = PersonFusion(
                models,
                self.skeleton.parents,
                FusionSettings(multiperson=True, min_confidence=params.min_confidence, tier=params.tier),
            )
        self.out_name = f"{context.stage_id}/skeleton3d"
        self.wearers: dict[int, _Wearer] = {}
        self.counts: dict[str, int] = dict.fromkeys(
            ("framesets", "wearer_frames", "wearer_room_views", "wearer_joints_room_seen", "detections_to_wearers",
             "detections_to_bystanders", "bystander_frames"), 0,
        )  # fmt: skip

    def outputs(self) -> list[StreamSpec]:
        J = self.skeleton.num_joints
        return [
            StreamSpec(
                name=self.out_name,
                kind=FrameKind.SKELETON3D,
                ragged=True,
                skeleton=self.skeleton.name,
                fields={
                    "joints": FieldSpec(dtype="float32", shape=(J, 3)),
                    "person_id": FieldSpec(dtype="int64"),
                    "confidence": FieldSpec(dtype="float32", shape=(J,)),
                    "sigma_m": FieldSpec(dtype="float32", shape=(J,)),
                    "views": FieldSpec(dtype="int8", shape=(J,)),
                },
                attrs={
                    "frame": "world",
                    "units": "m",
                    "estimator": self.name,
                    "bystander_id_offset": self.p.bystander_id_offset,
                },
            )
        ]

    # -- geometry -------------------------------------------------------------------------

    def _project(self, v: int, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixels ``(N, 2)`` and d pixel / d world point ``(N, 2, 3)`` in view ``v``."""
        _, cam, cam_from_world = self.views[v]
        pc = transform_points(cam_from_world, points.reshape(-1, 3))
        uv, jac = project_with_jacobian(cam, pc, tier="numpy")
        return uv, jac @ cam_from_world[:3, :3]

    def _solve(
        self, prior: np.ndarray, prior_sigma: np.ndarray, obs: np.ndarray, w: np.ndarray, init: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gauss–Newton per joint. ``prior (J, 3)`` (NaN: none), ``obs (V, J, 2)`` pixels, ``w (V, J)``.
        Returns joints ``(J, 3)``, sigma ``(J,)`` and the inlier weights ``(V, J)``."""
        x = init.copy()
        V, J = w.shape
        has_prior = np.isfinite(prior).all(-1)
        ip = np.where(has_prior, 1.0 / np.maximum(prior_sigma, 1e-6) ** 2, 0.0)
        s2 = self.p.noise_px**2
        w = w.copy()
        h = np.zeros((J, 3, 3))
        for it in range(self.p.iterations):
            h = ip[:, None, None] * np.eye(3)[None]
            g = ip[:, None] * np.where(has_prior[:, None], prior - x, 0.0)
            for v in range(V):
                if not w[v].any():
                    continue
                uv, jac = self._project(v, x)
                r = obs[v] - uv
                bad = ~np.isfinite(r).all(-1) | ~np.isfinite(jac).all((-1, -2))
                if it == 1:
                    w[v] = np.where(
                        np.linalg.norm(np.nan_to_num(r, nan=_BIG), axis=-1) > self.p.threshold_px, 0.0, w[v]
                    )
                wv = np.where(bad, 0.0, w[v]) / s2
                jac = np.nan_to_num(jac)
                h += wv[:, None, None] * np.einsum("jai,jak->jik", jac, jac)
                g += wv[:, None] * np.einsum("jai,ja->ji", jac, np.nan_to_num(r))
            ok = np.abs(np.linalg.det(h)) > 1e-18
            step = np.zeros_like(x)
            step[ok] = np.linalg.solve(h[ok], g[ok][..., None])[..., 0]
            x = x + step
        with np.errstate(invalid="ignore"):
            cov = np.full((J, 3, 3), np.nan)
            ok = np.abs(np.linalg.det(h)) > 1e-18
            cov[ok] = np.linalg.inv(h[ok])
            sigma = np.sqrt(np.trace(cov, axis1=1, axis2=2) / 3.0)
        return x, sigma, w

    # -- per frameset ---------------------------------------------------------------------

    def _ego_rows(self, frameset: FrameSet, t_s: float) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        J = self.skeleton.num_joints
        rows: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for spec in self.ego:
            f = frameset.get(spec.name)
            if f is None:
                continue
            n = len(f["person_id"])
            conf = np.asarray(f["confidence"], dtype=np.float64) if "confidence" in f.data else np.ones((n, J))
            sig = np.asarray(f["sigma_m"], dtype=np.float64) if "sigma_m" in f.data else np.full((n, J), np.nan)
            for k in range(n):
                pid = int(f["person_id"][k])
                rows[pid] = (np.asarray(f["joints"][k], dtype=np.float64), sig[k], conf[k])
        for pid, state in self.wearers.items():  # hold a wearer's last skeleton briefly for association
            if pid not in rows and state.last is not None and t_s - state.last[0] <= self.p.ego_hold_s:
                rows[pid] = (state.last[1], state.last[2] * 2.0, state.last[3] * 0.5)
        for pid, row in rows.items():
            self.wearers.setdefault(pid, _Wearer()).last = (t_s, *row)
        return rows

    def process(self, frameset: FrameSet) -> Mapping[str, Mapping[str, np.ndarray]]:
        p = self.p
        t_s = frameset.t_ref_ns * 1e-9
        J = self.skeleton.num_joints
        V = len(self.views)
        self.counts["framesets"] += 1
        ego = self._ego_rows(frameset, t_s)
        dets: list[np.ndarray] = []
        for name, _, _ in self.views:
            f = frameset.get(name)
            dets.append(np.zeros((0, J, 3)) if f is None else np.asarray(f["keypoints"], dtype=np.float64)[:, :J])
        pids = sorted(ego)
        taken = [np.zeros(len(d), dtype=bool) for d in dets]
        assigned = np.full((len(pids), V), -1, dtype=np.int64)
        for v in range(V):
            d = dets[v]
            if not len(d) or not pids:
                continue
            cost = np.full((len(pids), len(d)), _BIG)
            for i, pid in enumerate(pids):
                e, _, conf = ego[pid]
                state = self.wearers[pid]
                uv, _ = self._project(v, e + state.correction)
                use = (conf >= p.ego_min_confidence) & np.isfinite(uv).all(-1)
                dist = np.linalg.norm(d[..., :2] - uv[None], axis=-1)  # (n, J)
                ok = use[None] & (np.nan_to_num(d[..., 2]) > p.min_confidence) & np.isfinite(dist)
                for k in range(len(d)):
                    if ok[k].sum() >= p.min_common_joints:
                        cost[i, k] = float(np.median(dist[k, ok[k]]))
            rows, cols = linear_sum_assignment(cost)
            for i, k in zip(rows, cols, strict=True):
                if cost[i, k] <= p.gate_px:
                    assigned[i, v] = k
                    taken[v][k] = True
        people: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        for i, pid in enumerate(pids):
            e, sig, _conf = ego[pid]
            state = self.wearers[pid]
            obs = np.full((V, J, 2), np.nan)
            w = np.zeros((V, J))
            for v in range(V):
                k = assigned[i, v]
                if k >= 0:
                    obs[v] = dets[v][k, :, :2]
                    c = np.nan_to_num(dets[v][k, :, 2])
                    w[v] = np.where((c > p.min_confidence) & np.isfinite(obs[v]).all(-1), c, 0.0)
            seen2 = (w > 0).sum(0) >= 2
            # room-only triangulation where two views see a joint: measures the headset's drift
            if p.drift_correction and seen2.sum() >= p.drift_min_joints:
                init = np.where(np.isfinite(e), e + state.correction, 0.0)
                room, _, _ = self._solve(
                    np.full((J, 3), np.nan), np.full(J, 1.0), obs, np.where(seen2[None], w, 0.0), init
                )
                offset = np.median((room - e)[seen2 & np.isfinite(e).all(-1)], axis=0)
                if np.isfinite(offset).all():
                    a = (
                        1.0
                        if state.drift_t is None
                        else 1.0 - math.exp(-max(t_s - state.drift_t, 0.0) / p.drift_time_constant_s)
                    )
                    state.correction = state.correction + a * (offset - state.correction)
                    state.drift_t = t_s
            prior = e + state.correction
            prior_sigma = np.where(np.isfinite(sig), np.maximum(sig, p.ego_sigma_floor_m), p.ego_sigma_default_m)
            init = np.where(np.isfinite(prior), prior, 0.0)
            x, sigma, w_in = self._solve(prior, prior_sigma, obs, w, init)
            views = (w_in > 0).sum(0)
            known = np.isfinite(prior).all(-1) | (views >= 2)
            x = np.where(known[:, None], x, np.nan)
            conf = np.where(
                known, p.ego_sigma_floor_m / np.maximum(np.nan_to_num(sigma, nan=1.0), p.ego_sigma_floor_m), 0.0
            )
            people.append((pid, x, conf, np.where(known, sigma, np.nan), views))
            self.counts["wearer_frames"] += 1
            self.counts["wearer_room_views"] += int((assigned[i] >= 0).sum())
            self.counts["wearer_joints_room_seen"] += int((views >= 2).sum())
        self.counts["detections_to_wearers"] += int(sum(t.sum() for t in taken))
        if self.bystander_fusion is not None:
            rest = [d[~t] for d, t in zip(dets, taken, strict=True)]
            self.counts["detections_to_bystanders"] += sum(len(r) for r in rest)
            r = self.bystander_fusion.step(t_s, rest)
            for k in range(len(r.track_id)):
                seen = np.isfinite(r.joints[k]).all(-1)
                conf_b = np.where(seen, np.minimum(r.views[k], 3) / 3.0, 0.0)  # no uncertainty model: by views
                people.append(
                    (p.bystander_id_offset + int(r.track_id[k]), r.joints[k], conf_b, np.full(J, np.nan), r.views[k])
                )
                self.counts["bystander_frames"] += 1
        if not people:
            return {}
        return {
            self.out_name: {
                "joints": np.stack([q[1] for q in people]).astype(np.float32),
                "person_id": np.array([q[0] for q in people], dtype=np.int64),
                "confidence": np.stack([q[2] for q in people]).astype(np.float32),
                "sigma_m": np.stack([q[3] for q in people]).astype(np.float32),
                "views": np.minimum(np.stack([q[4] for q in people]), 127).astype(np.int8),
            }
        }

    def summary(self) -> dict[str, Any]:
        return {
            **self.counts,
            # the headsets' tracking drift as the room measured it (egocentric minus room)
            "drift_m": {
                str(pid): [round(float(-x), 4) for x in w.correction] for pid, w in sorted(self.wearers.items())
            },
        }
