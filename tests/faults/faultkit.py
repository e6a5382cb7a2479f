"""Helpers of the fault-injection suite: subprocess runs of the CLI with deadlines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FAULT_PLUGINS = Path(__file__).resolve().parent / "plugins"


@dataclass
class Outcome:
    """How a subprocess run ended."""

    rc: int | None  # None: it did not end before the deadline (it was killed)
    stdout: str
    stderr: str
    wall_s: float

    @property
    def summary(self) -> dict[str, Any]:
        return json.loads(self.stdout.strip().splitlines()[-1])

    @property
    def error_lines(self) -> list[str]:
        return [ln for ln in self.stderr.splitlines() if ln.startswith("error:")]


def fault_env(plugins: str = "sfx_faults") -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(FAULT_PLUGINS), os.environ.get("PYTHONPATH", "")]),
        "SENSORFUSION_PLUGINS": plugins,
        "PYTHONUNBUFFERED": "1",
    }


OLD_CODE = os.environ.get("SFX_FAULTS_OLD_CODE") == "1"
"""Set when this suite is run against the code before the fixes (``PYTHONPATH=<old checkout>``)
to show each test fails there: options that did not exist yet are left out of the command."""

_NEW_OPTIONS = {"--stop-timeout": 1, "--skip-damaged": 0, "--verify": 0}


def _for_old_code(args: Sequence[str]) -> list[str]:
    out: list[str] = []
    skip = 0
    for a in args:
        if skip:
            skip -= 1
            continue
        if a in _NEW_OPTIONS:
            skip = _NEW_OPTIONS[a]
            continue
        out.append(a)
    return out


def start(
    args: Sequence[str],
    *,
    plugins: str = "sfx_faults",
    module: str = "sensorfusion.run",
    cwd: str | Path | None = None,
    memory_mb: int | None = None,
) -> subprocess.Popen[str]:
    """Start ``python -m module args`` in its own session (``memory_mb``: address-space limit)."""
    if OLD_CODE:
        args = _for_old_code(args)

    def limit() -> None:
        if memory_mb is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))

    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=fault_env(plugins),
        start_new_session=True,
        cwd=cwd,
        preexec_fn=limit if memory_mb is not None else None,
    )


def finish(proc: subprocess.Popen[str], deadline_s: float, t0: float | None = None) -> Outcome:
    """Wait for ``proc`` up to ``deadline_s``; kill it (and report rc None) when it does not end."""
    t0 = time.monotonic() if t0 is None else t0
    try:
        out, err = proc.communicate(timeout=deadline_s)
        return Outcome(proc.returncode, out, err, time.monotonic() - t0)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return Outcome(None, out, err, time.monotonic() - t0)


def run(args: Sequence[str], deadline_s: float = 60, **kw: Any) -> Outcome:
    t0 = time.monotonic()
    return finish(start(args, **kw), deadline_s, t0)


def wait_for_commit(session: Path, stream: str, timeout_s: float = 60) -> None:
    """Until ``stream`` of the session being written has committed at least one frame."""
    group = session / "streams" / stream / "zarr.json"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if json.loads(group.read_text())["attributes"]["count"] > 0:
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"{session}: nothing committed for {stream} within {timeout_s} s")


def write_rig(tmp_path: Path, text: str, name: str = "rig.yaml") -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)
