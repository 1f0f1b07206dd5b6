"""Float64 exact steps on the host (numpy), for the games that need them.

The JAX kernel works in float32 (unless x64 is on); its exact step already
returns an equilibrium up to float32 rounding. When the float64 certificate
of a game misses ``tol``, these batched numpy steps redo the exact step in
float64 on the support the kernel identified; they also implement the
documented choice among non-unique equilibria (:func:`least_norm_on_sets`).
All take a stack of games ``[G, n, k]`` and are batched (no loop over games).
"""

import numpy as np


def _normalize(p):
  p = np.maximum(p, 0.0)
  s = p.sum(-1, keepdims=True)
  return np.where(s > 0, p / np.where(s > 0, s, 1.0), 1.0 / p.shape[-1])


def equalizer(A, rows, cols, symmetric=False):
  """Float64 equalizer on supports ``rows [G, n]``, ``cols [G, k]`` (bool).

  With ``A' = A - min A + 1`` and ``|S| = |T| = s``, solves
  ``A'_{ST} w = 1`` and ``u^T A'_{ST} = 1`` (``x = u / 1^T u``, ``y = w /
  1^T w``): the gathered ``s x s`` submatrices, padded to the largest
  support of the batch with an identity block (zero right-hand side there),
  in one batched solve (no loop over support sizes).

  With ``symmetric=True`` (antisymmetric games, ``rows == cols``) only the
  row system is solved and ``y = x``: half the work.

  Returns:
    ``(x [G, n], y [G, k], ok [G])``; ``ok`` is False where the supports
    differ in size, the system is singular or the solution leaves the
    simplex.
  """
  A = np.asarray(A, np.float64)
  G, n, k = A.shape
  rows = np.asarray(rows, bool)
  cols = np.asarray(cols, bool)
  x = np.full((G, n), 1.0 / n)
  y = np.full((G, k), 1.0 / k)
  ok = np.zeros((G,), bool)
  ns, nt = rows.sum(1), cols.sum(1)
  g = np.flatnonzero((ns == nt) & (ns > 0))
  if not len(g):
    return x, y, ok
  size = ns[g]
  s = int(size.max())
  Ap = A[g] - A[g].min(axis=(1, 2), keepdims=True) + 1.0
  # Support indices first (stable), then padding slots.
  ri = np.argsort(~rows[g], axis=1, kind="stable")[:, :s]  # [h, s]
  ci = np.argsort(~cols[g], axis=1, kind="stable")[:, :s]
  live = np.arange(s)[None, :] < size[:, None]  # [h, s]
  h = np.arange(len(g))[:, None, None]
  sub = Ap[h, ri[:, :, None], ci[:, None, :]]  # [h, s, s]
  block = live[:, :, None] & live[:, None, :]
  sub = np.where(block, sub, np.eye(s)[None])  # identity on the padding
  one = live.astype(np.float64)[..., None]  # [h, s, 1]
  subT = np.swapaxes(sub, 1, 2)

  def solve(m, b):  # batched; a singular system marks only its own game
    try:
      return np.linalg.solve(m, b)[..., 0], np.ones(len(m), bool)
    except np.linalg.LinAlgError:
      out = np.full(b.shape[:-1], np.nan)
      good = np.zeros(len(m), bool)
      for i in range(len(m)):  # rare: only when some system is singular
        try:
          out[i] = np.linalg.solve(m[i], b[i])[..., 0]
          good[i] = True
        except np.linalg.LinAlgError:
          pass
      return out, good

  with np.errstate(all="ignore"):
    u, good = solve(subT, one)
    if symmetric:
      w = u
    else:
      w, good_w = solve(sub, one)
      good &= good_w
  good &= np.all(np.isfinite(u), 1) & np.all(np.isfinite(w), 1)
  u = np.where(live, u, 0.0)
  w = np.where(live, w, 0.0)
  su, sw = u.sum(1, keepdims=True), w.sum(1, keepdims=True)
  with np.errstate(all="ignore"):
    fine = (good & np.all(u >= -1e-12 * np.abs(su), 1)
            & np.all(w >= -1e-12 * np.abs(sw), 1)
            & (su[:, 0] > 0) & (sw[:, 0] > 0))
  xs = np.zeros((len(g), n))
  ys = np.zeros((len(g), k))
  np.put_along_axis(xs, ri, np.where(fine[:, None], u, 0.0), axis=1)
  np.put_along_axis(ys, ci, np.where(fine[:, None], w, 0.0), axis=1)
  x[g[fine]] = _normalize(xs[fine])
  y[g[fine]] = _normalize(ys[fine])
  ok[g[fine]] = True
  return x, y, ok


