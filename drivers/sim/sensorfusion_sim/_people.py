"""Simulated people: a deterministic behaviour schedule and an articulated capsule body.

World frame: origin at the **centre of the room on the floor**, x and y along the walls,
z up, metres. The room spans ``[-Lx/2, Lx/2] x [-Ly/2, Ly/2]``.

Each person has a height and a behaviour schedule (walk to a waypoint along a smooth
curve, turn on the spot, wave, crouch, stand) drawn from ``SeedSequence(seed,
spawn_key=(person,))``. The schedule is generated lazily and in order, so the pose at any
time ``t`` is a pure function of ``(seed, person, t)``: frames can be produced in any order
and a source can restart anywhere.

The body is a rigid-link model scaled by height (anthropometric proportions after
Drillis & Contini): bone lengths never change, legs are solved with two-bone IK against
foot targets (so stance feet stay planted), arms swing against the legs when walking.
Joints come out in COCO-17 order; :func:`body_capsules` turns them into the capsules
the renderer draws and the simulated detector uses for occlusion.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

import numpy as np

from sensorfusion.schema import builtin_skeletons

__all__ = [
    "CAPSULE_NAMES",
    "CAPSULE_RADIUS_PER_HEIGHT",
    "JOINT_ADJACENT_CAPSULES",
    "NUM_CAPSULES",
    "NUM_JOINTS",
    "PeopleSim",
    "body_capsules",
    "capsule_radii_m",
    "heights_from_joints",
]

_COCO17 = next(s for s in builtin_skeletons() if s.name == "coco17")
NUM_JOINTS = 17
_J = {name: i for i, name in enumerate(_COCO17.joints)}

# --- body proportions, as fractions of the standing height -------------------------------
_ANKLE_Z = 0.039
_THIGH = 0.245
_SHANK = 0.246
_HIP_HALF_W = 0.055
_SHOULDER_Z = 0.818
_SHOULDER_HALF_W = 0.10
_UPPER_ARM = 0.186
_FOREARM = 0.146
_HIP_Z = _ANKLE_Z + 0.985 * (_THIGH + _SHANK)  # pelvis height when standing
_HEAD_Z = 0.905  # head centre
_HEAD_X = 0.01
_STRIDE = 0.8  # stride length (two steps) / height
_DUTY = 0.6  # stance fraction of the gait cycle
_LIFT = 0.05  # swing foot clearance / height
_ARM_SWING_RAD = 0.35

# Torso points relative to the pelvis centre, before the torso lean: (x, y, z) / height.
_TORSO_POINTS: dict[str, tuple[float, float, float]] = {
    "nose": (_HEAD_X + 0.055, 0.0, 0.895 - _HIP_Z),
    "left_eye": (_HEAD_X + 0.045, 0.018, 0.915 - _HIP_Z),
    "right_eye": (_HEAD_X + 0.045, -0.018, 0.915 - _HIP_Z),
    "left_ear": (_HEAD_X, 0.04, _HEAD_Z - _HIP_Z),
    "right_ear": (_HEAD_X, -0.04, _HEAD_Z - _HIP_Z),
    "left_shoulder": (0.0, _SHOULDER_HALF_W, _SHOULDER_Z - _HIP_Z),
    "right_shoulder": (0.0, -_SHOULDER_HALF_W, _SHOULDER_Z - _HIP_Z),
}
_TORSO_IDX = np.array([_J[n] for n in _TORSO_POINTS])
_TORSO_OFF = np.array(list(_TORSO_POINTS.values()))  # (7, 3) / height

# --- capsules -------------------------------------------------------------------------------
# Endpoints index an extended point array: 17 COCO joints, then neck (17), pelvis (18),
# head top (19), head bottom (20).
_NECK, _PELVIS, _HEAD_TOP, _HEAD_BOTTOM = 17, 18, 19, 20
_CAPSULES: tuple[tuple[str, int, int, float], ...] = (
    ("head", _HEAD_BOTTOM, _HEAD_TOP, 0.050),
    ("neck", _NECK, _HEAD_BOTTOM, 0.028),
    ("torso", _NECK, _PELVIS, 0.072),
    ("torso_left", _J["left_shoulder"], _J["left_hip"], 0.048),
    ("torso_right", _J["right_shoulder"], _J["right_hip"], 0.048),
    ("upper_arm_left", _J["left_shoulder"], _J["left_elbow"], 0.026),
    ("upper_arm_right", _J["right_shoulder"], _J["right_elbow"], 0.026),
    ("forearm_left", _J["left_elbow"], _J["left_wrist"], 0.021),
    ("forearm_right", _J["right_elbow"], _J["right_wrist"], 0.021),
    ("thigh_left", _J["left_hip"], _J["left_knee"], 0.043),
    ("thigh_right", _J["right_hip"], _J["right_knee"], 0.043),
    ("shank_left", _J["left_knee"], _J["left_ankle"], 0.030),
    ("shank_right", _J["right_knee"], _J["right_ankle"], 0.030),
)
CAPSULE_NAMES: tuple[str, ...] = tuple(c[0] for c in _CAPSULES)
NUM_CAPSULES = len(_CAPSULES)
CAPSULE_RADIUS_PER_HEIGHT = np.array([c[3] for c in _CAPSULES])
_CAP_A = np.array([c[1] for c in _CAPSULES])
_CAP_B = np.array([c[2] for c in _CAPSULES])


def _adjacency() -> np.ndarray:
    """``(17, B)`` bool: capsules a joint belongs to (ignored when testing self-occlusion)."""
    names = {n: i for i, n in enumerate(CAPSULE_NAMES)}
    adj = np.zeros((NUM_JOINTS, NUM_CAPSULES), dtype=bool)
    for face in ("nose", "left_eye", "right_eye", "left_ear", "right_ear"):
        adj[_J[face], [names["head"], names["neck"]]] = True
    for side in ("left", "right"):
        adj[_J[f"{side}_shoulder"], [names[f"torso_{side}"], names[f"upper_arm_{side}"]]] = True
        adj[_J[f"{side}_elbow"], [names[f"upper_arm_{side}"], names[f"forearm_{side}"], names[f"torso_{side}"]]] = True
        adj[_J[f"{side}_wrist"], names[f"forearm_{side}"]] = True
        adj[_J[f"{side}_hip"], [names["torso"], names[f"torso_{side}"], names[f"thigh_{side}"]]] = True
        adj[_J[f"{side}_knee"], [names[f"thigh_{side}"], names[f"shank_{side}"]]] = True
        adj[_J[f"{side}_ankle"], names[f"shank_{side}"]] = True
    return adj


JOINT_ADJACENT_CAPSULES = _adjacency()


def heights_from_joints(joints_m: np.ndarray) -> np.ndarray:
    """Standing height of each person ``(P,)`` from ``(P, 17, 3)`` joints (the model's legs are rigid)."""
    j = np.asarray(joints_m, dtype=np.float64)
    legs = 0.0
    for side in ("left", "right"):
        hip, knee, ankle = j[:, _J[f"{side}_hip"]], j[:, _J[f"{side}_knee"]], j[:, _J[f"{side}_ankle"]]
        legs = legs + np.linalg.norm(knee - hip, axis=-1) + np.linalg.norm(ankle - knee, axis=-1)
    return np.asarray(legs / (2.0 * (_THIGH + _SHANK)))


def capsule_radii_m(heights_m: np.ndarray) -> np.ndarray:
    """Capsule radii ``(P, B)`` in metres for people of the given heights."""
    out: np.ndarray = np.asarray(heights_m, dtype=np.float64)[:, None] * CAPSULE_RADIUS_PER_HEIGHT[None, :]
    return out


def body_capsules(
    joints_m: np.ndarray, heights_m: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The capsules of each body: endpoints ``a_m``, ``b_m`` ``(P, B, 3)`` and ``radius_m`` ``(P, B)``.

    ``B`` is :data:`NUM_CAPSULES` (names in :data:`CAPSULE_NAMES`). Heights, when not given,
    are recovered from the joints with :func:`heights_from_joints`.
    """
    j = np.asarray(joints_m, dtype=np.float64)
    h = heights_from_joints(j) if heights_m is None else np.asarray(heights_m, dtype=np.float64)
    neck = 0.5 * (j[:, _J["left_shoulder"]] + j[:, _J["right_shoulder"]])
    pelvis = 0.5 * (j[:, _J["left_hip"]] + j[:, _J["right_hip"]])
    up = neck - pelvis
    up /= np.maximum(np.linalg.norm(up, axis=-1, keepdims=True), 1e-9)
    head = 0.5 * (j[:, _J["left_ear"]] + j[:, _J["right_ear"]])
    top = head + (0.035 * h)[:, None] * up
    bottom = head - (0.02 * h)[:, None] * up
    pts = np.concatenate([j, neck[:, None], pelvis[:, None], top[:, None], bottom[:, None]], axis=1)
    return pts[:, _CAP_A], pts[:, _CAP_B], capsule_radii_m(h)


# --- schedule -------------------------------------------------------------------------------

_REST_ARM = (0.05, 0.12, 0.15, 0.0)  # flexion, abduction, elbow flexion, elbow abduction (rad)
_NUM_PARAMS = 18


def _smoothstep(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3.0 - 2.0 * x)


def _envelope(u_s: float, duration_s: float, ramp_s: float) -> float:
    """0 -> 1 -> 0 with smooth ramps of ``ramp_s`` at both ends."""
    r = min(ramp_s, 0.5 * duration_s)
    return _smoothstep(u_s / r) * _smoothstep((duration_s - u_s) / r)


def _wrap(a_rad: float) -> float:
    return (a_rad + math.pi) % (2.0 * math.pi) - math.pi


@dataclass(frozen=True, slots=True)
class _Segment:
    """One behaviour of one person over ``[t0_s, t1_s)``."""

    kind: str  # "walk", "turn", "wave", "crouch", "stand"
    t0_s: float
    t1_s: float
    x_m: float
    y_m: float
    heading_rad: float
    heading_end_rad: float = 0.0
    # walk: quadratic Bezier control points, arc-length table, cruise speed and ramp time
    ctrl_m: tuple[tuple[float, float], tuple[float, float], tuple[float, float]] | None = None
    arc_s_m: np.ndarray | None = None
    arc_u: np.ndarray | None = None
    speed_m_per_s: float = 0.0
    ramp_s: float = 0.0
    # wave: side (+1 left, -1 right) and frequency; crouch: depth
    side: int = 1
    freq_hz: float = 0.0
    depth_m: float = 0.0


@dataclass
class _Person:
    height_m: float
    rng: np.random.Generator
    segments: list[_Segment] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)

    @property
    def end_s(self) -> float:
        return self.segments[-1].t1_s if self.segments else 0.0

    def append(self, seg: _Segment) -> None:
        self.segments.append(seg)
        self.starts.append(seg.t0_s)


def _bezier(ctrl: tuple[tuple[float, float], ...], u: np.ndarray | float) -> np.ndarray:
    p0, p1, p2 = (np.asarray(c) for c in ctrl)
    u = np.asarray(u)[..., None]
    return np.asarray((1 - u) ** 2 * p0 + 2 * (1 - u) * u * p1 + u**2 * p2)


class PeopleSim:
    """Several people moving in a room; ``joints_at(t)`` is a pure function of (seed, t).

    Args:
        seed: the rig seed; every person's height and schedule derive from it.
        people: number of people.
        room_m: room size ``(Lx, Ly)`` in metres (world origin at its centre, on the floor).
        crossing: start with people 0 and 1 walking diagonally across the room so that
            their paths cross (person 1 starts 1.6 s later, so they pass ~1.8 m apart).
    """

    def __init__(
        self, seed: int = 0, people: int = 3, room_m: tuple[float, float] = (6.0, 6.0), *, crossing: bool = True
    ) -> None:
        if people < 0:
            raise ValueError(f"people must be >= 0, got {people}")
        if min(room_m) < 2.0:
            raise ValueError(f"the room must be at least 2 m x 2 m, got {room_m}")
        self.seed = int(seed)
        self.room_m = (float(room_m[0]), float(room_m[1]))
        self.num_people = int(people)
        u0 = float(np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(0xB0D1,))).random())
        golden = 0.6180339887498949
        self.heights_m = np.array([1.55 + 0.40 * ((u0 + p * golden) % 1.0) for p in range(people)])
        self.capsule_radii_m = capsule_radii_m(self.heights_m)
        self._persons = [
            _Person(float(h), np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(p,))))
            for p, h in enumerate(self.heights_m)
        ]
        self._margin_m = 0.8
        self._start(crossing)

    # -- public ------------------------------------------------------------------------------

    def joints_at(self, t_s: float) -> np.ndarray:
        """COCO-17 joints of every person at time ``t_s``: ``(P, 17, 3)`` float64, world metres."""
        if self.num_people == 0:
            return np.zeros((0, NUM_JOINTS, 3))
        params = np.array([self._params(p, t_s) for p in range(self.num_people)])
        return _kinematics(params, self.heights_m)

    def behaviours_at(self, t_s: float) -> list[str]:
        """What each person is doing at ``t_s`` (``walk``, ``turn``, ``wave``, ``crouch``, ``stand``)."""
        return [self._segment(p, t_s).kind for p in range(self.num_people)]

    def positions_at(self, t_s: float) -> np.ndarray:
        """Floor position ``(P, 2)`` (metres) of every person at ``t_s``."""
        out = np.zeros((self.num_people, 2))
        for p in range(self.num_people):
            prm = self._params(p, t_s)
            out[p] = prm[0], prm[1]
        return out

    # -- schedule ----------------------------------------------------------------------------

    def _in_room(self, x: float, y: float, margin: float) -> tuple[float, float]:
        hx, hy = self.room_m[0] / 2 - margin, self.room_m[1] / 2 - margin
        return min(max(x, -hx), hx), min(max(y, -hy), hy)

    def _start(self, crossing: bool) -> None:
        lx, ly = self.room_m
        cross = crossing and self.num_people >= 2
        starts: list[tuple[float, float]] = []
        if cross:
            a0, b0 = (-0.3 * lx, -0.3 * ly), (0.3 * lx, 0.3 * ly)
            a1, b1 = (0.3 * lx, -0.3 * ly), (-0.3 * lx, 0.3 * ly)
            h0 = math.atan2(b0[1] - a0[1], b0[0] - a0[0])
            h1 = math.atan2(b1[1] - a1[1], b1[0] - a1[0])
            self._persons[0].append(self._walk(0.0, a0, h0, b0, 1.1, straight=True))
            p1 = self._persons[1]
            p1.append(_Segment("stand", 0.0, 1.6, a1[0], a1[1], h1, h1))
            p1.append(self._walk(1.6, a1, h1, b1, 1.1, straight=True))
            starts += [a0, a1]
        for p in range(2 if cross else 0, self.num_people):
            person = self._persons[p]
            pos = (0.0, 0.0)
            for _ in range(50):
                pos = self._random_point(person.rng)
                if all(math.dist(pos, s) > 1.2 for s in starts):
                    break
            starts.append(pos)
            heading = float(person.rng.uniform(-math.pi, math.pi))
            person.append(_Segment("stand", 0.0, float(person.rng.uniform(0.3, 1.2)), pos[0], pos[1], heading, heading))

    def _random_point(self, rng: np.random.Generator) -> tuple[float, float]:
        hx, hy = self.room_m[0] / 2 - self._margin_m, self.room_m[1] / 2 - self._margin_m
        return float(rng.uniform(-hx, hx)), float(rng.uniform(-hy, hy))

    def _walk(
        self,
        t0: float,
        start: tuple[float, float],
        heading: float,
        target: tuple[float, float],
        speed: float,
        *,
        straight: bool = False,
    ) -> _Segment:
        dist = math.dist(start, target)
        if straight:
            c = 0.45 * dist
        else:
            c = min(0.45 * dist, self._room_reach(start, heading, 0.6))
        p1 = (start[0] + c * math.cos(heading), start[1] + c * math.sin(heading))
        ctrl = (start, p1, target)
        us = np.linspace(0.0, 1.0, 65)
        pts = _bezier(ctrl, us)
        arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=-1))])
        length = float(arc[-1])
        ramp = min(0.6, length / speed)
        duration = length / speed + ramp
        end_heading = math.atan2(target[1] - p1[1], target[0] - p1[0])
        return _Segment(
            "walk", t0, t0 + duration, start[0], start[1], heading, end_heading,
            ctrl_m=ctrl, arc_s_m=arc, arc_u=us, speed_m_per_s=speed, ramp_s=ramp,
        )  # fmt: skip

    def _room_reach(self, pos: tuple[float, float], heading: float, margin: float) -> float:
        """How far one can go from ``pos`` along ``heading`` and stay ``margin`` inside the walls."""
        hx, hy = self.room_m[0] / 2 - margin, self.room_m[1] / 2 - margin
        reach = math.inf
        for p, d, h in ((pos[0], math.cos(heading), hx), (pos[1], math.sin(heading), hy)):
            if d > 1e-9:
                reach = min(reach, (h - p) / d)
            elif d < -1e-9:
                reach = min(reach, (-h - p) / d)
        return max(reach, 0.0)

    def _extend(self, person: _Person) -> None:
        """Append the next behaviour(s) of one person, drawn from its own RNG."""
        rng = person.rng
        last = person.segments[-1]
        t0, heading = last.t1_s, last.heading_end_rad
        pos = self._end_position(last)
        kind = str(rng.choice(["walk", "wave", "crouch", "turn", "stand"], p=[0.5, 0.15, 0.15, 0.1, 0.1]))
        if kind == "walk":
            target = pos
            for _ in range(30):
                target = self._random_point(rng)
                if math.dist(target, pos) > 1.5:
                    break
            speed = float(rng.uniform(0.9, 1.4))
            bearing = math.atan2(target[1] - pos[1], target[0] - pos[0])
            delta = _wrap(bearing - heading)
            if abs(delta) > 1.0:
                new_heading = heading + delta - math.copysign(0.5, delta)
                person.append(self._turn(t0, pos, heading, new_heading))
                t0, heading = person.segments[-1].t1_s, new_heading
            if self._room_reach(pos, heading, 0.6) < 0.15:
                person.append(self._turn(t0, pos, heading, heading + _wrap(bearing - heading)))
                t0, heading = person.segments[-1].t1_s, heading + _wrap(bearing - heading)
            person.append(self._walk(t0, pos, heading, target, speed))
        elif kind == "turn":
            new_heading = heading + float(rng.choice([-1.0, 1.0])) * float(rng.uniform(0.8, 3.0))
            person.append(self._turn(t0, pos, heading, new_heading))
        elif kind == "wave":
            duration = float(rng.uniform(2.5, 4.5))
            side = int(rng.choice([1, -1]))
            freq = float(rng.uniform(1.4, 2.2))
            person.append(
                _Segment("wave", t0, t0 + duration, pos[0], pos[1], heading, heading, side=side, freq_hz=freq)
            )
        elif kind == "crouch":
            duration = float(rng.uniform(2.5, 4.0))
            depth = float(rng.uniform(0.15, 0.24)) * person.height_m
            person.append(_Segment("crouch", t0, t0 + duration, pos[0], pos[1], heading, heading, depth_m=depth))
        else:
            duration = float(rng.uniform(0.8, 2.0))
            person.append(_Segment("stand", t0, t0 + duration, pos[0], pos[1], heading, heading))

    @staticmethod
    def _turn(t0: float, pos: tuple[float, float], h0: float, h1: float) -> _Segment:
        duration = max(0.6, abs(h1 - h0) / 1.8)
        return _Segment("turn", t0, t0 + duration, pos[0], pos[1], h0, h1)

    @staticmethod
    def _end_position(seg: _Segment) -> tuple[float, float]:
        if seg.kind == "walk" and seg.ctrl_m is not None:
            return seg.ctrl_m[2]
        return seg.x_m, seg.y_m

    def _segment(self, p: int, t_s: float) -> _Segment:
        person = self._persons[p]
        t = max(float(t_s), 0.0)
        while person.end_s <= t:
            self._extend(person)
        i = bisect.bisect_right(person.starts, t) - 1
        return person.segments[max(i, 0)]

    # -- pose parameters ---------------------------------------------------------------------

    def _params(self, p: int, t_s: float) -> list[float]:
        """Pose parameters of one person (see :func:`_kinematics` for their meaning)."""
        seg = self._segment(p, t_s)
        h = self._persons[p].height_m
        u = max(float(t_s), 0.0) - seg.t0_s
        x, y, heading = seg.x_m, seg.y_m, seg.heading_rad
        drop = dx = lean = 0.0
        foot = [0.0, 0.0, 0.0, 0.0]  # left x, left lift, right x, right lift
        arms = [*_REST_ARM, *_REST_ARM]
        if seg.kind == "walk":
            assert seg.ctrl_m is not None and seg.arc_s_m is not None and seg.arc_u is not None
            v, tau = seg.speed_m_per_s, seg.ramp_s
            dur = seg.t1_s - seg.t0_s
            length = float(seg.arc_s_m[-1])
            if u < tau:
                s, k = v * u * u / (2 * tau), u / tau
            elif u < dur - tau:
                s, k = v * tau / 2 + v * (u - tau), 1.0
            else:
                r = max(dur - u, 0.0)
                s, k = length - v * r * r / (2 * tau), r / tau
            s = min(max(s, 0.0), length)
            uu = float(np.interp(s, seg.arc_s_m, seg.arc_u))
            p0, p1, p2 = seg.ctrl_m
            x = (1 - uu) ** 2 * p0[0] + 2 * (1 - uu) * uu * p1[0] + uu**2 * p2[0]
            y = (1 - uu) ** 2 * p0[1] + 2 * (1 - uu) * uu * p1[1] + uu**2 * p2[1]
            tx = (1 - uu) * (p1[0] - p0[0]) + uu * (p2[0] - p1[0])
            ty = (1 - uu) * (p1[1] - p0[1]) + uu * (p2[1] - p1[1])
            heading = math.atan2(ty, tx)
            stride = _STRIDE * h
            phase = s / stride
            amp = _DUTY * stride / 2 * k
            for leg, off in ((0, 0.0), (1, 0.5)):
                psi = (phase + off) % 1.0
                if psi < _DUTY:
                    foot[2 * leg] = amp * (1 - 2 * psi / _DUTY)
                else:
                    w = (psi - _DUTY) / (1 - _DUTY)
                    foot[2 * leg] = -amp * math.cos(math.pi * w)
                    foot[2 * leg + 1] = _LIFT * h * k * math.sin(math.pi * w)
            drop = 0.012 * h * k * 0.5 * (1 - math.cos(4 * math.pi * phase))
            lean = 0.06 * k
            swing = _ARM_SWING_RAD * k * math.cos(2 * math.pi * phase)
            arms[0], arms[4] = -swing, swing
            arms[2] = arms[6] = 0.2 + 0.15 * k
        elif seg.kind == "turn":
            dur = seg.t1_s - seg.t0_s
            w = u / dur
            heading = seg.heading_rad + (seg.heading_end_rad - seg.heading_rad) * _smoothstep(w)
            steps = max(2, round(abs(seg.heading_end_rad - seg.heading_rad) / (math.pi / 4)))
            q = w * steps
            leg = int(q) % 2
            foot[2 * leg + 1] = 0.03 * h * math.sin(math.pi * (q % 1.0))
        elif seg.kind == "wave":
            e = _envelope(u, seg.t1_s - seg.t0_s, 0.6)
            arm = 0 if seg.side > 0 else 4
            arms[arm] = 0.05 + 0.15 * e
            arms[arm + 1] = 0.12 + 1.33 * e
            arms[arm + 2] = 0.15 * (1 - e)
            arms[arm + 3] = e * (1.45 + 0.35 * math.sin(2 * math.pi * seg.freq_hz * u))
        elif seg.kind == "crouch":
            e = _envelope(u, seg.t1_s - seg.t0_s, 0.9)
            drop = e * seg.depth_m
            dx = -0.35 * drop
            lean = 0.45 * drop / (0.2 * h)
            arms[0] = arms[4] = 0.05 + 0.9 * e
            arms[2] = arms[6] = 0.15 + 0.6 * e
        return [x, y, heading, drop, dx, lean, *foot, *arms]


def _kinematics(params: np.ndarray, heights_m: np.ndarray) -> np.ndarray:
    """Joints ``(P, 17, 3)`` from pose parameters ``(P, 18)``, vectorised over people.

    Parameters per person: root x, y (m), heading (rad), pelvis drop (m), pelvis forward
    shift (m), torso lean (rad, forward), left foot x (m), left foot lift (m), right foot x,
    right foot lift, then per arm (left, right): shoulder flexion, abduction, elbow flexion,
    elbow abduction (rad). Body frame: x forward, y left, z up.
    """
    n = params.shape[0]
    h = heights_m[:, None]
    out = np.empty((n, NUM_JOINTS, 3))
    drop, dx, lean = params[:, 3:4], params[:, 4:5], params[:, 5:6]
    pelvis_z = _HIP_Z * h - drop
    # torso: rotate offsets by the lean (about the body y axis) around the pelvis centre
    off = _TORSO_OFF[None] * h[:, :, None]  # (P, 7, 3)
    cl, sl = np.cos(lean), np.sin(lean)
    out[:, _TORSO_IDX, 0] = dx + off[..., 0] * cl + off[..., 2] * sl
    out[:, _TORSO_IDX, 1] = off[..., 1]
    out[:, _TORSO_IDX, 2] = pelvis_z - off[..., 0] * sl + off[..., 2] * cl
    # arms: upper arm direction from (flexion, abduction), forearm from the summed angles
    for side, sign, (sh, el, wr) in ((0, 1.0, (5, 7, 9)), (1, -1.0, (6, 8, 10))):
        a = params[:, 10 + 4 * side : 14 + 4 * side]
        flex = a[:, 0:1] + lean
        for src, dst, f, ab, length in (
            (sh, el, flex, a[:, 1:2], _UPPER_ARM),
            (el, wr, flex + a[:, 2:3], a[:, 1:2] + a[:, 3:4], _FOREARM),
        ):
            ca = np.cos(ab)
            d = np.concatenate([ca * np.sin(f), sign * np.sin(ab), -ca * np.cos(f)], axis=1)
            out[:, dst] = out[:, src] + length * h * d
    # legs: two-bone IK from the hip to the foot target, knee forward
    l1, l2 = _THIGH * h[:, 0], _SHANK * h[:, 0]
    for side, sign, (hip, knee, ankle) in ((0, 1.0, (11, 13, 15)), (1, -1.0, (12, 14, 16))):
        out[:, hip, 0] = dx[:, 0]
        out[:, hip, 1] = sign * _HIP_HALF_W * h[:, 0]
        out[:, hip, 2] = pelvis_z[:, 0]
        fx = params[:, 6 + 2 * side]
        fz = _ANKLE_Z * h[:, 0] + params[:, 7 + 2 * side]
        vx, vz = fx - dx[:, 0], fz - pelvis_z[:, 0]
        d = np.hypot(vx, vz)
        dc = np.clip(d, np.abs(l1 - l2) + 1e-6, (l1 + l2) * (1 - 1e-6))
        alpha = np.arctan2(vx, -vz)
        gamma = np.arccos(np.clip((l1 * l1 + dc * dc - l2 * l2) / (2 * l1 * dc), -1.0, 1.0))
        theta = alpha + gamma
        out[:, knee, 0] = dx[:, 0] + l1 * np.sin(theta)
        out[:, knee, 1] = out[:, hip, 1]
        out[:, knee, 2] = pelvis_z[:, 0] - l1 * np.cos(theta)
        out[:, ankle, 0] = dx[:, 0] + dc * np.sin(alpha)
        out[:, ankle, 1] = out[:, hip, 1]
        out[:, ankle, 2] = pelvis_z[:, 0] - dc * np.cos(alpha)
    # body frame -> world: rotate by heading, translate to the root
    ch, sh_ = np.cos(params[:, 2])[:, None], np.sin(params[:, 2])[:, None]
    bx, by = out[..., 0].copy(), out[..., 1].copy()
    out[..., 0] = params[:, 0:1] + ch * bx - sh_ * by
    out[..., 1] = params[:, 1:2] + sh_ * bx + ch * by
    return out
