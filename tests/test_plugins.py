"""The plugin host: discovery through entry points, failures, kill switches, attribution."""

from __future__ import annotations

import json

import pytest

from sensorfusion import PluginError, hookimpl
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
