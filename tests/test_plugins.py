"""The plugin host: discovery through entry points, failures, kill switches, attribution."""

from __future__ import annotations

import json

import pytest

from sensorfusion import ConfigError, PluginError, PluginLoadError, hookimpl
from sensorfusion.cli import main as cli_main
from sensorfusion.plugins import PluginHost, plugin_errors


def record(host: PluginHost, name: str):
    return next(r for r in host.records if r.name == name)


def test_builtins_register_through_the_hooks():
    host = PluginHost(autoload=False)
    assert "replay" in host.drivers
    assert "triangulate.dlt" in host.estimators
    assert "metrics.mpjpe" in host.sinks
    assert {"run", "plugins", "inspect"} <= set(host.commands.names())
    assert "coco17" in host.skeletons
    assert {r.source for r in host.records} == {"builtin"}


def test_entry_point_plugin_is_discovered(fixture_plugins):
    host = PluginHost()
    rec = record(host, "sfx_good")
    assert rec.status == "loaded" and rec.dist == "sfx-good" and rec.version == "0.1"
    assert rec.provides["drivers"] == ["sfx.counter"]
    assert host.drivers.plugin_of("sfx.counter") == "sfx_good"
    assert "sfx_stick" in host.skeletons


def test_plugin_that_fails_to_import_is_skipped_with_its_reason(fixture_plugins):
    host = PluginHost()
    rec = record(host, "sfx_broken")
    assert rec.status == "failed"
    assert "a_module_that_does_not_exist" in (rec.reason or "")
    assert "sfx.counter" in host.drivers  # the others still load


def test_autoload_can_be_disabled(fixture_plugins, monkeypatch):
    monkeypatch.setenv("SENSORFUSION_DISABLE_PLUGIN_AUTOLOAD", "1")
    host = PluginHost()
    assert "sfx.counter" not in host.drivers
    assert "replay" in host.drivers


def test_only_listed_plugins_load(fixture_plugins, monkeypatch):
    monkeypatch.setenv("SENSORFUSION_PLUGINS", "sfx_good")
    host = PluginHost()
    assert record(host, "sfx_good").status == "loaded"
    assert record(host, "sfx_broken").status == "disabled"


def test_plugins_can_be_blocked(fixture_plugins, monkeypatch):
    monkeypatch.setenv("SENSORFUSION_BLOCK_PLUGINS", "sfx_good, sfx_broken")
    host = PluginHost()
    assert record(host, "sfx_good").status == "blocked"
    assert "sfx.counter" not in host.drivers


def test_misspelled_hook_is_rejected_with_a_suggestion():
    class Typo:
        @hookimpl
        def sensorfusion_add_driver(self):  # missing "s"
            return []

    host = PluginHost(autoload=False, extra_plugins=[("typo", Typo())])
    rec = record(host, "typo")
    assert rec.status == "failed"
    assert "sensorfusion_add_drivers" in (rec.reason or "")


def test_duplicate_component_name_names_both_plugins(fixture_plugins):
    import sfx_good_plugin

    class Again:
        @hookimpl
        def sensorfusion_add_drivers(self):
            return [sfx_good_plugin.CounterDriver]

    host = PluginHost(extra_plugins=[("again", Again())])
    rec = record(host, "again")
    assert rec.status == "failed"
    assert "sfx_good" in (rec.reason or "") and "sfx.counter" in (rec.reason or "")


def test_wrong_return_type_is_attributed():
    class Bad:
        @hookimpl
        def sensorfusion_add_drivers(self):
            return [object]

    host = PluginHost(autoload=False, extra_plugins=[("bad", Bad())])
    rec = record(host, "bad")
    assert rec.status == "failed" and "not a subclass of sensorfusion.Driver" in (rec.reason or "")


def test_exception_inside_a_registration_hook_names_the_plugin():
    class Raises:
        @hookimpl
        def sensorfusion_add_estimators(self):
            raise RuntimeError("kaput")

    host = PluginHost(autoload=False, extra_plugins=[("raiser", Raises())])
    rec = record(host, "raiser")
    assert rec.status == "failed" and "raiser" in (rec.reason or "") and "kaput" in (rec.reason or "")


def test_plugin_errors_context_attributes():
    with pytest.raises(PluginError, match="plugin 'x': thing raised ValueError: nope"):
        with plugin_errors("x", "thing"):
            raise ValueError("nope")


def test_observer_that_raises_does_not_break_the_run(caplog):
    class Noisy:
        @hookimpl
        def sensorfusion_session_started(self, run):
            raise RuntimeError("observer bug")

    host = PluginHost(autoload=False, extra_plugins=[("noisy", Noisy())])
    host.notify("sensorfusion_session_started", run=None)
    assert "noisy" in caplog.text and "observer bug" in caplog.text


