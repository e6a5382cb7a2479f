"""Fixtures: where the real Aria samples are; skips when they (or projectaria-tools) are absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA = Path(os.environ.get("SENSORFUSION_TEST_DATA", Path(__file__).resolve().parents[3].parent / "shared" / "data"))
ARIA = DATA / "aria"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real Aria sample not found: {path} (set SENSORFUSION_TEST_DATA to the shared data folder)")
    return path


@pytest.fixture
def mps() -> Path:
    """``aria/mps_sample``: online_calibration.jsonl, closed_loop_trajectory.csv."""
    return _need(ARIA / "mps_sample")


@pytest.fixture
def adt() -> Path:
    """``aria/adt_test``: video.vrs, aria_trajectory.csv, Skeleton_T.json."""
    return _need(ARIA / "adt_test")


@pytest.fixture
def gen1_vrs() -> Path:
    return _need(ARIA / "gen1_calib" / "aria_unit_test_timecode_sequence_calib.vrs")


@pytest.fixture
def projectaria() -> None:
    from sensorfusion_aria import INSTALL_VRS, have_projectaria_tools

    if not have_projectaria_tools():
        pytest.skip(f"projectaria-tools is not installed ({INSTALL_VRS})")


@pytest.fixture
def fisheye624() -> None:
    from sensorfusion import schema

    if not hasattr(schema, "Fisheye624Camera"):
        pytest.skip("this core has no Fisheye624 camera model yet")
