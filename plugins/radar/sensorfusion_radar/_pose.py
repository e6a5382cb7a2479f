"""A learned radar → skeleton model (torch): a PointNet-style network on one person's points.

Input of one sample: up to ``num_points`` radar points (strongest SNR first, cycled to fill
when fewer) with features ``(x, y, z) - centroid, velocity, snr``, standardised with the
training set's statistics. A shared per-point MLP, a max-pool over points and an MLP head
regress the joints as offsets from the points' centroid, so the model is translation
invariant and the skeleton lands where the person is.

Training data are pairs (point cloud of a person, skeleton) in the same frame: the MARS
data set (radar frame), or a recorded session where the labels come from the cameras
(``fusion/skeleton3d`` or any ``*/skeleton3d``) — cross-modal supervision, see
:func:`pairs_from_session`. Checkpoints hold the weights, the feature statistics, the
skeleton name and the training metadata; no weights are kept in git.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sensorfusion import ConfigError, MissingDependencyError

__all__ = [
    "PointPoseModel",
    "PosePairs",
    "TrainResult",
    "load_pose_model",
    "mpjpe_m",
    "pairs_from_session",
    "point_features",
    "train_pose_model",
]

NUM_FEATURES = 5


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is a declared dependency of the plugin
        raise MissingDependencyError("radar.pose needs PyTorch", install="pip install torch") from exc
    return torch


def point_features(points: np.ndarray, num_points: int) -> tuple[np.ndarray, np.ndarray]:
    """``(N, 5)`` points ``x, y, z, velocity, snr`` -> ``(num_points, 5)`` centred features and
    the centroid ``(3,)``. Non-finite points are dropped; no point gives zeros and a NaN centroid."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, NUM_FEATURES)
    p = p[np.all(np.isfinite(p), axis=1)]
    if p.shape[0] == 0:
        return np.zeros((num_points, NUM_FEATURES), dtype=np.float32), np.full(3, np.nan)
    order = np.argsort(-p[:, 4], kind="stable")
    p = p[order][:num_points]
    centroid = np.median(p[:, :3], axis=0)  # robust to a few stray points
    idx = np.arange(num_points) % p.shape[0]
    f = p[idx].copy()
    f[:, :3] -= centroid
    return f.astype(np.float32), centroid


@dataclass
class PosePairs:
    """Training pairs: per-sample ``points`` (list of ``(N_i, 5)``) and ``joints (S, J, 3)``
    in the same frame, with the skeleton name."""

    points: list[np.ndarray]
    joints: np.ndarray
    skeleton: str

    def __len__(self) -> int:
        return len(self.points)

    def subset(self, idx: Sequence[int] | np.ndarray) -> PosePairs:
        ii = np.asarray(idx, dtype=np.int64)
        return PosePairs([self.points[i] for i in ii], self.joints[ii], self.skeleton)


