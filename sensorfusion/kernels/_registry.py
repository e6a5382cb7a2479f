"""The tier registry: ``(kernel name, tier) -> implementation``; configuration picks the tier."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from .._errors import ConfigError

__all__ = [
    "TIERS",
    "KernelInfo",
    "Tier",
    "available_tiers",
    "check_limits",
    "cuda_available",
    "get_kernel",
    "kernel",
    "kernel_info",
    "kernel_names",
    "match_kernels",
    "real_gpu",
    "register",
    "resolve_tier",
]

Tier = Literal["numpy", "cpu", "cuda"]
TIERS: tuple[Tier, ...] = ("numpy", "cpu", "cuda")

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class KernelInfo:
    """What the registry knows about one kernel name.

    ``implementations`` by tier; ``example`` builds small arguments of the dtypes the kernel is
    used with (what :func:`sensorfusion.kernels.warm_up` compiles it for); ``limits`` are the
    bounds a tier cannot exceed (e.g. ``{"cuda": {"views": 64}}``), checked by
    :func:`sensorfusion.kernels.check_limits` when an estimator is built.
    """

    name: str
    implementations: dict[str, Callable[..., Any]] = field(default_factory=dict)
    example: Callable[[], tuple[Any, ...]] | None = None
    limits: dict[str, dict[str, int]] = field(default_factory=dict)


_REGISTRY: dict[str, KernelInfo] = {}


def _check_tier(tier: str) -> None:
    if tier not in TIERS:
        raise ConfigError("unknown kernel tier", field_path="tier", value=tier, choices=list(TIERS))


def register(
    name: str,
    tier: Tier,
    fn: Callable[..., Any],
    *,
    example: Callable[[], tuple[Any, ...]] | None = None,
    limits: dict[str, int] | None = None,
) -> None:
    """Register ``fn`` as the ``tier`` implementation of kernel ``name`` (replacing any before).

    ``example`` (shared by all tiers of the name) returns small arguments for a warm-up call;
    ``limits`` are this tier's bounds (see :class:`KernelInfo`)."""
    _check_tier(tier)
    info = _REGISTRY.setdefault(name, KernelInfo(name))
    info.implementations[tier] = fn
    if example is not None:
        info.example = example
    if limits:
        info.limits[tier] = dict(limits)


def kernel(name: str, tier: Tier, *, example: Callable[[], tuple[Any, ...]] | None = None) -> Callable[[F], F]:
    """Decorator form of :func:`register`: ``@kernel("radar.cfar_ca", "numpy")``."""
    _check_tier(tier)

    def deco(fn: F) -> F:
        register(name, tier, fn, example=example)
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
    """True when a real GPU (not the simulator) runs the ``cuda`` tier."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return False
    return cuda_available()


def available_tiers() -> list[Tier]:
    """The tiers that can run here: ``numpy``, ``cpu`` and, with a GPU or the simulator, ``cuda``."""
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
            "the cuda tier needs a GPU (or NUMBA_ENABLE_CUDASIM=1 to simulate one)",
            field_path=field_path,
            value=tier,
            choices=available_tiers(),
        )
    return tier


def kernel_info(name: str) -> KernelInfo:
    """The :class:`KernelInfo` of ``name``; a :class:`~sensorfusion.ConfigError` listing the
    registered names when there is none."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError("unknown kernel", field_path="kernel", value=name, choices=sorted(_REGISTRY)) from None


def get_kernel(name: str, tier: str = "auto") -> Callable[..., Any]:
    """The implementation of ``name`` for ``tier`` (``auto``: see :func:`resolve_tier`)."""
    t = resolve_tier(tier)
    info = kernel_info(name)
    try:
        return info.implementations[t]
    except KeyError:
        have = sorted(info.implementations)
        raise ConfigError(f"kernel {name!r} has no {t} tier", field_path="tier", value=t, choices=have) from None


def kernel_names() -> dict[str, list[str]]:
    """Every registered kernel name with its tiers (sorted)."""
    return {n: sorted(_REGISTRY[n].implementations) for n in sorted(_REGISTRY)}


def match_kernels(patterns: str | Iterable[str] | None = None) -> list[str]:
    """Registered names matching any of the glob ``patterns`` (all when None), sorted."""
    if patterns is None:
        return sorted(_REGISTRY)
    pats = [patterns] if isinstance(patterns, str) else list(patterns)
    return sorted(n for n in _REGISTRY if any(fnmatch.fnmatchcase(n, p) for p in pats))


def check_limits(name: str, tier: str = "auto", *, field_path: str = "tier", **sizes: int) -> Tier:
    """The tier of kernel ``name`` that will run for inputs of these sizes — checked when an
    estimator is built, not when the first frame arrives.

    Each keyword is a size (e.g. ``views=70``) checked against the bound the tier registered
    under that name (the cuda tier's fixed per-thread arrays). ``auto`` (or
    ``$SENSORFUSION_KERNEL_TIER=auto``) falls back to ``cpu`` when the tier it picks cannot
    hold them; a tier named explicitly raises a :class:`~sensorfusion.ConfigError` naming the
    bound, the size and the tiers without that bound."""
    t = resolve_tier(tier, field_path=field_path)
    info = kernel_info(name)

    def too_big(tr: str) -> tuple[str, int, int] | None:
        limits = info.limits.get(tr, {})
        for what, size in sizes.items():
            bound = limits.get(what)
            if bound is not None and size > bound:
                return what, bound, size
        return None

    over = too_big(t)
    if over is None:
        return t
    auto = tier == "auto" and os.environ.get("SENSORFUSION_KERNEL_TIER", "auto") == "auto"
    if auto and "cpu" in info.implementations and too_big("cpu") is None:
        return "cpu"
    what, bound, size = over
    others = [x for x in sorted(info.implementations) if too_big(x) is None]
    raise ConfigError(
        f"the {t} tier of kernel {name!r} holds at most {bound} {what}, got {size}",
        field_path=field_path,
        choices=others,
    )
