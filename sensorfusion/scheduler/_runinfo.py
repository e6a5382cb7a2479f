"""Identity of one run, handed to observer hooks."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["RunInfo"]


@dataclass(frozen=True)
class RunInfo:
    """What observer hooks learn about a run.

    Attributes:
        rig_name: the ``name`` of the rig file.
        out: the session being written, or ``None``.
        streams: every source stream.
        stages: every stage id, in execution order.
        start_ns: host time at start.
        replay_of: the session replayed, or ``None`` for a live run.
    """

    rig_name: str
    out: str | None
    streams: tuple[str, ...]
    stages: tuple[str, ...]
    start_ns: int
    replay_of: str | None = None
    extra: dict[str, object] = field(default_factory=dict)
