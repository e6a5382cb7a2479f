"""sensorfusion.kernels: the public tier mechanism (generated loops, Numba's disk cache across
processes, warm-up, launch configuration, limits, validation)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import sensorfusion
import sensorfusion.geometry  # registers the geometry kernels
from sensorfusion import kernels as k
from sensorfusion.testing import KernelCase, KernelTierContract

ROOT = Path(__file__).resolve().parents[1]


# -- a kernel written the documented way, in this test module ----------------------------------


@k.scalar
def hypot_item(x: float, y: float) -> float:
    if not (math.isfinite(x) and math.isfinite(y)):
        return math.nan
    return math.sqrt(x * x + y * y)


def hypot_numpy(xy: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        out: np.ndarray = np.hypot(xy[:, 0], xy[:, 1])
    out[~np.isfinite(xy).all(-1)] = np.nan
    return out


HYPOT = k.register_loop(
    "test.hypot",
    k.ItemLoop(
        scalar=hypot_item,
        params=("xy",),
        items="xy.shape[0]",
        call="xy[i, 0], xy[i, 1]",
        store=("out[i]",),
        allocate=(k.Output("out", "(n,)"),),
    ),
    numpy=hypot_numpy,
    example=lambda: (np.zeros((2, 2)),),
)


class TestHypotTiers(KernelTierContract):
    """The docstring's example kernel passes the contract (cpu, cuda simulator, PTX)."""

    kernels = ("test.hypot",)

    def cases(self) -> list[KernelCase]:
        xy = np.array([[3.0, 4.0], [np.nan, 1.0], [np.inf, 0.0], [-5.0, 12.0]])
        big = np.random.default_rng(0).normal(size=(1000, 2))
        return [
            KernelCase("test.hypot", (xy,)),
            KernelCase("test.hypot", (big,), simulate=False),
            KernelCase("test.hypot", (np.zeros((0, 2)),)),
        ]


def test_registered_tiers_and_generated_sources_are_real_files() -> None:
    assert k.kernel_names()["test.hypot"] == ["cpu", "cuda", "numpy"]
    np.testing.assert_allclose(k.get_kernel("test.hypot", "cpu")(np.array([[3.0, 4.0]])), [5.0])
    path = Path(HYPOT.module("cpu").__file__ or "")
    assert path.is_file() and path.parent == k.generated_source_dir()
    text = path.read_text()
    assert text == HYPOT.source("cpu")  # what is on disk is exactly the generated text
    assert "@njit(parallel=True, cache=True, nogil=True)" in text and "prange(n)" in text
    cuda_text = HYPOT.source("cuda")
    assert "@cuda.jit(cache=True)" in cuda_text and "i = cuda.grid(1)" in cuda_text
    # deterministic: the same loop gives the same text (and so the same file name)
    again = k.LoopKernel("test.hypot", HYPOT.loop)
    assert again.source("cpu") == text


# -- Numba's on-disk cache across processes ------------------------------------------------------

CACHE_PROBE = textwrap.dedent(
    """
    import json, sys, time
    from sensorfusion import kernels
    t0 = time.perf_counter()
    results = kernels.warm_up(sys.argv[1:])
    print(json.dumps({"seconds": time.perf_counter() - t0,
                      "results": {f"{r.name}/{r.tier}": r.source for r in results}}))
    """
)


