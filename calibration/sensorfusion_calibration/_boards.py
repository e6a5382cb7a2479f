"""Calibration boards (checkerboard, ChArUco), their detection in images and videos.

Board specs (the CLI's ``--board``):

* ``checkerboard:COLSxROWS:SQUARE_M`` — ``COLS x ROWS`` **inner** corners, squares of
  ``SQUARE_M`` metres (e.g. ``checkerboard:4x7:0.06`` for Pose2Sim's demo board).
* ``charuco:COLSxROWS:SQUARE_M:MARKER_M:DICT`` — ``COLS x ROWS`` **squares**, square and marker
  side in metres, any ``cv2.aruco`` predefined dictionary by name (``DICT_6X6_250`` or
  ``6X6_250``), e.g. ``charuco:5x7:0.04:0.02:DICT_6X6_250``.

Board frame: origin at the first corner, x along the columns, y along the rows, z = 0 on the
board (so z points into the board for a board seen from the front). Corner ids of a
checkerboard run row by row (``id = row * COLS + col``); a ChArUco board's are OpenCV's.
Detection returns sub-pixel corners (``cv2.cornerSubPix`` on the checkerboard; OpenCV's
ChArUco interpolation, markers refined by contour fitting).

Inverted ChArUco boards (white markers on black squares, as many printed or screen boards are):
``detect_board(..., inverted=True)`` looks for one; the default ``inverted=None`` tries the image
as it is and, when that finds nothing, the inverted image (``BoardDetection.inverted`` says which).

Inputs (:func:`iter_frames`): image files, folders (sorted by name), videos, and glob patterns
(``left*.png``; sorted by name) — quote them so the shell leaves them to the SDK.
"""

from __future__ import annotations

import functools
import glob
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from sensorfusion import ConfigError

__all__ = [
    "Board",
    "BoardDetection",
    "count_frames",
    "detect_board",
    "expand_inputs",
    "glob_key",
    "is_glob",
    "iter_frames",
    "parse_board",
]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")


def _dictionary_names() -> list[str]:
    return sorted(n for n in dir(cv2.aruco) if n.startswith("DICT_"))


@dataclass(frozen=True)
class Board:
    """A calibration board: ``kind`` is ``checkerboard`` (cols x rows inner corners) or
    ``charuco`` (cols x rows squares)."""

    kind: str
    cols: int
    rows: int
    square_m: float
    marker_m: float = 0.0
    dictionary: str = ""

    @property
    def corner_count(self) -> int:
        return self.cols * self.rows if self.kind == "checkerboard" else (self.cols - 1) * (self.rows - 1)

    @property
    def corner_grid(self) -> tuple[int, int]:
        """``(cols, rows)`` of the corner grid."""
        return (self.cols, self.rows) if self.kind == "checkerboard" else (self.cols - 1, self.rows - 1)

    def object_points(self, ids: np.ndarray | None = None) -> np.ndarray:
        """Board-frame corners ``(N, 3)`` in metres (all corners, or those with these ids)."""
        grid = _corner_grid(self)
        return grid.copy() if ids is None else grid[np.asarray(ids, dtype=np.int64)]

    def _cv_board(self) -> cv2.aruco.CharucoBoard:
        d = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, self.dictionary))
        return cv2.aruco.CharucoBoard((self.cols, self.rows), self.square_m, self.marker_m, d)

    def spec(self) -> str:
        if self.kind == "checkerboard":
            return f"checkerboard:{self.cols}x{self.rows}:{self.square_m:g}"
        return f"charuco:{self.cols}x{self.rows}:{self.square_m:g}:{self.marker_m:g}:{self.dictionary}"


@functools.lru_cache(maxsize=64)
def _corner_grid(board: Board) -> np.ndarray:
    c, r = board.corner_grid
    grid = np.zeros((c * r, 3))
    grid[:, 0] = np.tile(np.arange(c), r) * board.square_m
    grid[:, 1] = np.repeat(np.arange(r), c) * board.square_m
    if board.kind == "charuco":  # OpenCV's own corner layout (it starts one square in)
        grid = np.asarray(board._cv_board().getChessboardCorners(), dtype=np.float64).reshape(-1, 3)
    grid.setflags(write=False)
    return grid


