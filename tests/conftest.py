import gc
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


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session):
    """In an xdist worker, collect the garbage now and freeze the survivors.

    The worker reports back after this hook; the controller then shuts it down, and execnet sends a
    worker still running 5 s later a SIGINT, which lands in whatever finalizer pytest's closing
    ``gc.collect()`` passes run and ends ``make test`` with a stray KeyboardInterrupt traceback. Done
    here, the long collection runs before the report, and the closing passes scan only new objects.
    """
    if hasattr(session.config, "workerinput"):
        gc.collect()
        gc.freeze()
