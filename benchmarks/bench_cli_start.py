"""How fast the ``sensorfusion`` command answers: lazy plugin loading against its peers.

Each command runs in a fresh Python process (as a user types it), interleaved round by round so
a loaded machine slows every row alike; wall time and CPU time (user + system, less sensitive
to other processes) are the medians over the rounds.

* ``import sensorfusion`` — the floor: the core alone, no plugin.
* ``sensorfusion --help``, ``sensorfusion plugins``, ``sensorfusion inspect SESSION`` — with every
  installed plugin discovered (components registered as lazy references, only the command being
  run configured).
* ``sensorfusion plugins --check`` — the peer: the same listing, but every component imported
  (what discovering plugins cost before components were loaded on first use).

A table, then one JSON line: ``help_over_import`` (aim ≤ 2), ``help_s`` (aim < 1 s on a quiet
machine) and ``eager_over_lazy`` = ``plugins --check`` / ``plugins``.

Usage: ``python benchmarks/bench_cli_start.py [--rounds N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _session(folder: Path) -> Path:
    """A small recorded session for ``inspect`` (100 frames of one stream)."""
    import numpy as np

    from sensorfusion import FieldSpec, Frame, FrameKind, RigCalibration, StreamSpec
    from sensorfusion.store import SessionWriter

    out = folder / "bench.zarr"
    spec = StreamSpec(name="a/value", kind=FrameKind.DEVICE_POSE, fields={"value": FieldSpec(dtype="int64")})
    w = SessionWriter(out, rig={"name": "bench"}, calibration=RigCalibration())
    w.add_stream(spec)
    for i in range(100):
        w.write(Frame("a/value", i * 10_000_000, i * 10_000_000, i, {"value": np.array(i, dtype=np.int64)}))
    w.close({})
    return out


def _run(cmd: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env={**os.environ, "COLUMNS": "80"}
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        session = _session(Path(tmp))
        cases = {
            "import sensorfusion": [py, "-c", "import sensorfusion"],
            "sensorfusion --help": [py, "-m", "sensorfusion", "--help"],
            "sensorfusion plugins": [py, "-m", "sensorfusion", "plugins"],
            "sensorfusion inspect": [py, "-m", "sensorfusion", "inspect", str(session)],
            "sensorfusion plugins --check (eager peer)": [py, "-m", "sensorfusion", "plugins", "--check"],
        }
        for cmd in cases.values():  # warm the file cache and the bytecode
            _run(cmd)
        samples: dict[str, list[tuple[float, float]]] = {k: [] for k in cases}
        for _ in range(args.rounds):
            for name, cmd in cases.items():
                samples[name].append(_run(cmd))
    wall = {k: statistics.median(w for w, _ in v) for k, v in samples.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in samples.items()}
    base_w, base_c = wall["import sensorfusion"], cpu["import sensorfusion"]
    print(f"{'command':44s} {'wall s':>8s} {'cpu s':>8s} {'wall / import':>14s}")
    for k in cases:
        print(f"{k:44s} {wall[k]:8.3f} {cpu[k]:8.3f} {wall[k] / base_w:14.2f}")
    result = {
        "bench": "cli_start",
        "rounds": args.rounds,
        "load_avg_1m": os.getloadavg()[0],
        "import_s": round(base_w, 3),
        "help_s": round(wall["sensorfusion --help"], 3),
        "plugins_s": round(wall["sensorfusion plugins"], 3),
        "inspect_s": round(wall["sensorfusion inspect"], 3),
        "eager_plugins_s": round(wall["sensorfusion plugins --check (eager peer)"], 3),
        "help_over_import": round(wall["sensorfusion --help"] / base_w, 2),
        "help_over_import_cpu": round(cpu["sensorfusion --help"] / base_c, 2),
        "eager_over_lazy": round(wall["sensorfusion plugins --check (eager peer)"] / wall["sensorfusion plugins"], 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
