"""The frame rate of 2D keypoints another tool wrote, from the source when it says.

OpenPose JSON files carry no time. Where the rate is known it is found, in this order:

1. ``--fps`` (given by the user);
2. a Pose2Sim project's ``Config.toml`` above a view folder, ``[project] frame_rate = N``
   (``"auto"`` means "from the videos": go on);
3. the view's video: ``<name>.mp4`` (``.avi``, ``.mov``, ``.mkv``) next to its JSON folder, or in
   a ``videos/`` folder beside it, where ``<name>`` is the view's name or its folder's name
   without ``_json`` (Pose2Sim's layout: ``videos/cam01.mp4`` + ``pose/cam01_json/``); read with
   OpenCV (``pip install sensorfusion-interop[video]``). Views whose videos disagree are an error;
4. otherwise :data:`DEFAULT_FPS`, and the result says it was defaulted so the command announces it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sensorfusion import ConfigError

__all__ = ["DEFAULT_FPS", "FrameRate", "find_frame_rate"]

DEFAULT_FPS = 30.0
_VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".MP4", ".AVI", ".MOV", ".MKV")


@dataclass(frozen=True)
class FrameRate:
    """A frame rate and where it came from (``source``: ``"--fps"``, a file, or ``"default"``)."""

    hz: float
    source: str

    @property
    def defaulted(self) -> bool:
        return self.source == "default"

    def describe(self) -> str:
        if self.defaulted:
            return f"frame rate: {self.hz:g} fps, a default - the source does not say (pass --fps)"
        return f"frame rate: {self.hz:g} fps (from {self.source})"


def _config_toml_rate(folder: Path) -> tuple[float, Path] | None:
    import tomllib

    for d in [folder, *list(folder.parents)[:3]]:
        cfg = d / "Config.toml"
        if not cfg.is_file():
            continue
        try:
            data = tomllib.loads(cfg.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        rate = data.get("project", {}).get("frame_rate") if isinstance(data.get("project"), dict) else None
        if isinstance(rate, int | float) and not isinstance(rate, bool) and rate > 0:
            return float(rate), cfg
    return None


def _videos(folder: Path, name: str) -> list[Path]:
    stems = [name]
    if folder.name.endswith("_json"):
        stems.append(folder.name[: -len("_json")])
    out = []
    for base in (folder.parent, folder.parent.parent):
        for d in (base, base / "videos", base / "video"):
            for stem in stems:
                out += [d / f"{stem}{suffix}" for suffix in _VIDEO_SUFFIXES if (d / f"{stem}{suffix}").is_file()]
    return list(dict.fromkeys(out))


def _video_rate(path: Path) -> float | None:
    try:
        import cv2
    except ImportError:
        return None
    cap = cv2.VideoCapture(str(path))
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS)) if cap.isOpened() else 0.0
    finally:
        cap.release()
    return fps if math.isfinite(fps) and fps > 0 else None


def find_frame_rate(
    folders: Sequence[Path], names: Sequence[str], *, given: float | None = None, default: float = DEFAULT_FPS
) -> FrameRate:
    """The frame rate of the views ``names`` whose JSON folders are ``folders`` (see the module)."""
    if given is not None:
        if not (math.isfinite(given) and given > 0):
            raise ConfigError("must be > 0", field_path="--fps", value=given)
        return FrameRate(float(given), "--fps")
    for folder in folders:
        found = _config_toml_rate(Path(folder))
        if found is not None:
            return FrameRate(found[0], str(found[1]))
    rates: dict[str, tuple[float, Path]] = {}
    for folder, name in zip(folders, names, strict=True):
        for video in _videos(Path(folder), name):
            fps = _video_rate(video)
            if fps is not None:
                rates[name] = (fps, video)
                break
    if rates:
        distinct = {round(r, 3) for r, _ in rates.values()}
        if len(distinct) > 1:
            raise ConfigError(
                "the views' videos have different frame rates; pass --fps",
                field_path="--fps",
                value={n: r for n, (r, _) in rates.items()},
            )
        fps, video = next(iter(rates.values()))
        return FrameRate(fps, str(video))
    return FrameRate(float(default), "default")
