"""The public surface of sensorfusion_ti_mmwave is exactly the intended names."""

from __future__ import annotations

import importlib

import sensorfusion_ti_mmwave as pkg
from sensorfusion_ti_mmwave import emulator

EXPECTED = {
    "FORMATS", "MAGIC", "OPENCV_FROM_TI", "PARTS", "AdcFrame", "AdcLayout", "Command", "ConfigPort",
    "Dca1000Client", "Dca1000Driver", "Dca1000Params", "FrameCorrupt", "ParseCounters", "PointUnits",
    "RadarFrame", "Reassembler", "StreamParser", "UartDriver", "UartParams", "__version__",
    "adc_layout_from_cfg", "adc_to_cube", "cube_from_openradar", "cube_to_adc", "detect_part",
    "encode_command", "encode_frame", "frame_size_bytes", "iter_pcap_udp", "parse_cfg",
    "parse_data_packet", "parse_frame", "parse_reply", "prepare_cfg_lines",
}  # fmt: skip


def test_exports_are_exactly_the_intended_names() -> None:
    assert set(pkg.__all__) == EXPECTED
    for name in pkg.__all__:
        assert hasattr(pkg, name), name
    assert set(emulator.__all__) == {
        "Dca1000Emulator", "FaultInjector", "FaultLog", "UartEmulator", "encode_stream", "random_clouds",
    }  # fmt: skip


def test_private_modules_declare_all() -> None:
    for mod in ("_cfg", "_tlv", "_uart", "_dca1000", "_dca_driver", "_plugin", "emulator"):
        m = importlib.import_module(f"sensorfusion_ti_mmwave.{mod}")
        assert isinstance(m.__all__, list) and all(hasattr(m, n) for n in m.__all__), mod
