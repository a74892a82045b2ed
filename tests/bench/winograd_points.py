#!/usr/bin/python3
"""winograd_points.py - derive Winograd F(m, r) matrices and compare point sets.

For each set of interpolation points (plus the point at infinity) this builds
the Toom-Cook matrices of Lavin and Gray 2016, section 4 (A^T[i][j] = a_j^i,
G[j][k] = a_j^k / prod_{l != j} (a_j - a_l), the infinity point picking the
last element), solves B^T exactly in rationals (sympy) from the identity
y = A^T [(G g) .* (B^T d)] for 1-D correlation, checks the 2-D identity
exactly, and measures the float32 error of the 2-D algorithm
(Y = A^T [sum_c (G g G^T) .* (B^T d B)] A) against a float64 direct sum on
64-channel tiles of uniform [-1, 1] data.  src/nn/conv_winograd.c uses the
points this picks for F(2x2, 5x5) and F(4x4, 3x3) (alpha 6: the same points,
so the same B^T), and prints its F(4x4, 5x5) (alpha 8) matrices with the two
point sets compared for F(4x4, 3x3).

usage: /usr/bin/python3 tests/bench/winograd_points.py   (sympy, numpy; ~1 min)
"""
import numpy as np
import sympy as sp


def derive(points, m, r):
    n = m + r - 1
    points = [sp.Rational(p) for p in points]  # exact arithmetic throughout
    AT, G = sp.zeros(m, n), sp.zeros(n, r)
    for j, a in enumerate(points):
        f = sp.prod([a - b for b in points if b != a])
        for i in range(m):
            AT[i, j] = a**i
        for k in range(r):
            G[j, k] = a**k / f
    AT[m - 1, n - 1] = 1
    G[n - 1, r - 1] = 1
    BT = sp.Matrix(n, n, lambda i, j: sp.Symbol("b%d_%d" % (i, j)))
    eqs = [sum(AT[i, j] * G[j, k] * BT[j, l] for j in range(n)) - (1 if l == i + k else 0)
           for i in range(m) for k in range(r) for l in range(n)]
    BT = BT.subs(sp.solve(eqs, list(BT)))
    assert not BT.free_symbols, "B^T not determined"
    # the 2-D identity, exactly, on symbolic data
    d = sp.Matrix(n, n, lambda i, j: sp.Symbol("d%d_%d" % (i, j)))
    g = sp.Matrix(r, r, lambda i, j: sp.Symbol("g%d_%d" % (i, j)))
    Y = AT * (G * g * G.T).multiply_elementwise(BT * d * BT.T) * AT.T
    for y in range(m):
        for x in range(m):
            direct = sum(g[i, j] * d[y + i, x + j] for i in range(r) for j in range(r))
            assert sp.expand(Y[y, x] - direct) == 0
    return AT, G, BT


def float32_error(AT, G, BT, channels=64, trials=200, seed=0):
    f32 = lambda a: np.asarray(a, dtype=np.float64).astype(np.float32)
    AT, G, BT = f32(AT), f32(G), f32(BT)
    m, n = AT.shape
    r = G.shape[1]
    rng = np.random.default_rng(seed)
    errs = []
    for _ in range(trials):
        d = rng.uniform(-1, 1, (channels, n, n))
        g = rng.uniform(-1, 1, (channels, r, r))
        ref = np.array([[(d[:, y:y + r, x:x + r] * g).sum() for x in range(m)] for y in range(m)])
        U = np.einsum("ik,ckl,jl->cij", G, f32(g), G, dtype=np.float32)
        V = np.einsum("ik,ckl,jl->cij", BT, f32(d), BT, dtype=np.float32)
        Y = AT @ (U * V).sum(axis=0, dtype=np.float32) @ AT.T
        errs.append(np.abs(Y - ref).max())
    return np.median(errs), max(errs)


def main():
    half = sp.Rational(1, 2)
    for points in ([0, 1, -1, 2, -2], [0, 1, -1, half, -half], [0, 1, -1, 2, -half],
                   [0, 1, -1, half, -2]):
        AT, G, BT = derive(points, 2, 5)
        med, worst = float32_error(np.array(AT.tolist(), dtype=float), np.array(G.tolist(), dtype=float),
                                   np.array(BT.tolist(), dtype=float))
        print("F(2,5) points %s, inf: float32 error median %.2g, worst %.2g" %
              (", ".join(str(p) for p in points), med, worst))
        print("  A^T =", AT.tolist())
        print("  G   =", G.tolist())
        print("  B^T =", BT.tolist())
    # 4x4 output tiles: F(4,3) on F(2,5)'s points against Lavin's 0, +-1, +-2,
    # and F(4,5) on 0, +-1, +-2, +-1/2 (alpha 8 needs seven finite points)
    for m, r, points in ((4, 3, [0, 1, -1, half, -2]), (4, 3, [0, 1, -1, 2, -2]),
                         (4, 5, [0, 1, -1, 2, -2, half, -half])):
        AT, G, BT = derive(points, m, r)
        med, worst = float32_error(np.array(AT.tolist(), dtype=float), np.array(G.tolist(), dtype=float),
                                   np.array(BT.tolist(), dtype=float), trials=100)
        print("F(%d,%d) points %s, inf: float32 error median %.2g, worst %.2g" %
              (m, r, ", ".join(str(p) for p in points), med, worst))
        print("  A^T =", AT.tolist())
        print("  G   =", G.tolist())
        print("  B^T =", BT.tolist())


if __name__ == "__main__":
    main()
