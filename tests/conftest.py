"""Shared fixtures and hypothesis strategies.

Tests that take the ``backend`` fixture run once per usable backend: NumPy
always, CuPy only where a GPU is usable (so they skip cleanly here).
"""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from scratchdae.backend import available_backends, get_backend

settings.register_profile("ci", deadline=None, max_examples=25,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("thorough", deadline=None, max_examples=300,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

BACKENDS = ["numpy", pytest.param("cupy", marks=pytest.mark.cupy)]


@pytest.fixture(params=BACKENDS)
def backend(request):
    if request.param not in available_backends():
        pytest.skip("CuPy with a usable GPU is not available here")
    return get_backend(request.param)


def to_numpy(a):
    return a.get() if hasattr(a, "get") else np.asarray(a)


# -- strategies --------------------------------------------------------------
sizes = st.integers(min_value=1, max_value=5)
seeds = st.integers(min_value=0, max_value=2**32 - 1)
scales = st.floats(min_value=0.05, max_value=3.0, allow_nan=False, allow_infinity=False)
