"""Scripted tracking scenes for ``sim.rig`` (``scene:``): the situations that break trackers.

* ``bystander`` — the rig's ``people`` walk about as usual while one more person stands still
  where exactly two cameras see their whole body; the bystander's arm joints are hidden from
  every camera except for single-frame glimpses (a joint that keeps reappearing).
* ``dropout`` — the rig's ``people`` as usual, with limbs (an arm, a leg, the head) hidden from
  every camera for ``dropout_s`` at a time, with single-frame glimpses, ``dropout_rate_hz``
  episodes per person and second: when a joint returns, the body has moved on (far off).
* ``reentry`` — ``people`` persons walk in through a door (the middle of a wall), wander, walk
  out through a door and stay out for ``absent_s`` (absent from the ground truth and from every
  camera), then come back through a door — again and again.
* ``crossing`` — two persons walk towards each other on paths ``crossing_gap_m`` apart (centre
  to centre) and pass at the room centre, at a new angle each time (head-on, at right angles,
  ...), then turn and cross again; further ``people`` walk about as usual.

Everything is a pure function of the rig seed and time: the scripts are drawn from
``SeedSequence(seed, spawn_key=(0x5CE7E, ...))`` lazily and in order like ``PeopleSim``'s
schedules, and hidden joints from per-slot and per-frame seeds. ``hidden_dropout`` joints
stay in the ground truth (``gt/skeleton3d`` field ``hidden``); ``sim.keypoints2d`` reports them
as missed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sensorfusion.geometry import project_pinhole
from sensorfusion.schema import PinholeCamera, RigCalibration

from ._people import _REST_ARM, NUM_JOINTS, PeopleSim, _kinematics, _Person, _Segment, _wrap

__all__ = ["ScenePeople", "SceneParams", "make_people", "scene_state"]

_DOMAIN = 0x5CE7E
_SLOT_S = 2.5  # dropout episodes are drawn per slot of this length
# limb groups (COCO-17): left arm, right arm, left leg, right leg, head
_GROUPS: tuple[tuple[int, ...], ...] = ((7, 9), (8, 10), (13, 15), (14, 16), (0, 1, 2, 3, 4))
_BYSTANDER_FLICKER = (7, 9, 10)  # left elbow and wrist, right wrist


class SceneParams(BaseModel):
    """``scene:`` of ``sim.rig``: one of the scripted tracking scenes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["bystander", "dropout", "reentry", "crossing"] = Field(description="which scene")
    dropout_rate_hz: float | None = Field(
        default=None, ge=0, description="limb dropout episodes per person and second (default: 0.4 in dropout, else 0)"
    )
    dropout_s: tuple[float, float] = Field(default=(0.3, 2.0), description="duration range of a dropout episode")
    glimpse_prob: float = Field(
        default=0.12, ge=0, le=1, description="chance per frame that a hidden joint shows for that frame"
    )
    absent_s: tuple[float, float] = Field(default=(2.0, 6.0), description="reentry: time spent outside")
    crossing_gap_m: float = Field(default=0.5, ge=0, description="crossing: distance between the two paths")

    @model_validator(mode="after")
    def _ranges(self) -> SceneParams:
        for name in ("dropout_s", "absent_s"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi:
                raise ValueError(f"{name} must be (low, high) with 0 < low <= high, got {(lo, hi)}")
        return self


class ScenePeople(PeopleSim):
    """People of a scripted scene; the same interface as :class:`PeopleSim` plus
    :meth:`present_at` and :meth:`hidden_at`."""

    def __init__(
        self,
        seed: int,
        people: int,
        room_m: tuple[float, float],
        scene: SceneParams,
        rig: RigCalibration,
        *,
        crossing: bool = True,
    ) -> None:
        self.scene = scene
        extra = 1 if scene.kind == "bystander" else 0
        if scene.kind == "crossing":
            people = max(people, 2)
        super().__init__(seed, people + extra, room_m, crossing=crossing and scene.kind in ("bystander", "dropout"))
        self._rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(_DOMAIN,)))
        self._scripted: dict[int, Callable[[], None]] = {}
        self._absent: list[list[tuple[float, float]]] = [[] for _ in range(self.num_people)]
        self._flicker: dict[int, tuple[int, ...]] = {}
        self.bystander: int | None = None
        self.rate_hz = scene.dropout_rate_hz if scene.dropout_rate_hz is not None else (
            0.4 if scene.kind == "dropout" else 0.0
        )  # fmt: skip
        if scene.kind == "bystander":
            self._setup_bystander(rig)
        elif scene.kind == "reentry":
            for p in range(self.num_people):
                self._reset(p)
                self._scripted[p] = self._reentry_cycle(p)
        elif scene.kind == "crossing":
            for p in (0, 1):
                self._reset(p)
            self._pass_index = 0
            step = self._crossing_pass
            self._scripted[0] = self._scripted[1] = step
        for p, fn in self._scripted.items():
            if not self._persons[p].segments:
                fn()

    # -- public ------------------------------------------------------------------------------

    def present_at(self, t_s: float) -> np.ndarray:
        """``(P,)`` bool: who is in the room (reentry: not while outside)."""
        out = np.ones(self.num_people, dtype=bool)
        for p in self._scripted:
            self._segment(p, t_s)  # extends the script (and its absences) up to t_s
            out[p] = not any(a <= t_s < b for a, b in self._absent[p])
        return out

    def hidden_at(self, t_s: float) -> np.ndarray:
        """``(P, 17)`` bool: joints no camera sees (dropout episodes and the bystander's arm), except
        in the frames where they glimpse through."""
        hidden = np.zeros((self.num_people, NUM_JOINTS), dtype=bool)
        for p, joints in self._flicker.items():
            hidden[p, list(joints)] = True
        if self.rate_hz > 0:
            k = math.floor(t_s / _SLOT_S)
            for p in range(self.num_people):
                for slot in (k - 1, k):
                    for t0, t1, group in self._episodes(p, slot):
                        if t0 <= t_s < t1:
                            hidden[p, list(_GROUPS[group])] = True
        if hidden.any() and self.scene.glimpse_prob > 0:
            key = round(t_s * 1e6) & 0xFFFF_FFFF_FFFF
            rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(_DOMAIN, 0x61, key)))
            hidden &= rng.random(hidden.shape) >= self.scene.glimpse_prob
        return hidden

    # -- dropout episodes ----------------------------------------------------------------------

    def _episodes(self, p: int, slot: int) -> list[tuple[float, float, int]]:
        if slot < 0:
            return []
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(_DOMAIN, 0xD0, p, slot)))
        n = int(rng.poisson(self.rate_hz * _SLOT_S))
        lo, hi = self.scene.dropout_s
        out = []
        for _ in range(min(n, 4)):
            t0 = (slot + float(rng.random())) * _SLOT_S
            out.append((t0, t0 + float(rng.uniform(lo, min(hi, _SLOT_S))), int(rng.integers(len(_GROUPS)))))
        return out

    # -- scripting helpers --------------------------------------------------------------------

    def _reset(self, p: int) -> None:
        person = self._persons[p]
        person.segments.clear()
        person.starts.clear()

    def _extend(self, person: _Person) -> None:
        p = next(i for i, q in enumerate(self._persons) if q is person)
        fn = self._scripted.get(p)
        if fn is None:
            super()._extend(person)
        else:
            fn()

    def _go(self, person: _Person, target: tuple[float, float], speed: float, *, straight: bool = False) -> None:
        """Walk from the end of the person's schedule to ``target`` (turning first when needed)."""
        if person.segments:
            last = person.segments[-1]
            t0, heading, pos = last.t1_s, last.heading_end_rad, self._end_position(last)
        else:
            t0, heading, pos = 0.0, math.atan2(target[1], target[0]), target
        bearing = math.atan2(target[1] - pos[1], target[0] - pos[0])
        if math.dist(pos, target) < 0.05:
            return
        delta = _wrap(bearing - heading)
        if abs(delta) > (0.05 if straight else 1.0):
            new_heading = heading + (delta if straight else delta - math.copysign(0.5, delta))
            person.append(self._turn(t0, pos, heading, new_heading))
            t0, heading = person.segments[-1].t1_s, new_heading
        person.append(self._walk(t0, pos, heading, target, speed, straight=straight))

    def _stand(self, person: _Person, duration_s: float, heading: float | None = None) -> None:
        last = person.segments[-1]
        pos = self._end_position(last)
        h0 = last.heading_end_rad
        if heading is not None and abs(_wrap(heading - h0)) > 0.05:
            person.append(self._turn(last.t1_s, pos, h0, h0 + _wrap(heading - h0)))
            last = person.segments[-1]
            h0 = last.heading_end_rad
        person.append(_Segment("stand", last.t1_s, last.t1_s + duration_s, pos[0], pos[1], h0, h0))

    def _place(self, person: _Person, pos: tuple[float, float], heading: float, t0: float, t1: float) -> None:
        person.append(_Segment("stand", t0, t1, pos[0], pos[1], heading, heading))

    # -- bystander -----------------------------------------------------------------------------

    def _setup_bystander(self, rig: RigCalibration) -> None:
        b = self.num_people - 1
        self.bystander = b
        self._reset(b)
        pos, heading = self._two_camera_spot(rig, self._persons[b].height_m)
        self._place(self._persons[b], pos, heading, 0.0, 1e9)  # stands still for good
        self._flicker[b] = _BYSTANDER_FLICKER

    def _two_camera_spot(self, rig: RigCalibration, height_m: float) -> tuple[tuple[float, float], float]:
        """A floor spot (and a heading towards the room centre) where exactly two cameras see the
        whole standing body; the candidates are tried in a seeded order."""
        cams = [(c.camera, c.world_from_sensor) for c in rig.sensors.values() if isinstance(c.camera, PinholeCamera)]
        hx, hy = self.room_m[0] / 2 - 0.5, self.room_m[1] / 2 - 0.5
        xs, ys = np.meshgrid(np.linspace(-hx, hx, 25), np.linspace(-hy, hy, 25))
        cand = np.stack([xs.ravel(), ys.ravel()], -1)
        cand = cand[self._rng.permutation(len(cand))]
        best: tuple[tuple[float, float], float] | None = None
        for x, y in cand:
            heading = math.atan2(-y, -x)
            prm = np.zeros((1, 18))
            prm[0, :3] = x, y, heading
            prm[0, 10:] = [*_REST_ARM, *_REST_ARM]
            body = _kinematics(prm, np.array([height_m]))[0]
            seeing = 0
            for cam, pose in cams:
                uv, z = project_pinhole(body, cam, pose)
                ok = (
                    (z > 0.1)
                    & (uv[:, 0] >= 8)
                    & (uv[:, 0] <= cam.width - 9)
                    & (uv[:, 1] >= 8)
                    & (uv[:, 1] <= cam.height - 9)
                )
                seeing += bool(ok.all())
            if seeing == 2 and math.hypot(x, y) > 1.5:
                return (float(x), float(y)), heading
            if seeing == 2 and best is None:
                best = (float(x), float(y)), heading
        if best is None:
            raise ValueError("scene bystander: no floor spot is seen by exactly two cameras in this rig")
        return best

    # -- reentry -------------------------------------------------------------------------------

    def _doors(self) -> list[tuple[float, float]]:
        hx, hy = self.room_m[0] / 2 - 0.35, self.room_m[1] / 2 - 0.35
        return [(0.0, -hy), (hx, 0.0), (0.0, hy), (-hx, 0.0)]

    def _reentry_cycle(self, p: int) -> Callable[[], None]:
        person = self._persons[p]
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(_DOMAIN, 0xE7, p)))
        doors = self._doors()

        def cycle() -> None:
            if not person.segments:  # first cycle: start inside
                start = self._random_point(rng)
                self._place(person, start, float(rng.uniform(-math.pi, math.pi)), 0.0, float(rng.uniform(0.2, 1.0)))
            else:  # come back in through a door
                door = doors[int(rng.integers(4))]
                t0 = person.segments[-1].t1_s
                self._place(person, door, math.atan2(-door[1], -door[0]), t0, t0 + 0.05)
            for _ in range(int(rng.integers(2, 4))):
                self._go(person, self._random_point(rng), float(rng.uniform(0.9, 1.3)))
                if rng.random() < 0.5:
                    self._stand(person, float(rng.uniform(0.5, 2.0)))
            door = doors[int(rng.integers(4))]
            self._go(person, door, float(rng.uniform(0.9, 1.3)))
            t0 = person.segments[-1].t1_s
            gap = float(rng.uniform(*self.scene.absent_s))
            self._place(person, door, person.segments[-1].heading_end_rad, t0, t0 + gap)
            self._absent[p].append((t0, t0 + gap))

        return cycle

    # -- crossing ------------------------------------------------------------------------------

    def _crossing_pass(self) -> None:
        """Both walkers: go to their start points, wait for each other, pass at the centre."""
        k = self._pass_index
        self._pass_index += 1
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(_DOMAIN, 0xC5, k)))
        angle = [math.pi, 0.5 * math.pi, 0.75 * math.pi, math.pi][k % 4] + float(rng.uniform(-0.15, 0.15))
        base = float(rng.uniform(-math.pi, math.pi))
        reach = min(self.room_m) / 2 - 1.0
        gap = self.scene.crossing_gap_m
        speed = float(rng.uniform(1.0, 1.3))
        head_on = abs(_wrap(angle - math.pi)) < 0.3
        nb = (-math.sin(base), math.cos(base))
        paths = []
        for p, direction in ((0, base), (1, base + angle)):
            u = (math.cos(direction), math.sin(direction))
            off = (0.5 if p == 0 else -0.5) * gap if head_on else 0.0  # head-on: parallel paths gap apart
            start = (-reach * u[0] + off * nb[0], -reach * u[1] + off * nb[1])
            end = (reach * u[0] + off * nb[0], reach * u[1] + off * nb[1])
            paths.append((start, end, direction))
        # at an angle, the second sets off later so that they come no closer than gap
        lag_s = 0.0 if head_on else gap / max(abs(math.cos(angle / 2)), 0.35) / speed
        persons = [self._persons[0], self._persons[1]]
        for person, (start, _, direction) in zip(persons, paths, strict=True):
            if not person.segments:
                self._place(person, start, direction, 0.0, 0.3)
            else:
                self._go(person, start, 1.1)
                self._stand(person, 0.2, heading=direction)
        t_go = max(person.segments[-1].t1_s for person in persons) + float(rng.uniform(0.2, 0.8))
        for p, (person, (start, end, direction)) in enumerate(zip(persons, paths, strict=True)):
            t0 = t_go + (lag_s if p == 1 else 0.0)
            last = person.segments[-1]
            if t0 > last.t1_s:
                person.append(_Segment("stand", last.t1_s, t0, start[0], start[1], direction, direction))
            person.append(self._walk(t0, start, direction, end, speed, straight=True))
            self._stand(person, float(rng.uniform(0.3, 1.0)))


def make_people(
    seed: int,
    people: int,
    room_m: tuple[float, float],
    *,
    crossing: bool,
    scene: SceneParams | None,
    rig: RigCalibration,
) -> PeopleSim:
    """``PeopleSim`` for the plain rig, :class:`ScenePeople` for a scene."""
    if scene is None:
        return PeopleSim(seed, people, room_m, crossing=crossing)
    return ScenePeople(seed, people, room_m, scene, rig, crossing=crossing)


def scene_state(people: PeopleSim, t_s: float) -> tuple[np.ndarray, np.ndarray | None]:
    """``(present (P,), hidden (P, 17) or None)`` at ``t_s`` (a plain ``PeopleSim``: everyone, nothing hidden)."""
    if isinstance(people, ScenePeople):
        return people.present_at(t_s), people.hidden_at(t_s)
    return np.ones(people.num_people, dtype=bool), None
