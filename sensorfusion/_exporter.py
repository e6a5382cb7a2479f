"""Session exporters: what a plugin registers to turn a recorded session into another file
format (C3D, BVH, TRC, Rerun's ``.rrd``, MCAP...), and the registry that finds them.

An exporter is an :class:`Exporter` (name, summary, suffix, export) returned from the
``sensorfusion_add_exporters`` hook. :func:`sensorfusion.export_session` (and the
``sensorfusion export`` command of ``sensorfusion-export``) picks one by name or by the output
file's suffix and calls its ``export(session, out, options)``.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._errors import ConfigError, MissingDependencyError, PluginError, SensorfusionError
from ._lazy import Lazy
from ._named import NamedRegistry

if TYPE_CHECKING:
    from .store import Session

__all__ = ["ExportOptions", "ExportResult", "Exporter", "Exporters", "check_writable"]


@dataclass(frozen=True)
class ExportOptions:
    """What to export, as the user asked for it (every exporter reads what applies to it).

    Attributes:
        streams: stream keys to export (``"fusion:fusion/skeleton3d"`` or
            ``"fusion/skeleton3d"``, as ``sensorfusion inspect`` lists them); empty: the
            exporter's default (its documentation says which). An exporter refuses a stream
            the session does not have with a :class:`~sensorfusion.ConfigError`
            (``field_path="--stream"``) whose ``choices`` are the streams it could export.
        person_ids: the people (``person_id`` of skeleton streams) to keep; empty: everyone.
            An id that never occurs is a ``ConfigError`` (``field_path="--person"``).
        start_ns: keep frames whose sensor time is at or after this (int64 ns); ``None``:
            from the start.
        stop_ns: keep frames whose sensor time is before this; ``None``: to the end.
        extra: format-specific options (``{"units": "mm"}`` for C3D...), as documented by
            each exporter; an exporter refuses a key it does not know (``ConfigError``).
        progress: called as ``progress(done, total)`` (frames) while exporting, or ``None``.
    """

    streams: tuple[str, ...] = ()
    person_ids: tuple[int, ...] = ()
    start_ns: int | None = None
    stop_ns: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    progress: Callable[[int, int], None] | None = None

    def in_range(self, t_ns: int) -> bool:
        """Whether a frame at sensor time ``t_ns`` is inside ``[start_ns, stop_ns)``."""
        return (self.start_ns is None or t_ns >= self.start_ns) and (self.stop_ns is None or t_ns < self.stop_ns)


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote.

    Attributes:
        format: the exporter's name.
        paths: every file (or folder) written, in order.
        frames: frames (time samples) exported.
        streams: the stream keys exported.
        person_ids: the people exported (empty for formats without people).
        details: anything else worth reporting (units, frame rate, per-person files...):
            JSON-serialisable, printed by ``sensorfusion export --json``.
    """

    format: str
    paths: tuple[Path, ...]
    frames: int = 0
    streams: tuple[str, ...] = ()
    person_ids: tuple[int, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "paths": [str(p) for p in self.paths],
            "frames": self.frames,
            "streams": list(self.streams),
            "person_ids": list(self.person_ids),
            "details": dict(self.details),
        }


@dataclass(frozen=True)
class Exporter:
    """A file format a recorded session can be exported to.

    Attributes:
        name: what users pass as ``--to`` / ``format=`` (``"c3d"``, ``"rrd"``).
        summary: one line for ``sensorfusion plugins`` and ``sensorfusion export --help``.
        suffix: the file suffix it writes (``".c3d"``), lower case with the dot: ``--out
            walk.c3d`` without ``--to`` picks the exporter with that suffix.
        export: ``export(session: sensorfusion.store.Session, out: pathlib.Path,
            options: ExportOptions) -> ExportResult``; usually a :func:`sensorfusion.lazy`
            reference, so its module (and libraries) load only when it runs. ``out``'s folder
            exists and is writable when it is called. Raise
            :class:`~sensorfusion.ConfigError` for what the user asked wrongly (an unknown
            stream or person, an option the format cannot honour), with ``field_path`` the
            CLI option (``--stream``, ``--person``, ``--option``) and ``choices``;
            :class:`~sensorfusion.MissingDependencyError` when an optional library is
            missing. Anything else becomes a :class:`~sensorfusion.PluginError` naming the
            plugin.
        aliases: other names users type.
        requires: top-level modules ``export`` needs (``("ezc3d",)``); checked, unimported,
            by ``sensorfusion plugins`` and before an export starts.
        install: the command that installs what ``requires`` names.
    """

    name: str
    summary: str
    suffix: str
    export: Callable[..., ExportResult]
    aliases: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    install: str | None = None

    def missing(self) -> list[str]:
        """The ``requires`` modules that are not installed (found without importing them)."""
        return Lazy("x:x", requires=self.requires).missing()


