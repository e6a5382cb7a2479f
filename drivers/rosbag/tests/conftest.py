"""Fixtures: small bags written with rosbags' own writers, and a runner for rigs over them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from sensorfusion.run import main as run_main

ALL_TOPICS = {
    "/camera/color/image_raw": "cam0/image",
    "/camera/depth/image_raw": "cam0/depth",
    "/camera/color/camera_info": "cam0",
    "/fisheye/image/compressed": "fisheye/image",
    "/fisheye/camera_info": "fisheye",
    "/lidar/points": "lidar/points",
    "/imu/data": "imu/imu",
}


def _rig(path: Path | str, *, topics: dict[str, Any] | None = None, **params: Any) -> dict[str, Any]:
    """A rig with one rosbag.replay sensor over ``path``."""
    return {
        "name": "rosbag-test",
        "sensors": [{"id": "bag", "driver": "rosbag.replay",
                     "params": {"path": str(path), "topics": topics or ALL_TOPICS, **params}}],
        "sync": {"reference": "cam0/image", "tolerance_ms": 60},
    }  # fmt: skip


@pytest.fixture
def rig() -> Callable[..., dict[str, Any]]:
    """``rig(path, topics=..., **params)``: a rig dict with one rosbag.replay sensor."""
    return _rig


@pytest.fixture
def run_rig(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, dict[str, Any], str]]:
    """Run a rig dict with ``sensorfusion.run --fast``: (exit code, JSON summary, stderr)."""

    def run(rig_dict: dict[str, Any], out: str = "out.zarr") -> tuple[int, dict[str, Any], str]:
        rig_file = tmp_path / "rig.yaml"
        rig_file.write_text(yaml.safe_dump(rig_dict))
        rc = run_main([str(rig_file), "--fast", "--out", str(tmp_path / out), "--overwrite", "--json", "--quiet"])
        cap = capsys.readouterr()
        lines = cap.out.strip().splitlines()
        summary = json.loads(lines[-1]) if rc == 0 and lines else {}
        return rc, summary, cap.err

    return run