def _probe(env: dict[str, str], *patterns: str) -> dict[str, object]:
    r = subprocess.run(
        [sys.executable, "-c", CACHE_PROBE, *patterns], env=env, capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0, r.stderr[-3000:]
    out: dict[str, object] = json.loads(r.stdout.strip().splitlines()[-1])
    return out


def test_generated_loops_hit_numbas_disk_cache_in_the_next_process(tmp_path: Path) -> None:
    """The trap this mechanism exists for: loops built at run time by a factory (closures) were
    written to Numba's cache but never read back (0 hits, a compile in every process). The
    generated files are: the first process compiles, the second loads, with an empty cache."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    env.pop("SENSORFUSION_KERNEL_DIR", None)
    patterns = ("geometry.fisheye624.unproject", "fusion.triangulate", "radar.cfar_*")
    first = _probe(env, *patterns)
    second = _probe(env, *patterns)
    r1, r2 = first["results"], second["results"]
    assert isinstance(r1, dict) and isinstance(r2, dict)
    assert r1["geometry.fisheye624.unproject/cpu"] == "compiled"
    assert r1["fusion.triangulate/cpu"] == "compiled"  # a loop with per-chunk scratch memory
    assert r2["geometry.fisheye624.unproject/cpu"] == "cache"
    assert r2["fusion.triangulate/cpu"] == "cache"
    assert r2["radar.cfar_ca/cpu"] == "unknown"  # hand-written cpu tier: warmed, origin not tracked
    # the generated sources live with Numba's cache, written once
    gen = tmp_path / "numba" / "sensorfusion-kernels"
    files = sorted(gen.glob("*.py"))
    assert any(f.name.startswith("fusion_triangulate__cpu__") for f in files)
    mtimes = {f: f.stat().st_mtime_ns for f in files}
    _probe(env, "geometry.fisheye624.unproject")
    assert {f: f.stat().st_mtime_ns for f in files} == mtimes  # never rewritten


SCALAR_MODULE = """
import math
import numpy as np
from sensorfusion import kernels

@kernels.scalar
def scaled(x, a):
    return SCALE * x + a

LOOP = kernels.register_loop(
    "probe.scaled",
    kernels.ItemLoop(scalar=scaled, params=("x", "a"), items="x.shape[0]", call="x[i], a",
                     store=("out[i]",), allocate=(kernels.Output("out", "(n,)"),)),
    numpy=lambda x, a: SCALE * x + a,
    example=lambda: (np.ones(3), 1.0),
)
"""

SCALAR_PROBE = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    sys.path.insert(0, sys.argv[1])
    import probe_scalar
    out = probe_scalar.LOOP.cpu(np.arange(3.0), 1.0)
    st = probe_scalar.LOOP.cpu_dispatcher().stats
    print(json.dumps({"out": out.tolist(), "file": probe_scalar.LOOP.module("cpu").__file__,
                      "hits": sum(st.cache_hits.values()), "misses": sum(st.cache_misses.values())}))
    """
)


def test_a_change_to_the_scalar_code_is_never_served_from_a_stale_cache(tmp_path: Path) -> None:
    """Numba does not notice a change in a function a cached function calls; the generated
    file's name carries a digest of the scalar's source file, so an edit makes a new file."""
    src = tmp_path / "src"
    src.mkdir()
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}

    def run() -> dict[str, object]:
        r = subprocess.run(
            [sys.executable, "-c", SCALAR_PROBE, str(src)], env=env, capture_output=True, text=True, timeout=300
        )
        assert r.returncode == 0, r.stderr[-3000:]
        out: dict[str, object] = json.loads(r.stdout.strip().splitlines()[-1])
        return out

    (src / "probe_scalar.py").write_text("SCALE = 2.0\n" + SCALAR_MODULE)
    a, b = run(), run()
    assert a["out"] == [1.0, 3.0, 5.0] and a["misses"] == 1 and b["hits"] == 1 and a["file"] == b["file"]
    (src / "probe_scalar.py").write_text("SCALE = 3.0\n" + SCALAR_MODULE)
    c = run()
    assert c["out"] == [1.0, 4.0, 7.0] and c["misses"] == 1 and c["file"] != a["file"]


# -- warm-up, configuration, limits, validation ---------------------------------------------------


def test_warm_up_reports_each_tier_and_refuses_an_unknown_pattern() -> None:
    res = k.warm_up(["test.hypot", "geometry.pinhole.project"], import_families=False)
    got = {(r.name, r.tier) for r in res}
    assert got == {("test.hypot", "cpu"), ("geometry.pinhole.project", "cpu")}
    assert all(r.source in ("compiled", "cache", "ready") for r in res)
    assert {r.source for r in k.warm_up("test.hypot", import_families=False)} == {"ready"}
    with pytest.raises(sensorfusion.ConfigError, match="no registered kernel matches"):
        k.warm_up("nothing.like.this*", import_families=False)


def test_warm_up_command() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "sensorfusion.kernels", "geometry.double_sphere.*"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.strip().splitlines()
    assert sum(ln.startswith("geometry.double_sphere.") for ln in lines) == 4
    assert lines[-1].startswith("warmed 4 kernel tiers")


