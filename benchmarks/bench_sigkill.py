"""What ``kill -9`` loses from a live recording of the 4-camera demo rig.

    python benchmarks/bench_sigkill.py [--repeats 3] [--record-s 4] [--rig examples/sim_rig.yaml]

Each repeat records live, waits for the first commit plus ``--record-s``, kills, waits until
nothing more is committed, and measures the loss: kill time minus the host time of the newest
committed camera frame. Two ways to die, alternating:

* ``run``: ``kill -9`` of the run's process (what a user or an OOM killer does). The writer
  process reads what is left in the pipe, commits it and exits.
* ``run+writer``: ``kill -9`` of the whole process group, writer included: what the writer
  had not committed is lost (its commit interval plus a commit, when it keeps up).
* ``thread``: the same rig with ``record.writer: thread`` (the writer inside the run, as
  before the writer process): ``kill -9`` of the run.

The peer is the ``thread`` writer on the same machine in the same script. Prints a table,
then one JSON line (``ratio_*``: loss of the peer / loss of ours).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _count(path: Path) -> int:
    try:
        return int(json.loads((path / "streams" / "cam0" / "image" / "zarr.json").read_text())["attributes"]["count"])
    except (OSError, ValueError, KeyError):
        return 0


def _once(rig: Path, mode: str, record_s: float, work: Path) -> float:
    from sensorfusion.store import Session

    out = work / f"{mode}.zarr"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sensorfusion.run",
            str(rig),
            "--out",
            str(out),
            "--overwrite",
            "--quiet",
            "--duration",
            "600",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 300
    while _count(out) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(record_s)
    kill_ns = time.time_ns()
    if mode == "run+writer":
        os.killpg(proc.pid, signal.SIGKILL)
    else:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    last, since = -1, time.monotonic()
    while time.monotonic() - since < 2.0:  # until the writer process has finished
        n = _count(out)
        if n != last:
            last, since = n, time.monotonic()
        time.sleep(0.1)
    s = Session.open(out)
    newest = max(int(s.timestamps(f"cam{i}/image")["t_host_ns"][-1]) for i in range(4))
    return (kill_ns - newest) / 1e9


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--record-s", type=float, default=4.0)
    ap.add_argument("--rig", default=str(ROOT / "examples" / "sim_rig.yaml"))
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sf-sigkill-"))
    rig = Path(a.rig).resolve()
    thread_rig = work / "thread_rig.yaml"
    text = rig.read_text()
    import yaml

    cfg = yaml.safe_load(text)
    cfg.setdefault("record", {})["writer"] = "thread"
    thread_rig.write_text(yaml.safe_dump(cfg, sort_keys=False))
    results: dict[str, list[float]] = {"run": [], "run+writer": [], "thread": []}
    for _ in range(a.repeats):
        for mode in results:
            results[mode].append(_once(thread_rig if mode == "thread" else rig, mode, a.record_s, work))
    interval = float(cfg.get("record", {}).get("commit_interval_s", 0.5))
    print(f"kill -9 of a live recording ({Path(a.rig).name}, commit_interval_s {interval}), {a.repeats} repeats")
    print(f"{'mode':<12}{'median s':>10}{'max s':>8}  all")
    for mode, v in results.items():
        print(f"{mode:<12}{statistics.median(v):>10.3f}{max(v):>8.3f}  {', '.join(f'{x:.3f}' for x in v)}")
    med = {m: statistics.median(v) for m, v in results.items()}
    print(
        json.dumps(
            {
                "benchmark": "sigkill",
                "commit_interval_s": interval,
                "lost_s": {m: [round(x, 3) for x in v] for m, v in results.items()},
                "median_lost_s": {m: round(x, 3) for m, x in med.items()},
                "ratio_loss_thread_over_run": round(med["thread"] / max(med["run"], 1e-3), 2),
                "ratio_loss_thread_over_run_and_writer": round(med["thread"] / max(med["run+writer"], 1e-3), 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
