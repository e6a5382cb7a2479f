"""``sensorfusion inspect``: what a recorded session holds, as stable JSON and as a table."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from .._errors import SessionDamagedError
from ._integrity import Damage
from ._reader import Session, _StreamReader

__all__ = ["format_inspect", "inspect_session"]


def _stored_bytes(reader: _StreamReader) -> int:
    total = 0
    try:
        for _, arr in reader.group.arrays():
            total += int(arr.nbytes_stored())
    except Exception:  # an array with damaged metadata: reported as damage elsewhere
        pass
    return total


def _stream_entry(reader: _StreamReader) -> dict[str, Any]:
    info = reader.info
    ts = reader.timestamps()
    t_sensor, seq = ts["t_sensor_ns"], ts["seq"]
    count = info.count
    t_first = int(t_sensor[0]) if count else None
    t_last = int(t_sensor[-1]) if count else None
    duration = (t_last - t_first) / 1e9 if t_first is not None and t_last is not None else 0.0
    fps = (count - 1) / duration if count > 1 and duration > 0 else None
    gaps = np.diff(seq) if count > 1 else np.zeros(0, dtype=np.int64)
    seq_gaps = int(np.clip(gaps - 1, 0, None).sum())
    return {
        "name": info.name,
        "stage": info.stage,
        "kind": info.spec.kind.value,
        "count": count,
        "t_first_ns": t_first,
        "t_last_ns": t_last,
        "duration_s": round(duration, 6),
        "fps": round(fps, 3) if fps is not None else None,
        "seq_gaps": seq_gaps,
        "bytes": _stored_bytes(reader),
    }


def inspect_session(
    path: str | os.PathLike[str], *, verify: bool = False, progress: Callable[[int, int], None] | None = None
) -> dict[str, Any]:
    """Describe a session as JSON-ready data (raises :class:`StoreError` for a non-session).

    Keys (stable; new keys may be added, none removed or renamed):

    * ``path`` (str): the session directory as given.
    * ``schema_version`` (int): layout version the session was written with.
    * ``finished`` (bool): false when the recording was interrupted (crash, kill).
    * ``rig_name`` (str | null): ``rig.name`` of the recorded rig configuration.
    * ``created`` (str | null): ISO-8601 creation time (UTC).
    * ``streams`` (list): one entry per stream, sources first (sorted by name), then
      estimates (sorted by stage, name), each with:

      - ``name``: ``sensor/channel``; ``stage``: producing stage, ``null`` for sources;
      - ``kind``: the frame kind; ``count``: committed frames;
      - ``t_first_ns`` / ``t_last_ns``: sensor time of the first / last frame (``null`` if empty);
      - ``duration_s``: ``(t_last_ns - t_first_ns) / 1e9``; ``fps``: ``(count - 1) / duration_s``
        (``null`` with fewer than two frames);
      - ``seq_gaps``: frames missing according to ``seq`` (lost before reaching the host);
      - ``bytes``: bytes stored on disk for the stream (compressed, all arrays).
    * ``drops`` (dict): ``stats["drops"]`` as the scheduler stored it (empty if absent), plus
      ``recorder``: stream key -> frames the recorder dropped (buffer full), when any.
    * ``events`` (list): every recorded event, ``{t_ns, kind, source, message, ...}``.
    * ``integrity`` (str): ``crc32c`` when every chunk carries a checksum, ``none`` (older sessions).
    * ``verified`` (bool): every chunk was read and checked (``verify=True``).
    * ``damage`` (list): ``{stream, start, stop, problem}`` per damaged frame range (``stop``
      exclusive): unreadable stream groups and timestamps always, missing and corrupt chunks of
      every array with ``verify=True``. Empty for a healthy session.
    """
    session = Session.open(path)
    readers = session._all()
    damage: list[Damage] = session.verify(progress) if verify else list(session.damaged_groups)
    sources = [r for r in readers.values() if r.info.stage is None]
    estimates = sorted(
        (r for r in readers.values() if r.info.stage is not None), key=lambda r: (r.info.stage or "", r.info.name)
    )
    stats = session.stats
    drops: dict[str, Any] = dict(stats.get("drops") or {})
    recorder_drops = (stats.get("recorder") or {}).get("dropped") or {}
    if recorder_drops:
        drops["recorder"] = dict(recorder_drops)
    return {
        "path": str(path),
        "schema_version": session.schema_version,
        "finished": session.finished,
        "rig_name": session.rig.get("name"),
        "created": session.created,
        "streams": [_entry(r, damage, verify) for r in [*sorted(sources, key=lambda r: r.info.name), *estimates]],
        "drops": drops,
        "events": session.events,
        "integrity": session.integrity,
        "verified": verify,
        "damage": [d.as_dict() for d in _unique(damage)],
    }


def _entry(reader: _StreamReader, damage: list[Damage], verified: bool) -> dict[str, Any]:
    try:
        return _stream_entry(reader)
    except SessionDamagedError as exc:
        if not verified:
            damage.append(Damage(exc.stream, exc.start, exc.stop, exc.problem))
        info = reader.info
        return {
            "name": info.name,
            "stage": info.stage,
            "kind": info.spec.kind.value,
            "count": info.count,
            "t_first_ns": info.t_first_ns,
            "t_last_ns": info.t_last_ns,
            "duration_s": 0.0,
            "fps": None,
            "seq_gaps": 0,
            "bytes": 0,
            "damaged": True,
        }


def _unique(damage: list[Damage]) -> list[Damage]:
    seen: set[Damage] = set()
    out = []
    for d in damage:
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def _fmt_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def format_inspect(info: dict[str, Any]) -> str:
    """Render :func:`inspect_session`'s result as text tables for a terminal."""
    from rich.console import Console
    from rich.table import Table

    buf = io.StringIO()
    console = Console(file=buf, width=120, color_system=None, force_terminal=False, soft_wrap=False)
    state = "finished" if info.get("finished") else "NOT finished (interrupted recording)"
    console.print(
        f"session {info.get('path')}  schema v{info.get('schema_version')}  rig "
        f"{info.get('rig_name')!s}  created {info.get('created')}  {state}"
    )
    table = Table(show_edge=False, pad_edge=False)
    for col, justify in [
        ("stream", "left"),
        ("stage", "left"),
        ("kind", "left"),
        ("frames", "right"),
        ("duration s", "right"),
        ("fps", "right"),
        ("seq gaps", "right"),
        ("stored", "right"),
    ]:
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for s in info.get("streams", []):
        table.add_row(
            s["name"],
            s["stage"] or "-",
            s["kind"],
            str(s["count"]),
            f"{s['duration_s']:.2f}",
            f"{s['fps']:.2f}" if s["fps"] is not None else "-",
            str(s["seq_gaps"]),
            _fmt_bytes(int(s["bytes"])),
        )
    console.print(table)
    damage = info.get("damage") or []
    checked = "every chunk read and checked" if info.get("verified") else "chunks not read (--verify reads them)"
    console.print(
        f"integrity: {info.get('integrity', 'none')}, {checked}: "
        + (f"{len(damage)} damaged range(s)" if damage else "no damage found")
    )
    for d in damage[:50]:
        frames = f"frames {d['start']}-{d['stop'] - 1}" if d["stop"] > d["start"] else "(all frames)"
        console.print(f"  DAMAGED {d['stream']} {frames}: {d['problem']}")
    drops = info.get("drops") or {}
    if drops:
        console.print("drops:")
        for source, value in drops.items():
            console.print(f"  {source}: {value}")
    events = info.get("events") or []
    console.print(f"events: {len(events)}")
    for ev in events[:50]:
        console.print(f"  {ev.get('t_ns')}  {ev.get('kind')}  {ev.get('source')}: {ev.get('message')}")
    if len(events) > 50:
        console.print(f"  ... {len(events) - 50} more")
    return buf.getvalue()
