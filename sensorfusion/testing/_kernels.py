"""The tier contract every kernel family's tests use: all tiers against numpy on the same inputs.

Subclass :class:`KernelTierContract` once per kernel family, list the family's kernel names
and give cases (arguments per kernel, including NaN, inf and empty inputs); pytest collects
the inherited checks::

    from sensorfusion.testing import KernelCase, KernelTierContract

    class TestHypot(KernelTierContract):
        kernels = ("mypkg.hypot",)

        def cases(self):
            xy = np.array([[3.0, 4.0], [np.nan, 1.0], [np.inf, 0.0]])
            return [KernelCase("mypkg.hypot", (xy,)), KernelCase("mypkg.hypot", (np.zeros((0, 2)),))]

The CUDA tier runs under Numba's simulator in a fresh interpreter (the simulator must be
switched on before :mod:`numba.cuda` is first imported) unless this process already has a GPU
or the simulator; the simulator runs every thread in Python, so mark big cases
``simulate=False``. Where NVVM is installed, every generated CUDA twin is also compiled to PTX
for a real GPU (sm_80), which catches what the simulator cannot (typing and lowering for the
device; e.g. ``max``/``min`` builtins, which Numba's CUDA target cannot compile).
"""

from __future__ import annotations

import copy
import inspect
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from ..kernels import kernel_names, loop_kernel

__all__ = ["KernelCase", "KernelTierContract", "run_tier"]


@dataclass(frozen=True)
class KernelCase:
    """Arguments of one call of ``kernel``; ``simulate``: also run it in the CUDA simulator."""

    kernel: str
    args: tuple[Any, ...]
    label: str = ""
    simulate: bool = True


def run_tier(name: str, tier: str, args: tuple[Any, ...]) -> list[np.ndarray]:
    """Call tier ``tier`` of kernel ``name`` on a deep copy of ``args``; return every output:
    the returned array(s) followed by every array argument as the call left it (so kernels
    that write into their arguments are compared too)."""
    from ..kernels import get_kernel

    a = copy.deepcopy(args)
    res = get_kernel(name, tier)(*a)
    outs: list[Any] = [] if res is None else list(res) if isinstance(res, tuple) else [res]
    outs += [x for x in a if isinstance(x, np.ndarray)]
    return [np.asarray(o) for o in outs]


def _has(args: tuple[Any, ...], test: Callable[[np.ndarray], bool]) -> bool:
    for x in args:
        if isinstance(x, np.ndarray) and x.dtype.kind in "fc" and test(x):
            return True
    return False


_CHILD = textwrap.dedent(
    """
    import importlib.util, json, sys, traceback
    import numpy as np
    path, qualname, out, mode = sys.argv[1:5]
    spec = importlib.util.spec_from_file_location("_kernel_contract_module", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    obj = mod
    for part in qualname.split("."):
        obj = getattr(obj, part)
    contract = obj()
    from sensorfusion.testing._kernels import run_tier
    if mode == "simulate":
        arrays, report = {}, []
        for k, case in enumerate(c for c in contract.cases() if c.simulate):
            try:
                for tier in ("numpy", "cuda"):
                    for m, o in enumerate(run_tier(case.kernel, tier, case.args)):
                        arrays[f"{k}:{tier}:{m}"] = o
                report.append([case.kernel, case.label, ""])
            except Exception:
                report.append([case.kernel, case.label, traceback.format_exc()[-3000:]])
        np.savez(out, **arrays)
        print("REPORT " + json.dumps(report))
    else:
        import types
        from numba import cuda, typeof
        from numba.cuda.cudadrv import nvvm
        if not nvvm.is_available():
            print("REPORT " + json.dumps("NO_NVVM")); raise SystemExit(0)
        import numba.cuda.dispatcher as disp
        # typing device functions asks the current device for its compute capability; there is
        # no device here, so name the target architecture instead (this only picks the PTX arch)
        disp.get_current_device = lambda: types.SimpleNamespace(compute_capability=(8, 0))
        from sensorfusion.kernels import loop_kernel
        report, done = {}, set()
        for case in contract.cases():
            lk = loop_kernel(case.kernel)
            if lk is None or case.kernel in done:
                continue
            done.add(case.kernel)
            try:
                sig = tuple(typeof(a) for a in lk.cuda_arguments(*case.args))
                ptx, _ = cuda.compile_ptx(lk.cuda_kernel().py_func, sig, cc=(8, 0))
                report[case.kernel] = "ok" if ".entry" in ptx else "no entry point in the PTX"
            except Exception:
                report[case.kernel] = traceback.format_exc()[-3000:]
        print("REPORT " + json.dumps(report))
    """
)


