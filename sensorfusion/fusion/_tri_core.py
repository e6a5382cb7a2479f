"""Per-point triangulation solver written once: scalar kernels of ``fusion.triangulate``.

Every function here works on scalars and small scratch arrays only (no allocation, no
numpy calls): :func:`sensorfusion.kernels.scalar` kernels, from which the cpu loop and the
cuda twin of ``fusion.triangulate`` are generated (see :mod:`._triangulate`).

Layout: ``pts (V, N, 2)`` undistorted pixels, ``conf (V, N)`` weights, ``P (V, 3, 4)``.
The solver for point ``n`` writes ``X (N, 3)``, ``err (V, N)``, ``inl (V, N)`` and returns
status bits (:data:`sensorfusion.fusion.TriangulationStatus`).
"""

from __future__ import annotations

import math

__all__ = ["solve_point"]

from ..kernels import scalar

FEW_VIEWS = 1
DEGENERATE = 2
OUTLIERS_REJECTED = 4
NO_CONSENSUS = 8


@scalar
def smallest_eigvec(M, E, out):  # type: ignore[no-untyped-def]
    """Unit eigenvector of the smallest eigenvalue of symmetric 4x4 ``M`` (cyclic Jacobi).

    ``M`` is destroyed, ``E`` is scratch. Returns False when ``M`` is not finite or zero."""
    scale = 0.0
    for i in range(4):
        for j in range(4):
            a = abs(M[i, j])
            if a > scale:
                scale = a
    if not (scale > 0.0) or not math.isfinite(scale):
        return False
    for i in range(4):
        for j in range(4):
            M[i, j] /= scale
            E[i, j] = 1.0 if i == j else 0.0
    for _sweep in range(50):
        off = 0.0
        for p in range(3):
            for q in range(p + 1, 4):
                off += M[p, q] * M[p, q]
        if off < 1e-36:
            break
        for p in range(3):
            for q in range(p + 1, 4):
                apq = M[p, q]
                if abs(apq) < 1e-300:
                    continue
                theta = (M[q, q] - M[p, p]) / (2.0 * apq)
                t = 1.0 / (abs(theta) + math.sqrt(theta * theta + 1.0))
                if theta < 0.0:
                    t = -t
                c = 1.0 / math.sqrt(t * t + 1.0)
                s = t * c
                for k in range(4):
                    mkp = M[k, p]
                    mkq = M[k, q]
                    M[k, p] = c * mkp - s * mkq
                    M[k, q] = s * mkp + c * mkq
                for k in range(4):
                    mpk = M[p, k]
                    mqk = M[q, k]
                    M[p, k] = c * mpk - s * mqk
                    M[q, k] = s * mpk + c * mqk
                for k in range(4):
                    ekp = E[k, p]
                    ekq = E[k, q]
                    E[k, p] = c * ekp - s * ekq
                    E[k, q] = s * ekp + c * ekq
    best = 0
    top = M[0, 0]
    for i in range(1, 4):
        if M[i, i] < M[best, best]:
            best = i
        if M[i, i] > top:
            top = M[i, i]
    second = math.inf
    for i in range(4):
        if i != best and M[i, i] < second:
            second = M[i, i]
    for k in range(4):
        out[k] = E[k, best]
    # a null space of dimension > 1 (coincident rays): no unique point
    return second > 1e-13 * top


