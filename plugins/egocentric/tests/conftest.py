"""Shared fixtures: a few short simulated headset sessions and a tiny model trained on them."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("sensorfusion_sim", reason="the simulator (drivers/sim) is not installed")

TINY = {
    "heatmap": 16,
    "channels": 8,
    "features": 16,
    "dim": 32,
    "layers": 2,
    "points": 2,
    "heads": 2,
    "proposal_hidden": 64,
}


@pytest.fixture(scope="session")
def sim_sessions(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    from sensorfusion_egocentric._simulate import simulate_sessions

    return simulate_sessions(tmp_path_factory.mktemp("ego_sessions"), [11, 12, 13], seconds=3.0)


@pytest.fixture(scope="session")
def tiny_model(sim_sessions: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint of a small network trained briefly (enough to test formats and plumbing)."""
    from sensorfusion_egocentric._data import concat_samples, samples_from_session
    from sensorfusion_egocentric._model import ModelConfig
    from sensorfusion_egocentric._train import TrainConfig, train_model

    from sensorfusion.schema import builtin_skeletons

    samples = concat_samples([s for p in sim_sessions for s in samples_from_session(p)])
    joints = next(s for s in builtin_skeletons() if s.name == "coco17").joints
    result = train_model(
        samples,
        config=ModelConfig(**TINY),
        train=TrainConfig(epochs=2, batch_size=64, val_fraction=0.34),
        joints=joints,
    )
    path = tmp_path_factory.mktemp("ego_model") / "tiny.pt"
    result.model.save(path)
    return path
