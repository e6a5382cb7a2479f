"""Frames of the simulated people for the ti-mmwave UART emulator.

``ti_mmwave.uart`` with ``emulate: "sensorfusion_radar._uart_sim:sim_people_frames"`` starts
an in-process device emulator on a pty pair and decodes, over the real serial protocol,
the point clouds of the people that ``sim.rig`` simulates (same seed → same people):
frame ``k`` is the simulated scene at ``k * frame_period_s``, seen by radar ``radar_index``
of the simulated rig (``sensorfusion_sim._radar.SimRadar``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from sensorfusion import MissingDependencyError

__all__ = ["sim_people_frames"]


def sim_people_frames(
    *,
    seed: int = 0,
    format: str = "oob",
    frame_period_s: float = 0.1,
    people: int = 3,
    room_m: tuple[float, float] = (6.0, 6.0),
    radar_index: int = 0,
    frames: int | None = None,
    crossing: bool = True,
) -> Iterator[Any]:
    """Yield ``sensorfusion_ti_mmwave`` ``RadarFrame`` objects (points in TI radar axes)."""
    try:
        from sensorfusion_sim import PeopleSim
        from sensorfusion_sim._radar import SimRadar, simulated_point_cloud
        from sensorfusion_ti_mmwave._tlv import RadarFrame  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        raise MissingDependencyError(
            "the simulated UART source needs sensorfusion-sim and sensorfusion-ti-mmwave",
            install="pip install sensorfusion-sim sensorfusion-ti-mmwave",
        ) from exc
    sim = PeopleSim(seed, people, room_m, crossing=crossing)
    radar = SimRadar(radar_index, seed, room_m, 1.0 / frame_period_s, 0.0)
    k = 0
    while frames is None or k < frames:
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x5ADA, radar_index, k)))
        pc = simulated_point_cloud(radar.model, radar.scatterers(sim, k * frame_period_s), rng)
        pts = np.column_stack([pc["x"], pc["y"], pc["z"], pc["velocity"]]).astype(np.float32)
        yield RadarFrame(frame_number=k + 1, points=pts, snr_db=pc["snr"].astype(np.float32))
        k += 1