@scalar
def smallest_eigvec_fast(M, E, out):  # type: ignore[no-untyped-def]
    """Inverse iteration (LDLᵀ of the normalised ``M``, 3 solves from e4) for the eigenvector of
    the smallest eigenvalue. ``M`` is kept. Returns False, leaving the case to the Jacobi solver,
    unless the leading 3x3 block is clearly non-singular (pivot product > 36e-13, which by
    interlacing guarantees the second-smallest eigenvalue passes the degeneracy test) and the
    iteration has converged."""
    scale = 0.0
    for i in range(4):
        for j in range(4):
            a = abs(M[i, j])
            if a > scale:
                scale = a
    if not (scale > 0.0) or not math.isfinite(scale):
        return False
    inv = 1.0 / scale
    # LDL^T: d on the diagonal of E, L below it
    for j in range(4):
        d = M[j, j] * inv
        for k in range(j):
            d -= E[j, k] * E[j, k] * E[k, k]
        if j < 3 and not (d > 0.0):
            return False
        if j == 3 and not (d > 1e-300):
            d = 1e-300
        E[j, j] = d
        for i in range(j + 1, 4):
            v = M[i, j] * inv
            for k in range(j):
                v -= E[i, k] * E[j, k] * E[k, k]
            E[i, j] = v / d
    if not (E[0, 0] * E[1, 1] * E[2, 2] > 36e-13):
        return False
    y0 = 0.0
    y1 = 0.0
    y2 = 0.0
    y3 = 1.0
    p0 = 0.0
    p1 = 0.0
    p2 = 0.0
    p3 = 0.0
    for _it in range(4):
        # forward: L z = y
        z0 = y0
        z1 = y1 - E[1, 0] * z0
        z2 = y2 - E[2, 0] * z0 - E[2, 1] * z1
        z3 = y3 - E[3, 0] * z0 - E[3, 1] * z1 - E[3, 2] * z2
        z0 /= E[0, 0]
        z1 /= E[1, 1]
        z2 /= E[2, 2]
        z3 /= E[3, 3]
        # backward: L^T y = z
        y3 = z3
        y2 = z2 - E[3, 2] * y3
        y1 = z1 - E[2, 1] * y2 - E[3, 1] * y3
        y0 = z0 - E[1, 0] * y1 - E[2, 0] * y2 - E[3, 0] * y3
        n = math.sqrt(y0 * y0 + y1 * y1 + y2 * y2 + y3 * y3)
        if not (n > 0.0) or not math.isfinite(n):
            return False
        if y3 < 0.0:
            n = -n
        y0 /= n
        y1 /= n
        y2 /= n
        y3 /= n
        if _it == 3:
            delta = abs(y0 - p0) + abs(y1 - p1) + abs(y2 - p2) + abs(y3 - p3)
            if not (delta < 1e-13):
                return False
        p0 = y0
        p1 = y1
        p2 = y2
        p3 = y3
    out[0] = y0
    out[1] = y1
    out[2] = y2
    out[3] = y3
    return True


@scalar
def dlt(pts, conf, P, n, use, V, M, E, X4, X):  # type: ignore[no-untyped-def]
    """Weighted DLT of point ``n`` over the views with ``use[v] != 0``; writes ``X[n]``."""
    for i in range(4):
        for j in range(4):
            M[i, j] = 0.0
    for v in range(V):
        if use[v] == 0:
            continue
        w2 = conf[v, n] * conf[v, n]
        for r in range(2):
            c = pts[v, n, r]
            r0 = c * P[v, 2, 0] - P[v, r, 0]
            r1 = c * P[v, 2, 1] - P[v, r, 1]
            r2 = c * P[v, 2, 2] - P[v, r, 2]
            r3 = c * P[v, 2, 3] - P[v, r, 3]
            M[0, 0] += w2 * r0 * r0
            M[0, 1] += w2 * r0 * r1
            M[0, 2] += w2 * r0 * r2
            M[0, 3] += w2 * r0 * r3
            M[1, 1] += w2 * r1 * r1
            M[1, 2] += w2 * r1 * r2
            M[1, 3] += w2 * r1 * r3
            M[2, 2] += w2 * r2 * r2
            M[2, 3] += w2 * r2 * r3
            M[3, 3] += w2 * r3 * r3
    M[1, 0] = M[0, 1]
    M[2, 0] = M[0, 2]
    M[3, 0] = M[0, 3]
    M[2, 1] = M[1, 2]
    M[3, 1] = M[1, 3]
    M[3, 2] = M[2, 3]
    if not smallest_eigvec_fast(M, E, X4):
        if not smallest_eigvec(M, E, X4):
            return False
    if abs(X4[3]) < 1e-12:
        return False
    for k in range(3):
        X[n, k] = X4[k] / X4[3]
        if not math.isfinite(X[n, k]):
            return False
    return True


