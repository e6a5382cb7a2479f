"""The synchronizer: single-use, monotonic, minimal-span sets, identical for any arrival order."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensorfusion import ConfigError, Frame
from sensorfusion.scheduler._sync import Synchronizer, default_reference
from sensorfusion.testing import arrival_orders

MS = 1_000_000


def make_frames(rates: dict[str, float], seconds: float, jitter_ms: float, seed: int, drop: float = 0.0) -> list[Frame]:
    rng = np.random.default_rng(seed)
    out = []
    for s, r in rates.items():
        t0 = int(rng.integers(0, 20 * MS))
        n = int(r * seconds)
        for i in range(n):
            if rng.random() < drop:
                continue
            t = t0 + int(i * 1e9 / r) + int(rng.normal(0, jitter_ms * MS))
            out.append(Frame(s, t, t + 3 * MS, i, {}))
    return out


def run(frames: list[Frame], reference: str, tol_ms: float = 15, lateness_ms: float = 0, timeout: int | None = None):
    sync = Synchronizer(
        sorted({f.stream for f in frames}),
        reference,
        tolerance_ns=int(tol_ms * MS),
        max_lateness_ns=int(lateness_ms * MS),
        timeout_ns=timeout,
    )
    sets = []
    for f in frames:
        sync.push(f)
        sets += sync.poll()
    sets += sync.flush()
    return sets, sync


def key(sets):
    return [(fs.index, fs.t_ref_ns, tuple((k, v.seq) for k, v in fs.frames.items())) for fs in sets]


RATES = {"cam0/image": 30, "cam1/image": 30, "imu/accel": 200, "radar/points": 10, "cam2/image": 15}


def in_host_order(frames):
    return sorted(frames, key=lambda f: (f.t_host_ns, f.stream))


def test_sets_follow_the_reference_and_respect_tolerance():
    frames = make_frames(RATES, 3, jitter_ms=2, seed=1)
    sets, sync = run(in_host_order(frames), "radar/points", tol_ms=15)
    assert len(sets) == 30  # one per reference frame
    for fs in sets:
        assert "radar/points" in fs.frames
        for f in fs.frames.values():
            assert abs(f.t_sensor_ns - fs.t_ref_ns) <= 15 * MS
    assert sync.stats.sets == 30


def test_single_use_and_monotonic():
    frames = make_frames(RATES, 3, jitter_ms=4, seed=2, drop=0.1)
    sets, _ = run(in_host_order(frames), "cam2/image", tol_ms=20)
    seen = set()
    last: dict[str, int] = {}
    last_t = -1
    for fs in sets:
        assert fs.t_ref_ns > last_t
        last_t = fs.t_ref_ns
        for s, f in fs.frames.items():
            assert (s, f.seq) not in seen, "a frame was used twice"
            seen.add((s, f.seq))
            assert f.seq > last.get(s, -1), "a stream went backwards across sets"
            last[s] = f.seq


def test_minimal_span_picks_the_nearest_frame():
    # reference at 0 and 100 ms; stream b has frames at 4 and 9 ms: 4 ms is nearer.
    fr = [
        Frame("a/x", 0, 0, 0, {}),
        Frame("a/x", 100 * MS, 1, 1, {}),
        Frame("b/x", 9 * MS, 2, 0, {}),
        Frame("b/x", 4 * MS, 2, 1, {}),
    ]
    sets, sync = run(sorted(fr, key=lambda f: f.t_sensor_ns), "a/x", tol_ms=10)
    assert sets[0].frames["b/x"].t_sensor_ns == 4 * MS
    assert "b/x" not in sets[1].frames
    assert sync.stats.dropped[("b/x", "unmatched")] == 1


def test_frame_goes_to_its_nearest_reference():
    # b at 60 ms is within 50 ms tolerance of both references (20, 100) but nearer to 100.
    fr = [Frame("a/x", 20 * MS, 0, 0, {}), Frame("a/x", 100 * MS, 1, 1, {}), Frame("b/x", 60 * MS + 1, 0, 0, {})]
    sets, _ = run(fr, "a/x", tol_ms=50)
    assert "b/x" not in sets[0].frames and sets[1].frames["b/x"].seq == 0


def test_offsets_shift_streams():
    fr = [Frame("a/x", 1000 * MS, 0, 0, {}), Frame("b/x", 500 * MS, 0, 0, {})]
    sync = Synchronizer(["a/x", "b/x"], "a/x", tolerance_ns=MS, timeout_ns=None, offsets_ns={"b/x": 500 * MS})
    for f in fr:
        sync.push(f)
    sets = sync.flush()
    assert len(sets) == 1 and set(sets[0].frames) == {"a/x", "b/x"}


@settings(max_examples=25, deadline=None)
@given(data=st.data(), seed=st.integers(0, 1000))
def test_identical_for_any_interleaving(data, seed):
    frames = make_frames({"a/x": 30, "b/x": 30, "c/x": 90, "d/x": 10}, 1.0, jitter_ms=3, seed=seed, drop=0.05)
    frames.sort(key=lambda f: f.t_sensor_ns)
    base, _ = run(frames, "d/x", tol_ms=20)
    order = data.draw(arrival_orders(frames))
    sets, _ = run(order, "d/x", tol_ms=20)
    assert key(sets) == key(base)


def test_identical_with_disorder_within_the_lateness_bound():
    frames = make_frames({"a/x": 30, "b/x": 60, "c/x": 10}, 2.0, jitter_ms=2, seed=3)
    frames.sort(key=lambda f: f.t_sensor_ns)
    base, _ = run(frames, "c/x", tol_ms=20, lateness_ms=100)
    rng = random.Random(0)
    for _ in range(10):
        # shuffle inside 50 ms buckets: within-stream disorder < 100 ms lateness
        shuffled = sorted(frames, key=lambda f: (f.t_sensor_ns // (50 * MS), rng.random()))
        sets, sync = run(shuffled, "c/x", tol_ms=20, lateness_ms=100)
        assert key(sets) == key(base)
        assert sum(n for (s, r), n in sync.stats.dropped.items() if r == "late") == 0


def test_late_frames_are_dropped_and_counted():
    sync = Synchronizer(["a/x", "b/x"], "a/x", tolerance_ns=5 * MS, timeout_ns=None)
    for i in range(5):
        sync.push(Frame("a/x", i * 33 * MS, 0, i, {}))
        sync.push(Frame("b/x", i * 33 * MS, 0, i, {}))
    sync.poll()
    assert sync.push(Frame("b/x", 10 * MS, 0, 99, {})) is False
    assert sync.stats.dropped[("b/x", "late")] == 1


def test_silent_stream_gives_partial_sets_after_timeout():
    sync = Synchronizer(["a/x", "b/x"], "a/x", tolerance_ns=5 * MS, timeout_ns=200 * MS)
    out = []
    for i in range(30):
        t = i * 33 * MS
        sync.push(Frame("a/x", t, t, i, {}))
        if i < 5:
            sync.push(Frame("b/x", t, t, i, {}))
        out += sync.poll()
    # b went silent at ~132 ms; after 200 ms of host time, sets go on without it
    assert len(out) >= 20
    assert out[2].complete and not out[-1].complete
    assert out[-1].missing == ["b/x"]


def test_waits_for_a_slow_stream_without_timeout():
    sync = Synchronizer(["a/x", "b/x"], "a/x", tolerance_ns=5 * MS, timeout_ns=None)
    for i in range(10):
        sync.push(Frame("a/x", i * 33 * MS, 0, i, {}))
    assert sync.poll() == []
    sync.push(Frame("b/x", 0, 0, 0, {}))
    sync.push(Frame("b/x", 330 * MS, 0, 1, {}))
    # the last reference frame waits: a nearer reference frame could still come
    assert len(sync.poll()) == 9
    assert len(sync.flush()) == 1


def test_empty_and_edge_cases():
    assert Synchronizer(["a/x"], "a/x", tolerance_ns=0, timeout_ns=None).flush() == []
    with pytest.raises(ConfigError, match=r"sync\.reference"):
        Synchronizer(["a/x"], "b/x", tolerance_ns=0)
    assert default_reference([("a/x", 30.0), ("b/x", 10.0), ("c/x", 0.0)]) == "b/x"
    with pytest.raises(ConfigError):
        default_reference([])


def test_eight_mixed_rate_streams_give_one_set_per_reference_frame():
    # the workload of benchmarks/_sync_bench.py, where the synchronizer's speed is measured
    frames = in_host_order(
        make_frames({f"s{i}/x": r for i, r in enumerate([30, 30, 30, 30, 60, 100, 10, 15])}, 5, 2, 0)
    )
    sets, _ = run(frames, "s6/x", tol_ms=20)
    assert len(sets) == 50
    for fs in sets:
        assert "s6/x" in fs.frames
        assert all(abs(f.t_sensor_ns - fs.t_ref_ns) <= 20 * MS for f in fs.frames.values())


def test_rate_watermarks_emit_a_set_as_soon_as_its_frames_are_in():
    period = 33 * MS
    gaps = {"a/x": period // 2, "b/x": period // 2}
    plain = Synchronizer(["a/x", "b/x"], "a/x", tolerance_ns=5 * MS, timeout_ns=None)
    fast = Synchronizer(["a/x", "b/x"], "a/x", tolerance_ns=5 * MS, timeout_ns=None, min_gap_ns=gaps)
    for sync in (plain, fast):
        sync.push(Frame("a/x", 0, 0, 0, {}))
        sync.push(Frame("b/x", MS, 0, 0, {}))
    assert plain.poll() == []  # waits for the next reference frame
    (fs,) = fast.poll()
    assert fs.complete


@settings(max_examples=15, deadline=None)
@given(data=st.data(), seed=st.integers(0, 1000))
def test_rate_watermarks_keep_the_result_order_independent(data, seed):
    frames = make_frames({"a/x": 30, "b/x": 30, "c/x": 90}, 1.0, jitter_ms=2, seed=seed)
    frames.sort(key=lambda f: f.t_sensor_ns)
    gaps = {"a/x": int(0.5e9 / 30), "b/x": int(0.5e9 / 30), "c/x": int(0.5e9 / 90)}

    def go(order):
        sync = Synchronizer(["a/x", "b/x", "c/x"], "a/x", tolerance_ns=8 * MS, timeout_ns=None, min_gap_ns=gaps)
        out = []
        for f in order:
            sync.push(f)
            out += sync.poll()
        return key(out + sync.flush()), sync

    base, _ = go(frames)
    again, sync = go(data.draw(arrival_orders(frames)))
    assert again == base
    assert sum(n for (s, r), n in sync.stats.dropped.items() if r == "late") == 0