def newton_regularized(A, x, y, beta, ref_row, ref_col, num_steps=4):
  """Float64 Newton steps on the regularized fixed point (batched).

  Same map as :func:`nash_align.solvers.exact.newton_regularized`:
  ``x = softmax(log rho_x + A y / beta)``, ``y = softmax(log rho_y - A^T x /
  beta)``. Returns ``(x [G, n], y [G, k])``.
  """
  A = np.asarray(A, np.float64)
  G, n, k = A.shape
  b = np.asarray(beta, np.float64).reshape(-1, 1, 1) * np.ones((G, 1, 1))
  lrx = np.log(np.asarray(ref_row, np.float64))
  lry = np.log(np.asarray(ref_col, np.float64))
  x = np.asarray(x, np.float64)
  y = np.asarray(y, np.float64)
  eye = np.eye(n + k)
  tiny = np.finfo(np.float64).tiny

  def softmax(a):
    a = a - a.max(-1, keepdims=True)
    e = np.exp(a)
    return e / e.sum(-1, keepdims=True)

  for _ in range(num_steps):  # a fixed, small number of steps
    sx = softmax(lrx + np.einsum("gij,gj->gi", A, y) / b[:, :, 0])
    sy = softmax(lry - np.einsum("gi,gij->gj", x, A) / b[:, :, 0])
    G_ = np.concatenate([x - sx, y - sy], axis=1)
    dx = np.einsum("gi,ij->gij", sx, np.eye(n)) - sx[:, :, None] * sx[:, None]
    dy = np.einsum("gi,ij->gij", sy, np.eye(k)) - sy[:, :, None] * sy[:, None]
    J = np.tile(eye, (G, 1, 1))
    J[:, :n, n:] = -dx @ A / b
    J[:, n:, :n] = dy @ np.swapaxes(A, 1, 2) / b
    d = np.linalg.solve(J, -G_[..., None])[..., 0]
    x = _normalize(np.maximum(x + d[:, :n], tiny))
    y = _normalize(np.maximum(y + d[:, n:], tiny))
  return x, y


def least_norm_on_sets(A, value, rows, cols):
  """Least-norm optimal strategies supported on ``rows``/``cols`` (float64).

  The documented choice among non-unique equilibria. With ``v`` the game
  value and ``U``, ``W`` the sets of rows and columns that are best responses
  to some equilibrium (their union of supports), returns

  .. math::
    y = \\arg\\min\\{\\|y\\|_2 : A_{UW} y_W = v\\mathbf 1,\\ \\mathbf 1^T y = 1,
        \\ y_{\\bar W} = 0\\},

  and ``x`` likewise from ``A_{UW}^T``, via the pseudo-inverse (exact linear
  algebra). It is invariant under relabelling actions, splits weight equally
  among duplicate actions and is uniform on a game of ties; the caller keeps
  it only if it certifies.

  Args:
    A: ``[G, n, k]``.
    value: ``[G]`` game values.
    rows: ``[G, n]`` bool.
    cols: ``[G, k]`` bool.

  Returns:
    ``(x [G, n], y [G, k], ok [G])``, ``ok`` False if a strategy had a
    clearly negative entry (then the candidate is not an equilibrium).
  """
  A = np.asarray(A, np.float64)
  rows = np.asarray(rows, bool)
  cols = np.asarray(cols, bool)
  v = np.asarray(value, np.float64)
  G, n, k = A.shape
  x = np.zeros((G, n))
  y = np.zeros((G, k))
  nu, nw = rows.sum(1), cols.sum(1)
  # One batched pseudo-inverse per (|U|, |W|) on the gathered submatrices.
  for su, sw in set(zip(nu.tolist(), nw.tolist())):
    g = np.flatnonzero((nu == su) & (nw == sw))
    ri = np.argsort(~rows[g], axis=1, kind="stable")[:, :su]
    ci = np.argsort(~cols[g], axis=1, kind="stable")[:, :sw]
    sub = A[g[:, None, None], ri[:, :, None], ci[:, None, :]]  # [h, su, sw]
    cy = np.concatenate([sub, np.ones((len(g), 1, sw))], axis=1)
    dy = np.concatenate([np.repeat(v[g, None], su, 1), np.ones((len(g), 1))],
                        axis=1)
    cx = np.concatenate([np.swapaxes(sub, 1, 2), np.ones((len(g), 1, su))],
                        axis=1)
    dx = np.concatenate([np.repeat(v[g, None], sw, 1), np.ones((len(g), 1))],
                        axis=1)
    ys = np.einsum("gkm,gm->gk", np.linalg.pinv(cy), dy)
    xs = np.einsum("gnm,gm->gn", np.linalg.pinv(cx), dx)
    xg = np.zeros((len(g), n))
    yg = np.zeros((len(g), k))
    np.put_along_axis(xg, ri, xs, axis=1)
    np.put_along_axis(yg, ci, ys, axis=1)
    x[g], y[g] = xg, yg
  ok = np.all(x >= -1e-9, axis=1) & np.all(y >= -1e-9, axis=1)
  return _normalize(x), _normalize(y), ok


