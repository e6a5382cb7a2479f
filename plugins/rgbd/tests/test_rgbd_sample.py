"""rgbd.sample_depth: the numpy reference, the Numba CPU tier and (simulated) CUDA tier agree (tier contract)."""

from __future__ import annotations

import numpy as np
from pydantic import ValidationError
from sensorfusion_rgbd import LiftParams, sample_depth_cpu, sample_depth_cuda, sample_depth_numpy

from sensorfusion import ConfigError
from sensorfusion.testing import KernelCase, KernelTierContract


def run(
    fn: object, depth: np.ndarray, uv: np.ndarray, h: int = 2, min_valid: int = 3, fg: float = 0.15
) -> tuple[np.ndarray, np.ndarray]:
    z, n = np.empty(len(uv)), np.empty(len(uv), dtype=np.int32)
    fn(depth, uv, h, min_valid, fg, z, n)  # type: ignore[operator]
    return z, n


def scene(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    depth = np.full((60, 80), 4.0, np.float32)
    depth[20:40, 30:50] = 2.0  # a body in front of a wall
    depth += rng.normal(0, 0.005, depth.shape).astype(np.float32)
    depth[rng.random(depth.shape) < 0.1] = 0.0  # holes
    depth[5, 5] = np.nan
    uv = np.column_stack([rng.uniform(-3, 83, 300), rng.uniform(-3, 63, 300)])
    uv[::17] = np.nan
    uv[1] = (29.6, 30.0)  # silhouette edge: mostly wall pixels in the window
    return depth, uv


def test_cpu_tier_equals_reference() -> None:
    depth, uv = scene()
    z0, n0 = run(sample_depth_numpy, depth, uv)
    z1, n1 = run(sample_depth_cpu, depth, uv)
    np.testing.assert_array_equal(n0, n1)
    np.testing.assert_allclose(z0, z1, rtol=0, atol=1e-12, equal_nan=True)
    assert np.isnan(z0[::17]).all() and (n0[::17] == 0).all()


def test_foreground_test_and_holes() -> None:
    depth, uv = scene()
    z, n = run(sample_depth_numpy, depth, uv)
    assert abs(z[1] - 2.0) < 0.02  # the body, not the wall behind it
    inside = (uv[:, 0] > 33) & (uv[:, 0] < 46) & (uv[:, 1] > 23) & (uv[:, 1] < 36)
    assert np.all(np.abs(z[inside] - 2.0) < 0.02)
    holes = np.zeros((10, 10), np.float32)
    z, n = run(sample_depth_numpy, holes, np.array([[5.0, 5.0]]))
    assert np.isnan(z[0]) and n[0] == 0
    few = holes.copy()
    few[5, 5] = few[5, 6] = 1.0
    assert np.isnan(run(sample_depth_cpu, few, np.array([[5.0, 5.0]]))[0][0])  # 2 < min_valid
    assert run(sample_depth_cpu, few, np.array([[5.0, 5.0]]), min_valid=2)[0][0] == 1.0


def _args(depth: np.ndarray, uv: np.ndarray, h: int = 2, min_valid: int = 3, fg: float = 0.15) -> tuple[object, ...]:
    return depth, uv, h, min_valid, fg, np.full(len(uv), -1.0), np.full(len(uv), -1, dtype=np.int32)


class TestSampleDepthTiers(KernelTierContract):
    """rgbd.sample_depth through the tier contract (the cuda tier under the simulator and as PTX)."""

    kernels = ("rgbd.sample_depth",)
    atol = 1e-12

    def cases(self) -> list[KernelCase]:
        depth, uv = scene()
        depth[7, 9] = np.inf
        uv[2] = (np.inf, 10.0)
        rng = np.random.default_rng(1)
        small = np.full((12, 14), 3.0, np.float32)
        small[3:9, 4:10] = 1.5
        small[rng.random(small.shape) < 0.15] = 0
        small[0, 0] = np.nan
        small[1, 1] = np.inf
        suv = np.column_stack([rng.uniform(-1, 15, 9), rng.uniform(-1, 13, 9)])
        suv[0] = np.nan
        suv[1] = (-np.inf, 2.0)
        return [
            KernelCase("rgbd.sample_depth", _args(depth, uv), "scene", simulate=False),
            KernelCase("rgbd.sample_depth", _args(depth, uv, h=5, min_valid=1, fg=0.05), "11x11", simulate=False),
            KernelCase("rgbd.sample_depth", _args(small, suv, h=1, min_valid=2, fg=0.2), "small"),
            KernelCase("rgbd.sample_depth", _args(small, suv, h=5, min_valid=2, fg=0.2), "small 11x11"),
            KernelCase("rgbd.sample_depth", _args(small, np.zeros((0, 2))), "no points"),
        ]

    def bad_calls(self) -> list[tuple[object, type[BaseException], str]]:
        depth, uv = scene()
        return [
            (
                lambda: sample_depth_cuda(*_args(depth, uv[:2], h=6)),
                ConfigError,
                "holds at most 121 window cells, got 169",
            ),
            (lambda: LiftParams(half_window_px=6), ValidationError, "less than or equal to 5"),
        ]
