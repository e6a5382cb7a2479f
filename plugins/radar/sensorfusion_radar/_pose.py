"""A learned radar → skeleton model (torch): a PointNet-style network on one person's points.

Input of one sample: up to ``num_points`` radar points (strongest SNR first, cycled to fill
when fewer) with features ``(x, y, z) - centroid, velocity, snr``, standardised with the
training set's statistics. With ``frames > 1`` (causal temporal context) the person's points
of the previous ``frames - 1`` frames follow the current frame's, each with its age in
frames as a sixth feature: one IWR1443 frame holds ~29 points, a few frames together show
the body much better (MARS validation MPJPE 14.1 cm with 1 frame, 7.8 cm with 6). A shared
per-point MLP, max- and mean-pools over points and an MLP head regress the joints as
offsets from the points' centroid, so the model is translation invariant and the skeleton
lands where the person is.

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
    "ensemble",
    "evaluate",
    "load_pose_model",
    "mpjpe_m",
    "pairs_from_session",
    "point_features",
    "predict_pairs",
    "train_pose_model",
]

NUM_FEATURES = 5  # per point from the sensor: x, y, z, velocity, snr (an age column is added for frames > 1)
FORMAT = "sensorfusion-radar-pose-2"
_OLD_FORMATS = ("sensorfusion-radar-pose-1",)  # single-frame checkpoints, still loadable


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is a declared dependency of the plugin
        raise MissingDependencyError("radar.pose needs PyTorch", install="pip install torch") from exc
    return torch


def _finite_by_snr(points: np.ndarray) -> np.ndarray:
    p = np.asarray(points, dtype=np.float64).reshape(-1, NUM_FEATURES)
    p = p[np.all(np.isfinite(p), axis=1)]
    out: np.ndarray = p[np.argsort(-p[:, 4], kind="stable")]
    return out


def point_features(
    points: np.ndarray, num_points: int, history: Sequence[np.ndarray] = (), frames: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """``(N, 5)`` points ``x, y, z, velocity, snr`` -> ``(num_points, F)`` features centred on
    the centroid ``(3,)`` (the median of the points taken). Non-finite points are dropped; no
    current point gives zeros and a NaN centroid.

    ``frames > 1`` (causal temporal context): ``history`` holds the same person's clouds of
    the previous frames, most recent first (only the first ``frames - 1`` are used, fewer
    are fine); their points follow the current frame's and each point gets a sixth feature,
    its age in frames (0 = current). The centroid is the median of all the points taken
    (steadier than one sparse frame's: 9.7 vs 10.5 cm validation MPJPE on MARS). Within a
    frame the points go strongest SNR first; the list is cut at ``num_points`` (current
    frame first) and cycled to fill. ``frames == 1`` gives 5 features, as format-1 models."""
    nf = NUM_FEATURES + (1 if frames > 1 else 0)
    cur = _finite_by_snr(points)[:num_points]
    if cur.shape[0] == 0:
        return np.zeros((num_points, nf), dtype=np.float32), np.full(3, np.nan)
    if frames > 1:
        parts = [np.column_stack([cur, np.zeros(cur.shape[0])])]
        for age, h in enumerate(list(history)[: frames - 1], start=1):
            hp = _finite_by_snr(h)
            parts.append(np.column_stack([hp, np.full(hp.shape[0], float(age))]))
        cur = np.concatenate(parts)[:num_points]
    centroid = np.median(cur[:, :3], axis=0)  # robust to a few stray points
    idx = np.arange(num_points) % cur.shape[0]
    f = cur[idx].copy()
    f[:, :3] -= centroid
    return f.astype(np.float32), centroid


def _no_prev() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


@dataclass
class PosePairs:
    """Training pairs: per-sample ``points`` (list of ``(N_i, 5)``) and ``joints (S, J, 3)``
    in the same frame, with the skeleton name. ``prev[i]`` is the index (in this set) of the
    same person's sample in the previous frame, -1 when there is none: the causal history
    that multi-frame models stack. :meth:`subset` cuts the chains at samples left out, so a
    split never lets a left-out frame in as history. ``t_ns``: the sample's radar frame time
    (``t_sensor_ns``; -1 where unknown, as for MARS)."""

    points: list[np.ndarray]
    joints: np.ndarray
    skeleton: str
    prev: np.ndarray = field(default_factory=_no_prev)
    t_ns: np.ndarray = field(default_factory=_no_prev)

    def __post_init__(self) -> None:
        n = len(self.points)
        if self.prev.size == 0:
            self.prev = np.full(n, -1, dtype=np.int64)
        if self.t_ns.size == 0:
            self.t_ns = np.full(n, -1, dtype=np.int64)
        self.prev = np.asarray(self.prev, dtype=np.int64).reshape(-1)
        self.t_ns = np.asarray(self.t_ns, dtype=np.int64).reshape(-1)
        if self.prev.shape[0] != n or self.t_ns.shape[0] != n:
            raise ValueError(f"prev / t_ns have {self.prev.shape[0]} / {self.t_ns.shape[0]} entries for {n} samples")

    def __len__(self) -> int:
        return len(self.points)

    def subset(self, idx: Sequence[int] | np.ndarray) -> PosePairs:
        ii = np.asarray(idx, dtype=np.int64).reshape(-1)
        new_of_old = np.full(len(self.points), -1, dtype=np.int64)
        new_of_old[ii] = np.arange(ii.size)
        prev = self.prev[ii]
        prev = np.where(prev >= 0, new_of_old[np.maximum(prev, 0)], -1)
        return PosePairs([self.points[i] for i in ii], self.joints[ii], self.skeleton, prev, self.t_ns[ii])

    def history(self, i: int, frames: int) -> list[np.ndarray]:
        """The clouds of sample ``i``'s previous ``frames - 1`` frames (most recent first; fewer
        where the chain ends)."""
        out: list[np.ndarray] = []
        k = int(self.prev[i])
        while k >= 0 and len(out) < frames - 1:
            out.append(self.points[k])
            k = int(self.prev[k])
        return out


def _build_net(num_joints: int, width: int, num_features: int = NUM_FEATURES) -> Any:
    torch = _torch()
    nn = torch.nn

    class PointPoseNet(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.point_mlp = nn.Sequential(
                nn.Linear(num_features, width // 2),
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
    pairs were in (or any other one, as the model is translation invariant). ``frames``: how
    many consecutive frames of a person it takes (1 = the current frame only). ``nets`` holds
    more networks for an ensemble (their predictions are averaged)."""

    net: Any
    skeleton: str
    num_points: int
    feat_mean: np.ndarray
    feat_std: np.ndarray
    cent_mean: np.ndarray
    cent_std: np.ndarray
    width: int
    meta: dict[str, Any] = field(default_factory=dict)
    frames: int = 1
    extra_nets: list[Any] = field(default_factory=list)

    @property
    def num_features(self) -> int:
        return NUM_FEATURES + (1 if self.frames > 1 else 0)

    def predict(
        self, clouds: Sequence[np.ndarray], histories: Sequence[Sequence[np.ndarray]] | None = None
    ) -> np.ndarray:
        """``clouds``: per person ``(N_i, 5)`` points; ``histories``: per person the clouds of
        the previous frames, most recent first (ignored by single-frame models) -> joints
        ``(P, J, 3)`` (NaN for an empty cloud)."""
        torch = _torch()
        J = self.net.num_joints
        if not clouds:
            return np.zeros((0, J, 3))
        hist: Sequence[Sequence[np.ndarray]] = histories if histories is not None else [()] * len(clouds)
        if len(hist) != len(clouds):
            raise ValueError(f"{len(hist)} histories for {len(clouds)} clouds")
        feats, cents = zip(
            *(point_features(c, self.num_points, h, self.frames) for c, h in zip(clouds, hist, strict=True)),
            strict=True,
        )
        x = torch.from_numpy(((np.stack(feats) - self.feat_mean) / self.feat_std).astype(np.float32))
        cen = np.stack(cents)
        cn = torch.from_numpy(np.nan_to_num((cen - self.cent_mean) / self.cent_std).astype(np.float32))
        off = np.zeros((len(clouds), J, 3))
        nets = [self.net, *self.extra_nets]
        with torch.no_grad():
            for net in nets:
                net.eval()
                off += net(x, cn).numpy().astype(np.float64)
        out: np.ndarray = off / len(nets) + cen[:, None, :]
        return out

    def save(self, path: str | os.PathLike[str]) -> None:
        torch = _torch()
        torch.save(
            {
                "state_dict": self.net.state_dict(),
                "extra_state_dicts": [n.state_dict() for n in self.extra_nets],
                "skeleton": self.skeleton,
                "num_points": self.num_points,
                "num_joints": self.net.num_joints,
                "width": self.width,
                "frames": self.frames,
                "num_features": self.num_features,
                "feat_mean": self.feat_mean.tolist(),
                "feat_std": self.feat_std.tolist(),
                "cent_mean": self.cent_mean.tolist(),
                "cent_std": self.cent_std.tolist(),
                "meta": json.dumps(self.meta),
                "format": FORMAT,
            },
            str(path),
        )


