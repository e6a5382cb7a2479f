"""The one exception hierarchy of sensorfusion.

::

    SensorfusionError
     ├── ConfigError            a rig file, a CLI argument or a parameter block is invalid
     │                          (carries ``field_path``, ``value`` and ``choices``)
     ├── PluginError            something raised inside a plugin (carries ``plugin``)
     │    └── PluginLoadError   a plugin failed to import or register
     ├── MissingDependencyError an optional dependency is absent (says what to ``pip install``)
     ├── SchemaError            data does not match the stream contract it was declared with
     ├── DriverError            a driver failed to open or read; the scheduler restarts it
     │    └── EndOfStream       a finite source (file, replay) has no more frames
     └── StoreError             a session cannot be opened, read or written
          └── SessionDamagedError  a recorded session is damaged (names stream and frame range)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "ConfigError",
    "DriverError",
    "EndOfStream",
    "MissingDependencyError",
    "PluginError",
    "PluginLoadError",
    "SchemaError",
    "SensorfusionError",
    "SessionDamagedError",
    "StoreError",
    "bounded_repr",
]


class SensorfusionError(Exception):
    """Base class of every error raised by sensorfusion on purpose."""


class ConfigError(SensorfusionError):
    """Invalid configuration: names the field path, the bad value and the valid choices."""

    def __init__(
        self,
        message: str,
        *,
        field_path: str = "",
        value: Any = None,
        choices: Sequence[str] | None = None,
        source: str | None = None,
    ) -> None:
        self.field_path = field_path
        self.value = value
        self.choices = list(choices) if choices is not None else None
        self.source = source
        self.reason = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = f"{self.source}: " if self.source else ""
        path = f"{self.field_path}: " if self.field_path else ""
        text = f"{where}{path}{_bounded(self.reason, 2 * _MAX_VALUE_CHARS)}"
        if self.value is not None:
            shown = bounded_repr(self.value)
            if shown not in text:
                text += f" (got {shown})"
        if self.choices:
            text += f"; valid choices: {_bounded(', '.join(self.choices), 2 * _MAX_VALUE_CHARS)}"
        return text


_MAX_VALUE_CHARS = 200


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def bounded_repr(value: Any, limit: int = _MAX_VALUE_CHARS) -> str:
    """``repr(value)`` cut to about ``limit`` characters without building the whole repr
    (a 50 MB string or a deeply shared YAML structure stays cheap): a prefix, then the size."""
    if isinstance(value, (str, bytes)):
        if len(value) <= limit:
            return repr(value)
        return f"{value[:limit]!r}... ({len(value)} {'characters' if isinstance(value, str) else 'bytes'})"
    import reprlib

    r = reprlib.Repr()
    r.maxstring = r.maxother = limit
    r.maxlist = r.maxtuple = r.maxset = r.maxdict = r.maxfrozenset = r.maxdeque = r.maxarray = 8
    r.maxlevel = 3
    return _bounded(r.repr(value), limit)


class PluginError(SensorfusionError):
    """An exception raised inside a plugin, with the plugin's name attached."""

    def __init__(self, plugin: str, message: str) -> None:
        self.plugin = plugin
        super().__init__(f"plugin {plugin!r}: {message}")


class PluginLoadError(PluginError):
    """A plugin could not be imported or registered; it is skipped and listed with this reason."""


class MissingDependencyError(SensorfusionError, ImportError):
    """An optional dependency is not installed; the message gives the exact command."""

    def __init__(self, what: str, *, install: str) -> None:
        self.install = install
        super().__init__(f"{what} needs an optional dependency that is not installed; run: {install}")


class SchemaError(SensorfusionError, ValueError):
    """Data does not match its declared stream contract (expected vs actual)."""


class DriverError(SensorfusionError):
    """A driver failed to open or read; the scheduler restarts it with backoff."""


class EndOfStream(DriverError):
    """A finite source has no more frames. Not a failure: the source is finished."""


class StoreError(SensorfusionError):
    """A session store cannot be opened, read or written."""


class SessionDamagedError(StoreError):
    """Part of a recorded session is missing or corrupt.

    Attributes:
        stream: the damaged stream (``sensor/channel``, ``<stage>:<sensor>/<channel>``) or group path.
        start: first damaged frame (inclusive).
        stop: end of the damaged range (exclusive); ``stop <= start``: the whole stream (its
            metadata is unreadable).
        problem: what is wrong (``chunk c/3/0 missing``, ``chunk c/3/0 corrupt: checksum mismatch``...).
    """

    def __init__(self, session: str, stream: str, start: int, stop: int, problem: str) -> None:
        self.session = session
        self.stream = stream
        self.start = int(start)
        self.stop = int(stop)
        self.problem = problem
        if self.stop <= self.start:
            frames = "(all frames)"
        elif self.stop - self.start == 1:
            frames = f"frame {self.start}"
        else:
            frames = f"frames {self.start}-{self.stop - 1}"
        super().__init__(f"{session}: stream {stream} {frames}: {problem}")