@scalar
def reproj_error(pts, P, n, v, X):  # type: ignore[no-untyped-def]
    """Pixel distance between view ``v``'s observation and ``X[n]`` projected; inf behind the camera."""
    a = P[v, 0, 0] * X[n, 0] + P[v, 0, 1] * X[n, 1] + P[v, 0, 2] * X[n, 2] + P[v, 0, 3]
    b = P[v, 1, 0] * X[n, 0] + P[v, 1, 1] * X[n, 1] + P[v, 1, 2] * X[n, 2] + P[v, 1, 3]
    c = P[v, 2, 0] * X[n, 0] + P[v, 2, 1] * X[n, 1] + P[v, 2, 2] * X[n, 2] + P[v, 2, 3]
    if not (c > 0.0):
        return math.inf
    du = a / c - pts[v, n, 0]
    dv = b / c - pts[v, n, 1]
    return math.sqrt(du * du + dv * dv)


@scalar
def refine(pts, conf, P, n, use, V, iters, X, H, g):  # type: ignore[no-untyped-def]
    """``iters`` Gauss–Newton steps on the weighted reprojection error of ``X[n]``."""
    for _it in range(iters):
        for i in range(3):
            g[i] = 0.0
            for j in range(3):
                H[i, j] = 0.0
        for v in range(V):
            if use[v] == 0:
                continue
            a = P[v, 0, 0] * X[n, 0] + P[v, 0, 1] * X[n, 1] + P[v, 0, 2] * X[n, 2] + P[v, 0, 3]
            b = P[v, 1, 0] * X[n, 0] + P[v, 1, 1] * X[n, 1] + P[v, 1, 2] * X[n, 2] + P[v, 1, 3]
            c = P[v, 2, 0] * X[n, 0] + P[v, 2, 1] * X[n, 1] + P[v, 2, 2] * X[n, 2] + P[v, 2, 3]
            if not (c > 0.0):
                continue
            u = a / c
            q = b / c
            ru = u - pts[v, n, 0]
            rv = q - pts[v, n, 1]
            w2 = conf[v, n] * conf[v, n]
            for i in range(3):
                jui = (P[v, 0, i] - u * P[v, 2, i]) / c
                jvi = (P[v, 1, i] - q * P[v, 2, i]) / c
                g[i] += w2 * (jui * ru + jvi * rv)
                for j in range(3):
                    juj = (P[v, 0, j] - u * P[v, 2, j]) / c
                    jvj = (P[v, 1, j] - q * P[v, 2, j]) / c
                    H[i, j] += w2 * (jui * juj + jvi * jvj)
        det = (
            H[0, 0] * (H[1, 1] * H[2, 2] - H[1, 2] * H[2, 1])
            - H[0, 1] * (H[1, 0] * H[2, 2] - H[1, 2] * H[2, 0])
            + H[0, 2] * (H[1, 0] * H[2, 1] - H[1, 1] * H[2, 0])
        )
        tr = H[0, 0] + H[1, 1] + H[2, 2]
        if not (abs(det) > 1e-12 * tr * tr * tr) or not math.isfinite(det):
            return
        # Cramer's rule for H d = -g
        d0 = (
            -g[0] * (H[1, 1] * H[2, 2] - H[1, 2] * H[2, 1])
            + g[1] * (H[0, 1] * H[2, 2] - H[0, 2] * H[2, 1])
            - g[2] * (H[0, 1] * H[1, 2] - H[0, 2] * H[1, 1])
        ) / det
        d1 = (
            g[0] * (H[1, 0] * H[2, 2] - H[1, 2] * H[2, 0])
            - g[1] * (H[0, 0] * H[2, 2] - H[0, 2] * H[2, 0])
            + g[2] * (H[0, 0] * H[1, 2] - H[0, 2] * H[1, 0])
        ) / det
        d2 = (
            -g[0] * (H[1, 0] * H[2, 1] - H[1, 1] * H[2, 0])
            + g[1] * (H[0, 0] * H[2, 1] - H[0, 1] * H[2, 0])
            - g[2] * (H[0, 0] * H[1, 1] - H[0, 1] * H[1, 0])
        ) / det
        X[n, 0] += d0
        X[n, 1] += d1
        X[n, 2] += d2