def parse_board(spec: str, *, field_path: str = "board") -> Board:
    """Parse ``checkerboard:COLSxROWS:SQUARE_M`` or ``charuco:COLSxROWS:SQUARE_M:MARKER_M:DICT``."""
    parts = spec.split(":")
    kinds = ["checkerboard", "charuco"]
    if parts[0] not in kinds:
        raise ConfigError("unknown board kind", field_path=field_path, value=spec, choices=kinds)
    want = 3 if parts[0] == "checkerboard" else 5
    form = "checkerboard:COLSxROWS:SQUARE_M" if want == 3 else "charuco:COLSxROWS:SQUARE_M:MARKER_M:DICT"
    m = re.fullmatch(r"(\d+)x(\d+)", parts[1]) if len(parts) > 1 else None
    if len(parts) != want or m is None:
        raise ConfigError(f"board spec must read {form}", field_path=field_path, value=spec)
    cols, rows = int(m.group(1)), int(m.group(2))
    try:
        square = float(parts[2])
        marker = float(parts[3]) if want == 5 else 0.0
    except ValueError:
        raise ConfigError(
            f"square/marker sizes must be numbers in metres ({form})", field_path=field_path, value=spec
        ) from None
    if square <= 0 or (want == 5 and not 0 < marker < square):
        raise ConfigError("need square_m > 0 (and 0 < marker_m < square_m)", field_path=field_path, value=spec)
    if square > 1.0:
        raise ConfigError(
            "square size is in metres (got more than 1 m: millimetres?)", field_path=field_path, value=spec
        )
    if parts[0] == "checkerboard":
        if cols < 2 or rows < 2:
            raise ConfigError("a checkerboard needs at least 2x2 inner corners", field_path=field_path, value=spec)
        return Board("checkerboard", cols, rows, square)
    name = parts[4].upper()
    name = name if name.startswith("DICT_") else "DICT_" + name
    if name not in _dictionary_names():
        raise ConfigError(
            "unknown ArUco dictionary", field_path=field_path, value=parts[4], choices=_dictionary_names()
        )
    if cols < 3 or rows < 3:
        raise ConfigError("a ChArUco board needs at least 3x3 squares", field_path=field_path, value=spec)
    return Board("charuco", cols, rows, square, marker, name)


@dataclass
class BoardDetection:
    """Corners of a board found in one image: ``ids (N,)``, ``corners_px (N, 2)``, the image size
    ``(width, height)``, a sharpness score (variance of the Laplacian), and whether the board was
    found in the inverted image (white markers on black)."""

    source: str
    ids: np.ndarray
    corners_px: np.ndarray
    image_size: tuple[int, int]
    sharpness: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)
    inverted: bool = False

    @property
    def count(self) -> int:
        return int(self.ids.size)


def _gray(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


_DETECTORS: dict[Board, cv2.aruco.CharucoDetector] = {}


def _charuco_detector(board: Board) -> cv2.aruco.CharucoDetector:
    det = _DETECTORS.get(board)
    if det is None:
        dp = cv2.aruco.DetectorParameters()
        dp.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_CONTOUR
        det = cv2.aruco.CharucoDetector(board._cv_board(), cv2.aruco.CharucoParameters(), dp)
        _DETECTORS[board] = det
    return det


def detect_board(
    image: np.ndarray, board: Board, *, source: str = "", min_corners: int = 6, inverted: bool | None = None
) -> BoardDetection | None:
    """Find the board in one image (BGR or gray); ``None`` when it is not found.

    ``inverted``: ``False`` looks for the board as printed normally (black markers), ``True`` for
    an inverted one (white markers on black; the image is inverted before detection), ``None``
    (default) tries normal first and, for a ChArUco board that is not found, inverted.
    """
    gray = _gray(image)
    h, w = gray.shape[:2]
    sharp = float(cv2.Laplacian(gray, cv2.CV_64F).var())
    if board.kind == "checkerboard":
        found = _detect_checkerboard(cv2.bitwise_not(gray) if inverted else gray, board)
        if found is None:
            return None
        ids, corners = found
        return BoardDetection(source, ids, corners, (w, h), sharp, inverted=bool(inverted))
    det = _charuco_detector(board)
    for inv in (False, True) if inverted is None else (bool(inverted),):
        cc, ci, _mc, _mi = det.detectBoard(cv2.bitwise_not(gray) if inv else gray)
        if ci is not None and len(ci) >= min_corners:
            return BoardDetection(source, ci.ravel().astype(np.int64), cc.reshape(-1, 2).astype(np.float64), (w, h),
                                  sharp, inverted=inv)  # fmt: skip
    return None


def _detect_checkerboard(gray: np.ndarray, board: Board) -> tuple[np.ndarray, np.ndarray] | None:
    h, w = gray.shape[:2]
    pattern = (board.cols, board.rows)
    scale = min(1.0, 1000.0 / max(h, w))
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1.0 else gray
    flags = cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE | cv2.CALIB_CB_FAST_CHECK
    ok, corners = cv2.findChessboardCorners(small, pattern, flags=flags)
    if not ok:
        ok, corners = cv2.findChessboardCornersSB(small, pattern, flags=cv2.CALIB_CB_EXHAUSTIVE)
    if not ok or corners is None:
        return None
    corners = corners.reshape(-1, 1, 2).astype(np.float32) / scale
    # window: a fraction of the smallest corner spacing, so neighbours never fall inside it
    pts = corners.reshape(-1, 2)
    spacing = float(np.min(np.linalg.norm(np.diff(pts.reshape(board.rows, board.cols, 2), axis=1), axis=-1)))
    win = int(np.clip(spacing * 0.4, 3, 15))
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 100, 1e-4)
    corners = cv2.cornerSubPix(gray, corners, (win, win), (-1, -1), crit)
    return np.arange(board.corner_count), corners.reshape(-1, 2).astype(np.float64)


