"""The self-supervised fusion model: weigh every observation, triangulate in space and time, refine.

```
2D (t, view, joint) ──▶ evidence features ──▶ [1] reliability MLP ──▶ weight w ∈ (0, 1)
                                                                          │
world rays (camera models) ─────────────────────────────────────────────▶ [2] spatio-temporal
                                                                          weighted triangulation
                                                                          X(t+τ) ≈ X + τ V + τ²/2 A
                                                                          over τ ∈ [-K, K]
                                                                          ──▶ X_st, σ (its spread)
                                                                                 │
             window of X_st, σ in the person's own frame (root + heading) ──▶ [3] refiner MLP ──▶ ΔX
                                                                                 │
                                                                        X = X_st + ΔX
```

1. **Reliability.** A small MLP maps each observation's evidence (confidence, agreement with
   the SDK's robust triangulation and with its temporally smoothed version, 2D jumps, how many
   views see the joint) plus a learned embedding of its view and of its joint to a weight.
2. **Spatio-temporal triangulation.** For frame ``t`` and joint ``j`` a local quadratic
   trajectory is fitted by weighted least squares to the rays of every view in frames
   ``t-K .. t+K`` (``t-K .. t`` when causal), each ray's weight being ``w`` times a learned
   temporal kernel of the joint (``softplus``, per offset) divided by the squared camera
   distance (so residuals are angles). Ray distances make it work for any camera model, and
   a joint missing in most views at ``t`` is still constrained by its one good ray and by
   its neighbours in time. Tiny ridges on velocity/acceleration and on the position (toward
   the gap-filled consensus) keep every system solvable. ``σ`` = the solve's positional
   standard deviation: how much evidence the point has.
3. **Refiner.** In the person's frame at ``t`` (origin the hip centre, x the hip direction
   projected off the recording's up axis), a window of ``X_st`` and ``log σ`` goes through an MLP
   that outputs a correction per joint — a learned pose/motion prior that fills in what the
   geometry cannot see. Its last layer starts at zero, so an untrained model is stage 2.

The model is differentiable end to end and trained only with the self-supervised losses of
:mod:`sensorfusion_selfsup._losses`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

__all__ = ["FusionOutput", "ModelConfig", "SelfSupFusionModel"]


@dataclass(frozen=True)
class ModelConfig:
    """Architecture (stored in checkpoints as plain data)."""

    num_views: int
    num_joints: int
    num_features: int
    left_hip: int
    right_hip: int
    radius: int = 4
    refiner_radius: int = 4
    hidden: int = 64
    embedding: int = 8
    refiner_hidden: int = 256
    ridge_velocity: float = 1e-3
    ridge_acceleration: float = 1e-2
    prior_weight: float = 1e-4

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FusionOutput:
    """``joints (B, L, J, 3)``, the stage-2 ``joints_st``, ``weights (B, L, V, J)`` and
    ``log_sigma (B, L, J)``."""

    joints: torch.Tensor
    joints_st: torch.Tensor
    weights: torch.Tensor
    log_sigma: torch.Tensor


class SelfSupFusionModel(nn.Module):
    """See the module docstring."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.view_embedding = nn.Parameter(torch.zeros(c.num_views, c.embedding))
        self.joint_embedding = nn.Parameter(torch.zeros(c.num_joints, c.embedding))
        nn.init.normal_(self.view_embedding, std=0.1)
        nn.init.normal_(self.joint_embedding, std=0.1)
        self.reliability = nn.Sequential(
            nn.Linear(c.num_features + 2 * c.embedding, c.hidden),
            nn.SiLU(),
            nn.Linear(c.hidden, c.hidden),
            nn.SiLU(),
            nn.Linear(c.hidden, 1),
        )
        W = 2 * c.radius + 1
        tau = torch.arange(-c.radius, c.radius + 1, dtype=torch.float32) / max(c.radius, 1)
        # a Gaussian-shaped start (softplus^-1 of exp(-2 s^2))
        k0 = torch.exp(-2.0 * tau**2)
        self.kernel_raw = nn.Parameter(torch.log(torch.expm1(k0)).repeat(c.num_joints, 1))
        assert self.kernel_raw.shape == (c.num_joints, W)
        Wr = 2 * c.refiner_radius + 1
        self.refiner = nn.Sequential(
            nn.Linear(Wr * c.num_joints * 5, c.refiner_hidden),
            nn.SiLU(),
            nn.Linear(c.refiner_hidden, c.refiner_hidden),
            nn.SiLU(),
            nn.Linear(c.refiner_hidden, c.num_joints * 3),
        )
        last = self.refiner[-1]
        assert isinstance(last, nn.Linear)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    # ------------------------------------------------------------------------------------------
    def observation_weights(self, features: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """``(B, L, V, J)`` weights in (0, 1), 0 where nothing was observed."""
        B, L, V, J, _F = features.shape
        emb = torch.cat(
            [
                self.view_embedding[:, None, :].expand(V, J, -1),
                self.joint_embedding[None, :, :].expand(V, J, -1),
            ],
            dim=-1,
        )
        x = torch.cat([features, emb.expand(B, L, V, J, -1)], dim=-1)
        w = torch.sigmoid(self.reliability(x)[..., 0])
        return torch.where(present, w, torch.zeros_like(w))

    def kernel(self, causal: torch.Tensor) -> torch.Tensor:
        """``(B, J, W)`` temporal kernel; offsets after ``t`` are 0 for causal samples."""
        k = torch.nn.functional.softplus(self.kernel_raw)  # (J, W)
        K = self.config.radius
        future = torch.arange(-K, K + 1, device=k.device) > 0
        mask = ~(causal[:, None] & future[None, :])  # (B, W)
        return k[None] * mask[:, None, :].to(k.dtype)

    def forward(
        self,
        *,
        features: torch.Tensor,
        present: torch.Tensor,
        rays: torch.Tensor,
        centers: torch.Tensor,
        depth_m: torch.Tensor,
        prior: torch.Tensor,
        up: torch.Tensor,
        causal: torch.Tensor,
    ) -> FusionOutput:
        """Fuse chunks of consecutive frames.

        Args:
            features: ``(B, L, V, J, F)`` evidence (:mod:`._features`).
            present: ``(B, L, V, J)`` bool, an observation exists (and its ray is valid).
            rays: ``(B, L, V, J, 3)`` world unit directions from the cameras.
            centers: ``(B, V, 3)`` camera centres (world metres).
            depth_m: ``(B, L, V)`` camera-to-person distance.
            prior: ``(B, L, J, 3)`` fallback positions.
            up: ``(B, 3)`` the recording's up direction.
            causal: ``(B,)`` bool, use no frame after ``t``.
        """
        w = self.observation_weights(features, present)
        X_st, log_sigma = self._solve(w, rays, centers, depth_m, prior, causal)
        delta = self._refine(X_st, log_sigma, up, causal)
        return FusionOutput(joints=X_st + delta, joints_st=X_st, weights=w, log_sigma=log_sigma)

    # ------------------------------------------------------------------------------------------
    def _solve(
        self,
        w: torch.Tensor,
        rays: torch.Tensor,
        centers: torch.Tensor,
        depth_m: torch.Tensor,
        prior: torch.Tensor,
        causal: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.config
        K = c.radius
        W = 2 * K + 1
        B, L, _V, J = w.shape
        dt = w.dtype
        om = w / depth_m[..., None] ** 2  # (B, L, V, J): residuals become angles
        d = rays
        # per frame, summed over views: Σω, Σω d dᵀ, Σω (I - d dᵀ) c  (the window only re-weights frames)
        s0 = om.sum(2)  # (B, L, J)
        s2 = torch.einsum("nlvj,nlvja,nlvjb->nljab", om, d, d)  # (B, L, J, 3, 3)
        cen = centers[:, None, :, None, :]  # (B, 1, V, 1, 3)
        dc = (d * cen).sum(-1, keepdim=True)  # (B, L, V, J, 1)
        sc = torch.einsum("nlvj,nlvja->nlja", om, cen - d * dc)  # (B, L, J, 3)
        per_frame = torch.cat([s0[..., None], s2.reshape(B, L, J, 9), sc], dim=-1)  # (B, L, J, 13)
        padded = torch.nn.functional.pad(per_frame, (0, 0, 0, 0, K, K))
        win = padded.unfold(1, W, 1)  # (B, L, J, 13, W)
        kern = self.kernel(causal).to(dt)  # (B, J, W)
        s = torch.arange(-K, K + 1, dtype=dt, device=w.device) / max(K, 1)
        powers = torch.stack([s**k for k in range(5)])  # (5, W)
        kp = kern[:, :, None, :] * powers[None, None]  # (B, J, 5, W)
        mom = torch.einsum("nljcw,njkw->nljkc", win, kp)  # (B, L, J, 5, 13)
        f64 = torch.float64
        mom = mom.to(f64)
        eye = torch.eye(3, dtype=f64, device=w.device)
        M = mom[..., 0, None, None] * eye - mom[..., 1:10].reshape(B, L, J, 5, 3, 3)  # Σ ω s^k (I - d dᵀ)
        R = mom[..., :3, 10:13]  # (B, L, J, 3, 3): Σ ω s^p (I - d dᵀ) c, p = 0..2
        fact = torch.tensor([1.0, 1.0, 2.0], dtype=f64, device=w.device)
        pq = torch.arange(3, device=w.device)
        idx = pq[:, None] + pq[None, :]  # (3, 3) power p + q
        H = M[:, :, :, idx] / (fact[:, None] * fact[None, :])[..., None, None]  # (B, L, J, 3, 3, 3, 3) = p, q, a, b
        tr = M[:, :, :, 0].diagonal(dim1=-2, dim2=-1).sum(-1) / 3  # (B, L, J)
        lam = torch.tensor([c.prior_weight, c.ridge_velocity, c.ridge_acceleration], dtype=f64, device=w.device)
        ridge = lam * tr[..., None] + 1e-9  # (B, L, J, 3)
        H = H + torch.diag_embed(ridge)[..., :, :, None, None] * eye
        rhs = R / fact[:, None]
        rhs = torch.cat(
            [rhs[..., :1, :] + ridge[..., 0, None, None] * prior.to(f64)[..., None, :], rhs[..., 1:, :]], -2
        )
        Hf = H.permute(0, 1, 2, 3, 5, 4, 6).reshape(B, L, J, 9, 9)  # (p a) x (q b)
        chol, _ = torch.linalg.cholesky_ex(Hf)
        theta = torch.cholesky_solve(rhs.reshape(B, L, J, 9, 1), chol)[..., 0]
        X = theta[..., :3]
        with torch.no_grad():
            e3 = torch.zeros(9, 3, dtype=f64, device=w.device)
            e3[:3] = eye
            cov = torch.cholesky_solve(e3.expand(B, L, J, 9, 3), chol)[..., :3, :].diagonal(dim1=-2, dim2=-1).sum(-1)
        log_sigma = 0.5 * torch.log(cov.clamp_min(1e-30))
        return X.to(dt), log_sigma.to(dt).detach()

    def _refine(
        self, X_st: torch.Tensor, log_sigma: torch.Tensor, up: torch.Tensor, causal: torch.Tensor
    ) -> torch.Tensor:
        c = self.config
        K = c.refiner_radius
        W = 2 * K + 1
        B, L, J, _ = X_st.shape
        with torch.no_grad():
            frame = person_frames(X_st.detach(), up, c.left_hip, c.right_hip)  # (B, L, 3, 3) rows = axes
        root = 0.5 * (X_st[:, :, c.left_hip] + X_st[:, :, c.right_hip]).detach()  # (B, L, 3)
        Xp = torch.nn.functional.pad(X_st, (0, 0, 0, 0, K, K))
        Sp = torch.nn.functional.pad(log_sigma, (0, 0, K, K), value=0.0)
        valid = torch.nn.functional.pad(torch.ones(B, L, dtype=X_st.dtype, device=X_st.device), (K, K))
        Xw = Xp.unfold(1, W, 1)  # (B, L, J, 3, W)
        Sw = Sp.unfold(1, W, 1)  # (B, L, J, W)
        Vw = valid.unfold(1, W, 1)  # (B, L, W)
        future = (torch.arange(-K, K + 1, device=X_st.device) > 0)[None, None, :]
        Vw = Vw * ~(causal[:, None, None] & future)
        rel = Xw - root[:, :, None, :, None]
        local = torch.einsum("nlac,nljcw->nljaw", frame, rel)  # in the person's frame
        sig = (Sw + 4.0) / 4.0  # log sigma is about -4 (milliradians) for good points
        x = torch.cat(
            [local * Vw[:, :, None, None, :], sig[:, :, :, None, :] * Vw[:, :, None, None, :],
             Vw[:, :, None, None, :].expand(B, L, J, 1, W)],
            dim=3,
        )  # (B, L, J, 5, W)  # fmt: skip
        delta_local = self.refiner(x.reshape(B, L, -1)).reshape(B, L, J, 3)
        return torch.einsum("nlac,nlja->nljc", frame, delta_local)


def person_frames(X: torch.Tensor, up: torch.Tensor, left_hip: int, right_hip: int) -> torch.Tensor:
    """``(B, L, 3, 3)`` rotations whose rows are the person's axes: x = hip direction off ``up``,
    z = ``up``, y = z × x (identity rows where the hips are degenerate)."""
    u = torch.nn.functional.normalize(up, dim=-1)[:, None, :].expand(X.shape[0], X.shape[1], 3)
    h = X[:, :, left_hip] - X[:, :, right_hip]
    h = h - (h * u).sum(-1, keepdim=True) * u
    n = torch.linalg.vector_norm(h, dim=-1, keepdim=True)
    fallback = torch.zeros_like(h)
    fallback[..., 0] = 1.0
    fallback = fallback - (fallback * u).sum(-1, keepdim=True) * u
    x = torch.where(n > 1e-6, h / n.clamp_min(1e-6), torch.nn.functional.normalize(fallback, dim=-1))
    y = torch.linalg.cross(u, x, dim=-1)
    return torch.stack([x, y, u], dim=-2)
