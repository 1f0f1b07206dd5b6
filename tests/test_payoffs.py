"""Tests for nash_align.payoffs: closed forms, identities, bad input."""

import functools

from absl.testing import parameterized
import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nash_align import payoffs as pf
from payoff_cases import ALL  # pylint: disable=g-bad-import-order
from payoff_cases import SIN3


def _random_P(rng, batch, n):
  u = rng.random((batch, n, n))
  iu = np.triu(np.ones((n, n), bool), 1)
  P = np.where(iu, u, 1 - np.swapaxes(u, -1, -2))
  P[..., np.arange(n), np.arange(n)] = 0.5
  return P


RNG = np.random.default_rng(0)
P_RAND = _random_P(RNG, 16, 4).astype(np.float32)
P_EDGES = np.array([[0.5, 1.0, 0.0], [0.0, 0.5, 0.5], [1.0, 0.5, 0.5]],
                   np.float32)


# ---------------------------------------------------------------------------
# Closed forms and identities.


# Closed forms in float64 numpy, independent of the library.
_CLOSED_FORMS = {
    "margin": (pf.margin, lambda P: P - 0.5),
    "majority": (pf.majority, lambda P: np.sign(P - 0.5)),
    "log_odds": (pf.log_odds, lambda P: np.log(P / (1 - P))),
    "tanh": (functools.partial(pf.tanh_payoff, sharpness=4.0),
             lambda P: np.tanh(4.0 * (P - 0.5)) / (2 * np.tanh(2.0))),
    "power": (functools.partial(pf.power_payoff, exponent=0.5),
              lambda P: np.sign(P - 0.5) * np.abs(2 * (P - 0.5)) ** 0.5 / 2),
}


class ClosedFormTest(chex.TestCase):
  """Each transform against its closed form, called plainly and under jit."""

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.named_parameters(*[(n, n) for n in sorted(_CLOSED_FORMS)])
  def test_closed_form(self, name):
    transform, closed_form = _CLOSED_FORMS[name]
    A = self.variant(transform)(P_RAND)
    chex.assert_shape(A, P_RAND.shape)
    chex.assert_type(A, jnp.float32)
    np.testing.assert_allclose(A, closed_form(P_RAND.astype(np.float64)),
                               rtol=1e-4, atol=1e-4 if name == "log_odds"
                               else 1e-6)


def test_family_limits():
  # tanh: s -> 0 is the margin, s -> inf is sign / 2; power: e = 1 margin,
  # e = 0 sign / 2.
  np.testing.assert_allclose(pf.tanh_payoff(P_RAND, 1e-3), P_RAND - 0.5,
                             atol=1e-5)
  far = np.abs(P_RAND - 0.5) > 0.05
  np.testing.assert_allclose(
      np.where(far, pf.tanh_payoff(P_RAND, 500.0), 0),
      np.where(far, np.sign(P_RAND - 0.5) / 2, 0), atol=1e-5)
  np.testing.assert_allclose(pf.power_payoff(P_RAND, 1.0), P_RAND - 0.5,
                             atol=1e-7)
  np.testing.assert_allclose(pf.power_payoff(P_RAND, 0.0),
                             np.sign(P_RAND - 0.5) / 2)
  for f in (pf.tanh_payoff, pf.power_payoff):
    np.testing.assert_allclose(f(P_EDGES, 2.0)[0, 1], 0.5, rtol=1e-6)


def test_log_odds_safe_at_edges_and_btl_identity():
  A = np.asarray(pf.log_odds(P_EDGES))
  assert np.all(np.isfinite(A))
  np.testing.assert_allclose(A[0, 1], np.log((1 - 1e-6) / 1e-6), rtol=1e-3)
  np.testing.assert_allclose(A, -A.T, atol=1e-6)
  # Gradient is finite at 0 and 1 (zero beyond the clip).
  g = jax.grad(lambda P: pf.log_odds(P, validate=False).sum())(P_EDGES)
  assert np.all(np.isfinite(g))
  # BTL: log_odds(P)[i, j] = r_i - r_j.
  r = np.array([0.3, -1.0, 0.7, 0.0])
  P = 1 / (1 + np.exp(-(r[:, None] - r[None, :])))
  np.testing.assert_allclose(pf.log_odds(P), r[:, None] - r[None, :],
                             atol=1e-4)


@pytest.mark.parametrize("name", sorted(ALL))
def test_antisymmetric_monotone_and_batched(name):
  f = ALL[name]
  A = f(P_RAND)
  assert A.shape == P_RAND.shape and A.dtype == jnp.float32
  assert bool(jnp.all(pf.is_antisymmetric(A, atol=1e-4)))
  # Nondecreasing in p (strictly, except majority).
  p = np.linspace(0.0, 1.0, 101, dtype=np.float32)
  grid = np.stack([np.stack([np.full_like(p, 0.5), p], -1),
                   np.stack([1 - p, np.full_like(p, 0.5)], -1)], -2)
  v = np.asarray(f(grid))[:, 0, 1]
  assert np.all(np.diff(v) >= 0)
  # Batch shapes: none and [2, 8].
  np.testing.assert_allclose(f(P_RAND.reshape(2, 8, 4, 4)).reshape(A.shape), A)
  np.testing.assert_allclose(f(P_RAND[3]), A[3])
  np.testing.assert_allclose(jax.jit(f)(P_RAND), A, rtol=1e-6, atol=1e-6)


