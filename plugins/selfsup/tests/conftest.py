"""Shared fixtures: small simulated sessions recorded through the real rig (sim.rig + sim.keypoints2d)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

DATA = Path(os.environ.get("SENSORFUSION_TEST_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))


def record_sim(
    out: Path, *, seed: int, cameras: int = 4, people: int = 2, duration_s: float = 3.0, identities: bool = True
) -> Path:
    """A session of the simulated rig: 2D keypoint estimates of every camera + ground truth (no images)."""
    from sensorfusion.run import main as run_main

    rig = {
        "name": "selfsup-test",
        "seed": seed,
        "duration_s": duration_s,
        "sensors": [
            {
                "id": "sim",
                "driver": "sim.rig",
                "params": {"cameras": cameras, "people": people, "width": 320, "height": 240, "fps": 30},
            }
        ],
        "sync": {"tolerance_ms": 5, "rate_watermarks": True},
        "stages": [
            {
                "id": "detector",
                "estimator": "sim.keypoints2d",
                "inputs": ["cam*/image", "gt/skeleton3d"],
                "params": {"identities": identities, "occluded_miss_prob": 0.3, "outlier_prob": 0.02},
            }
        ],
        "record": {"compression": "zstd", "level": 1, "streams": ["gt/*"]},
    }
    path = out.with_suffix(".yaml")
    path.write_text(yaml.safe_dump(rig))
    assert run_main([str(path), "--fast", "--quiet", "--out", str(out), "--overwrite"]) == 0
    return out


@pytest.fixture(scope="session")
def sim_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """4 cameras, 2 people, 3 s, oracle ids."""
    yield record_sim(tmp_path_factory.mktemp("selfsup") / "sim.zarr", seed=11)


@pytest.fixture(scope="session")
def sim_session_no_ids(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """4 cameras, 2 people, 3 s, detections without ids (association needed)."""
    yield record_sim(tmp_path_factory.mktemp("selfsup") / "sim_noid.zarr", seed=12, identities=False)


def copy_session(src: Path, dst: Path, *, drop: tuple[str, ...] = (), no_calibration: bool = False) -> Path:
    """A copy of a session without some of its stream groups (``drop``: paths inside it) or calibration."""
    shutil.copytree(src, dst)
    for rel in drop:
        shutil.rmtree(dst / rel)
    if no_calibration:
        import zarr

        root = zarr.open_group(dst, mode="r+", zarr_format=3)
        root.attrs["calibration"] = None
    return dst
