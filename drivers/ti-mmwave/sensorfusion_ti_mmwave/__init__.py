"""sensorfusion-ti-mmwave: TI mmWave radars over UART (demo TLV frames) and DCA1000 (raw ADC).

* ``ti_mmwave.uart`` (:class:`UartDriver`): configures a demo board over its CLI UART and
  decodes the out-of-box (``oob``), legacy 3D people-counting (``pc3d``) and people-tracking
  (``tracking``) frame formats from its data UART.
* ``ti_mmwave.dca1000`` (:class:`Dca1000Driver`): the DCA1000EVM UDP protocols, frame
  reassembly and ADC layouts -> complex cube ``[loops, tx, rx, samples]``.
* :func:`parse_cfg` turns a ``.cfg`` into a :class:`~sensorfusion.schema.RadarModel`;
  :func:`encode_frame` / :class:`StreamParser` encode and decode UART frames;
  :mod:`sensorfusion_ti_mmwave.emulator` holds device emulators speaking both protocols.
"""

from ._cfg import PARTS, AdcLayout, adc_layout_from_cfg, detect_part, frame_size_bytes, parse_cfg
from ._dca1000 import (
    AdcFrame,
    Command,
    Reassembler,
    adc_to_cube,
    cube_from_openradar,
    cube_to_adc,
    encode_command,
    iter_pcap_udp,
    parse_data_packet,
    parse_reply,
)
from ._dca_driver import Dca1000Client, Dca1000Driver, Dca1000Params
from ._tlv import (
    FORMATS,
    MAGIC,
    FrameCorrupt,
    ParseCounters,
    PointUnits,
    RadarFrame,
    StreamParser,
    encode_frame,
    parse_frame,
)
from ._uart import OPENCV_FROM_TI, ConfigPort, UartDriver, UartParams, prepare_cfg_lines

__version__ = "0.1.0"

__all__ = [
    "FORMATS",
    "MAGIC",
    "OPENCV_FROM_TI",
    "PARTS",
    "AdcFrame",
    "AdcLayout",
    "Command",
    "ConfigPort",
    "Dca1000Client",
    "Dca1000Driver",
    "Dca1000Params",
    "FrameCorrupt",
    "ParseCounters",
    "PointUnits",
    "RadarFrame",
    "Reassembler",
    "StreamParser",
    "UartDriver",
    "UartParams",
    "__version__",
    "adc_layout_from_cfg",
    "adc_to_cube",
    "cube_from_openradar",
    "cube_to_adc",
    "detect_part",
    "encode_command",
    "encode_frame",
    "frame_size_bytes",
    "iter_pcap_udp",
    "parse_cfg",
    "parse_data_packet",
    "parse_frame",
    "parse_reply",
    "prepare_cfg_lines",
]