def _build_net(num_joints: int, width: int) -> Any:
    torch = _torch()
    nn = torch.nn

    class PointPoseNet(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.point_mlp = nn.Sequential(
                nn.Linear(NUM_FEATURES, width // 2),
                nn.ReLU(),
                nn.Linear(width // 2, width),
                nn.ReLU(),
                nn.Linear(width, 2 * width),
                nn.ReLU(),
            )
            self.head = nn.Sequential(
                nn.Linear(4 * width + 3, 2 * width),
                nn.ReLU(),
                nn.Dropout(0.1),
                nn.Linear(2 * width, width),
                nn.ReLU(),
                nn.Linear(width, num_joints * 3),
            )
            self.num_joints = num_joints

        def forward(self, x: Any, c: Any) -> Any:  # (B, N, F), (B, 3) -> (B, J, 3)
            h = self.point_mlp(x)
            g = torch.cat([h.max(dim=1).values, h.mean(dim=1), c], dim=1)
            return self.head(g).view(-1, self.num_joints, 3)

    return PointPoseNet()


@dataclass
class PointPoseModel:
    """A trained model with its feature statistics; ``predict`` works in any frame the training
    pairs were in (or any other one, as the model is translation invariant)."""

    net: Any
    skeleton: str
    num_points: int
    feat_mean: np.ndarray
    feat_std: np.ndarray
    cent_mean: np.ndarray
    cent_std: np.ndarray
    width: int
    meta: dict[str, Any] = field(default_factory=dict)

    def predict(self, clouds: Sequence[np.ndarray]) -> np.ndarray:
        """``clouds``: per person ``(N_i, 5)`` points -> joints ``(P, J, 3)`` (NaN for an empty cloud)."""
        torch = _torch()
        J = self.net.num_joints
        if not clouds:
            return np.zeros((0, J, 3))
        feats, cents = zip(*(point_features(c, self.num_points) for c in clouds), strict=True)
        x = (np.stack(feats) - self.feat_mean) / self.feat_std
        cen = np.stack(cents)
        cn = np.nan_to_num((cen - self.cent_mean) / self.cent_std)
        self.net.eval()
        with torch.no_grad():
            off = (
                self.net(torch.from_numpy(x.astype(np.float32)), torch.from_numpy(cn.astype(np.float32)))
                .numpy()
                .astype(np.float64)
            )
        out: np.ndarray = off + cen[:, None, :]
        return out

    def save(self, path: str | os.PathLike[str]) -> None:
        torch = _torch()
        torch.save(
            {
                "state_dict": self.net.state_dict(),
                "skeleton": self.skeleton,
                "num_points": self.num_points,
                "num_joints": self.net.num_joints,
                "width": self.width,
                "feat_mean": self.feat_mean.tolist(),
                "feat_std": self.feat_std.tolist(),
                "cent_mean": self.cent_mean.tolist(),
                "cent_std": self.cent_std.tolist(),
                "meta": json.dumps(self.meta),
                "format": "sensorfusion-radar-pose-1",
            },
            str(path),
        )


def load_pose_model(path: str | os.PathLike[str], *, field_path: str = "weights") -> PointPoseModel:
    """Load a checkpoint written by :meth:`PointPoseModel.save` (``ConfigError`` naming
    ``field_path`` when the file is missing or not such a checkpoint)."""
    torch = _torch()
    p = Path(path)
    if not p.is_file():
        raise ConfigError(
            "radar pose weights not found (train them with `python -m sensorfusion_radar.train`)",
            field_path=field_path,
            value=str(path),
        )
    try:
        ck = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ConfigError(f"not a radar pose checkpoint: {exc}", field_path=field_path, value=str(path)) from exc
    if not isinstance(ck, dict) or ck.get("format") != "sensorfusion-radar-pose-1":
        raise ConfigError("not a radar pose checkpoint (format mismatch)", field_path=field_path, value=str(path))
    net = _build_net(int(ck["num_joints"]), int(ck["width"]))
    net.load_state_dict(ck["state_dict"])
    return PointPoseModel(
        net,
        str(ck["skeleton"]),
        int(ck["num_points"]),
        np.asarray(ck["feat_mean"], dtype=np.float32),
        np.asarray(ck["feat_std"], dtype=np.float32),
        np.asarray(ck["cent_mean"], dtype=np.float32),
        np.asarray(ck["cent_std"], dtype=np.float32),
        int(ck["width"]),
        json.loads(ck["meta"]),
    )


def mpjpe_m(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean per-joint position error (metres) over finite joints."""
    d = np.linalg.norm(np.asarray(pred) - np.asarray(gt), axis=-1)
    return float(np.nanmean(d))


@dataclass
class TrainResult:
    model: PointPoseModel
    train_mpjpe_m: list[float]
    test_mpjpe_m: float | None


def train_pose_model(
    train: PosePairs,
    test: PosePairs | None = None,
    *,
    epochs: int = 60,
    batch_size: int = 64,
    lr: float = 2e-3,
    width: int = 64,
    num_points: int = 64,
    seed: int = 0,
    jitter: float = 0.0,
    progress: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Train a :class:`PointPoseModel` on ``train`` (Adam, L1 loss on the available joints'
    offsets, one-cycle learning rate, optional Gaussian ``jitter`` on the standardised inputs);
    report the per-epoch training MPJPE and the test MPJPE."""
    torch = _torch()
    if len(train) == 0:
        raise ValueError("no training pairs")
    torch.manual_seed(seed)
    feats, cents = zip(*(point_features(c, num_points) for c in train.points), strict=True)
    X = np.stack(feats)
    C = np.stack(cents)
    fin = np.all(np.isfinite(train.joints), axis=2)  # (S, J): labels may miss joints (cameras)
    ok = np.all(np.isfinite(C), axis=1) & (fin.mean(axis=1) >= 0.5)
    X = X[ok]
    Y = np.nan_to_num(train.joints[ok] - C[ok][:, None, :]).astype(np.float32)
    M = torch.from_numpy(fin[ok].astype(np.float32))[:, :, None]  # loss mask
    mean = X.reshape(-1, NUM_FEATURES).mean(axis=0).astype(np.float32)
    std = (X.reshape(-1, NUM_FEATURES).std(axis=0) + 1e-6).astype(np.float32)
    Xn = torch.from_numpy(((X - mean) / std).astype(np.float32))
    cmean = C[ok].mean(axis=0).astype(np.float32)
    cstd = (C[ok].std(axis=0) + 1e-3).astype(np.float32)
    Cn = torch.from_numpy(((C[ok] - cmean) / cstd).astype(np.float32))
    Yt = torch.from_numpy(Y)
    net = _build_net(train.joints.shape[1], width)
    with torch.no_grad():  # start from the mean pose: the network learns the deviations
        last = net.head[-1]
        last.bias.copy_(((Yt * M).sum(dim=0) / M.sum(dim=0).clamp(min=1)).reshape(-1))
        last.weight.mul_(0.1)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    steps = max(1, epochs * math.ceil(len(Xn) / batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    history: list[float] = []
    for ep in range(epochs):
        net.train()
        perm = torch.randperm(len(Xn), generator=gen)
        tot, n = 0.0, 0
        for b in range(0, len(Xn), batch_size):
            idx = perm[b : b + batch_size]
            xb, cb = Xn[idx], Cn[idx]
            if jitter > 0:  # augmentation: noise on the standardised point features and centroid
                xb = xb + jitter * torch.randn(xb.shape, generator=gen)
                cb = cb + jitter * torch.randn(cb.shape, generator=gen)
            pred = net(xb, cb)
            m = M[idx]
            loss = ((pred - Yt[idx]).abs() * m).sum() / (3 * m.sum()).clamp(min=1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += float(((pred.detach() - Yt[idx]).norm(dim=-1, keepdim=True) * m).sum())
            n += int(m.sum())
        history.append(tot / n)
        if progress is not None:
            progress(ep, history[-1])
    model = PointPoseModel(
        net, train.skeleton, num_points, mean, std, cmean, cstd, width, {"epochs": epochs, "train_pairs": int(ok.sum())}
    )
    test_err = None
    if test is not None and len(test):
        test_err = mpjpe_m(model.predict(test.points), test.joints)
        model.meta["test_mpjpe_m"] = test_err
    return TrainResult(model, history, test_err)


def pairs_from_session(
    session_path: str | os.PathLike[str],
    *,
    points_stream: str,
    skeleton_stream: str,
    radius_m: float = 0.8,
) -> PosePairs:
    """Cross-modal training pairs from a recorded session: radar points (world frame through
    the session's calibration of the radar) and skeleton labels from another modality (e.g.
    the cameras' ``fusion/skeleton3d``, named ``"fusion:fusion/skeleton3d"`` when it is a stage
    output), matched by ``t_sensor_ns``. Each labelled person gets the points within
    ``radius_m`` of its pelvis on the floor plane."""
    from sensorfusion.store import Session

    with Session.open(session_path) as s:
        cal = s.calibration
        sensor = points_stream.split(":")[-1].split("/")[0]
        world_from_radar = cal.sensors[sensor].world_from_sensor if sensor in cal.sensors else None
        labels: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for f in s.read(skeleton_stream):
            labels[f.t_sensor_ns] = (np.asarray(f["joints"], dtype=np.float64), np.asarray(f["person_id"]))
        info = s.estimates().get(skeleton_stream) or s.streams().get(skeleton_stream)
        skel_spec_name = info.spec.skeleton if info is not None else None
        pts_out: list[np.ndarray] = []
        joints_out: list[np.ndarray] = []
        for f in s.read(points_stream):
            lab = labels.get(f.t_sensor_ns)
            if lab is None:
                continue
            xyz = np.column_stack([f["x"], f["y"], f["z"]]).astype(np.float64)
            if world_from_radar is not None:
                xyz = world_from_radar.apply(xyz)
            pts = np.column_stack([xyz, f["velocity"], f["snr"]])
            for joints in lab[0]:
                fin = np.all(np.isfinite(joints), axis=1)
                if fin.mean() < 0.5:
                    continue
                centre = joints[fin].mean(axis=0)
                near = np.hypot(xyz[:, 0] - centre[0], xyz[:, 1] - centre[1]) <= radius_m
                if near.sum() >= 3:
                    pts_out.append(pts[near])
                    joints_out.append(joints)
    J = joints_out[0].shape[0] if joints_out else 0
    return PosePairs(pts_out, np.asarray(joints_out).reshape(-1, J, 3), skel_spec_name or "coco17")