@scalar
def solve_point(  # type: ignore[no-untyped-def]
    pts, conf, P, n, V, min_conf, min_views, robust, thr, iters, valid, use, best, M, E, X4, H, g, X, err, inl
):
    """Triangulate point ``n``; returns its status bits."""
    nvalid = 0
    for v in range(V):
        ok = conf[v, n] > min_conf and math.isfinite(conf[v, n])
        ok = ok and math.isfinite(pts[v, n, 0]) and math.isfinite(pts[v, n, 1])
        if ok:
            for i in range(3):
                for j in range(4):
                    if not math.isfinite(P[v, i, j]):
                        ok = False
        valid[v] = 1 if ok else 0
        use[v] = valid[v]
        nvalid += valid[v]
        err[v, n] = math.nan
        inl[v, n] = 0
    status = 0
    if nvalid < min_views:
        for k in range(3):
            X[n, k] = math.nan
        return FEW_VIEWS
    if not dlt(pts, conf, P, n, use, V, M, E, X4, X):
        for k in range(3):
            X[n, k] = math.nan
        return DEGENERATE
    if robust:
        worst = 0.0
        for v in range(V):
            if valid[v] != 0:
                e = reproj_error(pts, P, n, v, X)
                if not (e <= worst):
                    worst = e
        if not (worst <= thr):
            best_cnt = 0
            best_cost = math.inf
            for a in range(V):
                if valid[a] == 0:
                    continue
                for b in range(a + 1, V):
                    if valid[b] == 0:
                        continue
                    for v in range(V):
                        use[v] = 0
                    use[a] = 1
                    use[b] = 1
                    if not dlt(pts, conf, P, n, use, V, M, E, X4, X):
                        continue
                    cnt = 0
                    cost = 0.0
                    for v in range(V):
                        if valid[v] != 0:
                            e = reproj_error(pts, P, n, v, X)
                            if e < thr:
                                cnt += 1
                                cost += e
                    if cnt > best_cnt or (cnt == best_cnt and cost < best_cost):
                        best_cnt = cnt
                        best_cost = cost
                        for v in range(V):
                            if valid[v] != 0:
                                best[v] = 1 if reproj_error(pts, P, n, v, X) < thr else 0
                            else:
                                best[v] = 0
            if best_cnt < min_views:
                for k in range(3):
                    X[n, k] = math.nan
                for v in range(V):
                    if valid[v] != 0:
                        err[v, n] = math.inf
                return NO_CONSENSUS
            for v in range(V):
                use[v] = best[v]
            if not dlt(pts, conf, P, n, use, V, M, E, X4, X):
                for k in range(3):
                    X[n, k] = math.nan
                return DEGENERATE
            # one re-estimation with the consensus point's own inliers
            cnt = 0
            for v in range(V):
                best[v] = 0
                if valid[v] != 0 and reproj_error(pts, P, n, v, X) < thr:
                    best[v] = 1
                    cnt += 1
            if cnt >= min_views:
                changed = False
                for v in range(V):
                    if best[v] != use[v]:
                        changed = True
                    use[v] = best[v]
                if changed and not dlt(pts, conf, P, n, use, V, M, E, X4, X):
                    for k in range(3):
                        X[n, k] = math.nan
                    return DEGENERATE
                nvalid_used = cnt
            else:
                nvalid_used = best_cnt
            if nvalid_used < nvalid:
                status |= OUTLIERS_REJECTED
    if iters > 0:
        refine(pts, conf, P, n, use, V, iters, X, H, g)
        for k in range(3):
            if not math.isfinite(X[n, k]):
                for kk in range(3):
                    X[n, kk] = math.nan
                return status | DEGENERATE
    for v in range(V):
        if valid[v] != 0:
            err[v, n] = reproj_error(pts, P, n, v, X)
            inl[v, n] = use[v]
    return status