def test_float64_keeps_dtype():
  with jax.enable_x64(True):
    P = jnp.asarray(P_RAND, jnp.float64)
    for f in (ALL["tanh"], ALL["log_odds"]):
      assert f(P).dtype == jnp.float64


def test_is_antisymmetric():
  assert bool(pf.is_antisymmetric(pf.margin(P_RAND)).all())
  got = np.asarray(pf.is_antisymmetric(P_RAND))  # raw P: not antisymmetric
  assert got.shape == (16,) and not got.any()
  A = np.array([[0.0, 1.0], [-1.0, 0.1]])
  assert not bool(pf.is_antisymmetric(A))
  assert bool(pf.is_antisymmetric(A, atol=0.2))
  with pytest.raises(ValueError, match="A"):
    pf.is_antisymmetric(np.zeros((2, 3)))


def test_registry_and_get_payoff():
  assert sorted(pf.PAYOFFS) == ["log_odds", "majority", "margin", "power",
                                "tanh"]
  f = pf.get_payoff("tanh", sharpness=4.0)
  np.testing.assert_allclose(f(P_RAND), ALL["tanh"](P_RAND))
  with pytest.raises(ValueError, match="Unknown payoff 'nope'"):
    pf.get_payoff("nope")
  with pytest.raises(ValueError, match="sharpness"):
    pf.get_payoff("tanh", sharpness=-1.0)
  with pytest.raises(ValueError, match="exponent"):
    pf.get_payoff("power", exponent=-1.0)
  with pytest.raises(ValueError, match="Bad parameters"):
    pf.get_payoff("margin", sharpness=2.0)
  with pytest.raises(ValueError, match="eps"):
    pf.log_odds(P_RAND, eps=0.7)


def test_from_function():
  np.testing.assert_allclose(SIN3(P_RAND),
                             np.sin(3 * np.pi * (P_RAND - 0.5)), atol=1e-6)
  assert SIN3.__name__ == "sin3"
  with pytest.raises(ValueError, match="antisymmetric"):
    pf.from_function(lambda p: p ** 2, antisymmetric=True)
  with pytest.raises(ValueError, match="antisymmetric"):
    pf.from_function(lambda p: p, antisymmetric=True)  # constant-sum
  # General Psi: A = Psi(P) elementwise, diagonal Psi(1/2), not symmetrised.
  sq = pf.from_function(lambda p: p ** 2, name="square")
  A = np.asarray(sq(P_RAND))
  np.testing.assert_allclose(A, P_RAND.astype(np.float64) ** 2, rtol=1e-6)
  np.testing.assert_allclose(np.diagonal(A, axis1=-2, axis2=-1), 0.25)
  assert not bool(pf.is_antisymmetric(A).any())
  with pytest.raises(ValueError, match="psi must be finite"):
    pf.from_function(lambda p: jnp.log(p - 0.25))  # NaN below 1/4
  with pytest.raises(ValueError, match="callable"):
    pf.from_function(3.0)
  with pytest.raises(ValueError, match="elementwise"):
    pf.from_function(lambda p: jnp.sum(p - 0.5))
  with pytest.raises(ValueError, match="P must"):
    SIN3(np.array([[0.5, 0.9], [0.9, 0.5]]))


# ---------------------------------------------------------------------------
# Bad input for the transforms.

_BAD = {
    "rank": (np.array([0.5, 0.5]), "rank"),
    "square": (np.full((3, 2), 0.5), "square"),
    "n<2": (np.full((1, 1), 0.5), "n >= 2"),
    "nan": (np.array([[0.5, np.nan], [0.5, 0.5]]), "NaN"),
    "inf": (np.array([[0.5, np.inf], [0.5, 0.5]]), "inf"),
    "complex": (np.full((2, 2), 0.5 + 0j), "real numeric"),
    "range": (np.array([[0.5, 1.5], [-0.5, 0.5]]), "[0, 1]"),
    "sum": (np.array([[0.5, 0.7], [0.4, 0.5]]), "P + P^T"),
}


@pytest.mark.parametrize("case", sorted(_BAD))
@pytest.mark.parametrize("name", sorted(ALL) + ["user"])
def test_bad_input(name, case):
  f = SIN3 if name == "user" else ALL[name]
  P, msg = _BAD[case]
  with pytest.raises(ValueError) as e:
    f(P)
  assert msg in str(e.value) and str(e.value).startswith("P ")
