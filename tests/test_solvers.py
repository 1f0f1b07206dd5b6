"""Tests for nash_align.solvers.solve against solve_lp (HiGHS) and closed forms.

Few shapes and batch sizes on purpose: every (method, shape, pool size) is a
compile, so tests share them (batch B = 16 games of 6x6, 5x7 rectangles).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nash_align import solvers

B = 16
TOL = 1e-6


def _margin_games(seed, batch, n, voters=11):
  """Margin games P - 1/2 of impartial-culture profiles (numpy, independent)."""
  rng = np.random.default_rng(seed)
  ranks = np.argsort(rng.random((batch, voters, n)), axis=-1)
  pos = np.argsort(ranks, axis=-1)  # position of each alternative
  wins = (pos[..., :, None] < pos[..., None, :]).sum(1)  # [batch, n, n]
  return (wins - np.swapaxes(wins, 1, 2)) / (2.0 * voters)


def _tournaments(seed, batch, n):
  rng = np.random.default_rng(seed)
  T = np.triu(np.where(rng.random((batch, n, n)) < 0.5, 1.0, -1.0), 1)
  return T - np.swapaxes(T, 1, 2)


def _families():
  rng = np.random.default_rng(7)
  degenerate = rng.integers(-1, 2, size=(B, 6, 6)).astype(np.float64)
  degenerate[:, 2] = 0.0  # a zero row
  degenerate[:, :, 4] = degenerate[:, :, 3]  # a duplicated column: ties
  return {
      "margin": _margin_games(0, B, 6),
      "tournament": _tournaments(1, B, 6),
      "general": rng.normal(size=(B, 6, 6)),
      "rectangular": rng.normal(size=(B, 5, 7)),
      "degenerate": degenerate,
      "even_voters": _margin_games(3, B, 6, voters=4),
  }


FAMILIES = _families()


def _assert_equilibrium(res, A, tol=TOL):
  """Certified, on the simplex, and the value agrees with HiGHS."""
  ref = solvers.solve_lp(A)
  assert np.all(res.converged), res.gap
  assert np.all(res.gap <= tol)
  np.testing.assert_allclose(solvers.duality_gap(A, res.row, res.col),
                             res.gap, atol=1e-12)
  for p in (res.row, res.col):
    assert np.all(p >= 0)
    np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-6)
  np.testing.assert_allclose(res.value, ref.value, atol=2 * tol)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_auto_matches_lp(family):
  A = FAMILIES[family]
  res = solvers.solve(A)
  _assert_equilibrium(res, A)
  if family in ("margin", "tournament"):
    np.testing.assert_array_equal(res.row, res.col)  # symmetric fast path
    np.testing.assert_allclose(res.value, 0.0, atol=TOL)


@pytest.mark.parametrize("method", sorted(solvers.METHODS))
def test_every_method_certifies_or_says_so(method):
  A = FAMILIES["margin"]
  res = solvers.solve(A, method=method, max_iters=4000)
  ref = solvers.solve_lp(A)
  c = np.asarray(res.converged)
  assert c.mean() >= 0.75, (method, c.mean())
  # Certified games are equilibria; the others say so (gap above tol).
  np.testing.assert_allclose(res.value[c], ref.value[c], atol=2 * TOL)
  assert np.all(res.gap[c] <= TOL) and np.all(res.gap[~c] > TOL)
  np.testing.assert_allclose(solvers.duality_gap(A, res.row, res.col),
                             res.gap, atol=1e-12)


def test_uncertified_games_are_reported_and_lp_fallback_fixes_them():
  A = FAMILIES["general"]
  res = solvers.solve(A, method="mwu", max_iters=16, check_every=16)
  assert not np.all(res.converged)
  assert np.all(res.gap[~res.converged] > TOL)
  res = solvers.solve(A, method="mwu", max_iters=16, check_every=16,
                      fallback="lp")
  _assert_equilibrium(res, A)


def test_closed_forms():
  rps = np.array([[0., -1., 1.], [1., 0., -1.], [-1., 1., 0.]])
  pennies = np.array([[1., -1.], [-1., 1.]])
  res = solvers.solve(rps)
  np.testing.assert_allclose(res.row, np.full(3, 1 / 3), atol=1e-7)
  np.testing.assert_allclose(res.col, np.full(3, 1 / 3), atol=1e-7)
  np.testing.assert_allclose(res.value, 0.0, atol=1e-7)
  res = solvers.solve(pennies)
  np.testing.assert_allclose(res.row, [0.5, 0.5], atol=1e-7)
  np.testing.assert_allclose(res.col, [0.5, 0.5], atol=1e-7)
  np.testing.assert_allclose(res.value, 0.0, atol=1e-7)


def test_planted_pure_equilibria():
  rng = np.random.default_rng(4)
  idx = np.arange(B)
  # Strict saddle point at (i, j) with value 0: row i is positive elsewhere,
  # column j negative elsewhere; the unique equilibrium is pure.
  A = rng.normal(size=(B, 6, 6))
  i, j = rng.integers(0, 6, B), rng.integers(0, 6, B)
  A[idx, i, :] = np.abs(A[idx, i, :]) + 0.1
  A[idx, :, j] = -np.abs(A[idx, :, j]) - 0.1
  A[idx, i, j] = 0.0
  res = solvers.solve(A)
  np.testing.assert_allclose(res.row, np.eye(6)[i], atol=1e-7)
  np.testing.assert_allclose(res.col, np.eye(6)[j], atol=1e-7)
  np.testing.assert_allclose(res.value, 0.0, atol=1e-7)
  # A Condorcet winner w (beats everyone) is the pure equilibrium of the
  # margin game.
  M = _margin_games(5, B, 6)
  w = rng.integers(0, 6, B)
  M[idx, w, :] = np.abs(M[idx, w, :]) + 1 / 22
  M[idx, :, w] = -M[idx, w, :]
  M[idx, w, w] = 0.0
  res = solvers.solve(M)
  np.testing.assert_allclose(res.row, np.eye(6)[w], atol=1e-7)
  np.testing.assert_allclose(res.col, np.eye(6)[w], atol=1e-7)


def test_batch_shapes_and_dtypes():
  A = FAMILIES["margin"].reshape(2, 8, 6, 6).astype(np.float32)
  res = solvers.solve(A)
  assert res.row.shape == (2, 8, 6) and res.value.shape == (2, 8)
  assert res.row.dtype == np.float32 and res.gap.dtype == np.float64
  assert res.iterations.dtype == np.int32 and res.converged.dtype == bool
  _assert_equilibrium(jax.tree.map(lambda a: a.reshape((16,) + a.shape[2:]),
                                   res), A.reshape(16, 6, 6))


def test_invariances():
  A = FAMILIES["general"]
  res = solvers.solve(A)
  rng = np.random.default_rng(3)
  p, q = rng.permutation(6), rng.permutation(6)
  perm = solvers.solve(A[:, p][:, :, q])
  np.testing.assert_allclose(perm.row, res.row[:, p], atol=1e-6)
  np.testing.assert_allclose(perm.col, res.col[:, q], atol=1e-6)
  shifted = solvers.solve(A + 2.5)
  np.testing.assert_allclose(shifted.value, res.value + 2.5, atol=1e-5)
  np.testing.assert_allclose(shifted.row, res.row, atol=1e-6)


@pytest.mark.parametrize("method", ["omd", "simplex"])
def test_chunk_size_does_not_change_results(method):
  # chunk_size=4 runs the batch in 8 jitted calls, 64 in one: the per-game
  # answers must not change.
  A = np.concatenate([FAMILIES["general"], FAMILIES["tournament"]])
  a = solvers.solve(A, method=method, chunk_size=64)
  b = solvers.solve(A, method=method, chunk_size=4)
  for x, y in zip(a, b):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
  # Under jit, chunk_size=5 runs a loop over 7 chunks, the last one
  # overlapping the one before by 3 games: the same answers as the eager
  # call.
  c = jax.jit(lambda A: solvers.solve(A, method=method, chunk_size=5))(
      jnp.asarray(A, jnp.float32))
  np.testing.assert_array_equal(np.asarray(c.row_support),
                                np.asarray(a.row_support))
  np.testing.assert_array_equal(np.asarray(c.converged),
                                np.asarray(a.converged))
  np.testing.assert_allclose(np.asarray(c.row), np.asarray(a.row), atol=1e-6)


def test_regularized_fixed_point():
  A = FAMILIES["rectangular"]
  rng = np.random.default_rng(11)
  rx = rng.dirichlet(np.ones(5), size=B)
  ry = rng.dirichlet(np.ones(7), size=B)
  beta = 0.3
  # The regularized gap is quadratic in the distance to the equilibrium, so
  # a tight tol pins the strategies down: |x - x*|_1 <= sqrt(2 tol / beta),
  # and the fixed-point residual is at most (1 + |A| / beta) times that.
  # (1e-10: the float32 certificate's own rounding bound is about 1e-12.)
  res = solvers.solve(A, beta=beta, reference=(rx, ry), tol=1e-10)
  assert np.all(res.converged)
  x, y = res.row.astype(np.float64), res.col.astype(np.float64)
  def softmax(a):
    e = np.exp(a - a.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)
  np.testing.assert_allclose(
      x, softmax(np.log(rx) + np.einsum("bij,bj->bi", A, y) / beta), atol=1e-5)
  np.testing.assert_allclose(
      y, softmax(np.log(ry) - np.einsum("bi,bij->bj", x, A) / beta), atol=1e-5)
  # Symmetric regularized game (skew A, one reference): x = y, value 0.
  M = FAMILIES["margin"]
  res = solvers.solve(M, beta=0.05, tol=1e-10)
  assert np.all(res.converged)
  np.testing.assert_array_equal(res.row, res.col)
  xs = res.row.astype(np.float64)
  np.testing.assert_allclose(
      xs, softmax(np.log(1 / 6) + np.einsum("bij,bj->bi", M, xs) / 0.05),
      atol=1e-4)  # residual <= (1 + |A| / beta) sqrt(2 tol / beta)


def test_jit_shard_map_agrees_with_eager():
  # The jitted call inside shard_map, on a mesh of the local devices:
  # shard_map checks that loop carries vary along the mesh axes like the
  # sharded payoffs (check_vma, its default), so constants the solver starts
  # its loops from must be cast (failed before). Tournaments (symmetric
  # path) and general games in one batch, in chunks of 8 (the chunk loop).
  # Plain jit and vmap are checked family by family at n = 10..200 below.
  A = np.concatenate([FAMILIES["tournament"], FAMILIES["general"]])
  eager = solvers.solve(A)
  devices = jax.devices()
  mesh = jax.sharding.Mesh(np.asarray(devices), ("games",))
  spec = jax.sharding.PartitionSpec("games")
  sharded = jax.jit(jax.shard_map(
      lambda a: solvers.solve(a, chunk_size=8), mesh=mesh, in_specs=spec,
      out_specs=spec))
  m = len(A) // len(devices) * len(devices)
  res = sharded(jnp.asarray(A[:m], jnp.float32))
  assert res.row.dtype == jnp.float32 and res.gap.dtype == jnp.float32
  assert np.all(np.asarray(res.converged)) and np.all(eager.converged)
  np.testing.assert_array_equal(np.asarray(res.row_support),
                                eager.row_support[:m])
  np.testing.assert_allclose(np.asarray(res.value), eager.value[:m],
                             atol=1e-6)
  np.testing.assert_allclose(np.asarray(res.row), eager.row[:m], atol=TOL)
  np.testing.assert_allclose(np.asarray(res.col), eager.col[:m], atol=TOL)
  assert np.all(solvers.duality_gap(A[:m], np.asarray(res.row),
                                    np.asarray(res.col)) <= TOL)


def test_x64_keeps_float64():
  with jax.enable_x64(True):
    A = jnp.asarray(FAMILIES["margin"][:2], jnp.float64)
    res = jax.jit(lambda a: solvers.solve(a, method="simplex"))(A)
    assert res.row.dtype == jnp.float64 and res.gap.dtype == jnp.float64
    assert bool(jnp.all(res.gap <= 1e-12))


@pytest.mark.parametrize("kwargs, match", [
    (dict(A=np.array([[np.nan, 1.], [0., 1.]])), "A contains NaN"),
    (dict(A=np.array([[np.inf, 1.], [0., 1.]])), "A contains inf"),
    (dict(A=np.ones((1, 1))), "1x1"),
    (dict(A=np.ones((3,))), "rank"),
    (dict(A=np.ones((0, 2, 2))), "empty"),
    (dict(tol=-1.0), "tol"),
    (dict(beta=-0.1), "beta"),
    (dict(beta=0.1, reference=np.array([.5, .6])), "sum to 1"),
    (dict(beta=0.1, reference=np.array([1.5, -.5])), "positive"),
    (dict(beta=0.1, reference=np.array([.2, .3, .5])), "last axis"),
    (dict(method="simplexx"), "method"),
    (dict(method="rm_plus", beta=0.1), "beta"),
    (dict(fallback="highs"), "fallback"),
    (dict(max_iters=0), "max_iters"),
    (dict(symmetric="yes"), "symmetric"),
])
def test_bad_input(kwargs, match):
  kwargs = dict(kwargs)
  A = kwargs.pop("A", np.array([[0., 1.], [-1., 0.]]))
  with pytest.raises(ValueError, match=match):
    solvers.solve(A, **kwargs)


@pytest.mark.parametrize("A, match", [
    (np.array([[np.nan, 1.], [0., 1.]]), "A contains NaN"),
    (np.array([[np.inf, 1.], [0., 1.]]), "A contains inf"),
    (np.ones((1, 1)), "at least 2 actions"),
    (np.ones((3,)), "rank"),
])
def test_solve_lp_bad_input(A, match):
  with pytest.raises(ValueError, match=match):
    solvers.solve_lp(A)
  with pytest.raises(ValueError, match="tol"):
    solvers.solve_lp(np.eye(2), tol=-1.0)


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="CPU LAPACK only")
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("beta", [0.0, 0.1])
@pytest.mark.parametrize("several_devices", [False, True])
def test_lapack_solves_cannot_deadlock(symmetric, beta, several_devices,
                                       monkeypatch):
  """Two candidates (mirror_prox: last + average) share ONE batched solve,
  and with several CPU devices there is no LAPACK call at all.

  jaxlib 0.10's batched CPU LAPACK blocks an intra-op pool thread per call
  in flight: two in one program, or one in each CPU device's program under
  shard_map, deadlocked a 2-core machine (BUILD_NOTES.md).
  """
  import functools  # pylint: disable=import-outside-toplevel
  import re  # pylint: disable=import-outside-toplevel
  from nash_align.solvers import exact  # pylint: disable=import-outside-toplevel
  from nash_align.solvers import kernel  # pylint: disable=import-outside-toplevel
  monkeypatch.setattr(exact, "several_cpu_devices", lambda: several_devices)
  run = jax.jit(functools.partial(
      kernel.solve_batch, method_name="mirror_prox", symmetric=symmetric,
      regularized=beta > 0, beta=beta, step=0.5, tol=TOL, max_iters=64,
      check_every=16))
  P, n = 8, 5
  A = np.zeros((P, n, n), np.float32)
  lx = np.zeros((P, n), np.float32)
  lr = (lx,) if symmetric else (lx, lx)
  hlo = run.lower(A, lr).compile().as_text()
  calls = re.findall(r'custom_call_target="([^"]*getrf[^"]*)"', hlo)
  assert len(calls) == (0 if several_devices else 1), calls


def test_lax_linear_solve_matches_numpy():
  from nash_align.solvers import linalg  # pylint: disable=import-outside-toplevel
  rng = np.random.default_rng(3)
  M = rng.normal(size=(6, 9, 9))
  M[:, 0] *= 1e-3  # row pivoting needed
  b = rng.normal(size=(6, 9))
  with jax.enable_x64(True):
    x = jax.vmap(linalg.solve)(jnp.asarray(M), jnp.asarray(b))
  np.testing.assert_allclose(np.asarray(x), np.linalg.solve(M, b[..., None])
                             [..., 0], rtol=1e-9, atol=1e-9)


# ---------------------------------------------------------------------------
# One algorithm on every path: eager, jit and vmap give the same certified
# answers, checked against float64 recomputation and HiGHS (issue 11).


def _ic_margins(rng, batch, n, voters=101):
  ranks = rng.random((batch, voters, n)).argsort(-1).argsort(-1)
  wins = (ranks[..., :, None] < ranks[..., None, :]).sum(1)
  return ((wins - np.swapaxes(wins, 1, 2)) / (2.0 * voters)).astype(
      np.float32)


def _btl_log_odds(rng, batch, n, groups=3):
  w = np.exp(rng.normal(size=(batch, groups, n)))
  probs = rng.dirichlet(np.ones(groups), size=batch)
  P = np.einsum("bg,bgij->bij", probs,
                w[:, :, :, None] / (w[:, :, :, None] + w[:, :, None, :]))
  A = np.log(P / (1 - P)).astype(np.float32)
  return 0.5 * (A - np.swapaxes(A, 1, 2))


def _three_families(n, per_family, seed=0):
  rng = np.random.default_rng(seed)
  return np.concatenate([
      _ic_margins(rng, per_family, n),
      _tournaments(seed + 1, per_family, n).astype(np.float32),
      _btl_log_odds(rng, per_family, n)])


_jit_solve_f32 = jax.jit(lambda A: solvers.solve(A, tol=TOL))
_vmap_solve_f32 = jax.jit(jax.vmap(lambda A: solvers.solve(A, tol=TOL)))
# The path symmetric=None picks for antisymmetric games, alone: under vmap
# every branch runs, and this compiles in a third of the time at n = 200.
_vmap_solve_symmetric_f32 = jax.jit(jax.vmap(
    lambda A: solvers.solve(A, tol=TOL, symmetric=True)))


@pytest.mark.parametrize("n,per_family", [(10, 8), (50, 4), (100, 2),
                                          (200, 1)])
def test_eager_jit_vmap_same_certified_answers(n, per_family):
  A = _three_families(n, per_family, seed=n)
  if n == 10:
    # The log-odds made only nearly antisymmetric (within tol / 4: still the
    # symmetric path): a batch mixing exact and inexact games must take the
    # two-product certificate (the other sizes take the one-product one).
    noise = np.random.default_rng(1).uniform(-5e-8, 5e-8, A[16:].shape)
    A[16:] += noise.astype(np.float32)
    assert np.all(np.abs(A + np.swapaxes(A, 1, 2))[16:].max((1, 2)) > 0)
  eager = solvers.solve(A, tol=TOL)
  jitted = jax.tree.map(np.asarray, _jit_solve_f32(jnp.asarray(A)))
  ref = solvers.solve_lp(A.astype(np.float64))
  # vmap over single games: every branch runs and it is slow to compile, so
  # the whole default path at n = 10 (symmetric detection, the fallback
  # method), and above it one game a family on the symmetric path (the one
  # the detection takes for these games).
  some = slice(None) if n == 10 else slice(None, None, per_family)
  vmap_solve = _vmap_solve_f32 if n == 10 else _vmap_solve_symmetric_f32
  vmapped = jax.tree.map(np.asarray, vmap_solve(jnp.asarray(A[some])))
  for res, games in ((eager, slice(None)), (jitted, slice(None)),
                     (vmapped, some)):
    a = A[games].astype(np.float64)
    assert res.row.dtype == np.float32
    assert np.all(res.converged), res.gap
    # The certificate recomputed in float64 from the returned arrays.
    g64 = solvers.duality_gap(a, res.row, res.col)
    assert np.all(g64 <= TOL), g64
    np.testing.assert_allclose(res.gap, g64, atol=1e-8)
    np.testing.assert_allclose(res.value, ref.value[games], atol=2 * TOL)
    # The certified support is the support of the returned strategy, and
    # (unique equilibria here) HiGHS's.
    np.testing.assert_array_equal(res.row_support, res.row > 0)
    np.testing.assert_array_equal(res.row_support, ref.row[games] > 1e-9)
    if res is not eager:  # the same answers as the eager call
      np.testing.assert_array_equal(res.row_support, eager.row_support[games])
      np.testing.assert_allclose(res.row, eager.row[games], atol=TOL)
      np.testing.assert_allclose(res.col, eager.col[games], atol=TOL)


@pytest.mark.parametrize("method,max_iters", [("simplex", 3), ("mwu", 48)])
def test_never_a_false_certificate(method, max_iters):
  """Certified games are equilibria to ``tol`` by an independent float64
  recomputation; games cut short say so. Under jit and eagerly."""
  rng = np.random.default_rng(5)
  A = np.concatenate([_tournaments(9, 24, 15).astype(np.float32),
                      rng.normal(size=(24, 15, 15)).astype(np.float32)])
  # 1e-7 is below what float32 strategies of games with max |A| ~ 3 can
  # reach: many honest "not converged" there, and never a false one.
  for tol, jit in ((1e-4, False), (1e-7, True)):
    if jit:
      res = jax.jit(lambda a, tol=tol: solvers.solve(
          a, method=method, tol=tol, max_iters=max_iters))(jnp.asarray(A))
    else:
      res = solvers.solve(A, method=method, tol=tol, max_iters=max_iters)
    conv = np.asarray(res.converged)
    g64 = solvers.duality_gap(A.astype(np.float64), res.row, res.col)
    assert not np.any(conv & (g64 > tol)), g64[conv].max()


def test_certificates_reject_bad_input():
  A = np.zeros((2, 3, 4))
  with pytest.raises(ValueError, match="row"):
    solvers.duality_gap(A, np.ones((2, 4)) / 4, np.ones((2, 4)) / 4)
  with pytest.raises(ValueError, match="col"):
    solvers.duality_gap(A, np.ones((2, 3)) / 3, np.ones((2, 3)) / 3)
  with pytest.raises(ValueError, match="broadcast"):
    solvers.duality_gap(A, np.ones((5, 3)) / 3, np.ones((2, 4)) / 4)
  x, y = np.ones((2, 3)) / 3, np.ones((2, 4)) / 4
  for beta in (0.0, -1.0, np.nan):
    with pytest.raises(ValueError, match="beta"):
      solvers.regularized_duality_gap(A, x, y, beta, x, y)
  with pytest.raises(ValueError, match="complex"):
    solvers.solve(np.zeros((3, 3), np.complex64))


def _dot_precisions(jaxpr):
  """Yields the precision of every dot_general in a jaxpr and its sub-jaxprs."""
  for eqn in jaxpr.eqns:
    if eqn.primitive.name == "dot_general":
      yield eqn.params["precision"]
    for value in eqn.params.values():
      for sub in value if isinstance(value, (tuple, list)) else (value,):
        if hasattr(sub, "jaxpr") and hasattr(sub.jaxpr, "eqns"):
          yield from _dot_precisions(sub.jaxpr)  # ClosedJaxpr
        elif hasattr(sub, "eqns"):
          yield from _dot_precisions(sub)


@pytest.mark.parametrize("beta", [0.0, 0.1])
def test_every_product_in_the_kernel_asks_for_true_float32(beta):
  # Accelerators round float32 products by default (TF32 on NVIDIA GPUs,
  # bfloat16 passes on TPUs): a plain `@` in the kernel would make pivots and
  # refinement differ by device. Traced only, nothing compiles.
  A = jnp.asarray(FAMILIES["general"][:2], jnp.float32)
  ref = jnp.full((2, 6), 1 / 6, jnp.float32) if beta else None
  jaxpr = jax.make_jaxpr(
      lambda a: solvers.solve(a, beta=beta, reference=ref))(A).jaxpr
  precisions = list(_dot_precisions(jaxpr))
  assert precisions, "no matrix product found: the walker is broken"
  highest = jax.lax.Precision.HIGHEST
  assert all(p == (highest, highest) for p in precisions), precisions


def test_max_weight_guaranteeing_against_closed_forms():
  rps = np.array([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]])
  # Rock-paper-scissors: only (1/3, 1/3, 1/3) guarantees the value 0.
  m, x = solvers.max_weight_guaranteeing(rps, 0.0, np.array([1.0, 0, 0]))
  np.testing.assert_allclose(m, 1 / 3, atol=1e-9)
  np.testing.assert_allclose(x, np.full(3, 1 / 3), atol=1e-9)
  # Two identical best rows: every mix of them guarantees 1, so the most on
  # row 1 is 1 and the most on the dominated row 2 is 0.
  A = np.array([[1.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
  assert solvers.max_weight_guaranteeing(A, 1.0, np.array([0, 1.0, 0]))[0] \
      == pytest.approx(1.0)
  assert solvers.max_weight_guaranteeing(A, 1.0, np.array([0, 0, 1.0]))[0] \
      == pytest.approx(0.0, abs=1e-12)
  # Above the value nothing guarantees it.
  assert solvers.max_weight_guaranteeing(rps, 0.1, np.ones(3)) == (
      -np.inf, None)


def test_require_certified_by_converged_or_by_a_gap_bound():
  import types  # pylint: disable=g-import-not-at-top
  res = types.SimpleNamespace(converged=np.array([True, False]),
                              gap=np.array([1e-12, 5e-8]))
  with pytest.raises(RuntimeError, match=r"certify 1 game\(s\) \(flat "
                     r"indices \[1\]\)"):
    solvers.require_certified(res, "caller")
  assert solvers.require_certified(res, "caller", max_gap=1e-7) is res
  with pytest.raises(RuntimeError, match="to a duality gap of 1e-08"):
    solvers.require_certified(res, "caller", max_gap=1e-8)


@pytest.mark.parametrize("n,k", [(7, 200), (50, 50), (3, 1)])
def test_compensated_products_within_their_bound(n, k):
  """Double-float A v and v A from float32 data against float64, within
  matvec_error (entries over 40 orders of magnitude, sparse strategies)."""
  from nash_align.solvers import compensated  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(n + k)
  A = (rng.standard_normal((8, n, k))
       * np.exp(rng.uniform(-45, 45, (8, n, k)))).astype(np.float32)
  v = rng.dirichlet(np.full(k, 0.1), 8).astype(np.float32)
  u = rng.dirichlet(np.full(n, 0.1), 8).astype(np.float32)
  A64 = A.astype(np.float64)
  # With a_max (a bound on max |A|, as the certificate passes its scale) the
  # bound is relative to a_max sum |v| instead.
  a_max = np.abs(A).max(axis=(1, 2))
  for got, exact, bound in (
      (compensated.matvec(A, v), np.einsum("bij,bj->bi", A64, v),
       np.einsum("bij,bj->bi", np.abs(A64), v) * compensated.matvec_error(k)),
      (compensated.vecmat(u, A), np.einsum("bi,bij->bj", u, A64),
       np.einsum("bi,bij->bj", u, np.abs(A64)) * compensated.matvec_error(n)),
      (compensated.matvec(A, v, a_max=a_max), np.einsum("bij,bj->bi", A64, v),
       (a_max * v.sum(-1, dtype=np.float64))[:, None]
       * compensated.matvec_error(k)),
      (compensated.vecmat(u, A, a_max=a_max), np.einsum("bi,bij->bj", u, A64),
       (a_max * u.sum(-1, dtype=np.float64))[:, None]
       * compensated.matvec_error(n))):
    err = np.abs(np.float64(got[0]) + np.float64(got[1]) - exact)
    assert np.all(err <= bound), (err / bound).max()
  # The bound is far below float32's own k * 2^-24: the test can fail.
  assert compensated.matvec_error(max(n, k)) < 0.02 * max(n, k) * 2.0**-24


def test_antisymmetric_certificate_with_one_product_matches_float64():
  """``certificate(..., skew=True)`` (one product for exactly antisymmetric
  games) against float64 on strategies near and far from equilibrium. (The
  jitted ``solve`` on a batch mixing exact and nearly antisymmetric games,
  which must take two products: the n = 10 equivalence test.)"""
  from nash_align.solvers import refine  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(11)
  A = np.concatenate([_tournaments(3, 8, 10).astype(np.float32),
                      _three_families(10, 4, seed=4)])
  A = (A - np.swapaxes(A, 1, 2)) / 2
  assert np.all(A == -np.swapaxes(A, 1, 2))
  eq = solvers.solve_lp(A.astype(np.float64)).row.astype(np.float32)
  far = rng.dirichlet(np.full(10, 0.3), len(A)).astype(np.float32)
  cert = jax.jit(jax.vmap(lambda a, x: refine.certificate(a, x, x, skew=True)))
  for x in (eq, far):
    gap, value, slack = map(np.asarray, cert(A, x))
    g64 = solvers.duality_gap(A.astype(np.float64), x, x)
    # Within the products' bound, plus the float32 rounding of the gap.
    bound = slack + 2.0**-24 * np.abs(g64)
    assert np.all(np.abs(gap - g64) <= bound), (gap - g64, bound)
    # x^T A x = 0, to float32 rounding of the products x_i (A x)_i.
    np.testing.assert_allclose(value, 0.0, atol=1e-6)


@pytest.mark.parametrize("family", ["tournament", "general"])
def test_simplex_refresh_recomputes_prices_and_values_from_the_basis(family):
  """``refresh`` on a drifted tableau: every reduced cost and basic value
  against float64 from the basis matrix (numpy), the perturbation's offset
  kept."""
  from nash_align.solvers import simplex as simplex_lib  # pylint: disable=g-import-not-at-top
  from nash_align.solvers.methods import Game  # pylint: disable=g-import-not-at-top
  n = 30
  A = (_tournaments(5, 1, n)[0] if family == "tournament" else
       np.random.default_rng(5).normal(size=(n, n)))
  A = A.astype(np.float32)
  scale = np.float32(np.abs(A).max())
  method = simplex_lib.simplex()
  game = Game(jnp.asarray(A / scale), (jnp.zeros(n),), jnp.float32(0),
              jnp.float32(1))

  @jax.jit
  def pivots_then_refresh(game, noise):
    state = method.init(game, family == "tournament")
    state = jax.lax.fori_loop(0, 12, lambda _, s: method.update(s, game),
                              state)
    drifted = state._replace(tableau=state.tableau.at[:, -2:].add(noise),
                             objective=state.objective + noise[0, 0])
    return state, simplex_lib.refresh(drifted, jnp.asarray(A), scale)

  noise = jnp.full((n, 2), 1e-3, jnp.float32)
  state, new = pivots_then_refresh(game, noise)
  assert int(state.count) == 12
  As = A.astype(np.float64) / np.float64(scale)
  Ap = As - As.min() + 1.0
  full = np.concatenate([Ap, np.eye(n)], axis=1)
  basis = full[:, np.asarray(new.row_label)]
  values = np.linalg.solve(basis, np.ones(n))
  costs = np.where(np.arange(2 * n) < n, -1.0, 0.0)
  duals = np.linalg.solve(basis.T, costs[np.asarray(new.row_label)])
  reduced = costs - full.T @ duals  # of every variable, 0 on the basis
  T = np.asarray(new.tableau, np.float64)
  np.testing.assert_allclose(T[:, -1], values, atol=1e-6)
  np.testing.assert_allclose(np.asarray(new.objective[:n]),
                             reduced[np.asarray(new.col_label)], atol=1e-6)
  np.testing.assert_allclose(np.asarray(new.objective[n + 1]),
                             values[np.asarray(new.row_label) < n].sum(),
                             rtol=1e-6)
  offset = np.asarray(state.tableau[:, -2] - state.tableau[:, -1])
  np.testing.assert_allclose(T[:, -2] - T[:, -1], offset, atol=1e-6)
  assert not bool(new.optimal)
