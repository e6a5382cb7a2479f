"""The plugin host: pluggy manager, entry-point discovery, registries and error attribution.

Every hook call goes through pluggy, one plugin at a time (:meth:`PluginHost.call_plugin`):
a plugin that raises is isolated from the others and named in the error, and
``SENSORFUSION_TRACE_HOOKS=1`` traces every call. A plugin's contributions (drivers,
estimators, sinks, skeletons, commands, calibration formats, exporters) are registered only when *all*
of its registration hooks succeeded; otherwise it is listed as failed with the reason and
contributes nothing.

Components may be :func:`sensorfusion.lazy` references (``"package.module:Class"`` plus the
component's name): they are listed, blocked and attributed without being imported, and
imported the first time a rig (or ``sensorfusion plugins --check``) asks for them. Plugins
that register this way keep ``sensorfusion --help`` fast however heavy their libraries are.

Environment:
    ``SENSORFUSION_DISABLE_PLUGIN_AUTOLOAD=1``  load only the built-in plugins.
    ``SENSORFUSION_PLUGINS=a,b``                load only these entry points (by name).
    ``SENSORFUSION_BLOCK_PLUGINS=a,b``          never load these plugins (built-ins included).
    ``SENSORFUSION_TRACE_HOOKS=1``              log every hook call, arguments and results.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import logging
import os
import traceback
import types
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import pluggy

from . import hookspecs
from ._calibration_format import CalibrationFormat, CalibrationFormats, format_summary
from ._components import Command, Driver, Estimator, Sink
from ._errors import ConfigError, MissingDependencyError, PluginError, PluginLoadError
from ._exporter import Exporter, Exporters
from ._lazy import Lazy
from .schema._skeletons import SkeletonRegistry, SkeletonSpec

__all__ = [
    "BUILTIN_PLUGINS",
    "ENTRY_POINT_GROUP",
    "PluginHost",
    "PluginRecord",
    "Registry",
    "get_plugin_host",
    "plugin_errors",
]

log = logging.getLogger("sensorfusion.plugins")

ENTRY_POINT_GROUP = "sensorfusion"

#: The core's own plugins, ``(name, module)``: light modules that register the built-in
#: components through the same hooks (and lazy references) as any third-party plugin.
BUILTIN_PLUGINS: tuple[tuple[str, str], ...] = (
    ("replay", "sensorfusion._builtin.replay_plugin"),
    ("fusion", "sensorfusion._builtin.fusion_plugin"),
    ("core", "sensorfusion._builtin.core"),
)

#: Registration hooks, in the order they are called.
REGISTRATION_HOOKS = (
    "sensorfusion_add_drivers",
    "sensorfusion_add_estimators",
    "sensorfusion_add_sinks",
    "sensorfusion_add_skeletons",
    "sensorfusion_add_commands",
    "sensorfusion_add_calibration_formats",
    "sensorfusion_add_exporters",
)

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
    #: components whose optional libraries are missing: name -> "needs X (pip install ...)"
    notes: dict[str, str] = field(default_factory=dict)
    #: the module the plugin is (its entry point's target), when known
    module: str | None = None

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
    """Components of one kind by name, remembering which plugin gave each.

    An entry is the component itself or a :class:`~sensorfusion._lazy.Lazy` reference to it,
    imported (and checked) by :meth:`get` on first use.
    """

    def __init__(self, kind: str, *, check: Callable[[Any, str], None] | None = None) -> None:
        self.kind = kind
        self._items: dict[str, tuple[Any, str]] = {}
        self._check = check
        #: explains a name that is not registered: ``(reason, precise)``; precise when the
        #: plugin that provides it is known (blocked or failed), else a hint to append
        self.explain_missing: Callable[[str], tuple[str, bool] | None] = lambda name: None
        #: the install command of a plugin (for a missing optional library)
        self.install_hint: Callable[[str], str | None] = lambda plugin: None

    def add(self, name: str, item: T | Lazy, plugin: str) -> None:
        self.check_free(name, plugin)
        self._items[name] = (item, plugin)

    def check_free(self, name: str, plugin: str) -> None:
        if name in self._items and self._items[name][1] != plugin:
            raise PluginLoadError(
                plugin, f"{self.kind} {name!r} is already registered by plugin {self._items[name][1]!r}"
            )

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def get(self, name: str, *, field_path: str) -> T:
        """The component called ``name``, imported now if it was registered lazily.

        Raises:
            ConfigError: no plugin provides it (a blocked or failed plugin that may is named).
            MissingDependencyError: its module needs a library that is not installed.
            PluginLoadError: its module failed to import, or it is not what was declared.
        """
        try:
            item, plugin = self._items[name]
        except KeyError:
            why = self.explain_missing(name)
            if why is not None and why[1]:
                raise ConfigError(why[0], field_path=field_path, value=name) from None
            hint = f" ({why[0]})" if why is not None else ""
            raise ConfigError(
                f"unknown {self.kind}{hint}", field_path=field_path, value=name, choices=self.names()
            ) from None
        if not isinstance(item, Lazy):
            return item  # type: ignore[no-any-return]
        obj = self._resolve(name, item, plugin)
        self._items[name] = (obj, plugin)
        return obj  # type: ignore[no-any-return]

    def _resolve(self, name: str, ref: Lazy, plugin: str) -> Any:
        try:
            obj = ref.resolve()
        except ModuleNotFoundError as exc:
            install = ref.install or self.install_hint(plugin) or f"pip install {exc.name}"
            raise MissingDependencyError(
                f"{self.kind} {name!r} of plugin {plugin!r} ({exc.name} is not installed)", install=install
            ) from exc
        except Exception as exc:
            raise PluginLoadError(
                plugin, f"{self.kind} {name!r} ({ref.target}) cannot be loaded: {type(exc).__name__}: {exc}"
            ) from exc
        if self._check is not None:
            self._check(obj, plugin)
        declared = getattr(obj, "name", name)
        if isinstance(obj, type) and declared != name:
            raise PluginLoadError(plugin, f"{self.kind} {name!r} ({ref.target}) is named {declared!r} in its class")
        return obj

    def is_loaded(self, name: str) -> bool:
        """Whether ``name`` is imported already (not a pending lazy reference)."""
        return not isinstance(self._items[name][0], Lazy)

    def pending(self, name: str) -> Lazy | None:
        """The lazy reference of ``name`` while it is not imported yet."""
        item = self._items[name][0]
        return item if isinstance(item, Lazy) else None

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


@dataclass
class _Staged:
    """What one plugin's registration hooks returned, checked but not registered yet."""

    drivers: list[tuple[str, Any]] = field(default_factory=list)
    estimators: list[tuple[str, Any]] = field(default_factory=list)
    sinks: list[tuple[str, Any]] = field(default_factory=list)
    skeletons: list[SkeletonSpec] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    formats: list[CalibrationFormat] = field(default_factory=list)
    exporters: list[Exporter] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)

    def provides(self) -> dict[str, list[str]]:
        out = {
            "drivers": [n for n, _ in self.drivers],
            "estimators": [n for n, _ in self.estimators],
            "sinks": [n for n, _ in self.sinks],
            "skeletons": [s.name for s in self.skeletons],
            "commands": [c.name for c in self.commands],
            "calibration formats": format_summary(self.formats),
            "exporters": [e.name + (f" ({', '.join(e.aliases)})" if e.aliases else "") for e in self.exporters],
        }
        return {k: v for k, v in out.items() if v}


