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


def load_mars(folder: str | os.PathLike[str], *, max_frame_step: int = 6) -> PosePairs:
    """Pairs ``(points (N, 5): x, y, z, doppler, intensity; joints (25, 3))`` per radar frame.

    ``prev`` links each frame to the one before it when the radar frame numbers advance by
    1 to ``max_frame_step`` (a few frames without points are missing from the files); larger
    jumps (or going back) start a new recording (the data set is several movements in a
    row), where the temporal history starts afresh."""
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
    step = np.diff(frames)
    prev = np.full(frames.size, -1, dtype=np.int64)
    linked = np.flatnonzero((step >= 1) & (step <= max_frame_step)) + 1
    prev[linked] = linked - 1
    return PosePairs(points, joints, "kinect25", prev)


def _frame_index(pairs: PosePairs) -> np.ndarray:
    """Per sample, the index of its radar frame: the rank of ``t_ns`` when every sample has a
    time (sessions: several people per frame), else the sample index (MARS: one per frame)."""
    if len(pairs) and np.all(pairs.t_ns >= 0):
        out: np.ndarray = np.unique(pairs.t_ns, return_inverse=True)[1].reshape(-1)
        return out
    return np.arange(len(pairs))


def time_split(pairs: PosePairs, test_fraction: float = 0.2, gap: int = 10) -> tuple[PosePairs, PosePairs]:
    """First ``1 - test_fraction`` of the frames for training, the rest (after ``gap`` frames
    left out so that neighbouring frames do not leak) for testing."""
    fr = _frame_index(pairs)
    n = int(fr.max()) + 1 if fr.size else 0
    cut = round(n * (1 - test_fraction))
    return pairs.subset(np.flatnonzero(fr < cut)), pairs.subset(np.flatnonzero(fr >= min(cut + gap, n)))


def block_split(pairs: PosePairs, block: int = 50, every: int = 5, gap: int = 5) -> tuple[PosePairs, PosePairs]:
    """Interleaved split for a recording made of several movements: consecutive blocks of
    ``block`` frames, every ``every``-th block for testing, ``gap`` frames around each test
    block left out of both sets (no neighbouring-frame leakage). Frames are radar frames
    (all the people of a frame go to the same side) when the samples have times, else
    samples. The history links (``prev``) are cut at the samples left out."""
    fr = _frame_index(pairs)
    n = int(fr.max()) + 1 if fr.size else 0
    b = np.arange(n) // block
    test = (b % every) == every - 1
    near = np.zeros(n, dtype=bool)
    edges = np.flatnonzero(np.diff(test.astype(np.int8)) != 0)
    for e in edges:
        near[max(e - gap + 1, 0) : e + gap + 1] = True
    train_idx = np.flatnonzero((~test & ~near)[fr])
    test_idx = np.flatnonzero((test & ~near)[fr])
    return pairs.subset(train_idx), pairs.subset(test_idx)
