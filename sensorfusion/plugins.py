"""The plugin host: pluggy manager, entry-point discovery, registries and error attribution.

Environment:
    ``SENSORFUSION_DISABLE_PLUGIN_AUTOLOAD=1``  load only the built-in plugins.
    ``SENSORFUSION_PLUGINS=a,b``                load only these entry points (by name).
    ``SENSORFUSION_BLOCK_PLUGINS=a,b``          never load these entry points.
    ``SENSORFUSION_TRACE_HOOKS=1``              log every hook call, arguments and results.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import pluggy

from . import hookspecs
from ._calibration_format import CalibrationFormat, CalibrationFormats
from ._components import Command, Driver, Estimator, Sink
from ._errors import ConfigError, PluginError, PluginLoadError
from .schema._skeletons import SkeletonRegistry, SkeletonSpec

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginHost",
    "PluginRecord",
    "Registry",
    "get_plugin_host",
    "plugin_errors",
]

log = logging.getLogger("sensorfusion.plugins")

ENTRY_POINT_GROUP = "sensorfusion"
BUILTIN_PLUGINS = ("sensorfusion._builtin.replay", "sensorfusion._builtin.fusion", "sensorfusion._builtin.triangulate_cmd", "sensorfusion._builtin.core")

T = TypeVar("T")


@dataclass
class PluginRecord:
    """One plugin as ``sensorfusion plugins`` shows it."""

    name: str
    source: str  # "builtin", "entrypoint", "manual"
    dist: str | None = None
    version: str | None = None
    status: str = "loaded"  # "loaded", "failed", "blocked", "disabled"
    reason: str | None = None
    provides: dict[str, list[str]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "distribution": self.dist,
            "version": self.version,
            "status": self.status,
            "reason": self.reason,
            "provides": self.provides,
        }


class Registry(Generic[T]):
    """Components of one kind by name, remembering which plugin gave each."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, tuple[T, str]] = {}

    def add(self, name: str, item: T, plugin: str) -> None:
        if name in self._items and self._items[name][1] != plugin:
            raise PluginLoadError(
                plugin, f"{self.kind} {name!r} is already registered by plugin {self._items[name][1]!r}"
            )
        self._items[name] = (item, plugin)

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def get(self, name: str, *, field_path: str) -> T:
        try:
            return self._items[name][0]
        except KeyError:
            raise ConfigError(f"unknown {self.kind}", field_path=field_path, value=name, choices=self.names()) from None

    def plugin_of(self, name: str) -> str:
        return self._items[name][1]


@contextmanager
def plugin_errors(plugin: str, what: str) -> Iterator[None]:
    """Re-raise any exception from plugin code as :class:`PluginError` naming the plugin."""
    try:
        yield
    except PluginError:
        raise
    except Exception as exc:
        raise PluginError(plugin, f"{what} raised {type(exc).__name__}: {exc}") from exc