class PluginHost:
    """Loads plugins and holds the registries built from their hooks."""

    def __init__(self, *, autoload: bool | None = None, extra_plugins: list[tuple[str, object]] | None = None) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.records: list[PluginRecord] = []
        self.drivers: Registry[type[Driver]] = Registry("driver", check=_checker(Driver, "driver"))
        self.estimators: Registry[type[Estimator]] = Registry("estimator", check=_checker(Estimator, "estimator"))
        self.sinks: Registry[type[Sink]] = Registry("sink", check=_checker(Sink, "sink"))
        self.commands: Registry[Command] = Registry("command")
        self.skeletons = SkeletonRegistry()
        self.calibration_formats = CalibrationFormats(core_plugins=frozenset(n for n, _ in BUILTIN_PLUGINS))
        self.exporters = Exporters()
        for reg in (self.drivers, self.estimators, self.sinks, self.commands):
            reg.explain_missing = self._explainer(reg.kind)
            reg.install_hint = self._install_hint
        self._callers: dict[tuple[str, str], Any] = {}
        self._undo_trace: Callable[[], None] | None = None
        if os.environ.get("SENSORFUSION_TRACE_HOOKS"):
            self._enable_tracing()
        blocked = _env_list("SENSORFUSION_BLOCK_PLUGINS") or set()
        for name, modname in BUILTIN_PLUGINS:
            if name in blocked:
                self.records.append(
                    PluginRecord(
                        name, "builtin", status="blocked", reason="in SENSORFUSION_BLOCK_PLUGINS", module=modname
                    )
                )
                continue
            self._register(importlib.import_module(modname), name, "builtin")
        if autoload is None:
            autoload = not os.environ.get("SENSORFUSION_DISABLE_PLUGIN_AUTOLOAD")
        if autoload:
            self._load_entry_points(blocked)
        else:
            log.info("plugin autoload disabled by SENSORFUSION_DISABLE_PLUGIN_AUTOLOAD")
        for name, plugin in extra_plugins or []:
            if name in blocked:
                self.records.append(
                    PluginRecord(name, "manual", status="blocked", reason="in SENSORFUSION_BLOCK_PLUGINS")
                )
                continue
            self._register(plugin, name, "manual")

    # -- calling hooks --------------------------------------------------------------------
    def call_plugin(self, hook_name: str, plugin_name: str, **kwargs: Any) -> list[Any]:
        """Call ``hook_name`` on one plugin only, through pluggy (so tracing sees it).

        Returns the plugin's results (an empty list when it does not implement the hook).
        Exceptions propagate: wrap the call in :func:`plugin_errors` to attribute them.
        """
        key = (hook_name, plugin_name)
        caller = self._callers.get(key)
        if caller is None:
            others = [p for p in self.pm.get_plugins() if self.pm.get_name(p) != plugin_name]
            caller = self.pm.subset_hook_caller(hook_name, remove_plugins=others)
            self._callers[key] = caller
        return list(caller(**kwargs))

    def implementers(self, hook_name: str) -> list[str]:
        """Names of the registered plugins that implement ``hook_name``, in call order."""
        return [impl.plugin_name for impl in getattr(self.pm.hook, hook_name).get_hookimpls()]

    def notify(self, hook_name: str, **kwargs: Any) -> None:
        """Call an observer hook on every plugin, one at a time; an observer that raises is
        logged with its plugin's name and does not stop the run or the other observers."""
        for name in self.implementers(hook_name):
            try:
                self.call_plugin(hook_name, name, **kwargs)
            except Exception:
                log.error("plugin %r: %s raised:\n%s", name, hook_name, traceback.format_exc())

    @property
    def hook(self) -> Any:
        """pluggy's hook relay (calls every plugin at once; prefer :meth:`call_plugin`)."""
        return self.pm.hook

    # -- loading --------------------------------------------------------------------------
    def _enable_tracing(self) -> None:
        tracer = logging.getLogger("sensorfusion.hooks")

        def before(hook_name: str, impls: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
            tracer.warning("hook %s(%s) -> %s", hook_name, dict(kwargs), [i.plugin_name for i in impls])

        def after(outcome: Any, hook_name: str, impls: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
            result = outcome.exception if outcome.exception is not None else outcome.get_result()
            tracer.warning("hook %s (%s) returned %r", hook_name, ", ".join(i.plugin_name for i in impls), result)

        self._undo_trace = self.pm.add_hookcall_monitoring(before, after)

    def _load_entry_points(self, blocked: set[str]) -> None:
        only = _env_list("SENSORFUSION_PLUGINS")
        eps = sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
        for ep in eps:
            dist = ep.dist.name if ep.dist is not None else None
            version = ep.dist.version if ep.dist is not None else None
            if only is not None and ep.name not in only:
                self.records.append(
                    PluginRecord(
                        ep.name,
                        "entrypoint",
                        dist,
                        version,
                        "disabled",
                        "not in SENSORFUSION_PLUGINS",
                        module=ep.module,
                    )
                )
                continue
            if ep.name in blocked:
                self.records.append(
                    PluginRecord(
                        ep.name,
                        "entrypoint",
                        dist,
                        version,
                        "blocked",
                        "in SENSORFUSION_BLOCK_PLUGINS",
                        module=ep.module,
                    )
                )
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
                log.warning("plugin %s skipped: %s", ep.name, reason)
                self.records.append(
                    PluginRecord(ep.name, "entrypoint", dist, version, "failed", reason, module=ep.module)
                )
                continue
            self._register(plugin, ep.name, "entrypoint", dist, version)

    def _register(
        self, plugin: object, name: str, source: str, dist: str | None = None, version: str | None = None
    ) -> None:
        record = PluginRecord(name, source, dist, version)
        self.records.append(record)

        def fail(reason: str) -> None:
            record.status, record.reason = "failed", reason
            log.warning("plugin %s skipped: %s", name, reason)

        plugin = _hashable(plugin, name)
        unknown = _unknown_hooks(plugin)
        if unknown:
            hook, suggestion = unknown[0]
            return fail(
                f"PluginValidationError: unknown hook {hook!r}"
                + (f" (did you mean {suggestion!r}?)" if suggestion else "")
            )
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:
            return fail(f"{type(exc).__name__}: {exc}")
        self._callers.clear()
        try:
            staged = self._collect(name)
            self._commit(staged, name)
        except Exception as exc:
            self.pm.unregister(plugin)
            self._callers.clear()
            return fail(str(exc))
        record.provides = staged.provides()
        record.notes = staged.notes

    def _collect(self, name: str) -> _Staged:
        """Call every registration hook of plugin ``name`` and check what it returned; nothing
        is registered yet (any error fails the whole plugin)."""

        def call(hook: str) -> list[Any]:
            with plugin_errors(name, hook):
                results = self.call_plugin(hook, name)
            out: list[Any] = []
            for result in results:
                if result is None:
                    continue
                if isinstance(result, str | bytes | Mapping) or not isinstance(result, Iterable):
                    raise PluginLoadError(name, f"{hook} must return a list, not {type(result).__name__}")
                out.extend(result)
            return out

        staged = _Staged()
        for kind, hook, base, dest in (
            ("driver", "sensorfusion_add_drivers", Driver, staged.drivers),
            ("estimator", "sensorfusion_add_estimators", Estimator, staged.estimators),
            ("sink", "sensorfusion_add_sinks", Sink, staged.sinks),
        ):
            for item in call(hook):
                cname = _component_name(item, base, name, kind)
                if any(cname == n for n, _ in dest):
                    raise PluginLoadError(name, f"{kind} {cname!r} is registered twice by this plugin")
                dest.append((cname, item))
                if isinstance(item, Lazy):
                    missing = item.missing()
                    if missing:
                        staged.notes[cname] = f"needs {', '.join(missing)}" + (
                            f" ({item.install})" if item.install else ""
                        )
        for spec in call("sensorfusion_add_skeletons"):
            if not isinstance(spec, SkeletonSpec):
                raise PluginLoadError(
                    name, f"sensorfusion_add_skeletons returned {type(spec).__name__}, not SkeletonSpec"
                )
            staged.skeletons.append(spec)
        for cmd in call("sensorfusion_add_commands"):
            if not isinstance(cmd, Command):
                raise PluginLoadError(name, f"sensorfusion_add_commands returned {type(cmd).__name__}, not Command")
            staged.commands.append(cmd)
        for fmt in call("sensorfusion_add_calibration_formats"):
            if not isinstance(fmt, CalibrationFormat):
                raise PluginLoadError(
                    name, f"sensorfusion_add_calibration_formats returned {type(fmt).__name__}, not CalibrationFormat"
                )
            staged.formats.append(fmt)
        for exp in call("sensorfusion_add_exporters"):
            if not isinstance(exp, Exporter):
                raise PluginLoadError(name, f"sensorfusion_add_exporters returned {type(exp).__name__}, not Exporter")
            if any(exp.name == e.name for e in staged.exporters):
                raise PluginLoadError(name, f"exporter {exp.name!r} is registered twice by this plugin")
            staged.exporters.append(exp)
            missing = exp.missing()
            if missing:
                staged.notes[exp.name] = f"needs {', '.join(missing)}" + (f" ({exp.install})" if exp.install else "")
        return staged

    def _commit(self, staged: _Staged, name: str) -> None:
        """Register a plugin's contributions: all of them, or (on a clash) none."""
        for reg, items in (
            (self.drivers, staged.drivers),
            (self.estimators, staged.estimators),
            (self.sinks, staged.sinks),
        ):
            for cname, _ in items:
                reg.check_free(cname, name)
        for cmd in staged.commands:
            self.commands.check_free(cmd.name, name)
        for spec in staged.skeletons:
            if spec.name in self.skeletons and self.skeletons.get(spec.name) != spec:
                raise PluginLoadError(name, f"skeleton {spec.name!r} is already registered with a different definition")
        for fmt in staged.formats:
            try:
                self.calibration_formats.check(fmt, name)
            except ValueError as exc:
                raise PluginLoadError(name, str(exc)) from None
        for exp in staged.exporters:
            try:
                self.exporters.check(exp, name)
            except ValueError as exc:
                raise PluginLoadError(name, str(exc)) from None
        # nothing can fail from here on
        for reg, items in (
            (self.drivers, staged.drivers),
            (self.estimators, staged.estimators),
            (self.sinks, staged.sinks),
        ):
            for cname, item in items:
                reg.add(cname, item, name)
        for spec in staged.skeletons:
            self.skeletons.register(spec)
        for cmd in staged.commands:
            self.commands.add(cmd.name, cmd, name)
        for fmt in staged.formats:
            self.calibration_formats.add(fmt, name)
        for exp in staged.exporters:
            self.exporters.add(exp, name)

    # -- diagnostics ----------------------------------------------------------------------
    def _explainer(self, kind: str) -> Callable[[str], tuple[str, bool] | None]:
        def explain(cname: str) -> tuple[str, bool] | None:
            out = [r for r in self.records if r.status != "loaded"]
            if not out:
                return None
            # a plugin that was not loaded (blocked, disabled, failed) is never imported: its
            # source is searched for the component's name instead, then its name compared
            # (components are named after their plugin: "sim.rig" comes from "sim")
            owners = [r for r in out if _source_mentions(r.module, cname)]
            prefix = cname.split(".", 1)[0]
            loaded_prefixes = {
                n.split(".", 1)[0] for reg in (self.drivers, self.estimators, self.sinks) for n in reg.names()
            }
            if len(owners) != 1 and prefix not in loaded_prefixes:
                owners = [r for r in out if _named_after(r, prefix)]
            if len(owners) == 1:
                r = owners[0]
                return f"{kind} {cname!r} is not available: its plugin {r.name!r} is {_state(r)}", True
            listing = "; ".join(f"{r.name}: {_state(r)}" for r in out)
            return f"plugins not loaded, one of which may provide it: {listing}", False

        return explain

    def _install_hint(self, plugin: str) -> str | None:
        rec = next((r for r in self.records if r.name == plugin), None)
        return f"pip install {rec.dist}[all]" if rec is not None and rec.dist else None

    def plugin_of(self, component: type) -> str:
        for reg in (self.drivers, self.estimators, self.sinks):
            name = getattr(component, "name", None)
            if isinstance(name, str) and name in reg:
                return reg.plugin_of(name)
        return component.__module__

    def check_components(self) -> dict[str, str]:
        """Import every lazily registered component now; ``{"<kind> <name>": error}`` for the
        ones that fail (``sensorfusion plugins --check``)."""
        problems: dict[str, str] = {}
        for reg in (self.drivers, self.estimators, self.sinks):
            for cname in reg.names():
                try:
                    reg.get(cname, field_path=reg.kind)
                except Exception as exc:
                    problems[f"{reg.kind} {cname}"] = str(exc)
        for cname in self.commands.names():
            cmd = self.commands.get(cname, field_path="command")
            for part in (cmd.configure, cmd.run):
                if isinstance(part, Lazy):
                    try:
                        part.resolve()
                    except Exception as exc:
                        problems[f"command {cname}"] = f"{type(exc).__name__}: {exc}"
        for exp in self.exporters:
            if isinstance(exp.export, Lazy):
                try:
                    exp.export.resolve()
                except Exception as exc:
                    problems[f"exporter {exp.name}"] = f"{type(exc).__name__}: {exc}"
        return problems


def _source_mentions(module: str | None, text: str) -> bool:
    """Whether the source of ``module``'s top-level package (or single-file module) holds the
    quoted string ``text``; found without importing (or running) anything."""
    if not module:
        return False
    import importlib.util
    from pathlib import Path

    try:
        spec = importlib.util.find_spec(module.split(".", 1)[0])
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    if spec.submodule_search_locations:
        files = [f for loc in spec.submodule_search_locations for f in sorted(Path(loc).rglob("*.py"))[:500]]
    elif spec.origin and spec.origin.endswith(".py"):
        files = [Path(spec.origin)]
    else:
        return False
    quoted = (f'"{text}"', f"'{text}'")
    for f in files:
        try:
            src = f.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if any(q in src for q in quoted):
            return True
    return False


def _named_after(r: PluginRecord, prefix: str) -> bool:
    names = {r.name, (r.dist or "").removeprefix("sensorfusion-").replace("-", "_")}
    return any(n == prefix or n.startswith(prefix + "_") for n in names if n)


def _state(r: PluginRecord) -> str:
    if r.status == "blocked":
        return "blocked (SENSORFUSION_BLOCK_PLUGINS)"
    if r.status == "disabled":
        return "disabled (not in SENSORFUSION_PLUGINS)"
    return f"failed to load ({r.reason})" if r.reason else r.status


def _checker(base: type, kind: str) -> Callable[[Any, str], None]:
    def check(obj: Any, plugin: str) -> None:
        _check_component(obj, base, plugin, kind)

    return check


def _component_name(item: object, base: type, plugin: str, kind: str) -> str:
    if isinstance(item, Lazy):
        if not item.name:
            raise PluginLoadError(plugin, f"lazy {kind} {item.target!r} has no name= (needed to list it unimported)")
        return item.name
    _check_component(item, base, plugin, kind)
    return str(item.name)  # type: ignore[attr-defined]


def _check_component(cls: object, base: type, plugin: str, kind: str) -> None:
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise PluginLoadError(plugin, f"{kind} {cls!r} is not a subclass of sensorfusion.{base.__name__}")
    if not isinstance(getattr(cls, "name", None), str) or not cls.name:  # type: ignore[attr-defined]
        raise PluginLoadError(plugin, f"{kind} class {cls.__name__} has no 'name'")


def _hashable(plugin: object, name: str) -> object:
    """``plugin`` itself, or — when it cannot be hashed (a ``types.SimpleNamespace``, a dataclass
    with ``eq``) — a module holding its hook functions: pluggy keeps plugins in sets when it calls
    one plugin's hooks, and an unhashable object would break every call to that plugin."""
    try:
        hash(plugin)
    except TypeError:
        holder = types.ModuleType(f"sensorfusion_plugin_{name}")
        for attr in dir(plugin):
            if attr.startswith("sensorfusion_"):
                setattr(holder, attr, getattr(plugin, attr))
        return holder
    return plugin


def _unknown_hooks(plugin: object) -> list[tuple[str, str | None]]:
    """Attributes that look like hooks (``sensorfusion_*``) but name no hook spec."""
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
