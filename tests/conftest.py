import os

import numpy as np
import pytest
from hypothesis import settings

import moe_approx  # noqa: F401  (enables float64 in JAX)

settings.register_profile("ci", max_examples=40, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
