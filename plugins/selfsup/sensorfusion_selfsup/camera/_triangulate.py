"""Differentiable, confidence-weighted triangulation.

* :func:`triangulate_dlt` — the same weighted DLT as the core's ``fusion.triangulate`` kernel
  without outlier rejection (``sensorfusion.fusion.triangulate_points(robust=False)``): rows
  ``c (x P3 - P1)``, ``c (y P3 - P2)`` per view, the point is the eigenvector of the smallest
  eigenvalue of ``AᵀA`` (= the right singular vector of ``A``). Same validity rules: an
  observation counts when its pixel and confidence are finite, ``confidence > min_confidence``
  and its ``P`` is finite; fewer than ``min_views`` such views, or a null space of dimension
  > 1 (coincident rays), or a point at infinity, is invalid.
* :func:`triangulate_rays` — the weighted least-squares point nearest to world rays
  ``origin + s · direction`` (minimises ``Σ w ‖(I - d dᵀ)(X - o)‖²``); works for any camera
  model, including rays beyond 90° from a fisheye's axis where no pinhole ``P`` exists.

Both solve in float64 (a 4x4 or 3x3 system per point, cheap) and return the input's dtype.
Invalid rows hold 0 (finite), and their system is swapped for a well-conditioned stand-in
before the differentiable solve, so gradients stay finite everywhere. The DLT's eigenvector
has its own backward (:class:`_SmallestEigenvector`): ``torch.linalg.eigh``'s divides by
*every* eigenvalue gap, so two equal large eigenvalues (which the point does not depend on)
would turn its gradient into NaN; ours uses only the gaps to the smallest one.
"""

from __future__ import annotations

from typing import Any

import torch

from sensorfusion.geometry import ShapeError

__all__ = ["triangulate_dlt", "triangulate_rays"]


class _SmallestEigenvector(torch.autograd.Function):
    """Unit eigenvector of the smallest eigenvalue of symmetric ``(N, 4, 4)`` matrices.

    Backward: ``dv0 = Σ_{i>0} v_i (v_iᵀ dM v0) / (λ0 - λ_i)``, hence
    ``∂L/∂M = Σ_{i>0} (gᵀ v_i) / (λ0 - λ_i) · v_i v0ᵀ`` (symmetrised).
    """

    @staticmethod
    def forward(ctx: Any, M: torch.Tensor) -> torch.Tensor:
        ev, vecs = torch.linalg.eigh(M)
        ctx.save_for_backward(ev, vecs)
        out: torch.Tensor = vecs[..., 0]
        return out

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> torch.Tensor:
        (g,) = grads
        ev, vecs = ctx.saved_tensors
        v0 = vecs[..., 0]
        gap = ev[..., :1] - ev[..., 1:]  # (N, 3), negative
        coef = torch.einsum("nk,nki->ni", g, vecs[..., 1:]) / gap  # (N, 3)
        u = torch.einsum("nki,ni->nk", vecs[..., 1:], coef)  # (N, 4)
        gm = u[..., :, None] * v0[..., None, :]
        out: torch.Tensor = 0.5 * (gm + gm.transpose(-1, -2))
        return out


