"""Corruptions q(x~|x): statistics match (C1)-(C4), noise is fresh and seeded,
dtypes are kept, bad levels are refused."""
import numpy as np
import pytest

from conftest import to_numpy
from scratchdae import GaussianNoise, Masking, NoCorruption, SaltPepper, get_corruption


def batch(backend, dtype="float32"):
    return backend.xp.full((200, 500), 0.5, dtype=dtype)


def test_gaussian_noise_statistics(backend):
    x = batch(backend)
    x_tilde = to_numpy(GaussianNoise(0.3)(x, backend.rng(0)))
    noise = x_tilde - 0.5
    assert abs(noise.mean()) < 0.005 and noise.std() == pytest.approx(0.3, rel=0.01)  # (C1)


def test_gaussian_clip_keeps_pixels_in_range(backend):
    x_tilde = to_numpy(GaussianNoise(2.0, clip=True)(batch(backend), backend.rng(0)))
    assert x_tilde.min() == 0.0 and x_tilde.max() == 1.0
    # (C4) is not Gaussian: point masses at the edges, P(0.5 + 2 eps <= 0) = P(eps <= -0.25) = 0.401
    assert (x_tilde == 0.0).mean() == pytest.approx(0.401, abs=0.005)
    assert (x_tilde == 1.0).mean() == pytest.approx(0.401, abs=0.005)


def test_masking_zeroes_a_fraction_nu(backend):
    x_tilde = to_numpy(Masking(0.3)(batch(backend), backend.rng(0)))
    assert set(np.unique(x_tilde)) == {0.0, 0.5}
    assert (x_tilde == 0).mean() == pytest.approx(0.3, abs=0.005)  # (C2)


def test_masking_zeroes_each_pixel_independently(backend):
    # (C2): the count zeroed in a row of D = 500 is Binomial(500, 0.3): the row fraction varies,
    # with std sqrt(0.3 * 0.7 / 500) = 0.0205, instead of being exactly 0.3 in every row.
    x_tilde = to_numpy(Masking(0.3)(batch(backend), backend.rng(0)))
    per_row = (x_tilde == 0).mean(axis=1)
    assert len(np.unique(per_row)) > 10
    assert per_row.std() == pytest.approx(np.sqrt(0.3 * 0.7 / 500), rel=0.15)


def test_salt_and_pepper_half_each(backend):
    x_tilde = to_numpy(SaltPepper(0.2)(batch(backend), backend.rng(0)))
    assert (x_tilde == 1.0).mean() == pytest.approx(0.1, abs=0.004)  # (C3)
    assert (x_tilde == 0.0).mean() == pytest.approx(0.1, abs=0.004)
    assert (x_tilde == 0.5).mean() == pytest.approx(0.8, abs=0.005)


def test_salt_and_pepper_values_are_fixed_numbers(backend):
    # (C3): high and low are 1 and 0 unless given, whatever the image's own range
    x = backend.xp.full((200, 500), 0.25, dtype="float32")
    x_tilde = to_numpy(SaltPepper(0.2, low=-1.0, high=2.0)(x, backend.rng(0)))
    assert set(np.unique(x_tilde)) == {-1.0, 0.25, 2.0}
    assert set(np.unique(to_numpy(SaltPepper(0.2)(x, backend.rng(0))))) == {0.0, 0.25, 1.0}


@pytest.mark.parametrize("spec", ["gaussian:0.5", "masking:0.3", "salt-pepper:0.2"])
def test_fresh_noise_every_call_and_reproducible_for_a_seed(backend, spec):
    c = get_corruption(spec)
    x = batch(backend)
    rng = backend.rng(7)
    first, second = to_numpy(c(x, rng)), to_numpy(c(x, rng))
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, to_numpy(c(x, backend.rng(7))))


@pytest.mark.parametrize("spec", ["gaussian:0.5", "gaussian:0.5:clip", "masking:0.3", "salt-pepper:0.2", "none"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_is_kept_and_input_untouched(backend, spec, dtype):
    x = batch(backend, dtype)
    x_tilde = get_corruption(spec)(x, backend.rng(0))
    assert x_tilde.dtype == np.dtype(dtype)
    assert float(x.min()) == float(x.max()) == 0.5


def test_spec_round_trip():
    for spec in ["gaussian:0.5", "gaussian:0.25:clip", "masking:0.3", "salt-pepper:0.2", "none"]:
        assert get_corruption(spec).spec() == spec
    assert isinstance(get_corruption("none"), NoCorruption)


@pytest.mark.parametrize("spec, match", [
    ("gaussian:0", "noise sigma must be a finite number > 0, got 0.0"),
    ("gaussian:-1", "noise sigma must be a finite number > 0"),
    ("masking:1.5", r"masking probability nu must be a number in \[0, 1\), got 1.5"),
    ("salt-pepper:-0.1", r"probability nu must be a number in \[0, 1\]"),
    ("blur:2", "unknown noise 'blur'.*expected one of"),
    ("masking:a", "the level must be a number"),
    ("masking:0.1:0.2", "too many parts"),
])
def test_bad_specs_are_explained(spec, match):
    with pytest.raises(ValueError, match=match):
        get_corruption(spec)
