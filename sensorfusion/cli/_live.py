"""The live statistics table shown while a rig runs, and the end-of-run summary table.

The table belongs to the command line: the runner hands it plain
:class:`~sensorfusion.scheduler.RunStats` snapshots and knows nothing about it.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from ..scheduler._report import RunStats

__all__ = ["LiveTable", "render_stats"]


def _fmt(x: Any, nd: int = 1) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return str(x)


def _drops(d: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(d.items()) if v) or "0"


def render_stats(stats: dict[str, Any], *, title: str = "sensorfusion", live: bool = True) -> Table:
    """A table of per-stream and per-stage fps, latency p50/p99 and drops."""
    t = Table(title=title, title_justify="left", expand=False)
    t.add_column("stream / stage")
    t.add_column("frames", justify="right")
    t.add_column("fps" if live else "mean fps", justify="right")
    t.add_column("p50 ms", justify="right")
    t.add_column("p99 ms", justify="right")
    t.add_column("drops")
    for name, s in stats.get("streams", {}).items():
        t.add_row(
            name,
            _fmt(s.get("count")),
            _fmt(s.get("fps") if live else s.get("mean_fps")),
            "",
            "",
            _drops(s.get("drops", {})),
        )
    for name, s in stats.get("stages", {}).items():
        t.add_row(
            f"[bold]{name}[/bold]",
            _fmt(s.get("count")),
            _fmt(s.get("fps") if live else s.get("mean_fps")),
            _fmt(s.get("latency_ms_p50"), 2),
            _fmt(s.get("latency_ms_p99"), 2),
            _drops(s.get("drops", {})) + (f", errors={s['errors']}" if s.get("errors") else ""),
        )
    t.caption = f"framesets {stats.get('framesets', 0)} (partial {stats.get('partial_framesets', 0)})"
    return t


class LiveTable:
    """Refreshes a rich table on a terminal; prints nothing live when stdout is not a TTY."""

    def __init__(self, rig_name: str, *, enabled: bool) -> None:
        self.rig_name = rig_name
        self.console = Console(stderr=False)
        self.enabled = enabled and sys.stdout.isatty()
        self._live: Live | None = None

    def __enter__(self) -> LiveTable:
        return self  # the table appears with the first statistics (after the warm-up)

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        if self._live is not None:
            self._live.__exit__(et, e, tb)
            self._live = None

    def _render(self, stats: RunStats | None = None) -> Table:
        data = stats.as_dict() if stats is not None else {}
        return render_stats(data, title=f"sensorfusion · {self.rig_name}")

    def refresh(self, stats: RunStats) -> None:
        """Show a new snapshot (called by the runner's thread with every refresh)."""
        if self.enabled and self._live is None:
            self._live = Live(self._render(stats), console=self.console, refresh_per_second=4, transient=True)
            self._live.__enter__()
        elif self._live is not None:
            self._live.update(self._render(stats))

    def final(self, summary: dict[str, Any]) -> None:
        parts: list[Any] = [render_stats(summary, title=f"sensorfusion · {summary.get('rig')} · done", live=False)]
        for kind in ("estimators", "sinks"):
            for sid, figures in summary.get(kind, {}).items():
                if figures:
                    tt = Table(title=f"{sid}", title_justify="left", show_header=False)
                    for k, v in figures.items():
                        tt.add_row(
                            k,
                            _fmt(v, 2)
                            if not isinstance(v, dict)
                            else ", ".join(f"{a}={_fmt(b, 2)}" for a, b in v.items()),
                        )
                    parts.append(tt)
        self.console.print(Group(*parts))