def load_pose_model(path: str | os.PathLike[str], *, field_path: str = "weights") -> PointPoseModel:
    """Load a checkpoint written by :meth:`PointPoseModel.save` — the current format
    (``sensorfusion-radar-pose-2``, multi-frame, ensembles) or the single-frame format 1
    (``ConfigError`` naming ``field_path`` when the file is missing or not such a checkpoint)."""
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
    fmt = ck.get("format") if isinstance(ck, dict) else None
    if fmt not in (FORMAT, *_OLD_FORMATS):
        raise ConfigError(
            f"not a radar pose checkpoint (format {fmt!r}; this version reads {[FORMAT, *_OLD_FORMATS]})",
            field_path=field_path,
            value=str(path),
        )
    frames = int(ck.get("frames", 1))
    nfeat = NUM_FEATURES + (1 if frames > 1 else 0)
    if int(ck.get("num_features", nfeat)) != nfeat:
        raise ConfigError(
            f"radar pose checkpoint has {ck['num_features']} point features for {frames} frames (expected {nfeat})",
            field_path=field_path,
            value=str(path),
        )
    nets = []
    for sd in [ck["state_dict"], *ck.get("extra_state_dicts", [])]:
        net = _build_net(int(ck["num_joints"]), int(ck["width"]), nfeat)
        net.load_state_dict(sd)
        nets.append(net)
    return PointPoseModel(
        nets[0],
        str(ck["skeleton"]),
        int(ck["num_points"]),
        np.asarray(ck["feat_mean"], dtype=np.float32),
        np.asarray(ck["feat_std"], dtype=np.float32),
        np.asarray(ck["cent_mean"], dtype=np.float32),
        np.asarray(ck["cent_std"], dtype=np.float32),
        int(ck["width"]),
        json.loads(ck["meta"]),
        frames,
        nets[1:],
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


def _augment(
    torch: Any,
    x: Any,
    y: Any,
    gen: Any,
    *,
    rotate_rad: float,
    scale: float,
    point_dropout: float,
    history_dropout: float,
    frames: int,
) -> tuple[Any, Any]:
    """Augment a batch in metric units: ``x (B, N, F)`` centred point features, ``y (B, J, 3)``
    joint offsets from the centroid. A rotation about the vertical (z) axis through the
    centroid and a scaling move points and joints together; point dropout (and, for
    multi-frame models, history dropout: only the newest ``m`` frames kept, ``m`` random)
    replaces dropped points by copies of kept ones (the current frame's strongest point is
    always kept)."""
    B, N = x.shape[0], x.shape[1]
    if rotate_rad > 0:
        a = (torch.rand(B, generator=gen) * 2 - 1) * rotate_rad
        ca, sa = torch.cos(a)[:, None], torch.sin(a)[:, None]
        x = x.clone()
        y = y.clone()
        for t in (x, y):
            u, v = t[:, :, 0].clone(), t[:, :, 1].clone()
            t[:, :, 0] = ca * u - sa * v
            t[:, :, 1] = sa * u + ca * v
    if scale > 0:
        s = 1 + (torch.rand(B, 1, 1, generator=gen) * 2 - 1) * scale
        x = torch.cat([x[:, :, :3] * s, x[:, :, 3:]], dim=2)
        y = y * s
    if point_dropout > 0 or (history_dropout > 0 and frames > 1):
        keep = torch.rand(B, N, generator=gen) >= point_dropout
        if history_dropout > 0 and frames > 1:
            newest = torch.randint(1, frames + 1, (B, 1), generator=gen)
            cut = torch.rand(B, 1, generator=gen) < history_dropout
            keep &= ~cut | (x[:, :, NUM_FEATURES] < newest)
        keep[:, 0] = True
        repl = torch.multinomial(keep.float(), N, replacement=True, generator=gen)
        x = torch.where(keep[:, :, None], x, torch.gather(x, 1, repl[:, :, None].expand(-1, -1, x.shape[2])))
    return x, y


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
    frames: int = 1,
    rotate_deg: float = 0.0,
    scale: float = 0.0,
    point_dropout: float = 0.0,
    history_dropout: float = 0.0,
    weight_decay: float = 0.0,
    progress: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Train a :class:`PointPoseModel` on ``train`` (Adam, L1 loss on the available joints'
    offsets, one-cycle learning rate); report the per-epoch training MPJPE and the test MPJPE.

    ``frames``: consecutive frames per sample (the current one and ``frames - 1`` previous
    ones along ``train.prev``; causal). Augmentation: ``jitter`` (Gaussian noise on the
    standardised inputs), ``rotate_deg`` (uniform rotation about the vertical axis, points
    and joints together), ``scale`` (uniform ``1 ± scale``), ``point_dropout`` (fraction of
    points dropped), ``history_dropout`` (probability that a sample keeps only a random
    number of its newest frames, as at the start of a track)."""
    torch = _torch()
    if len(train) == 0:
        raise ValueError("no training pairs")
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    torch.manual_seed(seed)
    feats, cents = zip(
        *(point_features(c, num_points, train.history(i, frames), frames) for i, c in enumerate(train.points)),
        strict=True,
    )
    X = np.stack(feats)
    C = np.stack(cents)
    fin = np.all(np.isfinite(train.joints), axis=2)  # (S, J): labels may miss joints (cameras)
    ok = np.all(np.isfinite(C), axis=1) & (fin.mean(axis=1) >= 0.5)
    X = X[ok]
    nfeat = X.shape[2]
    Y = np.nan_to_num(train.joints[ok] - C[ok][:, None, :]).astype(np.float32)
    M = torch.from_numpy(fin[ok].astype(np.float32))[:, :, None]  # loss mask
    mean = X.reshape(-1, nfeat).mean(axis=0).astype(np.float32)
    std = (X.reshape(-1, nfeat).std(axis=0) + 1e-6).astype(np.float32)
    Xt = torch.from_numpy(X.astype(np.float32))
    mean_t, std_t = torch.from_numpy(mean), torch.from_numpy(std)
    cmean = C[ok].mean(axis=0).astype(np.float32)
    cstd = (C[ok].std(axis=0) + 1e-3).astype(np.float32)
    Cn = torch.from_numpy(((C[ok] - cmean) / cstd).astype(np.float32))
    Yt = torch.from_numpy(Y)
    net = _build_net(train.joints.shape[1], width, nfeat)
    with torch.no_grad():  # start from the mean pose: the network learns the deviations
        last = net.head[-1]
        last.bias.copy_(((Yt * M).sum(dim=0) / M.sum(dim=0).clamp(min=1)).reshape(-1))
        last.weight.mul_(0.1)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    steps = max(1, epochs * math.ceil(len(Xt) / batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    rot = math.radians(rotate_deg)
    history: list[float] = []
    for ep in range(epochs):
        net.train()
        perm = torch.randperm(len(Xt), generator=gen)
        tot, n = 0.0, 0
        for b in range(0, len(Xt), batch_size):
            idx = perm[b : b + batch_size]
            xb, yb = _augment(
                torch,
                Xt[idx],
                Yt[idx],
                gen,
                rotate_rad=rot,
                scale=scale,
                point_dropout=point_dropout,
                history_dropout=history_dropout,
                frames=frames,
            )
            xb = (xb - mean_t) / std_t
            cb = Cn[idx]
            if jitter > 0:  # augmentation: noise on the standardised point features and centroid
                xb = xb + jitter * torch.randn(xb.shape, generator=gen)
                cb = cb + jitter * torch.randn(cb.shape, generator=gen)
            pred = net(xb, cb)
            m = M[idx]
            loss = ((pred - yb).abs() * m).sum() / (3 * m.sum()).clamp(min=1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += float(((pred.detach() - yb).norm(dim=-1, keepdim=True) * m).sum())
            n += int(m.sum())
        history.append(tot / n)
        if progress is not None:
            progress(ep, history[-1])
    meta: dict[str, Any] = {
        "epochs": epochs,
        "train_pairs": int(ok.sum()),
        "frames": frames,
        "seed": seed,
        "augment": {
            "jitter": jitter,
            "rotate_deg": rotate_deg,
            "scale": scale,
            "point_dropout": point_dropout,
            "history_dropout": history_dropout,
        },
    }
    model = PointPoseModel(net, train.skeleton, num_points, mean, std, cmean, cstd, width, meta, frames)
    test_err = None
    if test is not None and len(test):
        test_err = evaluate(model, test)
        model.meta["test_mpjpe_m"] = test_err
    return TrainResult(model, history, test_err)


def predict_pairs(model: PointPoseModel, pairs: PosePairs) -> np.ndarray:
    """The model's joints for every sample of ``pairs``, each with its causal history."""
    return model.predict(pairs.points, [pairs.history(i, model.frames) for i in range(len(pairs))])


def evaluate(model: PointPoseModel, pairs: PosePairs) -> float:
    """MPJPE (metres) of ``model`` on ``pairs`` (with the history the model takes)."""
    return mpjpe_m(predict_pairs(model, pairs), pairs.joints)


def ensemble(models: Sequence[PointPoseModel]) -> PointPoseModel:
    """One model averaging the predictions of ``models`` (same data, features and settings,
    e.g. different seeds); the first model's feature statistics are used, so the members must
    have been trained on the same pairs."""
    if not models:
        raise ValueError("no models to ensemble")
    a = models[0]
    for m in models[1:]:
        if (m.frames, m.num_points, m.width, m.skeleton) != (a.frames, a.num_points, a.width, a.skeleton) or not (
            np.array_equal(m.feat_mean, a.feat_mean) and np.array_equal(m.cent_mean, a.cent_mean)
        ):
            raise ValueError("ensemble members differ in settings or training data")
    nets = [n for m in models for n in (m.net, *m.extra_nets)]
    meta = dict(a.meta, ensemble=len(nets), seeds=[m.meta.get("seed") for m in models])
    return PointPoseModel(
        nets[0],
        a.skeleton,
        a.num_points,
        a.feat_mean,
        a.feat_std,
        a.cent_mean,
        a.cent_std,
        a.width,
        meta,
        a.frames,
        nets[1:],
    )


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
    ``radius_m`` of its pelvis on the floor plane. ``prev`` links a person's sample to its
    sample of the previous radar frame (same label ``person_id``), for multi-frame models."""
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
        prev_out: list[int] = []
        t_out: list[int] = []
        last: dict[int, tuple[int, int]] = {}  # person id -> (radar frame number, sample index)
        for n_frame, f in enumerate(s.read(points_stream)):
            lab = labels.get(f.t_sensor_ns)
            if lab is None:
                continue
            xyz = np.column_stack([f["x"], f["y"], f["z"]]).astype(np.float64)
            if world_from_radar is not None:
                xyz = world_from_radar.apply(xyz)
            pts = np.column_stack([xyz, f["velocity"], f["snr"]])
            for joints, pid in zip(lab[0], lab[1].reshape(-1), strict=True):
                fin = np.all(np.isfinite(joints), axis=1)
                if fin.mean() < 0.5:
                    continue
                centre = joints[fin].mean(axis=0)
                near = np.hypot(xyz[:, 0] - centre[0], xyz[:, 1] - centre[1]) <= radius_m
                if near.sum() >= 3:
                    before = last.get(int(pid))
                    linked = before is not None and before[0] == n_frame - 1 and pid >= 0
                    prev_out.append(before[1] if linked and before is not None else -1)
                    last[int(pid)] = (n_frame, len(pts_out))
                    pts_out.append(pts[near])
                    joints_out.append(joints)
                    t_out.append(int(f.t_sensor_ns))
    J = joints_out[0].shape[0] if joints_out else 0
    return PosePairs(
        pts_out,
        np.asarray(joints_out).reshape(-1, J, 3),
        skel_spec_name or "coco17",
        np.asarray(prev_out, dtype=np.int64),
        np.asarray(t_out, dtype=np.int64),
    )
