"""Fixtures shared by the engine tests."""

import numpy as np
import pytest

# Like scikit-learn's ``global_random_seed``: invariants must hold for every seed, not one
# lucky one.
SEEDS = [0, 1, 2, 7, 42, 1234]


@pytest.fixture(params=SEEDS, ids=[f"seed{s}" for s in SEEDS])
def seed(request):
    return request.param


@pytest.fixture(scope="module")
def blobs():
    """Three well separated gaussian blobs in 3-D, 90 samples, no exact ties."""
    rng = np.random.default_rng(2024)
    centres = np.array([[0.0, 0.0, 0.0], [6.0, 0.0, 1.0], [0.0, 6.0, -1.0]])
    return np.concatenate([c + rng.normal(scale=0.5, size=(30, 3)) for c in centres])
