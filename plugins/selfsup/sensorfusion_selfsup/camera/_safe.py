"""Autograd-safe elementwise helpers.

``torch.where(mask, a, b)`` passes a zero gradient to the branch it did not pick, but the
chain rule still multiplies that zero by the branch's own local derivative: ``0 * inf`` is
NaN. Every helper here therefore feeds its risky operation a harmless stand-in wherever the
result will be thrown away (the "double where"), so values *and* gradients stay finite.
"""

from __future__ import annotations

import torch

__all__ = ["finite_rows", "newton_tolerance", "safe_div", "safe_sqrt", "sanitize"]


def safe_sqrt(x: torch.Tensor) -> torch.Tensor:
    """``sqrt(x)`` for ``x > 0``, 0 elsewhere; the gradient at 0 is 0 (not inf/NaN)."""
    pos = x > 0
    return torch.where(pos, torch.sqrt(torch.where(pos, x, torch.ones_like(x))), torch.zeros_like(x))


def safe_div(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """``num / den`` where ``den != 0``, 0 elsewhere, with finite gradients everywhere."""
    ok = den != 0
    return torch.where(ok, num / torch.where(ok, den, torch.ones_like(den)), torch.zeros_like(num))


def finite_rows(x: torch.Tensor) -> torch.Tensor:
    """``(*,)`` True where every entry of the last axis is finite."""
    return torch.isfinite(x).all(dim=-1)


def sanitize(x: torch.Tensor, ok: torch.Tensor, fill: tuple[float, ...]) -> torch.Tensor:
    """Rows of ``x`` (``(*, D)``) where ``ok`` is False replaced by the constant ``fill``.

    The replaced rows get a zero gradient; the kept rows their own.
    """
    stand_in = torch.tensor(fill, dtype=x.dtype, device=x.device).expand_as(x)
    return torch.where(ok[..., None], x, stand_in)


def newton_tolerance(dtype: torch.dtype) -> float:
    """Relative residual a Newton inversion must reach: the core's 1e-9 in float64, looser in float32."""
    return 1e-9 if dtype == torch.float64 else 2e-5
