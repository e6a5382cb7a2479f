"""Kernel tiers: one signature, three implementations, configuration picks one.

Every numeric kernel of the SDK exists as

* ``numpy`` — the reference: plain, obviously correct, used by tests as the oracle;
* ``cpu``   — Numba ``@njit(parallel=True)``;
* ``cuda``  — Numba ``@cuda.jit`` (tested on machines without a GPU under
  ``NUMBA_ENABLE_CUDASIM=1``).

Implementations register under ``(name, tier)``; callers ask for a name and a tier
(``"auto"``: ``cuda`` when a real GPU is present, else ``cpu``). ``SENSORFUSION_KERNEL_TIER``
overrides ``auto`` process-wide.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from ._errors import ConfigError

__all__ = ["TIERS", "Tier", "available_tiers", "get_kernel", "kernel", "kernel_names", "resolve_tier"]

Tier = Literal["numpy", "cpu", "cuda"]
TIERS: tuple[Tier, ...] = ("numpy", "cpu", "cuda")

F = TypeVar("F", bound=Callable[..., Any])
_REGISTRY: dict[tuple[str, str], Callable[..., Any]] = {}


def kernel(name: str, tier: Tier) -> Callable[[F], F]:
    """Decorator registering ``fn`` as the ``tier`` implementation of kernel ``name``."""
    if tier not in TIERS:
        raise ValueError(f"unknown tier {tier!r}")

    def deco(fn: F) -> F:
        _REGISTRY[(name, tier)] = fn
        return fn

    return deco


def cuda_available() -> bool:
    """True when CUDA kernels can run: a real GPU, or the simulator (``NUMBA_ENABLE_CUDASIM=1``)."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return True
    try:
        from numba import cuda

        return bool(cuda.is_available())  # type: ignore[no-untyped-call]
    except Exception:  # no driver, no toolkit
        return False


def real_gpu() -> bool:
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return False
    return cuda_available()


def available_tiers() -> list[Tier]:
    return ["numpy", "cpu", *(["cuda"] if cuda_available() else [])]  # type: ignore[list-item]


def resolve_tier(tier: str = "auto", *, field_path: str = "tier") -> Tier:
    """Turn ``auto`` (or ``$SENSORFUSION_KERNEL_TIER``) into a concrete, available tier."""
    if tier == "auto":
        tier = os.environ.get("SENSORFUSION_KERNEL_TIER", "auto")
    if tier == "auto":
        return "cuda" if real_gpu() else "cpu"
    if tier not in TIERS:
        raise ConfigError("unknown kernel tier", field_path=field_path, value=tier, choices=["auto", *TIERS])
    if tier == "cuda" and not cuda_available():
        raise ConfigError(
            "the cuda tier needs a GPU (or NUMBA_ENABLE_CUDASIM=1 to simulate one)", field_path=field_path, value=tier, choices=available_tiers()
        )
    return tier


def get_kernel(name: str, tier: str = "auto") -> Callable[..., Any]:
    """The implementation of ``name`` for ``tier``."""
    t = resolve_tier(tier)
    try:
        return _REGISTRY[(name, t)]
    except KeyError:
        have = sorted(tr for (n, tr) in _REGISTRY if n == name)
        raise ConfigError(f"kernel {name!r} has no {t} tier", field_path="tier", value=t, choices=have) from None


def kernel_names() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for n, t in sorted(_REGISTRY):
        out.setdefault(n, []).append(t)
    return out