class PluginHost:
    """Loads plugins and holds the registries built from their hooks."""

    def __init__(self, *, autoload: bool | None = None, extra_plugins: list[tuple[str, object]] | None = None) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.records: list[PluginRecord] = []
        self.drivers: Registry[type[Driver]] = Registry("driver")
        self.estimators: Registry[type[Estimator]] = Registry("estimator")
        self.sinks: Registry[type[Sink]] = Registry("sink")
        self.commands: Registry[Command] = Registry("command")
        self.skeletons = SkeletonRegistry()
        self.calibration_formats = CalibrationFormats(core_plugins=frozenset(n.rsplit(".", 1)[-1] for n in BUILTIN_PLUGINS))
        self._undo_trace: Callable[[], None] | None = None
        if os.environ.get("SENSORFUSION_TRACE_HOOKS"):
            self._enable_tracing()
        for modname in BUILTIN_PLUGINS:
            mod = __import__(modname, fromlist=["_"])
            self._register(mod, modname.rsplit(".", 1)[-1], "builtin")
        if autoload is None:
            autoload = not os.environ.get("SENSORFUSION_DISABLE_PLUGIN_AUTOLOAD")
        if autoload:
            self._load_entry_points()
        else:
            log.info("plugin autoload disabled by SENSORFUSION_DISABLE_PLUGIN_AUTOLOAD")
        for name, plugin in extra_plugins or []:
            self._register(plugin, name, "manual")

    # -- loading ------------------------------------------------------------------------
    def _enable_tracing(self) -> None:
        tracer = logging.getLogger("sensorfusion.hooks")

        def before(hook_name: str, impls: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
            tracer.warning("hook %s(%s) -> %s", hook_name, kwargs, [i.plugin_name for i in impls])

        def after(outcome: Any, hook_name: str, impls: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
            tracer.warning("hook %s returned %r", hook_name, outcome.get_result() if outcome.exception is None else outcome.exception)

        self._undo_trace = self.pm.add_hookcall_monitoring(before, after)

    def _load_entry_points(self) -> None:
        only = _env_list("SENSORFUSION_PLUGINS")
        blocked = _env_list("SENSORFUSION_BLOCK_PLUGINS")
        eps = sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
        for ep in eps:
            dist = ep.dist.name if ep.dist is not None else None
            version = ep.dist.version if ep.dist is not None else None
            if only is not None and ep.name not in only:
                self.records.append(PluginRecord(ep.name, "entrypoint", dist, version, "disabled", "not in SENSORFUSION_PLUGINS"))
                continue
            if blocked and ep.name in blocked:
                self.records.append(PluginRecord(ep.name, "entrypoint", dist, version, "blocked", "in SENSORFUSION_BLOCK_PLUGINS"))
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
                log.warning("plugin %s skipped: %s", ep.name, reason)
                self.records.append(PluginRecord(ep.name, "entrypoint", dist, version, "failed", reason))
                continue
            self._register(plugin, ep.name, "entrypoint", dist, version)

    def _register(self, plugin: object, name: str, source: str, dist: str | None = None, version: str | None = None) -> None:
        record = PluginRecord(name, source, dist, version)
        self.records.append(record)
        unknown = _unknown_hooks(plugin)
        if unknown:
            hook, suggestion = unknown[0]
            record.status = "failed"
            record.reason = f"PluginValidationError: unknown hook {hook!r}" + (f" (did you mean {suggestion!r}?)" if suggestion else "")
            log.warning("plugin %s skipped: %s", name, record.reason)
            return
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:
            record.status, record.reason = "failed", f"{type(exc).__name__}: {exc}"
            log.warning("plugin %s skipped: %s", name, record.reason)
            return
        try:
            self._collect(plugin, name, record)
        except Exception as exc:
            self.pm.unregister(plugin)
            record.status, record.reason = "failed", str(exc)
            log.warning("plugin %s skipped: %s", name, record.reason)

    def _collect(self, plugin: object, name: str, record: PluginRecord) -> None:
        def call(hook: str) -> list[Any]:
            impl = getattr(plugin, hook, None)
            if impl is None:
                return []
            with plugin_errors(name, hook):
                result = impl()
            return list(result or [])

        provides: dict[str, list[str]] = {}
        for cls in call("sensorfusion_add_drivers"):
            _check_component(cls, Driver, name, "driver")
            self.drivers.add(cls.name, cls, name)
            provides.setdefault("drivers", []).append(cls.name)
        for cls in call("sensorfusion_add_estimators"):
            _check_component(cls, Estimator, name, "estimator")
            self.estimators.add(cls.name, cls, name)
            provides.setdefault("estimators", []).append(cls.name)
        for cls in call("sensorfusion_add_sinks"):
            _check_component(cls, Sink, name, "sink")
            self.sinks.add(cls.name, cls, name)
            provides.setdefault("sinks", []).append(cls.name)
        for spec in call("sensorfusion_add_skeletons"):
            if not isinstance(spec, SkeletonSpec):
                raise PluginLoadError(name, f"sensorfusion_add_skeletons returned {type(spec).__name__}, not SkeletonSpec")
            self.skeletons.register(spec)
            provides.setdefault("skeletons", []).append(spec.name)
        for cmd in call("sensorfusion_add_commands"):
            if not isinstance(cmd, Command):
                raise PluginLoadError(name, f"sensorfusion_add_commands returned {type(cmd).__name__}, not Command")
            self.commands.add(cmd.name, cmd, name)
            provides.setdefault("commands", []).append(cmd.name)
        for fmt in call("sensorfusion_add_calibration_formats"):
            if not isinstance(fmt, CalibrationFormat):
                raise PluginLoadError(name, f"sensorfusion_add_calibration_formats returned {type(fmt).__name__}, not CalibrationFormat")
            try:
                self.calibration_formats.add(fmt, name)
            except ValueError as exc:
                raise PluginLoadError(name, str(exc)) from None
            provides.setdefault("calibration formats", []).append(fmt.name)
        record.provides = provides

    # -- use ----------------------------------------------------------------------------
    @property
    def hook(self) -> Any:
        return self.pm.hook

    def notify(self, hook_name: str, **kwargs: Any) -> None:
        """Call an observer hook on every plugin; an observer that raises is logged with its
        plugin's name and does not stop the run."""
        hook = getattr(self.pm.hook, hook_name)
        for impl in hook.get_hookimpls():
            try:
                argnames = impl.argnames
                impl.function(**{k: v for k, v in kwargs.items() if k in argnames})
            except Exception:
                log.error("plugin %r: %s raised:\n%s", impl.plugin_name, hook_name, traceback.format_exc())

    def plugin_of(self, component: type) -> str:
        for reg in (self.drivers, self.estimators, self.sinks):
            name = getattr(component, "name", None)
            if isinstance(name, str) and name in reg:
                return reg.plugin_of(name)
        return component.__module__


def _check_component(cls: object, base: type, plugin: str, kind: str) -> None:
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise PluginLoadError(plugin, f"{kind} {cls!r} is not a subclass of sensorfusion.{base.__name__}")
    if not isinstance(getattr(cls, "name", None), str) or not cls.name:  # type: ignore[attr-defined]
        raise PluginLoadError(plugin, f"{kind} class {cls.__name__} has no 'name'")


def _unknown_hooks(plugin: object) -> list[tuple[str, str | None]]:
    """Attributes that look like hooks (``sensorfusion_*``) but name no hook spec."""
    import difflib

    known = [n for n in dir(hookspecs) if n.startswith("sensorfusion_")]
    out = []
    for attr in dir(plugin):
        if attr.startswith("sensorfusion_") and attr not in known and callable(getattr(plugin, attr, None)):
            close = difflib.get_close_matches(attr, known, n=1)
            out.append((attr, close[0] if close else None))
    return out


def _env_list(var: str) -> set[str] | None:
    raw = os.environ.get(var)
    if raw is None:
        return None if var == "SENSORFUSION_PLUGINS" else set()
    return {x.strip() for x in raw.split(",") if x.strip()}


_HOST: PluginHost | None = None


def get_plugin_host(*, reload: bool = False) -> PluginHost:
    """The process-wide plugin host (built on first use)."""
    global _HOST
    if _HOST is None or reload:
        _HOST = PluginHost()
    return _HOST