_GLOB_CHARS = re.compile(r"[*?\[]")


def is_glob(path: str | Path) -> bool:
    """Whether ``path`` is a glob pattern (``*``, ``?`` or ``[...]``) rather than a path."""
    return bool(_GLOB_CHARS.search(str(path))) and not Path(path).exists()


def glob_key(pattern: str | Path, path: str | Path) -> str | None:
    """The part of ``path``'s name that the wildcards of ``pattern``'s name matched (``left*.png``
    and ``left_017.png`` give ``_017``): the frame key that pairs ``left*``/``right*`` images."""
    pat = Path(pattern).name
    rx = ""
    i = 0
    while i < len(pat):
        ch = pat[i]
        if ch == "*":
            rx += "(.*)"
        elif ch == "?":
            rx += "(.)"
        elif ch == "[" and "]" in pat[i + 1 :]:
            j = pat.index("]", i + 1)
            body = pat[i + 1 : j].replace("\\", "\\\\")
            rx += (
                "(["
                + ("^" + body[1:] if body.startswith("!") else ("\\" + body if body.startswith("^") else body))
                + "])"
            )
            i = j
        else:
            rx += re.escape(ch)
        i += 1
    m = re.fullmatch(rx, Path(path).name)
    return "".join(m.groups()) if m else None


def expand_inputs(paths: Sequence[str | Path]) -> list[Path]:
    """Image/video files of the inputs: files as given, folders' images and videos sorted by name,
    glob patterns' matches sorted by name. :class:`ConfigError` for a path or pattern that gives nothing."""
    return _expand(paths)


def _expand(paths: Sequence[str | Path]) -> list[Path]:
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if is_glob(raw):
            hits = sorted(
                Path(q) for q in glob.glob(str(raw)) if Path(q).suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES
            )
            if not hits:
                raise ConfigError("no image or video matches the pattern", field_path="inputs", value=str(raw))
            out += hits
        elif p.is_dir():
            out += sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES)
        elif p.exists():
            out.append(p)
        else:
            raise ConfigError("no such image, video or folder", field_path="inputs", value=str(p))
    return out


def iter_frames(
    paths: Sequence[str | Path], *, every: int = 1, max_frames: int | None = None
) -> Iterator[tuple[str, np.ndarray]]:
    """``(name, BGR image)`` from image files, folders of images and videos (every ``every``-th frame)."""
    yielded = 0
    for p in _expand(paths):
        if p.suffix.lower() in VIDEO_SUFFIXES:
            cap = cv2.VideoCapture(str(p))
            if not cap.isOpened():
                raise ConfigError("cannot open the video", field_path="inputs", value=str(p))
            i = 0
            try:
                while True:
                    ok, frame = cap.read()
                    if not ok:
                        break
                    if i % every == 0:
                        yield f"{p.name}#{i}", frame
                        yielded += 1
                        if max_frames is not None and yielded >= max_frames:
                            return
                    i += 1
            finally:
                cap.release()
        else:
            img = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if img is None:
                raise ConfigError("cannot read the image", field_path="inputs", value=str(p))
            yield p.name, img
            yielded += 1
            if max_frames is not None and yielded >= max_frames:
                return


def count_frames(paths: Sequence[str | Path], *, every: int = 1) -> int:
    """How many frames :func:`iter_frames` will yield (for progress bars)."""
    n = 0
    for p in _expand(paths):
        if p.suffix.lower() in VIDEO_SUFFIXES:
            cap = cv2.VideoCapture(str(p))
            total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            cap.release()
            n += (max(total, 0) + every - 1) // every
        else:
            n += 1
    return n
