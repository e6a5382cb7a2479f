"""Soak: the 4-camera demo rig live with recording for a long time, then a ``--fast`` replay of
that recording; memory (RSS of the run and of its writer process) and drops sampled throughout.

    python benchmarks/soak.py [--minutes 10] [--rig examples/sim_rig.yaml] [--sample-s 2]

What it reports, per phase (``live``, ``replay``):

* framesets formed, drops by reason (from the summary), recorder drops and lag;
* RSS of the run process and of its writer process: at the start of the second half, at the
  end, the peak, and the **slope over the last half** (MB/min, least squares) with the
  residual noise — a leak shows as a slope well above the noise; the aim is flat;
* drops sampled during the run (the session's stored statistics at every commit), so a
  drop burst late in a long run is visible even if the totals look small;
* for the live phase, also the frames the recording holds against what the sources produced.

Not a speed claim (no peer): a stability check. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parent.parent


def _slope(t_s: np.ndarray, mb: np.ndarray) -> tuple[float, float]:
    """Least-squares slope (MB/min) and residual std (MB) of the second half of the samples."""
    half = t_s >= t_s[-1] / 2 if len(t_s) else np.zeros(0, bool)
    t, y = t_s[half], mb[half]
    if len(t) < 3:
        return float("nan"), float("nan")
    a, b = np.polyfit(t / 60.0, y, 1)
    return float(a), float(np.std(y - (a * t / 60.0 + b)))


def _stored_drops(session: Path) -> int:
    try:
        stats = json.loads((session / "zarr.json").read_text())["attributes"].get("stats") or {}
    except (OSError, ValueError, KeyError):
        return 0
    return sum(
        int(n) for reasons in (stats.get("drops") or {}).values() for r, n in reasons.items() if r != "unmatched"
    )


def _phase(name: str, args: list[str], session: Path, sample_s: float, timeout_s: float) -> dict[str, Any]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sensorfusion.run", *args, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    ps = psutil.Process(proc.pid)
    t0 = time.monotonic()
    samples: list[tuple[float, float, float, int]] = []  # t, run MB, writer MB, drops so far
    while proc.poll() is None and time.monotonic() - t0 < timeout_s:
        try:
            run_mb = ps.memory_info().rss / 1e6
            writer_mb = sum(c.memory_info().rss for c in ps.children(recursive=True)) / 1e6
        except psutil.Error:
            break
        samples.append((time.monotonic() - t0, run_mb, writer_mb, _stored_drops(session)))
        time.sleep(sample_s)
    try:
        out, err = proc.communicate(timeout=max(60.0, timeout_s - (time.monotonic() - t0)))
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"{name} phase failed (exit {proc.returncode}):\n{err[-3000:]}")
    summary = json.loads(out.strip().splitlines()[-1])
    arr = np.array(samples, dtype=float) if samples else np.zeros((0, 4))
    # a sample only once the run is past its warm-up: the writer process exists (a live run);
    # a --fast run writes in its own process, so there: after the first 10 % of the samples
    if len(arr) and (arr[:, 2] > 0).any():
        steady = arr[arr[:, 2] > 0]
    else:
        steady = arr[len(arr) // 10 :]
    t = steady[:, 0] - steady[0, 0] if len(steady) else np.zeros(0)
    run_slope, run_noise = _slope(t, steady[:, 1]) if len(steady) else (float("nan"), float("nan"))
    writer_slope, writer_noise = _slope(t, steady[:, 2]) if len(steady) else (float("nan"), float("nan"))
    mid = len(steady) // 2
    rec = summary.get("recorder") or {}
    lost = {k: v for k, v in (summary.get("drops") or {}).items() if set(v) - {"unmatched"}}
    return {
        "phase": name,
        "wall_s": summary.get("wall_s"),
        "framesets": summary.get("framesets"),
        "drops": lost,
        "drops_sampled_max": int(arr[:, 3].max()) if len(arr) else 0,
        "recorder_dropped": rec.get("dropped"),
        "recorder_max_lag_s": rec.get("max_lag_s"),
        "samples": len(steady),
        "run_rss_mb": {
            "half": round(float(steady[mid, 1]), 1) if len(steady) else None,
            "end": round(float(steady[-1, 1]), 1) if len(steady) else None,
            "peak": round(float(steady[:, 1].max()), 1) if len(steady) else None,
        },
        "run_rss_slope_mb_per_min": round(run_slope, 3),
        "run_rss_noise_mb": round(run_noise, 3),
        "writer_rss_mb": {
            "half": round(float(steady[mid, 2]), 1) if len(steady) else None,
            "end": round(float(steady[-1, 2]), 1) if len(steady) else None,
            "peak": round(float(steady[:, 2].max()), 1) if len(steady) else None,
        },
        "writer_rss_slope_mb_per_min": round(writer_slope, 3),
        "writer_rss_noise_mb": round(writer_noise, 3),
        "summary_streams": {k: v.get("count") for k, v in (summary.get("streams") or {}).items()},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0, help="live recording length (default 10)")
    ap.add_argument("--rig", default=str(ROOT / "examples" / "sim_rig.yaml"))
    ap.add_argument("--sample-s", type=float, default=2.0, help="sampling period (default 2 s)")
    ap.add_argument("--keep", metavar="DIR", help="keep the sessions in DIR (default: a temporary folder)")
    ap.add_argument("--json-only", action="store_true")
    a = ap.parse_args()
    seconds = a.minutes * 60
    work = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="sf-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    live, replay = work / "live.zarr", work / "replay.zarr"
    phases = [
        _phase(
            "live",
            [a.rig, "--out", str(live), "--overwrite", "--duration", str(seconds)],
            live,
            a.sample_s,
            seconds * 3 + 600,
        ),
        _phase(
            "replay",
            [a.rig, "--fast", "--replay", str(live), "--out", str(replay), "--overwrite"],
            replay,
            a.sample_s / 2,
            seconds * 3 + 600,
        ),
    ]
    from sensorfusion.store import Session

    recorded = {n: i.count for n, i in Session.open(live).streams().items()}
    produced = phases[0]["summary_streams"]
    phases[0]["recorded_vs_produced"] = {n: [recorded.get(n), produced.get(n)] for n in sorted(produced)}
    if not a.json_only:
        print(f"soak: {a.minutes:g} min live on {Path(a.rig).name} ({os.cpu_count()} CPUs), then a --fast replay")
        head = f"{'phase':<8}{'wall s':>8}{'sets':>8}{'drops':>7}{'run MB half/end/peak':>24}{'MB/min':>9}{'±MB':>7}"
        head += f"{'writer MB end':>15}{'MB/min':>9}{'lag s':>7}"
        print(head)
        for p in phases:
            r, w = p["run_rss_mb"], p["writer_rss_mb"]
            drops = sum(n for v in p["drops"].values() for n in v.values())
            rss = f"{r['half']}/{r['end']}/{r['peak']}"
            print(
                f"{p['phase']:<8}{p['wall_s']:>8}{p['framesets']:>8}{drops:>7}{rss:>24}"
                f"{p['run_rss_slope_mb_per_min']:>9}{p['run_rss_noise_mb']:>7}"
                f"{w['end']!s:>15}{p['writer_rss_slope_mb_per_min']:>9}{p['recorder_max_lag_s']!s:>7}"
            )
        lost = {
            n: rp[1] - rp[0]
            for n, rp in phases[0]["recorded_vs_produced"].items()
            if rp[0] is not None and rp[1] - rp[0]
        }
        print(f"live recording: frames produced but not recorded: {lost or 'none'}")
    print(json.dumps({"benchmark": "soak", "minutes": a.minutes, "phases": phases}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
