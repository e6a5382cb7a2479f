"""Warm-up: compile (or load from Numba's cache) every registered kernel before it is needed."""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from .._errors import ConfigError
from ._loops import loop_kernel
from ._registry import Tier, available_tiers, kernel_info, match_kernels, real_gpu

__all__ = ["KERNEL_GROUP", "WarmUpResult", "import_kernel_families", "warm_up"]

# modules of the core that register kernels when imported
CORE_FAMILIES = ("sensorfusion.geometry", "sensorfusion.fusion")


@dataclass(frozen=True)
class WarmUpResult:
    """One kernel tier warmed up: how long it took and where the machine code came from
    (``compiled``, ``cache`` — Numba's on-disk cache —, ``ready`` — already in this process —,
    ``unknown`` for hand-written tiers, or ``skipped`` with the ``reason``)."""

    name: str
    tier: str
    seconds: float
    source: Literal["compiled", "cache", "ready", "unknown", "skipped"]
    reason: str = ""


#: entry-point group naming the modules that register a distribution's kernels when imported
#: (``[project.entry-points."sensorfusion.kernels"] radar_cfar = "sensorfusion_radar._cfar"``);
#: plugin modules are light (their components load lazily), so kernels are found through this
#: group without importing a plugin's other libraries
KERNEL_GROUP = "sensorfusion.kernels"


def import_kernel_families(*, plugins: bool = True) -> list[str]:
    """Import the core's kernel modules and (``plugins``) every module an installed distribution
    declares in the ``sensorfusion.kernels`` entry-point group, so that their kernels are
    registered. Returns what failed to import, as ``"module: error"`` lines (a broken plugin does
    not stop a warm-up)."""
    failed = []
    for mod in CORE_FAMILIES:
        importlib.import_module(mod)
    if plugins:
        from importlib.metadata import entry_points

        for ep in sorted(entry_points(group=KERNEL_GROUP), key=lambda e: e.name):
            module = ep.value.split(":")[0]
            try:
                importlib.import_module(module)
            except Exception as e:  # reported, not raised
                failed.append(f"{module}: {type(e).__name__}: {e}")
    return failed


def _stats(name: str, tier: str) -> tuple[int, int] | None:
    lk = loop_kernel(name)
    if lk is None or tier != "cpu" or kernel_info(name).implementations.get("cpu") != lk.cpu:
        return None  # not a generated cpu loop (e.g. a hand-written cpu tier beside a generated cuda one)
    st = lk.cpu_dispatcher().stats
    return sum(st.cache_hits.values()), sum(st.cache_misses.values())


def warm_up(
    names: str | Iterable[str] | None = None,
    *,
    tiers: Iterable[Tier] | None = None,
    import_families: bool = True,
) -> list[WarmUpResult]:
    """Compile or load every registered kernel (or those matching the glob ``names``, e.g.
    ``"geometry.*"``) for the dtypes it is used with, by calling it once on its registered
    example arguments. ``tiers``: default ``cpu``, plus ``cuda`` on a real GPU. With
    ``import_families`` the core's and the installed plugins' kernel modules are imported first.

    Call it before a live clock starts (the first call of a Numba kernel otherwise compiles
    or loads it on the hot path), or once after installing (``python -m sensorfusion.kernels``).
    """
    if import_families:
        import_kernel_families()
    want: list[Tier] = list(tiers) if tiers is not None else ["cpu", *(["cuda"] if real_gpu() else [])]  # type: ignore[list-item]
    runnable = set(available_tiers())
    selected = match_kernels(names)
    if names is not None and not selected:
        raise ConfigError("no registered kernel matches", field_path="names", value=names, choices=match_kernels())
    out: list[WarmUpResult] = []
    for name in selected:
        info = kernel_info(name)
        for tier in want:
            fn = info.implementations.get(tier)
            if fn is None:
                continue
            if tier not in runnable:
                out.append(WarmUpResult(name, tier, 0.0, "skipped", f"the {tier} tier cannot run here"))
                continue
            if info.example is None:
                out.append(WarmUpResult(name, tier, 0.0, "skipped", "no example arguments registered"))
                continue
            before = _stats(name, tier)
            t0 = time.perf_counter()
            fn(*info.example())
            seconds = time.perf_counter() - t0
            after = _stats(name, tier)
            source: Literal["compiled", "cache", "ready", "unknown"] = "unknown"
            if before is not None and after is not None:
                hits, misses = after[0] - before[0], after[1] - before[1]
                source = "compiled" if misses else "cache" if hits else "ready"
            out.append(WarmUpResult(name, tier, seconds, source))
    return out