def test_hook_tracing(monkeypatch, caplog):
    monkeypatch.setenv("SENSORFUSION_TRACE_HOOKS", "1")
    host = PluginHost(autoload=False)
    host.hook.sensorfusion_add_sinks()
    assert "sensorfusion_add_sinks" in caplog.text


def test_cli_plugins_json_lists_failures(fixture_plugins, capsys):
    assert cli_main(["plugins", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    by = {p["name"]: p for p in data["plugins"]}
    assert by["sfx_broken"]["status"] == "failed" and "a_module_that_does_not_exist" in by["sfx_broken"]["reason"]
    assert by["sfx_good"]["provides"]["commands"] == ["sfx-hello"]
    assert set(by["core"]) == {"name", "source", "distribution", "version", "status", "reason", "provides"}


def test_cli_plugins_table(fixture_plugins, capsys):
    assert cli_main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "sfx_broken" in out and "failed" in out


# -- one path through pluggy, whole plugins, block list, lazy components (issues 12.4, 12.7, 16.7)


def test_every_hook_call_is_traced_when_asked(monkeypatch, caplog):
    """Registration and observer hooks go through pluggy, so SENSORFUSION_TRACE_HOOKS sees them."""
    monkeypatch.setenv("SENSORFUSION_TRACE_HOOKS", "1")

    class Observer:
        @hookimpl
        def sensorfusion_session_finished(self, run, summary):
            return None

    host = PluginHost(autoload=False, extra_plugins=[("observer", Observer())])
    assert "hook sensorfusion_add_drivers" in caplog.text and "(replay)" in caplog.text
    assert "hook sensorfusion_add_calibration_formats" in caplog.text
    caplog.clear()
    host.notify("sensorfusion_session_finished", run=None, summary={"framesets": 3})
    assert "hook sensorfusion_session_finished" in caplog.text and "'framesets': 3" in caplog.text


def test_a_plugin_failing_half_way_registers_nothing():
    import sfx_good_plugin

    class HalfWay:
        @hookimpl
        def sensorfusion_add_drivers(self):
            return [sfx_good_plugin.CounterDriver]

        @hookimpl
        def sensorfusion_add_commands(self):
            raise RuntimeError("broken after the drivers")

    from tests.conftest import FIXTURE_PLUGINS  # noqa: F401  (sfx_good_plugin importable)

    host = PluginHost(autoload=False, extra_plugins=[("halfway", HalfWay())])
    rec = record(host, "halfway")
    assert rec.status == "failed" and "broken after the drivers" in (rec.reason or "")
    assert "sfx.counter" not in host.drivers  # the driver registered before the failure is gone too
    assert rec.provides == {}


def test_builtins_can_be_blocked(monkeypatch):
    monkeypatch.setenv("SENSORFUSION_BLOCK_PLUGINS", "fusion")
    host = PluginHost(autoload=False)
    assert record(host, "fusion").status == "blocked"
    assert "triangulate" not in host.estimators and "replay" in host.drivers


def test_a_blocked_plugins_driver_is_reported_as_blocked(fixture_plugins, monkeypatch, tmp_path, capsys):
    from sensorfusion.run import main as run_main

    monkeypatch.setenv("SENSORFUSION_BLOCK_PLUGINS", "sfx_good")
    rig = tmp_path / "rig.yaml"
    rig.write_text("sensors: [{id: a, driver: sfx.counter}]\n")
    assert run_main([str(rig), "--fast", "--no-record", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "sensors[0].driver: driver 'sfx.counter' is not available: its plugin 'sfx_good' is blocked" in err
    assert "unknown driver" not in err


def test_a_typo_still_lists_the_valid_choices_and_the_plugins_not_loaded(fixture_plugins):
    with pytest.raises(ConfigError) as info:
        PluginHost().drivers.get("sfx.countr", field_path="sensors[0].driver")
    assert "sfx.counter" in (info.value.choices or [])
    assert "sfx_broken" in str(info.value)


@pytest.fixture
def lazy_module(tmp_path, monkeypatch):
    """A plugin implementation module on sys.path, not imported yet."""
    import sys

    (tmp_path / "sfx_lazy_impl.py").write_text(
        "from sensorfusion import Driver, FieldSpec, FrameKind, StreamSpec\n"
        "class LazyDriver(Driver):\n"
        "    name = 'lazy.counter'\n"
        "    def streams(self):\n"
        "        return [StreamSpec(name='x/v', kind=FrameKind.DEVICE_POSE, fields={'v': FieldSpec(dtype='int64')})]\n"
        "    def read(self):\n"
        "        return []\n"
        "class Misnamed(LazyDriver):\n"
        "    name = 'something.else'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "sfx_lazy_impl", raising=False)
    yield "sfx_lazy_impl"
    sys.modules.pop("sfx_lazy_impl", None)


def test_lazy_components_are_listed_unimported_and_imported_on_first_use(lazy_module):
    import sys

    from sensorfusion import Driver, lazy

    class Light:
        @hookimpl
        def sensorfusion_add_drivers(self):
            return [
                lazy(f"{lazy_module}:LazyDriver", name="lazy.counter"),
                lazy(f"{lazy_module}:Misnamed", name="lazy.misnamed"),
                lazy(
                    "sfx_no_such_module:X",
                    name="lazy.missing",
                    requires=("sfx_no_such_module",),
                    install="pip install sfx-extra",
                ),
            ]

    host = PluginHost(autoload=False, extra_plugins=[("light", Light())])
    rec = record(host, "light")
    assert rec.status == "loaded" and rec.provides["drivers"] == ["lazy.counter", "lazy.misnamed", "lazy.missing"]
    assert rec.notes == {"lazy.missing": "needs sfx_no_such_module (pip install sfx-extra)"}
    assert lazy_module not in sys.modules  # listed, attributed, not imported
    assert host.drivers.plugin_of("lazy.counter") == "light" and not host.drivers.is_loaded("lazy.counter")
    cls = host.drivers.get("lazy.counter", field_path="sensors[0].driver")
    assert lazy_module in sys.modules and issubclass(cls, Driver) and cls.name == "lazy.counter"
    with pytest.raises(PluginLoadError, match=r"'lazy\.misnamed'.*is named 'something\.else'"):
        host.drivers.get("lazy.misnamed", field_path="d")
    from sensorfusion import MissingDependencyError

    with pytest.raises(MissingDependencyError, match="pip install sfx-extra"):
        host.drivers.get("lazy.missing", field_path="d")
    problems = host.check_components()
    assert set(problems) == {"driver lazy.misnamed", "driver lazy.missing"}


def test_a_lazy_component_without_a_name_fails_its_plugin():
    from sensorfusion import lazy

    class NoName:
        @hookimpl
        def sensorfusion_add_sinks(self):
            return [lazy("somewhere:Sink")]

    rec = record(PluginHost(autoload=False, extra_plugins=[("noname", NoName())]), "noname")
    assert rec.status == "failed" and "has no name=" in (rec.reason or "")


def test_the_cli_starts_without_heavy_libraries():
    """`sensorfusion --help` and `sensorfusion plugins` import no plugin's heavy library: plugins
    register lazily and only the command being run is configured."""
    import subprocess
    import sys

    heavy = [
        "cv2",
        "torch",
        "numba",
        "scipy.optimize",
        "zarr",
        "mediapipe",
        "onnxruntime",
        "open3d",
        "sklearn",
        "matplotlib",
    ]
    code = (
        "import sys, contextlib, io\n"
        "from sensorfusion.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    for argv in (['--help'], ['plugins'], ['plugins', '--json']):\n"
        "        main(argv)\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


def test_cli_plugins_reads_in_80_columns(fixture_plugins, capsys, monkeypatch):
    import re

    monkeypatch.setenv("COLUMNS", "80")
    assert cli_main(["plugins"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert max(len(x) for x in lines) <= 80, [x for x in lines if len(x) > 80]
    assert re.search(r"^sfx_good\s+loaded\s+sfx-good 0\.1$", out, flags=re.M)
    assert "drivers: sfx.counter" in out and "calibration formats: sfx (sfx-cams)" in out
    assert re.search(r"^sfx_broken\s+failed", out, flags=re.M) and "a_module_that_does_not_exist" in out


def test_cli_plugins_check_imports_every_component(fixture_plugins, capsys):
    assert cli_main(["plugins", "--check", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["problems"] == {}


def test_a_command_is_configured_only_when_it_runs(fixture_plugins, capsys):
    from sensorfusion import Command, lazy

    class Cmd:
        @hookimpl
        def sensorfusion_add_commands(self):
            return [
                Command(
                    "sfx-lazy",
                    "a command whose module is missing",
                    lazy("sfx_nowhere:configure"),
                    lazy("sfx_nowhere:run"),
                )
            ]

    import sensorfusion.plugins as plugins

    plugins._HOST = PluginHost(extra_plugins=[("cmd", Cmd())])
    assert cli_main(["sfx-hello"]) == 0  # the broken command does not stop the others
    assert cli_main(["sfx-lazy"]) == 1
    err = capsys.readouterr().err
    assert "plugin 'cmd': command 'sfx-lazy' cannot be set up: ModuleNotFoundError" in err
