"""BVH (Biovision hierarchy) for animation tools: a fixed-length bone hierarchy per person,
root translation and joint rotations solved from the 3D skeleton.

Hierarchy: the skeleton spec's parent tree (its root joint is the BVH ``ROOT``). Bone lengths
are each person's median over the session, so the bones never stretch. The rest pose (all
rotations zero) is the person's most complete frame with every bone set to its median length.

Rotations: a joint's rotation aims its children's bones. Children whose directions keep
their angles to each other through the session (within ``rigid_tolerance_deg``: the two
eyes on the head, the two shoulders on the torso...) share the joint's rotation, solved for
all of them at once (least squares, Kabsch); the joint's other children each hang from a
zero-length *branch* joint (``nose_to_left_shoulder``) with a rotation of its own, so every
bone reproduces its direction. A joint aiming a single bone turns by the shortest rotation
from where its parent's rotation carries that bone (no twist about the bone relative to the
parent: the stable convention; twist about one bone cannot be seen from positions).

Channels: ``Xposition Yposition Zposition`` on the root, then ``Zrotation Xrotation
Yrotation`` on every joint: the local rotation is ``Rz @ Rx @ Ry`` (degrees), the order
declared in each ``CHANNELS`` line. Axes: Y up, as animation tools expect - BVH ``(x, y, z)``
is world ``(y, z, x)`` of the SDK's Z-up world (the mapping OpenSim TRC files use). Units:
``units`` (``cm`` by default; ``m`` and ``mm`` too). Gaps inside a person's time span are
filled linearly (BVH has no "missing"); a joint never seen keeps a zero rotation.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._motion import Motion, interpolate_gaps

__all__ = [
    "BvhMotion",
    "EULER_ORDER",
    "UNIT_SCALE",
    "bvh_forward_kinematics",
    "read_bvh",
    "reroot",
    "rotations_to_euler_deg",
    "solve_bvh",
    "write_bvh",
]

#: The Euler order of every joint's CHANNELS: local rotation ``Rz @ Rx @ Ry``.
EULER_ORDER = "ZXY"
#: BVH units per metre.
UNIT_SCALE = {"m": 1.0, "cm": 100.0, "mm": 1000.0}
#: SDK world (Z up) -> BVH axes (Y up): BVH x, y, z = world y, z, x (a rotation, det +1).
_AXES = [1, 2, 0]


@dataclass
class BvhMotion:
    """A BVH file's content.

    Attributes:
        names: joint names in file (depth-first) order.
        parents: index of each joint's parent, ``-1`` for the root.
        offsets: ``(n, 3)`` rest offsets from the parent, file units.
        end_sites: joint index -> End Site offset.
        channels: each joint's channel names, in file order.
        frame_time_s: seconds per frame.
        values: ``(T, channels)`` the MOTION block.
        sources: the skeleton joint each BVH joint sits on (branch joints: their parent's).
    """

    names: list[str]
    parents: list[int]
    offsets: np.ndarray
    end_sites: dict[int, np.ndarray]
    channels: list[list[str]]
    frame_time_s: float
    values: np.ndarray
    sources: list[int] = field(default_factory=list)


# ----------------------------------------------------------------------------- rotations
def _swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(T, 3, 3)`` the shortest rotations taking unit vectors ``a (T, 3)`` to ``b (T, 3)``."""
    k = np.cross(a, b)
    c = np.einsum("ti,ti->t", a, b)
    K = np.zeros((len(a), 3, 3))
    K[:, 0, 1], K[:, 0, 2], K[:, 1, 2] = -k[:, 2], k[:, 1], -k[:, 0]
    K[:, 1, 0], K[:, 2, 0], K[:, 2, 1] = k[:, 2], -k[:, 1], k[:, 0]
    R: np.ndarray = np.eye(3) + K + (K @ K) / np.maximum(1.0 + c, 1e-12)[:, None, None]
    flip = c < -1.0 + 1e-9
    if flip.any():  # half turn about any axis perpendicular to a
        af = a[flip]
        helper = np.where(np.abs(af[:, [0]]) < 0.9, np.array([1.0, 0, 0]), np.array([0, 1.0, 0]))
        n = np.cross(af, helper)
        n /= np.linalg.norm(n, axis=1, keepdims=True)
        R[flip] = 2 * np.einsum("ti,tj->tij", n, n) - np.eye(3)
    return R


def _fit_rotation(d: np.ndarray, u: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, the rotation ``G`` minimising ``sum |G d_c - u_c|^2`` over the known ``u``.

    Args:
        d: ``(C, 3)`` unit rest directions. u: ``(T, C, 3)`` unit targets. ok: ``(T, C)``.

    Returns:
        ``G (T, 3, 3)`` and ``(T,)`` whether the fit was determined (two or more known,
        non-parallel targets).
    """
    w = ok.astype(np.float64)
    H = np.einsum("tc,tci,cj->tij", w, np.nan_to_num(u), d)
    U, S, Vt = np.linalg.svd(H)
    det = np.sign(np.linalg.det(U @ Vt))
    D = np.zeros((len(u), 3, 3))
    D[:, 0, 0] = D[:, 1, 1] = 1.0
    D[:, 2, 2] = np.where(det == 0, 1.0, det)
    G = U @ D @ Vt
    good = S[:, 1] > 1e-6 * np.maximum(S[:, 0], 1e-12)
    return G, good


def rotations_to_euler_deg(R: np.ndarray) -> np.ndarray:
    """``(T, 3, 3)`` rotations -> ``(T, 3)`` angles ``(z, x, y)`` in degrees with
    ``R = Rz(z) @ Rx(x) @ Ry(y)``."""
    # R = Rz Rx Ry: R[2,1] = sin x; R[0,1] = -sin z cos x; R[1,1] = cos z cos x;
    # R[2,0] = -cos x sin y; R[2,2] = cos x cos y
    sx = np.clip(R[:, 2, 1], -1.0, 1.0)
    x = np.arcsin(sx)
    cx = np.cos(x)
    regular = cx > 1e-9
    z = np.where(regular, np.arctan2(-R[:, 0, 1], R[:, 1, 1]), 0.0)
    y = np.where(regular, np.arctan2(-R[:, 2, 0], R[:, 2, 2]), np.arctan2(R[:, 0, 2], R[:, 0, 0]))
    out: np.ndarray = np.degrees(np.stack([z, x, y], axis=1))
    return out


def _euler_deg_to_rotations(zxy: np.ndarray) -> np.ndarray:
    z, x, y = (np.radians(zxy[:, i]) for i in range(3))
    out: np.ndarray = _axis(2, z) @ _axis(0, x) @ _axis(1, y)
    return out


def _axis(i: int, a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    R = np.zeros((len(a), 3, 3))
    j, k = [(1, 2), (2, 0), (0, 1)][i]
    R[:, i, i] = 1.0
    R[:, j, j], R[:, j, k], R[:, k, j], R[:, k, k] = c, -s, s, c
    return R


# ----------------------------------------------------------------------------- solving
@dataclass
class _Node:
    name: str
    source: int  # the skeleton joint at this node's position
    parent: int  # node index, -1 for the root
    aims: list[int]  # skeleton joints whose bones this node's rotation aims
    children: list[int] = field(default_factory=list)  # node indices
    offset: np.ndarray = field(default_factory=lambda: np.zeros(3))


def _clusters(children: list[int], u: np.ndarray, tol_deg: float) -> list[list[int]]:
    """Group ``children`` whose pairwise bone angles stay within ``tol_deg`` of constant."""
    groups: list[list[int]] = []
    for c in children:
        for g in groups:
            if all(_angle_range_deg(u[:, c], u[:, o]) <= tol_deg for o in g):
                g.append(c)
                break
        else:
            groups.append([c])
    groups.sort(key=len, reverse=True)  # the biggest group stays on the joint itself
    return groups


def _angle_range_deg(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
    if ok.sum() < 1:
        return math.inf
    ang = np.degrees(np.arccos(np.clip(np.einsum("ti,ti->t", a[ok], b[ok]), -1.0, 1.0)))
    return float(ang.max() - ang.min())


def reroot(parents: tuple[int, ...], root: int) -> tuple[int, ...]:
    """The same tree (the parent links taken as undirected bones) hung from joint ``root``."""
    n = len(parents)
    links: list[list[int]] = [[] for _ in range(n)]
    for j, p in enumerate(parents):
        if p >= 0:
            links[j].append(p)
            links[p].append(j)
    out = [-2] * n
    out[root] = -1
    queue = [root]
    for j in queue:
        for k in links[j]:
            if out[k] == -2:
                out[k] = j
                queue.append(k)
    if -2 in out:
        raise ValueError("the skeleton's parent links are not one tree")
    return tuple(out)


def solve_bvh(
    joints_m: np.ndarray,
    parents: tuple[int, ...],
    names: tuple[str, ...],
    *,
    frame_time_s: float,
    units: str = "cm",
    rigid_tolerance_deg: float = 1.0,
) -> tuple[BvhMotion, dict[str, float]]:
    """One person's BVH from ``joints_m (T, J, 3)`` world metres (Z up, NaN: unknown) on the
    tree ``parents`` (see :func:`reroot` to hang it from another joint).

    Returns:
        The BVH content and per-bone median lengths in metres (``"parent-child"`` keys).
    """
    scale = UNIT_SCALE[units]
    P = interpolate_gaps(np.asarray(joints_m, dtype=np.float64)[..., _AXES])  # BVH axes, metres
    T, J, _ = P.shape
    roots = [j for j in range(J) if parents[j] < 0]
    if len(roots) != 1:
        raise ValueError(f"the skeleton has {len(roots)} roots; BVH needs one")
    kids: list[list[int]] = [[] for _ in range(J)]
    for j, p in enumerate(parents):
        if p >= 0:
            kids[p].append(j)
    # bone directions and median lengths
    u = np.full((T, J, 3), np.nan)
    length = np.zeros(J)
    lengths: dict[str, float] = {}
    for j, p in enumerate(parents):
        if p < 0:
            continue
        v = P[:, j] - P[:, p]
        n = np.linalg.norm(v, axis=1)
        ok = np.isfinite(n) & (n > 1e-9)
        u[ok, j] = v[ok] / n[ok, None]
        length[j] = float(np.median(n[ok])) if ok.any() else 0.0
        lengths[f"{names[p]}-{names[j]}"] = length[j]
    known = np.isfinite(P).all(axis=2)
    ref = int(np.argmax(known.sum(axis=1)))  # the most complete frame: the rest pose
    rest = np.zeros((J, 3))
    for j in range(J):
        if parents[j] < 0:
            continue
        okj = np.isfinite(u[:, j]).all(axis=1)
        if okj.any():
            t = ref if okj[ref] else int(np.flatnonzero(okj)[np.argmin(np.abs(np.flatnonzero(okj) - ref))])
            rest[j] = u[t, j]
        else:
            rest[j] = (0.0, -1.0, 0.0)  # never seen: hangs down, never rotated
    # the node tree: skeleton joints plus branch nodes for children that move apart
    nodes: list[_Node] = []

    def build(j: int, parent_node: int) -> int:
        me = len(nodes)
        groups = _clusters(kids[j], u, rigid_tolerance_deg) if kids[j] else []
        nodes.append(_Node(names[j], j, parent_node, groups[0] if groups else []))
        if parent_node >= 0:
            nodes[me].offset = rest[j] * length[j] * scale
        for c in groups[0] if groups else []:
            nodes[me].children.append(build(c, me))
        for g in groups[1:]:
            b = len(nodes)
            nodes.append(_Node(f"{names[j]}_to_{names[g[0]]}", j, me, list(g)))
            nodes[me].children.append(b)
            for c in g:
                nodes[b].children.append(build(c, b))
        return me

    build(roots[0], -1)
    # rotations, parents before children (build order is depth-first)
    G = np.zeros((len(nodes), T, 3, 3))
    L = np.zeros((len(nodes), T, 3, 3))
    for k, node in enumerate(nodes):
        Gp = G[node.parent] if node.parent >= 0 else np.broadcast_to(np.eye(3), (T, 3, 3))
        Gk = np.array(Gp, copy=True)
        if node.aims:
            d = rest[node.aims]
            tgt = u[:, node.aims]
            ok = np.isfinite(tgt).all(axis=2)
            if len(node.aims) >= 2:
                fit, good = _fit_rotation(d, tgt, ok)
                Gk[good] = fit[good]
            else:
                good = np.zeros(T, dtype=bool)
            for t_single in range(len(node.aims)):
                # frames not determined by the fit: the first known bone, shortest rotation
                need = ~good & ok[:, t_single]
                if need.any():
                    v = np.einsum("tij,j->ti", Gp[need], d[t_single])
                    Gk[need] = _swing(v, tgt[need, t_single]) @ Gp[need]
                    good |= need
        G[k] = Gk
        L[k] = np.swapaxes(Gp, 1, 2) @ Gk
    # channels and values
    channels: list[list[str]] = []
    cols: list[np.ndarray] = []
    rot_channels = [f"{a}rotation" for a in EULER_ORDER]
    for k, node in enumerate(nodes):
        if node.parent < 0:
            channels.append(["Xposition", "Yposition", "Zposition", *rot_channels])
            cols.append(P[:, node.source] * scale)
        else:
            channels.append(list(rot_channels))
        # unwrapped along time (each angle by whole turns: the same rotation), so players that
        # interpolate the channels never spin a joint the long way round between two frames
        cols.append(np.degrees(np.unwrap(np.radians(rotations_to_euler_deg(L[k])), axis=0)))
    end_sites: dict[int, np.ndarray] = {}
    for k, node in enumerate(nodes):
        if not node.children:  # a leaf: an End Site a fifth of its bone further on
            end_sites[k] = node.offset * 0.2 if np.linalg.norm(node.offset) > 0 else np.array([0.0, 1.0, 0.0])
    motion = BvhMotion(
        names=[n.name for n in nodes],
        parents=[n.parent for n in nodes],
        offsets=np.stack([n.offset for n in nodes]),
        end_sites=end_sites,
        channels=channels,
        frame_time_s=frame_time_s,
        values=np.concatenate(cols, axis=1),
        sources=[n.source for n in nodes],
    )
    return motion, lengths


# ----------------------------------------------------------------------------- files
def write_bvh(path: Path, bvh: BvhMotion) -> None:
    """Write ``bvh`` as a BVH file (6 decimals: micrometres in cm, micro-degrees)."""
    lines = ["HIERARCHY"]

    def emit(k: int, depth: int) -> None:
        pad = "  " * depth
        head = "ROOT" if bvh.parents[k] < 0 else "JOINT"
        lines.append(f"{pad}{head} {bvh.names[k]}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}  OFFSET " + " ".join(f"{v:.6f}" for v in bvh.offsets[k]))
        lines.append(f"{pad}  CHANNELS {len(bvh.channels[k])} " + " ".join(bvh.channels[k]))
        for c in [i for i, p in enumerate(bvh.parents) if p == k]:
            emit(c, depth + 1)
        if k in bvh.end_sites:
            lines.append(f"{pad}  End Site")
            lines.append(f"{pad}  {{")
            lines.append(f"{pad}    OFFSET " + " ".join(f"{v:.6f}" for v in bvh.end_sites[k]))
            lines.append(f"{pad}  }}")
        lines.append(f"{pad}}}")

    emit(bvh.parents.index(-1), 0)
    lines += ["MOTION", f"Frames: {len(bvh.values)}", f"Frame Time: {bvh.frame_time_s:.9f}"]
    lines += [" ".join(f"{v:.6f}" for v in row) for row in bvh.values]
    Path(path).write_text("\n".join(lines) + "\n", encoding="ascii")


def read_bvh(path: Path) -> BvhMotion:
    """Parse a BVH file (any channel order per joint). Raises ``ValueError`` on a bad file."""
    tokens = re.findall(r"[^\s{}]+|[{}]", Path(path).read_text(encoding="utf-8", errors="replace"))
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[list[str]] = []
    end_sites: dict[int, np.ndarray] = {}
    stack: list[int] = []
    i = 0
    if not tokens or tokens[0] != "HIERARCHY":
        raise ValueError("not a BVH file (no HIERARCHY)")
    i = 1
    pending_end = False
    while i < len(tokens) and tokens[i] != "MOTION":
        tok = tokens[i]
        if tok in ("ROOT", "JOINT"):
            names.append(tokens[i + 1])
            parents.append(stack[-1] if stack else -1)
            offsets.append([0.0, 0.0, 0.0])
            channels.append([])
            i += 2
        elif tok == "End":
            pending_end = True
            i += 2  # "End Site"
        elif tok == "{":
            stack.append(-2 if pending_end else len(names) - 1)
            i += 1
        elif tok == "}":
            stack.pop()
            pending_end = False
            i += 1
        elif tok == "OFFSET":
            vals = [float(v) for v in tokens[i + 1 : i + 4]]
            if stack and stack[-1] == -2:
                end_sites[[s for s in stack if s >= 0][-1]] = np.asarray(vals)
            else:
                offsets[-1] = vals
            i += 4
        elif tok == "CHANNELS":
            n = int(tokens[i + 1])
            channels[-1] = tokens[i + 2 : i + 2 + n]
            i += 2 + n
        else:
            raise ValueError(f"unexpected token {tok!r} in the BVH hierarchy")
    if i >= len(tokens):
        raise ValueError("not a BVH file (no MOTION)")
    # "MOTION Frames: N Frame Time: dt"
    n_frames = int(tokens[i + 2])
    frame_time = float(tokens[i + 5])
    flat = np.asarray([float(v) for v in tokens[i + 6 :]], dtype=np.float64)
    width = sum(len(c) for c in channels)
    if flat.size != n_frames * width:
        raise ValueError(f"BVH MOTION holds {flat.size} values, expected {n_frames} x {width}")
    parents = [p if p >= 0 else -1 for p in parents]
    return BvhMotion(
        names, parents, np.asarray(offsets), end_sites, channels, frame_time, flat.reshape(n_frames, width)
    )


def bvh_forward_kinematics(bvh: BvhMotion) -> np.ndarray:
    """``(T, n, 3)`` every joint's position (file units and axes) from the offsets and the
    channels, applied in each joint's declared channel order."""
    T = len(bvh.values)
    n = len(bvh.names)
    pos = np.zeros((T, n, 3))
    G = np.zeros((n, T, 3, 3))
    col = 0
    axis_of = {"X": 0, "Y": 1, "Z": 2}
    for k in range(n):
        R = np.broadcast_to(np.eye(3), (T, 3, 3)).copy()
        trans = np.zeros((T, 3))
        for ch in bvh.channels[k]:
            v = bvh.values[:, col]
            col += 1
            if ch.endswith("position"):
                trans[:, axis_of[ch[0]]] = v
            else:
                R = R @ _axis(axis_of[ch[0]], np.radians(v))
        p = bvh.parents[k]
        if p < 0:
            pos[:, k] = trans + bvh.offsets[k]
            G[k] = R
        else:
            pos[:, k] = pos[:, p] + np.einsum("tij,j->ti", G[p], bvh.offsets[k]) + trans
            G[k] = G[p] @ R
    return pos


def world_from_bvh(points: np.ndarray, units: str) -> np.ndarray:
    """BVH positions (file axes and units) back to the SDK's world metres (Z up)."""
    return np.asarray(points)[..., [2, 0, 1]] / UNIT_SCALE[units]


def export_people_bvh(
    motion: Motion, out: Path, *, units: str, rigid_tolerance_deg: float, root: str | None = None
) -> list[dict[str, object]]:
    """One BVH per person: ``out`` for one, ``<stem>_P<id>.bvh`` for several; ``root``: the
    joint to hang the hierarchy from (default: the skeleton's own root)."""
    people: list[dict[str, object]] = []
    present = motion.present()
    sk = motion.skeleton
    parents = sk.parents if root is None else reroot(sk.parents, sk.index(root))
    root_j = parents.index(-1)
    for k, pid in enumerate(motion.person_ids.tolist()):
        seen = np.flatnonzero(present[:, k])
        if not len(seen):
            continue
        if not np.isfinite(motion.joints_m[:, k, root_j]).all(axis=-1).any():
            # no root position ever: nothing to hang the hierarchy from
            people.append(
                {"person_id": pid, "path": None, "skipped": f"its root joint {sk.joints[root_j]} is never seen"}
            )
            continue
        span = slice(int(seen[0]), int(seen[-1]) + 1)
        bvh, lengths = solve_bvh(
            motion.joints_m[span, k],
            parents,
            sk.joints,
            frame_time_s=1.0 / motion.rate_hz,
            units=units,
            rigid_tolerance_deg=rigid_tolerance_deg,
        )
        path = out if len(motion.person_ids) == 1 else out.with_name(f"{out.stem}_P{pid}{out.suffix}")
        write_bvh(path, bvh)
        people.append(
            {
                "person_id": pid,
                "path": str(path),
                "frames": len(bvh.values),
                "first_t_ns": int(motion.t_ns[span][0]),
                "joints": len(bvh.names),
                "branch_joints": [n for n, s in zip(bvh.names, bvh.sources, strict=True) if n != sk.joints[s]],
                "bone_lengths_m": {k2: round(v, 6) for k2, v in lengths.items()},
            }
        )
    return people
