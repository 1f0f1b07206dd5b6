"""Payoff transforms shared by the payoff tests (test_payoffs, test_payoff_properties)."""

import functools

import jax.numpy as jnp

from nash_align import payoffs as pf

ALL = {
    "margin": pf.margin,
    "majority": pf.majority,
    "log_odds": pf.log_odds,
    "tanh": functools.partial(pf.tanh_payoff, sharpness=4.0),
    "power": functools.partial(pf.power_payoff, exponent=0.5),
}

# Antisymmetric transforms that are NOT sign preserving (counterexamples).
SIN3 = pf.from_function(lambda p: jnp.sin(3 * jnp.pi * (p - 0.5)),
                        name="sin3")
DEAD_ZONE = pf.from_function(
    lambda p: jnp.sign(p - 0.5) * jnp.maximum(jnp.abs(p - 0.5) - 0.1, 0.0),
    name="dead_zone")
REVERSED = pf.from_function(lambda p: 0.5 - p, name="reversed")
