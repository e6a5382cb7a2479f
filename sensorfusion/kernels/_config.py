"""Launch parameters of every kernel family, in one place."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from .._errors import ConfigError

__all__ = ["LaunchConfig", "configure_launch", "launch_config"]


@dataclass(frozen=True)
class LaunchConfig:
    """How kernels are launched. One process-wide instance (:func:`launch_config`).

    Attributes:
        threads_per_block: CUDA threads per block of one-thread-per-item launches (a multiple of
            32, at most 1024).
        threads_per_block_2d: CUDA block shape of launches over a 2-D grid of items (e.g. the
            cells of a range–Doppler map); at most 1024 threads in all.
        cpu_chunk: items per parallel chunk of a generated CPU loop whose kernel needs scratch
            memory (the scratch is allocated once per chunk, not once per item).
        cpu_threads: worker threads of the kernels that run blocks on a thread pool instead of
            a Numba parallel region (radar's per-frame kernels); ``None``: one per core this
            process may use.
    """

    threads_per_block: int = 256
    threads_per_block_2d: tuple[int, int] = (16, 16)
    cpu_chunk: int = 64
    cpu_threads: int | None = None

    def __post_init__(self) -> None:
        tpb = self.threads_per_block
        if not (isinstance(tpb, int) and 32 <= tpb <= 1024 and tpb % 32 == 0):
            raise ConfigError(
                "threads_per_block must be a multiple of 32 from 32 to 1024",
                field_path="threads_per_block",
                value=tpb,
            )
        bx, by = self.threads_per_block_2d
        if not (bx > 0 and by > 0 and bx * by <= 1024):
            raise ConfigError(
                "threads_per_block_2d must be two positive sizes with at most 1024 threads in all",
                field_path="threads_per_block_2d",
                value=list(self.threads_per_block_2d),
            )
        if self.cpu_chunk < 1:
            raise ConfigError("cpu_chunk must be at least 1", field_path="cpu_chunk", value=self.cpu_chunk)
        if self.cpu_threads is not None and self.cpu_threads < 1:
            raise ConfigError(
                "cpu_threads must be at least 1 (or None)", field_path="cpu_threads", value=self.cpu_threads
            )

    @property
    def pool_threads(self) -> int:
        """Threads a block-parallel kernel uses: ``cpu_threads``, else the cores this process may use."""
        if self.cpu_threads is not None:
            return self.cpu_threads
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


_CONFIG = LaunchConfig()


def launch_config() -> LaunchConfig:
    """The process-wide :class:`LaunchConfig`."""
    return _CONFIG


def configure_launch(**changes: object) -> LaunchConfig:
    """Change launch parameters process-wide (validated); returns the previous configuration, so
    a caller can put it back with ``configure_launch(**dataclasses.asdict(previous))``."""
    global _CONFIG
    fields = {f.name for f in dataclasses.fields(LaunchConfig)}
    unknown = sorted(set(changes) - fields)
    if unknown:
        raise ConfigError(
            "unknown launch parameter", field_path=unknown[0], value=changes[unknown[0]], choices=sorted(fields)
        )
    previous = _CONFIG
    _CONFIG = dataclasses.replace(_CONFIG, **changes)  # type: ignore[arg-type]
    return previous