class Exporters(NamedRegistry[Exporter]):
    """The installed exporters, by name and alias (built by the plugin host)."""

    def __init__(self) -> None:
        super().__init__("exporter")

    def check(self, exporter: Exporter, plugin: str) -> None:
        """Raise :class:`ValueError` if ``exporter`` cannot be added (bad fields, name taken)."""
        if not exporter.name or not isinstance(exporter.name, str):
            raise ValueError(f"exporter {exporter!r} has no name")
        if not exporter.suffix.startswith(".") or exporter.suffix != exporter.suffix.lower():
            raise ValueError(f"exporter {exporter.name!r}: suffix must be lower case and start with '.'")
        if not callable(exporter.export):
            raise ValueError(f"exporter {exporter.name!r}: export is not callable")
        super().check(exporter, plugin)

    def get(self, name: str, *, field_path: str = "--to") -> Exporter:
        """The exporter called ``name`` (or an alias); unknown: a ``ConfigError`` listing them."""
        exporter = self.find(name)
        if exporter is None:
            raise ConfigError(
                "unknown export format"
                + ("" if len(self) else " (none is installed: pip install sensorfusion-export)"),
                field_path=field_path,
                value=name,
                choices=self.choices(),
            )
        return exporter

    def for_output(self, out: str | Path) -> Exporter:
        """The exporter whose ``suffix`` ends ``out``'s name (``walk.c3d`` -> ``c3d``)."""
        name = Path(str(out)).name.lower()
        hits = [e for e in self if name.endswith(e.suffix)]
        longest = max((len(e.suffix) for e in hits), default=0)
        hits = [e for e in hits if len(e.suffix) == longest]
        if len(hits) == 1:
            return hits[0]
        if hits:
            raise ConfigError(
                "several export formats write this suffix; name one with --to",
                field_path="--to",
                value=str(out),
                choices=[e.name for e in hits],
            )
        raise ConfigError(
            "cannot tell the export format from the file name; name it with --to",
            field_path="--to",
            value=str(out),
            choices=[f"{e.name} ({e.suffix})" for e in self],
        )

    # -- exporting ----------------------------------------------------------------------
    def export(
        self,
        session: Session | str | os.PathLike[str],
        out: str | os.PathLike[str] | None = None,
        *,
        format: str | None = None,
        options: ExportOptions | None = None,
    ) -> ExportResult:
        """Export ``session`` to ``out`` (see :func:`sensorfusion.export_session`)."""
        from .store import Session

        if format is None and out is None:
            raise ConfigError("name the export format (--to) or the output file (--out)", field_path="--to")
        exporter = self.get(format) if format is not None else self.for_output(str(out))
        sess = session if isinstance(session, Session) else Session.open(session)
        if out is None:
            # beside a local session; for a session at a URL, in the current folder
            base = sess.path if isinstance(sess.path, Path) else Path(str(sess.path).rstrip("/").rsplit("/", 1)[-1])
            out = base.with_name(base.name.removesuffix(".zarr") + exporter.suffix)
        out_path = Path(out)
        missing = exporter.missing()
        if missing:
            install = exporter.install or f"pip install {' '.join(missing)}"
            raise MissingDependencyError(
                f"export format {exporter.name!r} needs {', '.join(missing)}, which is not installed", install=install
            )
        check_writable(out_path)  # before the work, not after it
        plugin = self.plugin_of(exporter.name)
        try:
            result = exporter.export(sess, out_path, options or ExportOptions())
        except ModuleNotFoundError as exc:
            install = exporter.install or f"pip install {exc.name}"
            raise MissingDependencyError(
                f"export format {exporter.name!r} ({exc.name} is not installed)", install=install
            ) from exc
        except SensorfusionError:
            raise
        except OSError as exc:
            raise ConfigError(f"cannot write the export: {exc}", field_path="--out", value=str(out_path)) from exc
        except Exception as exc:
            raise PluginError(plugin, f"exporter {exporter.name!r} raised {type(exc).__name__}: {exc}") from exc
        if not isinstance(result, ExportResult):
            raise PluginError(plugin, f"exporter {exporter.name!r} returned {type(result).__name__}, not ExportResult")
        return result


def check_writable(out: Path) -> None:
    """``out``'s folder exists (it is created) and takes a new file, and ``out`` is not a
    folder; else a :class:`~sensorfusion.ConfigError` on ``--out``."""
    if out.is_dir():
        raise ConfigError("--out is a folder; give a file name", field_path="--out", value=str(out))
    folder = out.resolve().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".sensorfusion-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
        if out.exists() and not os.access(out, os.W_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
    except OSError as exc:
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        raise ConfigError(f"cannot write there: {why}", field_path="--out", value=str(out)) from None
