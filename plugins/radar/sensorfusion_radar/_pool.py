"""The radar plugin's worker pool: channel or row blocks of one frame on every core.

One radar frame is a millisecond of work. A Numba ``prange`` region costs a noticeable part
of that to start, and its threads keep spinning after it on the very cores that the next
stage (the FFT's, the next frame's) needs; a pool of plain threads waiting on a condition
costs a hand-off and never spins. The blocks run Numba ``nogil`` kernels and ``scipy.fft``,
which release the GIL.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sensorfusion.kernels import launch_config

__all__ = ["block_count", "cores", "run_blocks"]

_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()
_LOCAL = threading.local()  # .worker: this thread is one of the pool's


def _forget_pool_in_child() -> None:
    # a forked child has none of the parent's pool threads: an inherited executor would take
    # the blocks and never run them; the child makes its own pool on first use
    global _POOL, _POOL_LOCK
    _POOL = None
    _POOL_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)


def cores() -> int:
    """Threads a frame's blocks run on: ``sensorfusion.kernels.launch_config().pool_threads``
    (its ``cpu_threads``, else the cores this process may run on). Read when the pool is made."""
    return launch_config().pool_threads


def _pool() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(
                max_workers=max(1, cores() - 1),
                thread_name_prefix="sensorfusion-radar",
                initializer=lambda: setattr(_LOCAL, "worker", True),
            )
        return _POOL


def block_count(n: int) -> int:
    """How many blocks :func:`run_blocks` cuts ``n`` items into here (at least 1): one per
    core, one inside a block (nested calls run inline)."""
    if getattr(_LOCAL, "worker", False):
        return 1
    return max(1, min(cores(), n))


def run_blocks(fn: Callable[[int, int, int], None], n: int) -> int:
    """Run ``fn(block, i0, i1)`` over ``[0, n)`` cut into one contiguous block per core (the
    number of blocks is returned): the calling thread takes block 0, a shared pool the others
    (``fn`` must release the GIL to gain: Numba ``nogil`` kernels, ``scipy.fft``). A pool that
    waits on a condition does not spin, unlike a Numba parallel region, whose threads would
    then compete with the next stage. Called from inside a block, it runs everything on the
    calling thread (a nested hand-off to a pool whose workers are all waiting could deadlock)."""
    n_blocks = block_count(n)
    if n_blocks == 1:  # one core, one item, or called from inside a block
        if n > 0:
            fn(0, 0, n)
        return 1
    edges = [n * i // n_blocks for i in range(n_blocks + 1)]
    futures = [_pool().submit(fn, b, edges[b], edges[b + 1]) for b in range(1, n_blocks)]
    try:
        fn(0, edges[0], edges[1])
    finally:
        for f in futures:
            f.result()
    return n_blocks
