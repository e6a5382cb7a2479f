"""Every run ends: a driver, stage or sink that never returns is named, abandoned and recorded,
whatever asked the run to stop (a duration, a frame limit, SIGINT, SIGTERM), and a second
signal ends the run at once with a session that still opens."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from faultkit import finish, run, start, wait_for_commit, write_rig

from sensorfusion.store import Session

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

TWO_SOURCES = """
name: stuck
sensors:
  - {id: a, driver: faults.ticker, params: {rate_hz: 100}}
  - {id: b, driver: faults.ticker, params: {rate_hz: 100, block_at: 20}}
sync: {tolerance_ms: 3, timeout_ms: 200}
stages:
  - {id: copy, estimator: faults.stall, inputs: ["a/value"]}
"""

ONE_SOURCE = """
name: stuck-on-stop
sensors:
  - {id: dev, driver: faults.ticker, params: {rate_hz: 50, block_after_stop: true}}
stages:
  - {id: copy, estimator: faults.stall, inputs: ["dev/value"]}
"""

STALLED_STAGE = """
name: stalled
sensors:
  - {id: a, driver: faults.ticker, params: {rate_hz: 50}}
stages:
  - {id: slow, estimator: faults.stall, inputs: ["a/value"], params: {block_at: 5}, queue: {size: 2}}
sinks:
  - {id: out, sink: faults.stall_sink, inputs: ["*/*"], params: {BLOCK}}
"""

DEADLINE_S = 45  # the old code never ended: the test kills it here


def _abandoned(session: Path, kind: str, name: str) -> dict:
    s = Session.open(session)
    assert s.finished, "the session must be closed properly"
    (ev,) = [e for e in s.events if e["kind"] == f"{kind}_abandoned" and e["source"] == name]
    assert s.summary["abandoned"] == [name]
    return ev


@pytest.mark.parametrize("limit", [["--duration", "1"], ["--max-frames", "60"]])
def test_driver_blocking_in_read_does_not_outlive_a_limit(tmp_path: Path, limit: list[str]) -> None:
    out = tmp_path / "s.zarr"
    res = run(
        [write_rig(tmp_path, TWO_SOURCES), "--out", str(out), "--stop-timeout", "1", "--json", *limit], DEADLINE_S
    )
    assert res.rc == 1, f"rc={res.rc} after {res.wall_s:.1f} s\n{res.stderr[-2000:]}"
    (line,) = res.error_lines
    assert "driver 'b'" in line and "read()" in line and "sfx_faults" in line and "abandoned" in line
    ev = _abandoned(out, "driver", "b")
    assert ev["plugin"] == "sfx_faults"
    s = res.summary
    assert s["framesets"] >= 50 and s["abandoned"] == ["b"] and s["streams"]["b/value"]["count"] == 20


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_driver_ignoring_stop_ends_within_the_stop_timeout(tmp_path: Path, sig: int) -> None:
    out = tmp_path / "s.zarr"
    proc = start([write_rig(tmp_path, ONE_SOURCE), "--out", str(out), "--stop-timeout", "1", "--quiet"])
    wait_for_commit(out, "dev/value")
    time.sleep(0.5)
    t_signal = time.monotonic()
    proc.send_signal(sig)
    res = finish(proc, DEADLINE_S)
    assert res.rc == 1, f"rc={res.rc} {res.wall_s:.1f} s after the signal\n{res.stderr[-2000:]}"
    assert time.monotonic() - t_signal < 15
    assert any("driver 'dev'" in ln and "abandoned" in ln for ln in res.error_lines), res.stderr
    _abandoned(out, "driver", "dev")
    s = Session.open(out)
    assert s.summary["interrupted"] is True
    assert s.streams()["dev/value"].count > 10


def test_second_signal_forces_a_prompt_exit_with_an_openable_session(tmp_path: Path) -> None:
    out = tmp_path / "s.zarr"
    # a long stop timeout: only the second signal can end this run quickly
    proc = start([write_rig(tmp_path, ONE_SOURCE), "--out", str(out), "--stop-timeout", "600", "--quiet"])
    wait_for_commit(out, "dev/value")
    proc.send_signal(signal.SIGTERM)
    time.sleep(1.0)
    t_second = time.monotonic()
    proc.send_signal(signal.SIGINT)
    res = finish(proc, DEADLINE_S)
    assert res.rc == 1, f"rc={res.rc}\n{res.stderr[-2000:]}"
    assert time.monotonic() - t_second < 10, "a second signal must end the run promptly"
    s = Session.open(out)  # opens, and holds what was committed
    assert s.streams()["dev/value"].count > 0
    assert any(e["kind"] == "driver_abandoned" for e in s.events)


@pytest.mark.parametrize(
    ("block", "kind", "name", "call"),
    [
        ("block_at: 5", "stage", "slow", "process() of frameset 5"),
        ("block_at: 3", "sink", "out", "write() of frameset 3"),
    ],
)
def test_stage_or_sink_that_never_returns_is_abandoned_at_the_duration(
    tmp_path: Path, block: str, kind: str, name: str, call: str
) -> None:
    out = tmp_path / "s.zarr"
    rig = STALLED_STAGE.replace("{BLOCK}", "{" + block + "}" if kind == "sink" else "{}")
    if kind == "sink":
        rig = rig.replace("params: {block_at: 5}", "params: {}")
    res = run(
        [write_rig(tmp_path, rig), "--out", str(out), "--duration", "1", "--stop-timeout", "1", "--json"], DEADLINE_S
    )
    assert res.rc == 1, f"rc={res.rc} after {res.wall_s:.1f} s\n{res.stderr[-2000:]}"
    (line,) = res.error_lines
    assert f"{kind} '{name}'" in line and call in line, line
    _abandoned(out, kind, name)
    # the raw frames were recorded for the whole run, whatever the stages did
    assert Session.open(out).streams()["a/value"].count >= 45


def test_stalled_stage_with_fast_and_sigint(tmp_path: Path) -> None:
    out = tmp_path / "s.zarr"
    rig = STALLED_STAGE.replace("{BLOCK}", "{}")
    proc = start([write_rig(tmp_path, rig), "--out", str(out), "--fast", "--stop-timeout", "1", "--quiet"])
    wait_for_commit(out, "a/value")
    proc.send_signal(signal.SIGINT)
    res = finish(proc, DEADLINE_S)
    assert res.rc == 1, f"rc={res.rc}\n{res.stderr[-2000:]}"
    assert any("stage 'slow'" in ln for ln in res.error_lines), res.stderr
    _abandoned(out, "stage", "slow")
