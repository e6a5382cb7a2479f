"""Kernel tiers: write a kernel once, get its numpy, Numba CPU and Numba CUDA tiers.

Every numeric kernel of the SDK exists in three tiers with one signature, registered under
``(name, tier)``:

* ``numpy`` — the reference: plain, obviously correct, the oracle of the tests;
* ``cpu``   — Numba ``@njit(parallel=True)``;
* ``cuda``  — Numba CUDA, one thread per item (tested without a GPU under
  ``NUMBA_ENABLE_CUDASIM=1``).

Callers ask for a name and a tier: :func:`get_kernel` (``"auto"``: ``cuda`` on a real GPU, else
``cpu``; ``$SENSORFUSION_KERNEL_TIER`` overrides it process-wide).

Writing a kernel (the one way)
------------------------------
1. Write the per-item code once as a **scalar kernel**: a module-level function on scalars and
   small arrays, decorated with :func:`scalar` (``numba.njit(cache=True, nogil=True)``). It
   must run on both targets: no allocation, no numpy calls, no ``max``/``min`` builtins
   (Numba's CUDA target cannot compile them), results returned as a tuple of scalars or
   written into arrays it is given. It may call other scalar kernels by their global name.
   Undefined input (NaN, inf, a point a model cannot see) gives NaN, never an exception.
2. Write the ``numpy`` reference with the kernel's signature.
3. Describe the loop with an :class:`ItemLoop` (parameters, item count, the scalar call for
   item ``i``, where its results go, arrays to allocate, scratch memory) and call
   :func:`register_loop`. The loop generator writes the ``cpu`` twin (a ``prange`` loop) and the
   ``cuda`` twin (a one-thread-per-item kernel calling the scalar's device twin, and its host
   launcher) as real source files, so Numba caches them across processes.
4. Test it with :class:`sensorfusion.testing.KernelTierContract`: every tier against numpy
   on the same inputs, NaN/inf/empty inputs, the CUDA tier under the simulator, and (where
   NVVM is installed) the CUDA twin compiled for a real GPU.

Example::

    import math
    import numpy as np
    from sensorfusion.kernels import ItemLoop, Output, register_loop, scalar

    @scalar
    def hypot_item(x, y):
        if not (math.isfinite(x) and math.isfinite(y)):
            return math.nan
        return math.sqrt(x * x + y * y)

    def hypot_numpy(xy):
        out = np.hypot(xy[:, 0], xy[:, 1])
        out[~np.isfinite(xy).all(-1)] = np.nan
        return out

    register_loop(
        "mypkg.hypot",
        ItemLoop(scalar=hypot_item, params=("xy",), items="xy.shape[0]",
                 call="xy[i, 0], xy[i, 1]", store=("out[i]",), allocate=(Output("out", "(n,)"),)),
        numpy=hypot_numpy,
        example=lambda: (np.zeros((2, 2)),),
    )

A kernel whose CPU tier is a different algorithm (radar's per-frame kernels run blocks on a
thread pool, see ``docs/architecture.md``) registers its tiers with :func:`register` /
:func:`kernel` and may still generate its CUDA twin from a scalar kernel with
:func:`register_loop` (``numpy=`` the reference) before registering its own ``cpu``.

Launch parameters (CUDA threads per block, CPU chunk size, pool threads) live in one
:class:`LaunchConfig` (:func:`launch_config`, :func:`configure_launch`). :func:`warm_up`
compiles or loads every kernel (``python -m sensorfusion.kernels``); :func:`check_limits`
refuses at build time what a tier cannot hold (the cuda tier's fixed per-thread arrays).
"""

from ._config import LaunchConfig, configure_launch, launch_config
from ._loops import ItemLoop, LoopKernel, Output, Scratch, loop_kernel, register_loop
from ._registry import (
    TIERS,
    KernelInfo,
    Tier,
    available_tiers,
    check_limits,
    cuda_available,
    get_kernel,
    kernel,
    kernel_info,
    kernel_names,
    match_kernels,
    real_gpu,
    register,
    resolve_tier,
)
from ._scalar import device_function, scalar
from ._source import generated_source_dir
from ._warmup import KERNEL_GROUP, WarmUpResult, import_kernel_families, warm_up

__all__ = [
    "KERNEL_GROUP",
    "TIERS",
    "ItemLoop",
    "KernelInfo",
    "LaunchConfig",
    "LoopKernel",
    "Output",
    "Scratch",
    "Tier",
    "WarmUpResult",
    "available_tiers",
    "check_limits",
    "configure_launch",
    "cuda_available",
    "device_function",
    "generated_source_dir",
    "get_kernel",
    "import_kernel_families",
    "kernel",
    "kernel_info",
    "kernel_names",
    "launch_config",
    "loop_kernel",
    "match_kernels",
    "real_gpu",
    "register",
    "register_loop",
    "resolve_tier",
    "scalar",
    "warm_up",
]
