"""Simulated training and evaluation sessions (needs ``sensorfusion-sim``).

Each session is a normal recorded run of ``sim.rig``: ``people`` simulated people, one of them
wearing a headset, and ``sim.headset_keypoints2d`` on its two fisheye views; recorded are the
ground truth, the headset's poses and the 2D keypoints. Sessions with different seeds differ in
who is there (heights), how they move (their behaviour schedules) and where the wearer looks.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from sensorfusion import ConfigError

__all__ = ["simulation_rig", "simulate_sessions"]


def simulation_rig(
    seed: int, *, seconds: float, people: int = 2, wearer: int = 0, headset: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The rig (as a dict) of one simulated training session."""
    hs = {"person": wearer, "render": False, **dict(headset or {})}
    dev = hs.get("id") or "hmd0"
    return {
        "name": f"ego-sim-{seed}",
        "seed": int(seed),
        "duration_s": float(seconds),
        "sensors": [
            {
                "id": "sim",
                "driver": "sim.rig",
                "params": {"cameras": 1, "people": people, "render": False, "crossing": False, "headsets": [hs]},
            }
        ],
        "sync": {"tolerance_ms": 5},
        "record": {"streams": ["gt/*", f"gt_{dev}/*", f"{dev}/*"]},
        "stages": [
            {"id": "hdet", "estimator": "sim.headset_keypoints2d", "inputs": ["gt/skeleton3d", f"gt_{dev}/device_pose"]}
        ],
    }


def simulate_sessions(
    out_dir: str | os.PathLike[str],
    seeds: Sequence[int],
    *,
    seconds: float = 20.0,
    people: int = 2,
    headset: Mapping[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Record one session per seed under ``out_dir`` (``ego_<seed>.zarr``; existing finished ones
    are reused). The wearer alternates between person 0 and 1 with the seed's parity."""
    try:
        import sensorfusion_sim  # noqa: F401
    except ImportError as exc:
        raise ConfigError("simulated sessions need the simulator: pip install sensorfusion-sim") from exc
    from sensorfusion.run import main as run_main
    from sensorfusion.store import Session

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, seed in enumerate(seeds):
        path = out / f"ego_{seed}.zarr"
        done = False
        if path.exists():
            try:
                done = Session.open(path).finished
            except Exception:
                done = False
        if not done:
            rig = out / f"ego_{seed}.yaml"
            rig.write_text(
                yaml.safe_dump(
                    simulation_rig(seed, seconds=seconds, people=people, wearer=seed % min(2, people), headset=headset)
                )
            )
            code = run_main([str(rig), "--fast", "--out", str(path), "--overwrite", "--quiet"])
            if code != 0:
                raise ConfigError(f"simulating session {seed} failed (exit {code})", value=str(rig))
        paths.append(path)
        if progress is not None:
            progress(k + 1, len(seeds))
    return paths