def simplex(A, max_pivots=None, perturbation=1e-9):
  """Float64 dense tableau simplex, batched over games (the repair path).

  The same LP and right-hand-side perturbation as
  :mod:`nash_align.solvers.simplex` (Dantzig's pricing here), in float64
  with numpy, vectorised over
  the games ``A`` ``[G, n, k]`` (a loop over pivots only). The driver runs it
  on the few games whose float32 simplex basis missed the certificate.

  Returns:
    ``(x [G, n], y [G, k], ok [G])``, ``ok`` False where the pivot budget
    (default ``4 (n + k)``) ran out.
  """
  A = np.asarray(A, np.float64)
  G, n, k = A.shape
  if max_pivots is None:
    max_pivots = 4 * (n + k)
  scale = np.maximum(np.abs(A).max(axis=(1, 2), keepdims=True), 1e-300)
  Ap = A / scale
  Ap = Ap - Ap.min(axis=(1, 2), keepdims=True) + 1.0
  frac = np.mod(np.arange(1, n + 1) * 0.6180339887498949, 1.0)
  b = 1.0 + perturbation * (0.5 + frac)
  T = np.concatenate([Ap, np.broadcast_to(np.eye(n), (G, n, n)),
                      np.broadcast_to(b[:, None], (G, n, 1)),
                      np.ones((G, n, 1))], axis=2)
  r = np.concatenate([-np.ones((G, k)), np.zeros((G, n + 2))], axis=1)
  basis = np.broadcast_to(np.arange(k, k + n), (G, n)).copy()
  rows = np.arange(G)
  done = np.zeros((G,), bool)
  for _ in range(max_pivots):  # vectorised over games
    j = np.argmin(r[:, :-2], axis=1)
    go = (r[rows, j] < -1e-12) & ~done
    col = T[rows, :, j]
    valid = col > 1e-12
    ratio = np.where(valid, T[:, :, -2] / np.where(valid, col, 1.0), np.inf)
    i = np.argmin(ratio, axis=1)
    go &= valid.any(1)
    done |= ~go
    if done.all():
      break
    piv = np.where(go, T[rows, i, j], 1.0)
    row = T[rows, i] / piv[:, None]
    e_i = (np.arange(n)[None] == i[:, None]).astype(np.float64)
    g = go.astype(np.float64)[:, None]
    T -= (g * (col - e_i))[:, :, None] * row[:, None, :]
    r -= (g * r[rows, j][:, None]) * row
    basis[go, i[go]] = j[go]
  w = np.zeros((G, k + n))
  np.put_along_axis(w, basis, T[:, :, -1], axis=1)
  return _normalize(r[:, k:k + n]), _normalize(w[:, :k]), done


__all__ = (
    "equalizer",
    "least_norm_on_sets",
    "newton_regularized",
    "simplex",
)
