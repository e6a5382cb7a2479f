"""Building a rig: resolve drivers, streams, calibration and the stage DAG, with exact errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .._calibration_io import load_rig_calibration
from .._components import Driver, DriverContext, Estimator, Sink, StageContext
from .._errors import ConfigError, PluginError, SensorfusionError
from ..plugins import PluginHost, plugin_errors
from ..schema._calibration import RigCalibration
from ..schema._config import RigConfig, SensorConfig, match_streams, validate_params
from ..schema._streams import FrameKind, StreamSpec
from ._sync import default_reference

__all__ = ["BuiltRig", "SourceNode", "StageNode", "build_rig"]


@dataclass
class SourceNode:
    config: SensorConfig
    driver: Driver
    plugin: str
    streams: list[StreamSpec]


@dataclass
class StageNode:
    id: str
    kind: str  # "estimator" or "sink"
    component: Estimator | Sink
    plugin: str
    component_name: str
    inputs: list[str]
    outputs: list[StreamSpec]
    queue_size: int
    queue_policy: str
    on_error: str = "stop"


@dataclass
class BuiltRig:
    config: RigConfig
    sources: list[SourceNode]
    calibration: RigCalibration
    sync_streams: list[str]
    sync_reference: str
    sync_offsets_ns: dict[str, int]
    stages: list[StageNode]
    sinks: list[StageNode]
    record_streams: list[str]
    source_specs: dict[str, StreamSpec] = field(default_factory=dict)

    @property
    def estimate_specs(self) -> dict[str, tuple[str, StreamSpec]]:
        return {s.name: (st.id, s) for st in self.stages for s in st.outputs}


def build_rig(
    config: RigConfig,
    host: PluginHost,
    *,
    base_dir: Path,
    realtime: bool = True,
    source_name: str | None = None,
    replace_sources: list[SourceNode] | None = None,
    out_dir: str | None = None,
) -> BuiltRig:
    """Instantiate every component and check that the graph holds together.

    ``replace_sources`` (replay) stands in for the rig's own sensors.
    """
    src = source_name
    # Everything that can be checked without building anything is checked first, and every
    # problem found is reported at once: the calibration file, each component's name and params.
    errors: list[ConfigError] = []
    try:
        calib_explicit = load_rig_calibration(config.calibration, base_dir=base_dir, source=src, host=host)
    except ConfigError as exc:
        errors.append(exc)
    errors += _check_components(config, host, src, sensors=replace_sources is None)
    if errors:
        raise ConfigError.combine(errors, source=src)

    sources: list[SourceNode] = []
    if replace_sources is not None:
        sources = replace_sources
    else:
        for i, sensor_cfg in enumerate(config.sensors):
            path = f"sensors[{i}]"
            driver_cls = host.drivers.get(sensor_cfg.driver, field_path=f"{path}.driver")
            plugin = host.drivers.plugin_of(sensor_cfg.driver)
            params = validate_params(driver_cls.Params, sensor_cfg.params, field_path=f"{path}.params", source=src)
            dctx = DriverContext(
                sensor_id=sensor_cfg.id, seed=config.seed, realtime=realtime, config_path=path, base_dir=str(base_dir)
            )
            try:
                with plugin_errors(plugin, f"driver {sensor_cfg.driver!r} ({path})"):
                    drv = driver_cls(params, dctx)
                    specs = list(drv.streams())
            except PluginError as exc:
                cause = exc.__cause__
                if isinstance(cause, ConfigError):
                    raise ConfigError(
                        cause.reason,
                        field_path=cause.field_path or path,
                        value=cause.value,
                        choices=cause.choices,
                        source=src,
                    ) from None
                raise
            sources.append(SourceNode(sensor_cfg, drv, plugin, specs))

    # Streams: unique across sources.
    source_specs: dict[str, StreamSpec] = {}
    for i, node in enumerate(sources):
        for spec in node.streams:
            if spec.name in source_specs:
                raise ConfigError(
                    "two sensors produce the same stream", field_path=f"sensors[{i}]", value=spec.name, source=src
                )
            source_specs[spec.name] = spec

    # Calibration: what drivers know, overridden by the rig file.
    provided = RigCalibration()
    for node in sources:
        try:
            with plugin_errors(node.plugin, f"driver {node.config.driver!r}.calibration()"):
                driver_cal = node.driver.calibration()
        except PluginError as exc:
            cause = exc.__cause__
            if isinstance(cause, ConfigError):
                raise ConfigError(
                    cause.reason, field_path=cause.field_path, value=cause.value, choices=cause.choices, source=src
                ) from None
            raise
        if driver_cal is not None:
            provided = driver_cal.merged(provided)
    calibration = calib_explicit.merged(provided)
    for sensor in calib_explicit.sensors:
        if not any(s.startswith(sensor + "/") for s in source_specs):
            raise ConfigError(
                "calibration given for a sensor that produces no stream",
                field_path=f"calibration.sensors.{sensor}",
                choices=sorted({s.split("/")[0] for s in source_specs}),
                source=src,
            )

    # Synchronizer.
    sync_streams = match_streams(config.sync.streams, source_specs)
    if not sync_streams:
        raise ConfigError(
            "patterns match no source stream",
            field_path="sync.streams",
            value=config.sync.streams,
            choices=sorted(source_specs),
            source=src,
        )
    if config.sync.reference is not None:
        if config.sync.reference not in sync_streams:
            raise ConfigError(
                "not a synchronized stream",
                field_path="sync.reference",
                value=config.sync.reference,
                choices=sync_streams,
                source=src,
            )
        reference = config.sync.reference
    else:
        reference = default_reference((s, source_specs[s].rate_hz) for s in sync_streams)
    offsets: dict[str, int] = {}
    for s in sync_streams:
        sensor = s.split("/")[0]
        cal = calibration.sensors.get(sensor)
        offsets[s] = (cal.time_offset_ns if cal is not None else 0) + int(config.sync.offsets_ns.get(s, 0))
    for s in config.sync.offsets_ns:
        if s not in sync_streams:
            raise ConfigError(
                "offset for a stream that is not synchronized",
                field_path=f"sync.offsets_ns.{s}",
                choices=sync_streams,
                source=src,
            )

    # Stages, in the order the DAG allows.
    available: dict[str, StreamSpec] = {s: source_specs[s] for s in sync_streams}
    producers: dict[str, str] = {}
    pending = list(enumerate(config.stages))
    stages: list[StageNode] = []
    progress = True
    while pending and progress:
        progress = False
        for item in list(pending):
            i, sc = item
            path = f"stages[{i}]"
            if any(not match_streams([p], available) for p in sc.inputs):
                continue  # built once an upstream stage provides the streams it names
            matched = match_streams(sc.inputs, available)
            cls = host.estimators.get(sc.estimator, field_path=f"{path}.estimator")
            plugin = host.estimators.plugin_of(sc.estimator)
            specs = [available[m] for m in matched]
            if cls.input_kinds:
                for spec in specs:
                    if spec.kind not in cls.input_kinds:
                        raise ConfigError(
                            f"estimator {sc.estimator!r} does not accept {spec.kind.value} streams ({spec.name})",
                            field_path=f"{path}.inputs",
                            value=spec.name,
                            choices=[k.value for k in cls.input_kinds],
                            source=src,
                        )
            if cls.requires_camera_calibration:
                for spec in specs:
                    if spec.kind in (FrameKind.IMAGE, FrameKind.KEYPOINTS2D, FrameKind.DEPTH):
                        cal = calibration.sensors.get(spec.sensor)
                        if cal is None or cal.camera is None:
                            raise ConfigError(
                                f"stage {sc.id!r} needs a camera model for sensor {spec.sensor!r}",
                                field_path=f"calibration.sensors.{spec.sensor}.camera",
                                choices=sorted(k for k, v in calibration.sensors.items() if v.camera is not None),
                                source=src,
                            )
            params = validate_params(cls.Params, sc.params, field_path=f"{path}.params", source=src)
            ctx = StageContext(
                stage_id=sc.id,
                inputs=specs,
                calibration=calibration,
                skeletons=host.skeletons,
                seed=config.seed,
                out_dir=out_dir,
                config_path=path,
                capture_volume=config.capture_volume,
            )
            est = _instantiate(cls, params, ctx, plugin, f"estimator {sc.estimator!r} ({path})", path, src)
            assert isinstance(est, Estimator)
            with plugin_errors(plugin, f"estimator {sc.estimator!r}.outputs()"):
                outs = list(est.outputs())
            for o in outs:
                if o.name in available:
                    owner = producers.get(o.name, "a source")
                    raise ConfigError(
                        f"output stream {o.name!r} is already produced by {owner}",
                        field_path=f"{path}.estimator",
                        value=sc.estimator,
                        source=src,
                    )
                available[o.name] = o
                producers[o.name] = f"stage {sc.id!r}"
            stages.append(
                StageNode(
                    sc.id,
                    "estimator",
                    est,
                    plugin,
                    sc.estimator,
                    matched,
                    outs,
                    sc.queue.size,
                    sc.queue.policy,
                    sc.on_error,
                )
            )
            pending.remove(item)
            progress = True
    if pending:
        i, sc = pending[0]
        host.estimators.get(sc.estimator, field_path=f"stages[{i}].estimator")
        bad = next(p for p in sc.inputs if not match_streams([p], available))
        raise ConfigError(
            "input pattern matches no stream (nor any stream a stage produces; stages in a cycle never start)",
            field_path=f"stages[{i}].inputs",
            value=bad,
            choices=sorted(available),
            source=src,
        )

    sinks: list[StageNode] = []
    for i, kc in enumerate(config.sinks):
        path = f"sinks[{i}]"
        cls_s = host.sinks.get(kc.sink, field_path=f"{path}.sink")
        plugin = host.sinks.plugin_of(kc.sink)
        matched = match_streams(kc.inputs, available)
        if not matched:
            raise ConfigError(
                "input patterns match no stream",
                field_path=f"{path}.inputs",
                value=kc.inputs,
                choices=sorted(available),
                source=src,
            )
        params = validate_params(cls_s.Params, kc.params, field_path=f"{path}.params", source=src)
        sink_ctx = StageContext(
            stage_id=kc.id,
            inputs=[available[m] for m in matched],
            calibration=calibration,
            skeletons=host.skeletons,
            seed=config.seed,
            out_dir=out_dir,
            config_path=path,
        )
        sink = _instantiate(cls_s, params, sink_ctx, plugin, f"sink {kc.sink!r} ({path})", path, src)
        sinks.append(
            StageNode(kc.id, "sink", sink, plugin, kc.sink, matched, [], kc.queue.size, kc.queue.policy, kc.on_error)
        )

    record_streams = match_streams(config.record.streams, source_specs)
    return BuiltRig(
        config=config,
        sources=sources,
        calibration=calibration,
        sync_streams=sync_streams,
        sync_reference=reference,
        sync_offsets_ns=offsets,
        stages=stages,
        sinks=sinks,
        record_streams=record_streams,
        source_specs=source_specs,
    )


def _check_components(config: RigConfig, host: PluginHost, src: str | None, *, sensors: bool) -> list[ConfigError]:
    """Every unknown (or unavailable) driver, estimator and sink name and every invalid params
    block of the rig, without building anything."""
    errors: list[ConfigError] = []
    entries: list[tuple[Any, str, str, dict[str, Any]]] = []
    if sensors:
        entries += [(host.drivers, f"sensors[{i}]", c.driver, c.params) for i, c in enumerate(config.sensors)]
    entries += [(host.estimators, f"stages[{i}]", c.estimator, c.params) for i, c in enumerate(config.stages)]
    entries += [(host.sinks, f"sinks[{i}]", c.sink, c.params) for i, c in enumerate(config.sinks)]
    for registry, path, name, params in entries:
        field = "driver" if registry is host.drivers else "estimator" if registry is host.estimators else "sink"
        try:
            cls = registry.get(name, field_path=f"{path}.{field}")
            validate_params(cls.Params, params, field_path=f"{path}.params", source=src)
        except ConfigError as exc:
            errors.append(exc)
    return errors


def _instantiate(
    cls: type[Estimator] | type[Sink],
    params: BaseModel,
    ctx: StageContext,
    plugin: str,
    what: str,
    path: str,
    src: str | None,
) -> Estimator | Sink:
    try:
        with plugin_errors(plugin, what):
            return cls(params, ctx)
    except PluginError as exc:
        cause = exc.__cause__
        if isinstance(cause, ConfigError):
            raise ConfigError(
                cause.reason, field_path=cause.field_path or path, value=cause.value, choices=cause.choices, source=src
            ) from None
        if isinstance(cause, SensorfusionError):
            raise
        raise
