"""Contract test classes for plugin authors.

Subclass one in your own test module and set its class attributes; pytest collects the
inherited ``test_*`` methods. A capability a component lacks skips its test with a reason.

Example::

    from sensorfusion.testing import DriverContract
    from mypkg import MyDriver

    class TestMyDriver(DriverContract):
        driver_class = MyDriver
        params = {"port": "/dev/ttyUSB0"}
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pytest
from pydantic import BaseModel, ValidationError

from .._components import Driver, DriverContext, Estimator, Sink, StageContext
from .._errors import EndOfStream
from ..schema._calibration import RigCalibration
from ..schema._skeletons import SkeletonRegistry, builtin_skeletons
from ..schema._streams import Frame, FrameSet, StreamSpec

__all__ = ["DriverContract", "EstimatorContract", "SinkContract"]


class DriverContract:
    """Checks every :class:`~sensorfusion.Driver` must pass.

    Attributes to set:
        driver_class: the class under test.
        params: its ``params`` block (a dict, validated by ``driver_class.Params``).
        sensor_id: the sensor id it is given.
        frames_to_read: how many ``read()`` calls the checks make.
        plugin_name: the entry-point name that should register it (None: not checked).
        finite: the source ends by itself with EndOfStream within ``frames_to_read`` reads.
        stop_within_s: a ``read()`` in progress must return this soon after ``context.stop``
            is set (the runner abandons a driver that does not, and the run fails).
        failing_params: params with which ``open()`` fails (a device that is not there), to
            check that ``close()`` is safe after a failed open; None skips that check.
        deterministic_timestamps: two fresh drivers produce the same sensor times and sequence
            numbers (simulations, files): ``warmup()`` is then checked to consume nothing.
    """

    driver_class: ClassVar[type[Driver]]
    params: ClassVar[dict[str, Any]] = {}
    sensor_id: ClassVar[str] = "dut"
    frames_to_read: ClassVar[int] = 10
    plugin_name: ClassVar[str | None] = None
    finite: ClassVar[bool] = False
    stop_within_s: ClassVar[float] = 2.0
    failing_params: ClassVar[dict[str, Any] | None] = None
    deterministic_timestamps: ClassVar[bool] = False

    def make_driver(self, *, realtime: bool = False) -> Driver:
        """Build the driver under test (override to add fixtures such as emulated devices)."""
        params = self.driver_class.Params.model_validate(self.params)
        return self.driver_class(params, DriverContext(sensor_id=self.sensor_id, seed=0, realtime=realtime))

    def _read(self, drv: Driver, n: int) -> list[Frame]:
        frames: list[Frame] = []
        for _ in range(n):
            try:
                frames.extend(drv.read())
            except EndOfStream:
                break
        return frames

    def test_has_name_and_params_model(self) -> None:
        assert isinstance(self.driver_class.name, str) and self.driver_class.name
        assert issubclass(self.driver_class.Params, BaseModel)

    def test_params_reject_unknown_field(self) -> None:
        with pytest.raises(ValidationError):
            self.driver_class.Params.model_validate({**self.params, "surely_not_a_param": 1})

    def test_streams_are_declared_and_unique(self) -> None:
        drv = self.make_driver()
        specs = drv.streams()
        assert specs, "a driver must declare at least one stream"
        assert all(isinstance(s, StreamSpec) for s in specs)
        names = [s.name for s in specs]
        assert len(names) == len(set(names)), f"duplicate stream names: {names}"

    def test_frames_match_their_contract(self) -> None:
        drv = self.make_driver()
        specs = {s.name: s for s in drv.streams()}
        drv.open()
        try:
            frames = self._read(drv, self.frames_to_read)
        finally:
            drv.close()
        assert frames, "read() produced no frames"
        last: dict[str, tuple[int, int]] = {}
        for f in frames:
            assert f.stream in specs, f"frame of undeclared stream {f.stream!r}"
            specs[f.stream].validate_frame(f)
            for t in (f.t_sensor_ns, f.t_host_ns, f.seq):
                assert isinstance(t, (int, np.integer)), "timestamps and seq must be integers"
            if f.stream in last:
                t0, s0 = last[f.stream]
                assert f.seq > s0, f"{f.stream}: seq must increase ({s0} then {f.seq})"
                assert f.t_sensor_ns >= t0, f"{f.stream}: sensor time went backwards"
            last[f.stream] = (f.t_sensor_ns, f.seq)

    def test_reopen_resumes_without_duplicates(self) -> None:
        if self.finite:
            pytest.skip("finite source")
        drv = self.make_driver()
        drv.open()
        first = self._read(drv, 3)
        drv.close()
        drv.open()
        second = self._read(drv, 3)
        drv.close()
        last_seq: dict[str, int] = defaultdict(lambda: -1)
        for f in first:
            last_seq[f.stream] = max(last_seq[f.stream], f.seq)
        for f in second:
            assert f.seq > last_seq[f.stream], f"{f.stream}: seq {f.seq} repeated after reopen"

    def test_finite_source_ends(self) -> None:
        if not self.finite:
            pytest.skip("not a finite source")
        drv = self.make_driver()
        drv.open()
        try:
            with pytest.raises(EndOfStream):
                for _ in range(self.frames_to_read * 100):
                    drv.read()
        finally:
            drv.close()

    def test_close_is_safe_without_open(self) -> None:
        self.make_driver().close()

    def test_warmup_consumes_no_frames(self) -> None:
        """``warmup()`` runs before the sources start; the frames read after it are the ones a
        driver without it reads (same streams, sensor times and sequence numbers)."""

        def first(warm: bool) -> list[tuple[str, int, int]]:
            drv = self.make_driver()
            if warm:
                drv.warmup()
            drv.open()
            try:
                return [(f.stream, int(f.t_sensor_ns), int(f.seq)) for f in self._read(drv, 3)]
            finally:
                drv.close()

        warmed = first(True)
        if not self.deterministic_timestamps:
            assert warmed, "read() produced no frames after warmup()"
            return
        assert warmed == first(False)

    def make_failing_driver(self) -> Driver:
        """A driver whose ``open()`` fails (override when ``failing_params`` is not enough)."""
        if self.failing_params is None:
            pytest.skip("set failing_params (params with which open() fails) to check close() after a failed open")
        params = self.driver_class.Params.model_validate(self.failing_params)
        return self.driver_class(params, DriverContext(sensor_id=self.sensor_id, seed=0, realtime=False))

    def test_close_after_a_failed_open(self) -> None:
        drv = self.make_failing_driver()
        with pytest.raises(Exception) as info:  # any error: the device is not there
            drv.open()
        assert not isinstance(info.value, AssertionError)
        drv.close()  # the runner closes a driver whose open() failed, then retries: must not raise
        drv.close()

    def test_read_returns_soon_after_stop(self) -> None:
        """A blocking ``read()`` must watch ``context.stop`` (or time out by itself): the runner
        waits ``--stop-timeout`` for it, then abandons the driver and the run fails."""
        import threading
        import time

        drv = self.make_driver(realtime=True)
        stop = drv.context.stop
        errors: list[BaseException] = []
        returned = threading.Event()

        def reader() -> None:
            try:
                while not stop.is_set():
                    drv.read()
            except EndOfStream:
                pass
            except BaseException as exc:
                errors.append(exc)
            finally:
                returned.set()

        drv.open()
        try:
            try:
                drv.read()  # first-call costs (compiling, buffers) are not what this checks
            except EndOfStream:
                pass
            t = threading.Thread(target=reader, name="contract-reader", daemon=True)
            t.start()
            time.sleep(0.3)
            stop.set()
            t0 = time.monotonic()
            grace = max(2 * self.stop_within_s, self.stop_within_s + 5)
            assert returned.wait(grace), f"read() did not return within {grace:g} s of context.stop being set"
            waited = time.monotonic() - t0
        finally:
            stop.set()
            drv.close()
        assert not errors, errors
        assert waited <= self.stop_within_s, (
            f"read() returned {waited:.2f} s after context.stop (limit {self.stop_within_s} s)"
        )

    def test_registered_through_entry_point(self) -> None:
        if self.plugin_name is None:
            pytest.skip("plugin_name not set")
        from ..plugins import PluginHost

        host = PluginHost()
        assert self.driver_class.name in host.drivers, host.drivers.names()
        assert host.drivers.plugin_of(self.driver_class.name) == self.plugin_name


class _StageContract:
    params: ClassVar[dict[str, Any]] = {}
    stage_id: ClassVar[str] = "dut"
    plugin_name: ClassVar[str | None] = None

    def input_specs(self) -> list[StreamSpec]:
        """The streams the stage is given (override)."""
        raise NotImplementedError

    def calibration(self) -> RigCalibration:
        """The rig calibration the stage is given (override when it needs one)."""
        return RigCalibration()

    def framesets(self) -> Sequence[FrameSet]:
        """Input framesets to run through the stage (override)."""
        raise NotImplementedError

    def make_context(self) -> StageContext:
        return StageContext(
            stage_id=self.stage_id,
            inputs=self.input_specs(),
            calibration=self.calibration(),
            skeletons=SkeletonRegistry(builtin_skeletons()),
            seed=0,
        )


class EstimatorContract(_StageContract):
    """Checks every :class:`~sensorfusion.Estimator` must pass.

    Set ``estimator_class`` and ``params``; override ``input_specs()``, ``framesets()`` and,
    if needed, ``calibration()``.
    """

    estimator_class: ClassVar[type[Estimator]]

    def make_estimator(self) -> Estimator:
        params = self.estimator_class.Params.model_validate(self.params)
        return self.estimator_class(params, self.make_context())

    def _run(self, est: Estimator) -> list[Mapping[str, Mapping[str, np.ndarray]]]:
        out = []
        for fs in self.framesets():
            fs_copy = FrameSet(fs.index, fs.t_ref_ns, fs.t_host_ns, dict(fs.frames), fs.expected)
            out.append(est.process(fs_copy))
        return out

    def test_outputs_are_valid_and_unique(self) -> None:
        outs = self.make_estimator().outputs()
        assert all(isinstance(s, StreamSpec) for s in outs)
        names = [s.name for s in outs]
        assert len(names) == len(set(names))
        inputs = {s.name for s in self.input_specs()}
        assert not set(names) & inputs, "an estimator may not overwrite its inputs"

    def test_outputs_match_their_contract(self) -> None:
        est = self.make_estimator()
        specs = {s.name: s for s in est.outputs()}
        for result in self._run(est):
            for name, data in result.items():
                assert name in specs, f"undeclared output {name!r}"
                specs[name].validate_frame(Frame(name, 0, 0, 0, data))

    def test_deterministic(self) -> None:
        if not self.estimator_class.deterministic:
            pytest.skip("estimator declares itself non-deterministic")
        a, b = self._run(self.make_estimator()), self._run(self.make_estimator())
        assert len(a) == len(b)
        for ra, rb in zip(a, b, strict=True):
            assert ra.keys() == rb.keys()
            for k in ra:
                for f in ra[k]:
                    assert ra[k][f].tobytes() == rb[k][f].tobytes(), f"{k}.{f} differs between two runs"

    def test_warmup_leaves_outputs_unchanged(self) -> None:
        """``warmup()`` may compile and cache, never change what ``process()`` returns."""
        if not self.estimator_class.deterministic:
            pytest.skip("estimator declares itself non-deterministic")
        warmed = self.make_estimator()
        warmed.warmup()
        a, b = self._run(warmed), self._run(self.make_estimator())
        assert len(a) == len(b)
        for ra, rb in zip(a, b, strict=True):
            assert ra.keys() == rb.keys()
            for k in ra:
                for f in ra[k]:
                    assert ra[k][f].tobytes() == rb[k][f].tobytes(), f"{k}.{f} differs after warmup()"

    def test_partial_frameset_does_not_raise(self) -> None:
        est = self.make_estimator()
        for fs in self.framesets()[:1]:
            names = sorted(fs.frames)
            for drop in names:
                partial = FrameSet(
                    fs.index, fs.t_ref_ns, fs.t_host_ns, {k: v for k, v in fs.frames.items() if k != drop}, fs.expected
                )
                est.process(partial)

    def test_params_reject_unknown_field(self) -> None:
        with pytest.raises(ValidationError):
            self.estimator_class.Params.model_validate({**self.params, "surely_not_a_param": 1})

    def test_registered_through_entry_point(self) -> None:
        if self.plugin_name is None:
            pytest.skip("plugin_name not set")
        from ..plugins import PluginHost

        host = PluginHost()
        assert self.estimator_class.name in host.estimators
        assert host.estimators.plugin_of(self.estimator_class.name) == self.plugin_name


class SinkContract(_StageContract):
    """Checks every :class:`~sensorfusion.Sink` must pass. Set ``sink_class`` and ``params``;
    override ``input_specs()`` and ``framesets()``."""

    sink_class: ClassVar[type[Sink]]

    def make_sink(self, tmp_dir: str | None = None) -> Sink:
        params = self.sink_class.Params.model_validate(self.params)
        ctx = self.make_context()
        ctx.out_dir = tmp_dir
        return self.sink_class(params, ctx)

    def test_consumes_framesets_and_closes(self, tmp_path: Any) -> None:
        sink = self.make_sink(str(tmp_path))
        for fs in self.framesets():
            sink.write(fs)
        sink.close()
        assert isinstance(sink.summary(), dict)

    def test_partial_frameset_does_not_raise(self, tmp_path: Any) -> None:
        sink = self.make_sink(str(tmp_path))
        for fs in self.framesets()[:1]:
            for drop in sorted(fs.frames):
                sink.write(
                    FrameSet(
                        fs.index,
                        fs.t_ref_ns,
                        fs.t_host_ns,
                        {k: v for k, v in fs.frames.items() if k != drop},
                        fs.expected,
                    )
                )
        sink.close()

    def test_params_reject_unknown_field(self) -> None:
        with pytest.raises(ValidationError):
            self.sink_class.Params.model_validate({**self.params, "surely_not_a_param": 1})
