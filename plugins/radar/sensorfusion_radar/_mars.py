"""The MARS data set (Sizhe An et al., 2021): TI IWR1443 point clouds synchronised frame by
frame with a Kinect V2 skeleton (25 joints, Kinect SDK order = the ``kinect25`` skeleton).

``radar_data_test.csv``: ``Frame #, # Obj, X, Y, Z, Doppler, Intensity, Abs Time`` (one row
per point); ``kinect_data_test.csv``: one row per radar frame, 25 X columns, then 25 Y, then
25 Z. Both in the radar frame (Y = range, Z up), metres.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ._pose import PosePairs

__all__ = ["block_split", "load_mars", "time_split"]


def load_mars(folder: str | os.PathLike[str]) -> PosePairs:
    """Pairs ``(points (N, 5): x, y, z, doppler, intensity; joints (25, 3))`` per radar frame."""
    d = Path(folder)
    radar = np.loadtxt(d / "radar_data_test.csv", delimiter=",", skiprows=1)
    kinect = np.loadtxt(d / "kinect_data_test.csv", delimiter=",", skiprows=1)
    if kinect.ndim != 2 or kinect.shape[1] != 75:
        raise ValueError(f"{d / 'kinect_data_test.csv'}: expected 75 columns (25 joints x XYZ), got {kinect.shape}")
    frames, first = np.unique(radar[:, 0], return_index=True)
    order = np.argsort(first)
    frames = frames[order]
    if frames.size != kinect.shape[0]:
        raise ValueError(f"MARS: {frames.size} radar frames but {kinect.shape[0]} skeleton rows")
    joints = np.stack([kinect[:, 0:25], kinect[:, 25:50], kinect[:, 50:75]], axis=-1)
    points = [radar[radar[:, 0] == f][:, 2:7] for f in frames]
    return PosePairs(points, joints, "kinect25")


def time_split(pairs: PosePairs, test_fraction: float = 0.2, gap: int = 10) -> tuple[PosePairs, PosePairs]:
    """First ``1 - test_fraction`` of the frames for training, the rest (after ``gap`` frames
    left out so that neighbouring frames do not leak) for testing."""
    n = len(pairs)
    cut = round(n * (1 - test_fraction))
    return pairs.subset(np.arange(0, cut)), pairs.subset(np.arange(min(cut + gap, n), n))


def block_split(pairs: PosePairs, block: int = 50, every: int = 5, gap: int = 5) -> tuple[PosePairs, PosePairs]:
    """Interleaved split for a recording made of several movements: consecutive blocks of
    ``block`` frames, every ``every``-th block for testing, ``gap`` frames around each test
    block left out of both sets (no neighbouring-frame leakage)."""
    n = len(pairs)
    b = np.arange(n) // block
    test = (b % every) == every - 1
    near = np.zeros(n, dtype=bool)
    edges = np.flatnonzero(np.diff(test.astype(np.int8)) != 0)
    for e in edges:
        near[max(e - gap + 1, 0) : e + gap + 1] = True
    train_idx = np.flatnonzero(~test & ~near)
    test_idx = np.flatnonzero(test & ~near)
    return pairs.subset(train_idx), pairs.subset(test_idx)