class KernelTierContract:
    """Checks every tier of every kernel of a family against its numpy reference.

    Attributes to set:
        kernels: the family's kernel names; each must be registered and have ``tiers``.
        tiers: the tiers each kernel must have (a kernel without a CUDA tier: ``("numpy", "cpu")``).
        rtol, atol: tolerance of floating-point outputs against numpy (other dtypes: exact);
            override :meth:`tolerance` for per-kernel values.
        coverage_exempt: kernel -> why its cases cannot hold NaN, inf or an empty input.

    Methods to override:
        cases(): :class:`KernelCase` list; for each kernel, NaN, inf and an empty array
            somewhere in its floating-point inputs (checked by ``test_cases_cover_...``).
        bad_calls(): ``(call, exception type, message regex)`` triples that must raise (the
            family's public wrappers given wrong shapes or sizes).
    """

    kernels: ClassVar[tuple[str, ...]] = ()
    tiers: ClassVar[tuple[str, ...]] = ("numpy", "cpu", "cuda")
    rtol: ClassVar[float] = 0.0
    atol: ClassVar[float] = 1e-9
    coverage_exempt: ClassVar[dict[str, str]] = {}

    def cases(self) -> Sequence[KernelCase]:
        raise NotImplementedError("a KernelTierContract subclass returns its KernelCase list from cases()")

    def bad_calls(self) -> Sequence[tuple[Callable[[], object], type[BaseException], str]]:
        return ()

    def tolerance(self, kernel: str) -> tuple[float, float]:
        """``(rtol, atol)`` of ``kernel``'s floating-point outputs against numpy."""
        return self.rtol, self.atol

    # -- helpers ---------------------------------------------------------------------------

    def assert_same(self, kernel: str, ref: list[np.ndarray], got: list[np.ndarray], what: str) -> None:
        assert len(ref) == len(got), f"{what}: {len(got)} outputs, numpy gave {len(ref)}"
        rtol, atol = self.tolerance(kernel)
        for k, (a, b) in enumerate(zip(ref, got, strict=True)):
            assert a.shape == b.shape, f"{what}, output {k}: shape {b.shape}, numpy {a.shape}"
            if a.dtype.kind in "fc" or b.dtype.kind in "fc":
                np.testing.assert_allclose(b, a, rtol=rtol, atol=atol, equal_nan=True, err_msg=f"{what}, output {k}")
            else:
                np.testing.assert_array_equal(b, a, err_msg=f"{what}, output {k}")

    def _child(self, mode: str, out: str) -> Any:
        cls = type(self)
        env = {**os.environ}
        env.pop("SENSORFUSION_KERNEL_TIER", None)
        if mode == "simulate":
            env["NUMBA_ENABLE_CUDASIM"] = "1"
        else:
            env.pop("NUMBA_ENABLE_CUDASIM", None)
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, inspect.getfile(cls), cls.__qualname__, out, mode],
            capture_output=True,
            text=True,
            env=env,
            timeout=900,
        )
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("REPORT ")]
        if proc.returncode != 0 or not lines:
            pytest.fail(f"the {mode} run failed:\n{proc.stderr[-4000:]}")
        return json.loads(lines[-1][len("REPORT ") :])

    # -- the checks --------------------------------------------------------------------------

    def test_registered_in_every_tier(self) -> None:
        assert self.kernels, "list the family's kernel names in `kernels`"
        names = kernel_names()
        for name in self.kernels:
            assert name in names, f"kernel {name!r} is not registered"
            missing = sorted(set(self.tiers) - set(names[name]))
            assert not missing, f"kernel {name!r} lacks the tiers {missing}"

    def test_cases_cover_nan_inf_and_empty(self) -> None:
        cases = self.cases()
        for name in self.kernels:
            if name in self.coverage_exempt:
                continue
            mine = [c.args for c in cases if c.kernel == name]
            assert mine, f"no case for kernel {name!r}"
            assert any(_has(a, lambda x: bool(np.isnan(x).any())) for a in mine), f"{name}: no case holds NaN"
            assert any(_has(a, lambda x: bool(np.isinf(x).any())) for a in mine), f"{name}: no case holds inf"
            empty = any(isinstance(x, np.ndarray) and x.size == 0 for a in mine for x in a)
            assert empty, f"{name}: no case has an empty input"

    def test_cpu_matches_numpy(self) -> None:
        for k, case in enumerate(self.cases()):
            if "cpu" not in self.tiers:
                continue
            what = f"{case.kernel} case {k} {case.label}".strip()
            ref = run_tier(case.kernel, "numpy", case.args)
            self.assert_same(case.kernel, ref, run_tier(case.kernel, "cpu", case.args), f"{what}, cpu")

    def test_bad_calls_raise(self) -> None:
        for call, exc, pattern in self.bad_calls():
            with pytest.raises(exc, match=pattern):
                call()

    def test_cuda_matches_numpy(self) -> None:
        if "cuda" not in self.tiers:
            pytest.skip("this family has no cuda tier")
        cases = [c for c in self.cases() if c.simulate]
        if not cases:
            pytest.skip("no case is small enough for the simulator")
        from ..kernels import real_gpu

        if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" or real_gpu():
            for k, case in enumerate(cases):
                ref = run_tier(case.kernel, "numpy", case.args)
                self.assert_same(case.kernel, ref, run_tier(case.kernel, "cuda", case.args), f"{case.kernel} case {k}")
            return
        with tempfile.TemporaryDirectory() as tmp:
            out = str(Path(tmp) / "outputs.npz")
            report = self._child("simulate", out)
            errors = [f"{kn} {label}:\n{err}" for kn, label, err in report if err]
            assert not errors, "\n".join(errors)
            data = np.load(out)
            for k, case in enumerate(cases):
                ref = [data[key] for key in sorted((x for x in data.files if x.startswith(f"{k}:numpy:")), key=_idx)]
                got = [data[key] for key in sorted((x for x in data.files if x.startswith(f"{k}:cuda:")), key=_idx)]
                self.assert_same(case.kernel, ref, got, f"{case.kernel} case {k} {case.label}, cuda (simulator)")

    def test_cuda_compiles_for_a_real_gpu(self) -> None:
        if "cuda" not in self.tiers:
            pytest.skip("this family has no cuda tier")
        generated = sorted({c.kernel for c in self.cases() if loop_kernel(c.kernel) is not None})
        if not generated:
            pytest.skip("no cuda tier of this family is generated by sensorfusion.kernels")
        report = self._child("ptx", "")
        if report == "NO_NVVM":
            pytest.skip("NVVM (the CUDA compiler library) is not installed")
        failed = {k: v for k, v in report.items() if v != "ok"}
        assert not failed, "\n".join(f"{k}:\n{v}" for k, v in failed.items())
        assert sorted(report) == generated


def _idx(key: str) -> int:
    m = re.search(r":(\d+)$", key)
    return int(m.group(1)) if m else 0
