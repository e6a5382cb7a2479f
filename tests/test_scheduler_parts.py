"""The run's collaborators on their own: the bounded queue, the frame bus, the meters."""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest

from sensorfusion import Frame
from sensorfusion.scheduler import BoundedQueue, FrameBus, Meter, QueueClosed, StatsBook


def frame(stream: str, i: int) -> Frame:
    return Frame(stream, i, i, i, {"value": np.array(i)})


def test_block_queue_waits_and_close_drains() -> None:
    q: BoundedQueue[int] = BoundedQueue(2, "block")
    assert q.put(1) and q.put(2)
    assert not q.put(3, timeout=0.05)  # full: a block queue refuses after the timeout
    got: list[int] = []

    def producer() -> None:
        assert q.put(3)  # waits for room
        q.close()

    t = threading.Thread(target=producer)
    t.start()
    time.sleep(0.05)
    while True:
        try:
            got.append(q.get(timeout=2))
        except QueueClosed:
            break
    t.join()
    assert got == [1, 2, 3] and not q.put(4)


def test_drop_oldest_counts_and_cancel_releases_producers() -> None:
    dropped: list[int] = []
    q: BoundedQueue[int] = BoundedQueue(2, "drop_oldest", on_drop=dropped.append)
    for i in range(5):
        assert q.put(i)
    assert q.get_all() == [3, 4] and q.dropped == 3 and dropped == [0, 1, 2]
    b: BoundedQueue[int] = BoundedQueue(1, "block")
    b.put(0)
    result: list[bool] = []
    t = threading.Thread(target=lambda: result.append(b.put(1)))
    t.start()
    time.sleep(0.05)
    assert b.cancel() == [0]
    t.join(timeout=2)
    assert result == [False]
    with pytest.raises(QueueClosed):
        b.get(timeout=1)


def test_frame_bus_taps_every_frame_before_its_queue_drops_it() -> None:
    tapped: list[int] = []
    bus = FrameBus(tap=lambda f: tapped.append(f.seq))
    bus.add_stream("a/x", 2, "drop_oldest")
    bus.add_stream("b/x", 2, "drop_oldest")
    for i in range(4):
        bus.put(frame("a/x", i))
        bus.put(frame("b/x", 10 + i))
    frames, _ = bus.get_all(0.0)
    assert [f.seq for f in frames] == [2, 12, 3, 13]  # arrival order across streams
    assert tapped == [0, 10, 1, 11, 2, 12, 3, 13]  # the tap saw everything
    assert bus.dropped == {("a/x", "queue_full"): 2, ("b/x", "queue_full"): 2}
    bus.end_stream("a/x")
    assert bus.get_all(0.0) == ([], ["a/x"])
    bus.close()
    assert not bus.put(frame("a/x", 9))


def test_meter_tick_and_snapshot_race() -> None:
    """Regression: Meter.tick appended to its deques while a snapshot iterated them
    ("deque mutated during iteration") when the live table refreshed under load."""
    book = StatsBook()
    meter = book.stage("s")
    stop = threading.Event()
    errors: list[BaseException] = []

    def ticker() -> None:
        while not stop.is_set():
            meter.tick(0.001)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    threads = [threading.Thread(target=ticker) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            try:
                book.snapshot(live=True)
            except RuntimeError as exc:
                errors.append(exc)
                break
    finally:
        stop.set()
        for t in threads:
            t.join()
        sys.setswitchinterval(old)
    assert not errors, errors
    assert meter.as_dict()["count"] > 0


def test_meter_figures() -> None:
    m = Meter()
    for i in range(11):
        m.tick(latency_s=i / 1000, now=100.0 + i * 0.1)
    assert m.mean_fps() == pytest.approx(10.0)
    assert m.latency_ms(50) == pytest.approx(5.0)
    m.drop("late", 3)
    m.error()
    assert m.as_dict(live=False)["drops"] == {"late": 3} and m.errors == 1
