"""The TF tree of a bag (``/tf_static`` and ``/tf``) and poses of frames composed through it.

Each ``geometry_msgs/TransformStamped`` is an edge ``parent_from_child`` (``header.frame_id`` the
parent, ``child_frame_id`` the child). :class:`TfTree` keeps, per edge, its static value or its
dynamic samples in time order; :meth:`TfTree.world_from` composes a frame's pose in a chosen
world frame at a time (a dynamic edge at its latest sample at or before that time, else its
first one), walking to the common root, so the world frame need not be an ancestor.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["TF_TYPES", "TfTree", "quat_xyzw_to_matrix", "strip_frame"]

TF_TYPES: tuple[str, ...] = ("tf2_msgs/msg/TFMessage", "tf/msg/tfMessage")
"""Message types read as TF (ROS 2 and ROS 1 names)."""


def strip_frame(frame_id: str) -> str:
    """A frame id without ROS 1's leading slash (``/base_link`` and ``base_link`` are one frame)."""
    return frame_id.lstrip("/")


def quat_xyzw_to_matrix(x: float, y: float, z: float, w: float) -> np.ndarray:
    """The rotation matrix of a quaternion (normalised first); raises ``ValueError`` on a zero one."""
    q = np.array([x, y, z, w], dtype=np.float64)
    n = float(np.linalg.norm(q))
    if not np.isfinite(n) or n < 1e-9:
        raise ValueError(f"not a rotation quaternion: {q.tolist()}")
    x, y, z, w = q / n
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def _matrix(tf: Any) -> np.ndarray:
    t, r = tf.translation, tf.rotation
    m = np.eye(4)
    m[:3, :3] = quat_xyzw_to_matrix(float(r.x), float(r.y), float(r.z), float(r.w))
    m[:3, 3] = [float(t.x), float(t.y), float(t.z)]
    return m


@dataclass
class _Edge:
    parent: str
    static: bool
    t_ns: list[int] = field(default_factory=list)
    parent_from_child: list[np.ndarray] = field(default_factory=list)

    def at(self, t_ns: int | None) -> np.ndarray:
        if self.static or t_ns is None:
            return self.parent_from_child[-1 if self.static else 0]
        i = bisect.bisect_right(self.t_ns, t_ns) - 1
        return self.parent_from_child[max(i, 0)]


class TfTree:
    """Transforms between the frames of a bag, from its TF messages."""

    def __init__(self) -> None:
        self._edges: dict[str, _Edge] = {}  # child -> edge to its parent
        self.messages = 0
        self.bad_transforms = 0
        self.reparented: list[str] = []

    def add(self, msg: Any, *, static: bool) -> None:
        """Add the transforms of one ``TFMessage`` (a broken quaternion is counted and skipped)."""
        self.messages += 1
        for ts in msg.transforms:
            child, parent = strip_frame(str(ts.child_frame_id)), strip_frame(str(ts.header.frame_id))
            if not child or not parent or child == parent:
                self.bad_transforms += 1
                continue
            try:
                m = _matrix(ts.transform)
            except ValueError:
                self.bad_transforms += 1
                continue
            stamp = ts.header.stamp
            t_ns = int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)
            edge = self._edges.get(child)
            if edge is None or edge.parent != parent:
                if edge is not None:
                    self.reparented.append(child)
                edge = self._edges[child] = _Edge(parent=parent, static=static)
            edge.static = edge.static and static
            if edge.t_ns and t_ns < edge.t_ns[-1]:
                i = bisect.bisect_right(edge.t_ns, t_ns)
                edge.t_ns.insert(i, t_ns)
                edge.parent_from_child.insert(i, m)
            else:
                edge.t_ns.append(t_ns)
                edge.parent_from_child.append(m)

    @property
    def frames(self) -> list[str]:
        """Every frame named by a transform."""
        return sorted({*self._edges, *(e.parent for e in self._edges.values())})

    def __bool__(self) -> bool:
        return bool(self._edges)

    def _chain(self, frame: str) -> list[str]:
        chain = [frame]
        while chain[-1] in self._edges:
            nxt = self._edges[chain[-1]].parent
            if nxt in chain:  # a cycle: stop there
                break
            chain.append(nxt)
        return chain

    def root(self, frame: str) -> str:
        """The top of ``frame``'s tree."""
        return self._chain(strip_frame(frame))[-1]

    def root_from(self, frame: str, t_ns: int | None = None) -> np.ndarray:
        m = np.eye(4)
        for child in self._chain(strip_frame(frame))[:-1]:
            m = self._edges[child].at(t_ns) @ m
        return m

    def connected(self, a: str, b: str) -> bool:
        a, b = strip_frame(a), strip_frame(b)
        known = set(self.frames)
        return a in known and b in known and self.root(a) == self.root(b)

    def world_from(self, frame: str, world: str, t_ns: int | None = None) -> np.ndarray:
        """``world_from_frame`` at ``t_ns`` (``None``: the first sample of every dynamic edge)."""
        if not self.connected(frame, world) and strip_frame(frame) != strip_frame(world):
            raise KeyError(frame)
        root_from_world = self.root_from(world, t_ns)
        out: np.ndarray = np.linalg.inv(root_from_world) @ self.root_from(frame, t_ns)
        return out

    def is_static_path(self, frame: str, world: str) -> bool:
        """Whether every edge between ``frame`` and ``world`` is static (the pose never changes)."""
        edges = set(self._chain(strip_frame(frame))[:-1]) ^ set(self._chain(strip_frame(world))[:-1])
        return all(self._edges[c].static for c in edges)

    def change_edges(self, frame: str, world: str) -> list[str]:
        """The dynamic edges (by child frame) between ``frame`` and ``world``: what moves one in the other."""
        edges = set(self._chain(strip_frame(frame))[:-1]) ^ set(self._chain(strip_frame(world))[:-1])
        return sorted(c for c in edges if not self._edges[c].static)