def triangulate_dlt(
    points2d: torch.Tensor,
    confidence: torch.Tensor,
    projections: torch.Tensor,
    *,
    min_confidence: float = 0.0,
    min_views: int = 2,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted DLT of ``points2d (V, *, 2)`` (undistorted pixels) with ``confidence (V, *)`` and
    ``projections (V, 3, 4)``: ``points3d (*, 3)`` and ``valid (*,)``."""
    if points2d.ndim < 2 or points2d.shape[-1] != 2:
        raise ShapeError("points2d", "(V, *, 2)", tuple(points2d.shape))
    V = points2d.shape[0]
    batch = points2d.shape[1:-1]
    if tuple(confidence.shape) != (V, *batch):
        raise ShapeError("confidence", f"{(V, *batch)}", tuple(confidence.shape))
    if tuple(projections.shape) != (V, 3, 4):
        raise ShapeError("projections", f"({V}, 3, 4)", tuple(projections.shape))
    out_dtype = points2d.dtype
    f64 = torch.float64
    pts = points2d.to(f64).reshape(V, -1, 2)
    conf = confidence.to(f64).reshape(V, -1)
    P = projections.to(f64)
    p_ok = torch.isfinite(P).all(dim=-1).all(dim=-1)
    use = torch.isfinite(pts).all(dim=-1) & torch.isfinite(conf) & (conf > min_confidence) & p_ok[:, None]
    w2 = torch.where(use, conf, torch.zeros_like(conf)) ** 2
    x = torch.where(use, pts[..., 0], torch.zeros_like(conf))
    y = torch.where(use, pts[..., 1], torch.zeros_like(conf))
    Pz = torch.where(torch.isfinite(P), P, torch.zeros_like(P))[:, None]  # (V, 1, 3, 4)
    a = x[..., None] * Pz[..., 2, :] - Pz[..., 0, :]  # (V, N, 4)
    b = y[..., None] * Pz[..., 2, :] - Pz[..., 1, :]
    M = torch.einsum("vn,vni,vnj->nij", w2, a, a) + torch.einsum("vn,vni,vnj->nij", w2, b, b)
    n_use = use.sum(dim=0)
    with torch.no_grad():
        nonzero = M.abs().amax(dim=(-1, -2)) > 0
        Mc = torch.where(nonzero[:, None, None], M, torch.eye(4, dtype=f64, device=M.device))
        ev, evec = torch.linalg.eigh(Mc)
        v3 = evec[:, 3, 0].abs()
        ok = nonzero & (n_use >= max(2, min_views)) & (ev[:, 1] > 1e-13 * ev[:, 3]) & (v3 >= 1e-12)
        # the unit-norm eigenvector's last entry >= 1e-12, as the core's SVD test
    stand_in = torch.diag(torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=f64, device=M.device))
    Ms = torch.where(ok[:, None, None], M, stand_in)
    v: torch.Tensor = _SmallestEigenvector.apply(Ms)  # type: ignore[no-untyped-call]  # (N, 4)
    den = torch.where(ok, v[:, 3], torch.ones_like(v[:, 3]))
    X = torch.where(ok[:, None], v[:, :3] / den[:, None], torch.zeros_like(v[:, :3]))
    ok = ok & torch.isfinite(X).all(dim=-1)
    return X.to(out_dtype).reshape(*batch, 3), ok.reshape(batch)


def triangulate_rays(
    origins: torch.Tensor,
    directions: torch.Tensor,
    weights: torch.Tensor,
    *,
    min_views: int = 2,
    min_conditioning: float = 1e-10,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The point nearest (weighted least squares) to ``V`` rays per batch element.

    Args:
        origins: ``(V, 3)`` or ``(V, *, 3)`` ray origins (camera centres), world metres.
        directions: ``(V, *, 3)`` directions (normalised here).
        weights: ``(V, *)``; a view counts where its weight is finite and > 0 and its ray finite.
        min_views: rays needed.
        min_conditioning: smallest / largest eigenvalue of the normal matrix below which the
            rays are (nearly) parallel and the point invalid.

    Returns ``points (*, 3)`` and ``valid (*,)``.
    """
    if directions.ndim < 2 or directions.shape[-1] != 3:
        raise ShapeError("directions", "(V, *, 3)", tuple(directions.shape))
    V = directions.shape[0]
    batch = directions.shape[1:-1]
    if tuple(weights.shape) != (V, *batch):
        raise ShapeError("weights", f"{(V, *batch)}", tuple(weights.shape))
    out_dtype = directions.dtype
    f64 = torch.float64
    d = directions.to(f64).reshape(V, -1, 3)
    N = d.shape[1]
    o = origins.to(f64)
    if o.ndim == 2:
        o = o[:, None, :].expand(V, N, 3)
    else:
        o = o.reshape(V, -1, 3).expand(V, N, 3)
    w = weights.to(f64).reshape(V, -1)
    use = torch.isfinite(d).all(-1) & torch.isfinite(o).all(-1) & torch.isfinite(w) & (w > 0)
    nd2 = (d * d).sum(-1)
    use = use & (nd2 > 0)
    ez = torch.tensor([0.0, 0.0, 1.0], dtype=f64, device=d.device)
    d = torch.where(use[..., None], d, ez)
    d = d / torch.linalg.vector_norm(d, dim=-1, keepdim=True)
    o = torch.where(use[..., None], o, torch.zeros_like(o))
    w = torch.where(use, w, torch.zeros_like(w))
    eye = torch.eye(3, dtype=f64, device=d.device)
    proj = eye - d[..., :, None] * d[..., None, :]  # (V, N, 3, 3)
    A = torch.einsum("vn,vnij->nij", w, proj)
    rhs = torch.einsum("vn,vnij,vnj->ni", w, proj, o)
    with torch.no_grad():
        ev = torch.linalg.eigvalsh(A)
        ok = (use.sum(0) >= min_views) & (ev[:, 0] > min_conditioning * ev[:, 2]) & (ev[:, 2] > 0)
    As = torch.where(ok[:, None, None], A, eye)
    rs = torch.where(ok[:, None], rhs, torch.zeros_like(rhs))
    X = torch.linalg.solve(As, rs[..., None])[..., 0]
    return X.to(out_dtype).reshape(*batch, 3), ok.reshape(batch)