def test_launch_configuration_is_validated_and_restorable() -> None:
    import dataclasses

    before = k.launch_config()
    old = k.configure_launch(threads_per_block=128, cpu_chunk=8)
    try:
        assert k.launch_config().threads_per_block == 128 and old == before
        # the cpu chunk reaches the generated loops (a loop with scratch memory)
        P = np.stack([np.eye(4)[:3], np.eye(4)[:3]])
        P[1, 0, 3] = -1.0
        from sensorfusion.fusion import triangulate_points

        r = triangulate_points(np.zeros((2, 37, 2)), np.ones((2, 37)), P, tier="cpu")
        assert r.points3d.shape == (37, 3)
    finally:
        k.configure_launch(**dataclasses.asdict(old))
    assert k.launch_config() == before
    for bad, field in (({"threads_per_block": 100}, "threads_per_block"), ({"threads_per_block_2d": (64, 32)}, "threads_per_block_2d"),
                       ({"cpu_chunk": 0}, "cpu_chunk"), ({"cpu_threads": 0}, "cpu_threads"), ({"warp": 32}, "warp")):  # fmt: skip
        with pytest.raises(sensorfusion.ConfigError, match=field):
            k.configure_launch(**bad)  # type: ignore[arg-type]
    assert k.launch_config() == before


def test_limits_come_from_the_scratch_declaration() -> None:
    info = k.kernel_info("fusion.triangulate")
    assert info.limits == {"cuda": {"views": 64}}
    assert k.check_limits("fusion.triangulate", "cpu", views=10_000) == "cpu"
    with pytest.raises(sensorfusion.ConfigError, match="unknown kernel"):
        k.kernel_info("fusion.nope")


def test_item_loop_mistakes_are_caught_when_the_kernel_is_registered() -> None:
    def loop(**kw: object) -> k.ItemLoop:
        base: dict[str, object] = dict(
            scalar=hypot_item, params=("xy",), items="xy.shape[0]", call="xy[i, 0], xy[i, 1]", store=("out[i]",),
            allocate=(k.Output("out", "(n,)"),),
        )  # fmt: skip
        base.update(kw)
        return k.ItemLoop(**base)  # type: ignore[arg-type]

    with pytest.raises(sensorfusion.ConfigError, match=r"call uses unknown names.*'z'"):
        k.LoopKernel("bad", loop(call="xy[i, 0], z"))
    with pytest.raises(sensorfusion.ConfigError, match="not a Python expression"):
        k.LoopKernel("bad", loop(items="xy.shape["))
    with pytest.raises(sensorfusion.ConfigError, match="unknown dtype"):
        k.LoopKernel("bad", loop(allocate=(k.Output("out", "(n,)", "float16"),)))
    with pytest.raises(sensorfusion.ConfigError, match="cuda_shape"):
        k.LoopKernel("bad", loop(scratch=(k.Scratch("buf", "xy.shape[0]"),)))
    with pytest.raises(sensorfusion.ConfigError, match="generator's own"):
        k.LoopKernel("bad", loop(params=("n",), items="n.shape[0]", call="n[i, 0], n[i, 1]"))
    with pytest.raises(sensorfusion.ConfigError, match="in-place output must be a parameter"):
        k.LoopKernel("bad", loop(outputs=("nope",)))
    with pytest.raises(TypeError, match="scalar kernel"):
        k.LoopKernel("bad", loop(scalar=hypot_numpy))
    with pytest.raises(sensorfusion.ConfigError, match="cpu and cuda tiers only"):
        k.register_loop("bad", loop(), numpy=hypot_numpy, tiers=("numpy",))

    def local(x: float) -> float:
        return x

    with pytest.raises(TypeError, match="module level"):
        k.scalar(local)


def test_device_twin_calls_device_twins() -> None:
    """A scalar calling another scalar: the CUDA twin's global names are rebound to twins."""
    r = subprocess.run(
        [sys.executable, "-c", "from sensorfusion.geometry import _kannala_brandt as m\n"
         "from sensorfusion.kernels import device_function\n"
         "d = device_function(m.kb_unproject_pixel)\n"
         "print(type(d.py_func.__globals__['_kb_theta']).__name__, d.py_func.__globals__['_kb_theta'] is m._kb_theta)"],
        env={**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    kind, same = r.stdout.split()
    assert same == "False" and "CPUDispatcher" not in kind


def test_no_distribution_imports_the_private_registry() -> None:
    offenders = []
    for base in ("calibration", "drivers", "plugins", "benchmarks", "examples"):
        for f in (ROOT / base).rglob("*.py"):
            if "sensorfusion._kernels" in f.read_text(encoding="utf-8", errors="replace"):
                offenders.append(str(f.relative_to(ROOT)))
    assert not offenders
