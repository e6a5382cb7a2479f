"""Calibration file formats: what a plugin registers, and the registry that reads and writes
through whichever formats are installed.

A format is a :class:`CalibrationFormat` (name, sniff, load, save) returned from the
``sensorfusion_add_calibration_formats`` hook. The core registers its own JSON/YAML format
(``sensorfusion``); ``sensorfusion-calibration`` registers the peers' (Pose2Sim, aniposelib,
Qualisys, OpenCV, ...). :func:`sensorfusion.load_calibration` asks every installed format's
``sniff`` whether a file is one of its own.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ._errors import ConfigError, PluginError
from ._named import NamedRegistry
from .schema._calibration import RigCalibration

__all__ = ["CalibrationFormat", "CalibrationFormats", "SNIFF_BYTES"]

#: How much of a file ``sniff`` sees as ``head`` (decoded as UTF-8, bad bytes replaced).
SNIFF_BYTES = 256 * 1024


@dataclass(frozen=True)
class CalibrationFormat:
    """A calibration file format a plugin can read (and usually write).

    Attributes:
        name: what users pass as ``format=`` / ``--from`` / ``--to`` / ``calibration.format``.
        load: ``load(path: Path, **options) -> RigCalibration``. Raise
            :class:`~sensorfusion.ConfigError` for a file that is not valid in this format
            (``KeyError``, ``ValueError`` and pydantic's ``ValidationError`` are turned into
            one, naming the file and the format).
        save: ``save(calibration: RigCalibration, path: Path, **options) -> None``, or
            ``None`` for a read-only format. Refuse what the format cannot hold with a
            ``ConfigError`` (``field_path`` ``sensors.<id>.camera...``).
        sniff: ``sniff(path: Path, head: str) -> bool``: is this file (or folder) one of
            yours? ``head`` is the file's first ``SNIFF_BYTES`` as text (``""`` for a folder).
            Claim only what is unmistakably yours: a file two formats claim is refused as
            ambiguous. ``None``: never detected, only read when named.
        aliases: other names users type (``anipose`` for ``aniposelib``).
        patterns: file names this format writes by default, as globs (``"*.qca.txt"``,
            ``"intri.yml"``): ``save_calibration(cal, path)`` without a format picks the format
            whose pattern matches ``path`` most specifically (an exact name beats a glob, a
            longer glob a shorter one; ties go to the format registered first).
        folder: the calibration may be a folder rather than a file (EasyMocap).
        description: one line for ``sensorfusion plugins`` and the docs.

    ``load``, ``save`` and ``sniff`` may be :func:`sensorfusion.lazy` references, so the
    module that implements a format is imported only when a file is read or written.
    """

    name: str
    load: Callable[..., RigCalibration]
    save: Callable[..., None] | None = None
    sniff: Callable[[Path, str], bool] | None = None
    aliases: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    folder: bool = False
    description: str = ""


class CalibrationFormats(NamedRegistry[CalibrationFormat]):
    """The installed calibration formats, by name and alias (built by the plugin host)."""

    def __init__(self, *, core_plugins: frozenset[str] = frozenset()) -> None:
        super().__init__("calibration format")
        self._core_plugins = core_plugins

    def get(self, name: str, *, field_path: str = "format", source: str | None = None) -> CalibrationFormat:
        """The format called ``name`` (or an alias of it); unknown: a ``ConfigError`` listing
        the installed ones."""
        fmt = self.find(name)
        if fmt is None:
            raise ConfigError(
                "unknown calibration format" + self._hint(),
                field_path=field_path,
                value=name,
                choices=self.choices(),
                source=source,
            )
        return fmt

    def _hint(self) -> str:
        if all(plugin in self._core_plugins for _, plugin in self.with_plugins()):
            return " (the peers' formats come with the calibration toolkit: pip install sensorfusion-calibration)"
        return ""

    # -- detection ----------------------------------------------------------------------
    def detect(self, path: str | Path) -> str:
        """The name of the one installed format whose ``sniff`` claims ``path``."""
        p = Path(path)
        if not p.exists():
            raise ConfigError("calibration file not found", value=str(path))
        head = ""
        if p.is_file():
            with p.open("rb") as fh:
                head = fh.read(SNIFF_BYTES).decode("utf-8", errors="replace")
        claims = []
        for fmt, plugin in self.with_plugins():
            if fmt.sniff is None or (p.is_dir() and not fmt.folder):
                continue
            try:
                if fmt.sniff(p, head):
                    claims.append(fmt.name)
            except Exception as exc:  # a sniffer must not break detection for the others
                raise PluginError(
                    plugin, f"calibration format {fmt.name!r}: sniff raised {type(exc).__name__}: {exc}"
                ) from exc
        if len(claims) == 1:
            return claims[0]
        if claims:
            raise ConfigError(
                f"ambiguous calibration file: it reads as {' and as '.join(claims)}; name the format",
                field_path="format",
                value=str(p),
                choices=claims,
            )
        raise ConfigError(
            (
                "a folder is not a calibration any installed format reads"
                if p.is_dir()
                else "cannot tell the calibration format from the file; pass it explicitly"
            )
            + self._hint(),
            field_path="format",
            value=str(p),
            choices=self.choices(),
        )

    def for_output(self, path: str | Path) -> str:
        """The format a file name asks for (``calib.qca.txt`` -> ``qualisys``), from the
        formats' ``patterns``."""
        name = Path(path).name.lower()
        ranked: list[tuple[int, int, int, str]] = []
        for order, fmt in enumerate(self):
            if fmt.save is None:
                continue
            for pattern in fmt.patterns:
                if fnmatch.fnmatchcase(name, pattern.lower()):
                    exact = not any(c in pattern for c in "*?[")
                    ranked.append((0 if exact else 1, -len(pattern), order, fmt.name))
        if not ranked:
            raise ConfigError(
                "cannot tell the calibration format from the file name; name the format",
                field_path="format",
                value=str(path),
                choices=[f.name for f in self if f.save is not None],
            )
        return min(ranked)[3]

    # -- reading and writing ------------------------------------------------------------
    def load(self, path: str | Path, format: str | None = None, **options: Any) -> RigCalibration:
        """Read ``path`` in ``format`` (sniffed across the installed formats when ``None``)."""
        p = Path(path)
        fmt = self.get(format, source=str(p)) if format is not None else self.get(self.detect(p))
        if not p.exists() or (p.is_dir() and not fmt.folder):
            raise ConfigError("calibration file not found", value=str(p))
        plugin = self.plugin_of(fmt.name)
        try:
            cal = fmt.load(p, **options)
        except ConfigError as exc:
            if exc.source is not None:
                raise
            raise ConfigError(
                exc.reason, field_path=exc.field_path, value=exc.value, choices=exc.choices, source=str(p)
            ) from None
        except (ValidationError, KeyError, ValueError, TypeError, IndexError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read as {fmt.name}: {type(exc).__name__}: {exc}", source=str(p)) from None
        except ImportError:
            raise
        except Exception as exc:
            raise PluginError(
                plugin, f"calibration format {fmt.name!r}: load raised {type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(cal, RigCalibration):
            raise PluginError(
                plugin, f"calibration format {fmt.name!r}: load returned {type(cal).__name__}, not RigCalibration"
            )
        return cal

    def save(self, calibration: RigCalibration, path: str | Path, format: str | None = None, **options: Any) -> str:
        """Write ``calibration`` to ``path`` in ``format`` (from the file name when ``None``);
        returns the format's name."""
        p = Path(path)
        name = self.get(format).name if format is not None else self.for_output(p)
        fmt = self.get(name)
        if fmt.save is None:
            raise ConfigError(
                f"the {name} format is read-only",
                field_path="format",
                value=name,
                choices=[f.name for f in self if f.save is not None],
            )
        (p if fmt.folder and (p.is_dir() or not p.suffix) else p.parent).mkdir(parents=True, exist_ok=True)
        try:
            fmt.save(calibration, p, **options)
        except ConfigError:
            raise
        except (OSError, ImportError):
            raise
        except Exception as exc:
            raise PluginError(
                self.plugin_of(name), f"calibration format {name!r}: save raised {type(exc).__name__}: {exc}"
            ) from exc
        return name


def format_summary(formats: Sequence[CalibrationFormat]) -> list[str]:
    """``name (alias, alias)`` for each format."""
    return [f.name + (f" ({', '.join(f.aliases)})" if f.aliases else "") for f in formats]
