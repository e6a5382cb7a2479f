"""Training the learned stereo model on recorded (simulated) sessions.

Loss per sample: the MPJPE of the proposal and of every refinement layer (weights 0.5 for all
but the last, 1 for it), plus a Laplace negative log-likelihood ``e / σ + log σ`` of the last
layer's per-joint error ``e`` (detached) for the uncertainty head. Augmentation, per sample: a
whole view dropped (``view_dropout``), single detections dropped (``joint_dropout``), extra
2D noise (``noise_px``) — the failure modes of a 2D detector the sessions may show too rarely.
Adam with a cosine learning-rate decay; the weights with the best validation MPJPE are kept.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._data import EgoSamples
from ._model import EgoPoseModel, ModelConfig, _torch, build_net

__all__ = ["TrainConfig", "TrainResult", "mpjpe_mm", "train_model"]


@dataclass(frozen=True)
class TrainConfig:
    """Training settings (defaults fit two CPU cores: a few minutes for ~10k samples)."""

    epochs: int = 12
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    view_dropout: float = 0.05
    joint_dropout: float = 0.05
    noise_px: float = 0.5
    val_fraction: float = 0.1
    seed: int = 0
    # one torch thread: on a shared or busy machine OpenMP's spinning threads make two threads
    # several times slower than one (measured 9.5 s vs 1.5 s per step under load); pass 2 on an idle one
    threads: int | None = 1


@dataclass
class TrainResult:
    model: EgoPoseModel
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


def mpjpe_mm(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean per-joint position error in millimetres over the joints finite in both."""
    err = np.linalg.norm(np.asarray(pred, dtype=np.float64) - np.asarray(gt, dtype=np.float64), axis=-1)
    ok = np.isfinite(err)
    return float(err[ok].mean() * 1e3) if ok.any() else float("nan")


def _augment(kp: np.ndarray, rng: np.random.Generator, cfg: TrainConfig) -> np.ndarray:
    out = kp.copy()
    n, v, j, _ = out.shape
    drop_view = rng.random((n, v)) < cfg.view_dropout
    drop_view[drop_view.all(1)] = False  # keep at least one view
    drop = drop_view[:, :, None] | (rng.random((n, v, j)) < cfg.joint_dropout)
    out[..., :2] += rng.normal(scale=cfg.noise_px, size=(n, v, j, 2)).astype(np.float32)
    out[drop, :2] = np.nan
    out[drop, 2] = 0.0
    return out


def train_model(
    samples: EgoSamples,
    *,
    config: ModelConfig | None = None,
    train: TrainConfig | None = None,
    val: EgoSamples | None = None,
    joints: tuple[str, ...] | None = None,
    progress: Callable[[int, int, dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train on ``samples`` (a ``val_fraction`` of whole sessions held out when ``val`` is None)."""
    torch = _torch()
    cfg = config or ModelConfig()
    tc = train or TrainConfig()
    if tc.threads:
        torch.set_num_threads(tc.threads)
    torch.manual_seed(tc.seed)
    rng = np.random.default_rng(tc.seed)
    all_sessions = list(samples.sessions) + ([] if val is None else list(val.sessions))
    val_names: list[str] = [] if val is None else list(val.sessions)
    if val is None and tc.val_fraction > 0 and len(samples.sessions) > 1:
        n_val = max(1, round(len(samples.sessions) * tc.val_fraction))
        val_sessions = rng.choice(len(samples.sessions), size=n_val, replace=False)
        is_val = np.isin(samples.source, val_sessions)
        val, samples = samples.subset(np.nonzero(is_val)[0]), samples.subset(np.nonzero(~is_val)[0])
        val_names = [samples.sessions[int(i)] for i in sorted(val_sessions)]
    target = samples.joints_device.astype(np.float32)
    valid = np.asarray(np.isfinite(target).all(-1))
    mean_pose = np.nanmean(np.where(valid[..., None], target, np.nan), axis=0)
    spread = np.sqrt(np.nanmean(np.where(valid, np.sum((target - mean_pose) ** 2, axis=-1), np.nan), axis=0))
    J = target.shape[1]
    net = build_net(J, cfg, samples.geometry, mean_pose)
    opt = torch.optim.AdamW(net.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    steps_per_epoch = max(1, math.ceil(len(samples) / tc.batch_size))
    total = tc.epochs * steps_per_epoch
    warm = max(1, min(200, total // 10))

    def lr_at(step: int) -> float:  # linear warm-up, then cosine decay to 2 %
        if step < warm:
            return (step + 1) / warm
        return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    stage_w = torch.tensor([0.5] * cfg.layers + [1.0])
    if joints is None:
        from sensorfusion.plugins import get_plugin_host

        joints = get_plugin_host().skeletons.get(samples.skeleton).joints
    names = tuple(joints)
    model = EgoPoseModel(net, samples.skeleton, names, cfg, samples.geometry, mean_pose)
    best: tuple[float, dict[str, Any]] | None = None
    history: list[dict[str, float]] = []
    t0 = time.perf_counter()
    step = 0
    for epoch in range(tc.epochs):
        net.train()
        order = rng.permutation(len(samples))
        loss_sum = 0.0
        for b in range(steps_per_epoch):
            idx = order[b * tc.batch_size : (b + 1) * tc.batch_size]
            kp = torch.from_numpy(_augment(samples.keypoints[idx], rng, tc))
            gt = torch.from_numpy(np.nan_to_num(target[idx]))
            m = torch.from_numpy(valid[idx]).float()
            stages, log_sigma = net(kp)
            err = torch.linalg.norm(stages - gt[None], dim=-1)  # (L+1, B, J)
            per_stage = (err * m[None]).sum((1, 2)) / m.sum().clamp(min=1)
            e_last = err[-1].detach()
            nll = ((e_last / torch.exp(log_sigma) + log_sigma) * m).sum() / m.sum().clamp(min=1)
            loss = (stage_w * per_stage).sum() + 0.05 * nll
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            sched.step()
            step += 1
            loss_sum += float(per_stage[-1].detach()) * len(idx)
        rec = {
            "epoch": float(epoch + 1),
            "train_mpjpe_mm": loss_sum / len(samples) * 1e3,
            "seconds": time.perf_counter() - t0,
        }
        if val is not None and len(val):
            pred, _ = model.predict(val.keypoints)
            rec["val_mpjpe_mm"] = mpjpe_mm(pred, val.joints_device)
            if best is None or rec["val_mpjpe_mm"] < best[0]:
                best = (rec["val_mpjpe_mm"], {k: v.clone() for k, v in net.state_dict().items()})
        history.append(rec)
        if progress is not None:
            progress(epoch + 1, tc.epochs, rec)
    if best is not None:
        net.load_state_dict(best[1])
    net.eval()
    seconds = time.perf_counter() - t0
    model.meta = {
        "sessions": all_sessions,
        "validation_sessions": val_names,
        "train_samples": len(samples),
        "val_samples": len(val) if val is not None else 0,
        "epochs": tc.epochs,
        "seconds": round(seconds, 1),
        "best_val_mpjpe_mm": round(best[0], 2) if best is not None else None,
        "mean_pose_spread_m": [round(float(x), 4) for x in spread],
        "train": {k: v for k, v in tc.__dict__.items()},
    }
    return TrainResult(model, history, seconds)
