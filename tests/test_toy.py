"""Toy mixtures: (TM1)-(TM3) against finite differences, Tweedie, Monte Carlo and
hand-worked numbers; the data sets have the documented parameters; bad inputs
are refused with a message that says how to fix them."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import seeds
from scratchdae.toy import TOY_DATASETS, BayesError, GaussianMixture, get_toy, mixture8, rings, spiral

LEVELS = [0.0, 0.05, 0.3, 1.0]


def lopsided():
    """Unequal stds and weights, so no formula can lean on equal components."""
    return GaussianMixture([[0.0, 0.0], [1.5, -0.5], [-1.0, 1.0]], std=[0.1, 0.4, 0.2],
                           weights=[0.5, 0.3, 0.2], name="lopsided")


MIXTURES = {**TOY_DATASETS, "lopsided": lopsided}


def probe_points(mixture, n=40, seed=0):
    """Points on and between the modes, plus points 50 away from the origin in several directions."""
    rng = np.random.default_rng(seed)
    near = mixture.sample(n, seed=rng, dtype="float64") + rng.normal(0, 0.5, (n, 2))  # n,2
    angles = np.array([0.0, 1.0, 2.5, 4.0])
    far = 50.0 * np.column_stack([np.cos(angles), np.sin(angles)])  # 4,2
    return np.concatenate([near, far])


def central_difference_score(mixture, x, s, h=1e-6):
    """(GC1) applied to log_density, coordinate by coordinate."""
    grad = np.empty_like(x)
    for j in range(x.shape[1]):
        e = np.zeros(x.shape[1])
        e[j] = h
        grad[:, j] = (mixture.log_density(x + e, s) - mixture.log_density(x - e, s)) / (2 * h)
    return grad


# -- (TM2) the score ------------------------------------------------------------------
@pytest.mark.parametrize("s", LEVELS)
@pytest.mark.parametrize("name", list(MIXTURES))
def test_score_matches_central_differences_of_log_density(name, s):
    mixture = MIXTURES[name]()
    x = probe_points(mixture)
    exact, numeric = mixture.score(x, s), central_difference_score(mixture, x, s)
    # h = 1e-6: truncation ~h^2 |f'''| < 1e-5 between modes; round-off ~1e-16 |log p| / h, at most
    # 2e-5 at the far points where |log p| ~ 1e5 and the score is ~5e3 (so the relative error is tiny).
    err = np.abs(exact - numeric)
    worst = np.unravel_index(np.argmax(err / (1e-5 + 1e-6 * np.abs(numeric))), err.shape)
    assert np.all(err <= 1e-5 + 1e-6 * np.abs(numeric)), (
        f"{name}, s={s}: received score {exact[worst]!r} at point {x[worst[0]]} coordinate {worst[1]}, "
        f"but was expecting {numeric[worst]!r} from central differences")


@pytest.mark.parametrize("s", LEVELS)
def test_far_from_the_data_everything_stays_finite(s):
    # At distance 50 every component's density underflows to 0 in float64; the log-sum-exp and the
    # softmax do not. (pytest turns any RuntimeWarning, e.g. from log(0) or 0/0, into an error.)
    mixture = mixture8()
    x = np.array([[50.0, 0.0], [0.0, -50.0], [1e3, 1e3]])
    log_p, score, mean = mixture.log_density(x, s), mixture.score(x, s), mixture.posterior_mean(x, s)
    assert np.isfinite(log_p).all() and np.isfinite(score).all() and np.isfinite(mean).all()
    # only the nearest mode counts out there: the score points at it, (mu - x) / tau^2
    tau2 = 0.1**2 + s**2
    np.testing.assert_allclose(score[0], (np.array([2.0, 0.0]) - x[0]) / tau2, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(score[1], (np.array([0.0, -2.0]) - x[1]) / tau2, rtol=1e-12, atol=1e-9)


# -- (TM3) the posterior mean ------------------------------------------------------------
@pytest.mark.parametrize("s", [0.05, 0.3, 1.0, 3.0])
@pytest.mark.parametrize("name", list(MIXTURES))
def test_posterior_mean_is_tweedie(name, s):
    mixture = MIXTURES[name]()
    x_tilde = probe_points(mixture)
    tweedie = x_tilde + s**2 * mixture.score(x_tilde, s)  # E[x|x~] = x~ + s^2 grad log p_s(x~)
    np.testing.assert_allclose(mixture.posterior_mean(x_tilde, s), tweedie, rtol=1e-10, atol=1e-10)


@st.composite
def mixtures(draw):
    K = draw(st.integers(1, 4))
    coords = st.floats(-3, 3, allow_nan=False, allow_infinity=False)
    means = [[draw(coords), draw(coords)] for _ in range(K)]
    stds = [draw(st.floats(0.05, 1.0)) for _ in range(K)]
    raw = np.array([draw(st.floats(0.1, 1.0)) for _ in range(K)])
    return GaussianMixture(means, stds, raw / raw.sum())


@given(mixture=mixtures(), s=st.floats(0.01, 2.0), seed=seeds)
def test_tweedie_and_score_on_random_mixtures(mixture, s, seed):
    x = np.random.default_rng(seed).normal(0, 3, (8, 2))
    score = mixture.score(x, s)
    np.testing.assert_allclose(mixture.posterior_mean(x, s), x + s**2 * score, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(score, central_difference_score(mixture, x, s), rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("x_tilde", [(1.0, 0.5), (2.5, -0.4), (-0.3, 1.2)])
def test_posterior_mean_matches_importance_weighted_monte_carlo(x_tilde):
    # E[x | x~] = E_p[x N(x~; x, s^2 I)] / E_p[N(x~; x, s^2 I)]: weight M samples of the data by the
    # likelihood of x~ (self-normalised importance sampling, weights taken in log space).
    mixture, s, M = mixture8(), 0.5, 200_000
    x = mixture.sample(M, seed=1, dtype="float64")  # M,2
    log_w = -((x - np.array(x_tilde)) ** 2).sum(axis=1) / (2 * s**2)  # M
    w = np.exp(log_w - log_w.max())
    w /= w.sum()
    estimate = w @ x  # 2
    # Its standard error (delta method) shrinks like 1/sqrt(effective sample size 1 / sum w^2):
    stderr = np.sqrt(w**2 @ (x - estimate) ** 2)  # 2
    assert 1 / (w**2).sum() > 10_000 and stderr.max() < 0.005  # enough samples for a sharp test
    exact = mixture.posterior_mean(np.array([x_tilde]), s)[0]
    np.testing.assert_allclose(estimate, exact, atol=5 * stderr.max())
    # ...and sharp enough to fail: the noisy input itself is over 20 standard errors away.
    assert np.linalg.norm(estimate - np.array(x_tilde)) > 0.5 > 100 * stderr.max()


def test_posterior_samples_are_the_importance_weighted_posterior():
    # (TM4) against the posterior written without it: data samples weighted by the likelihood of x~.
    # Between two modes the posterior is bimodal; compare its mean, its spread and the share on each side.
    mixture, s = mixture8(), 0.5
    between = (mixture.means[0] + mixture.means[1]) / 2  # halfway between two neighbouring modes
    x_tilde = np.repeat(between[None], 40_000, axis=0)
    draws = mixture.posterior_sample(x_tilde, s, seed=3)  # N,2
    x = mixture.sample(400_000, seed=1, dtype="float64")
    w = np.exp(-((x - between) ** 2).sum(axis=1) / (2 * s**2))
    w /= w.sum()
    side = lambda pts: (pts - between) @ (mixture.means[0] - mixture.means[1]) > 0  # noqa: E731 nearer mode 0
    np.testing.assert_allclose(draws.mean(axis=0), w @ x, atol=0.02)
    np.testing.assert_allclose(draws.std(axis=0), np.sqrt(w @ (x - w @ x) ** 2), rtol=0.03)
    assert abs(side(draws).mean() - w @ side(x)) < 0.01 and 0.4 < side(draws).mean() < 0.6  # two modes
    # Their average is the posterior mean (TM3), within its standard error; and one Gibbs step keeps the data.
    np.testing.assert_allclose(draws.mean(axis=0), mixture.posterior_mean(between[None], s)[0],
                               atol=5 * draws.std(axis=0).max() / np.sqrt(len(draws)))
    data = mixture.sample(100_000, seed=4, dtype="float64")
    step = mixture.posterior_sample(data + s * np.random.default_rng(5).standard_normal(data.shape), s, seed=6)
    np.testing.assert_allclose(np.linalg.norm(step, axis=1).std(), np.linalg.norm(data, axis=1).std(), rtol=0.03)
    np.testing.assert_allclose(mixture.posterior_sample(x_tilde[:5], 0.0, seed=0), x_tilde[:5], rtol=1e-14)  # s = 0


def test_posterior_mean_at_zero_noise_is_the_input():
    mixture = lopsided()
    x = probe_points(mixture)
    np.testing.assert_allclose(mixture.posterior_mean(x, 0.0), x, rtol=1e-14, atol=1e-15)  # sum_k r_k = 1


# -- hand-worked numbers ---------------------------------------------------------------------
def test_single_component_by_hand():
    # One Gaussian at the origin, std 0.1, smoothed with s = 0.3: tau^2 = 0.01 + 0.09 = 0.1.
    g = GaussianMixture([[0.0, 0.0]], 0.1)
    x = np.array([[0.1, 0.0]])
    np.testing.assert_allclose(g.score(x, 0.3), [[-1.0, 0.0]], atol=1e-15)  # (0 - 0.1) / 0.1 = -1
    # (std^2 x~ + s^2 mu) / tau^2 = (0.01 * 0.1 + 0.09 * 0) / 0.1 = 0.01
    np.testing.assert_allclose(g.posterior_mean(x, 0.3), [[0.01, 0.0]], atol=1e-15)
    # log N(x; 0, 0.1 I) = -log(2 pi 0.1) - 0.1^2 / (2 * 0.1) = -log(0.2 pi) - 0.05
    np.testing.assert_allclose(g.log_density(x, 0.3), [-math.log(0.2 * math.pi) - 0.05], rtol=1e-14)


def test_mixture8_has_the_specified_centres():
    m = mixture8()
    k = np.arange(8)
    np.testing.assert_allclose(m.means, np.column_stack([2 * np.cos(2 * np.pi * k / 8),
                                                         2 * np.sin(2 * np.pi * k / 8)]), atol=1e-15)
    np.testing.assert_array_equal(m.stds, np.full(8, 0.1))
    np.testing.assert_array_equal(m.weights, np.full(8, 1 / 8))
    assert m.dim == 2 and m.name == "mixture8"


def test_spiral_and_rings_have_the_documented_parameters():
    sp = spiral()
    assert len(sp.means) == 133 and np.all(sp.stds == 0.1) and np.allclose(sp.weights, 1 / 133)
    r = np.linalg.norm(sp.means, axis=1)
    theta = np.unwrap(np.arctan2(sp.means[:, 1], sp.means[:, 0]))
    np.testing.assert_allclose(r, 0.3 + theta / (2 * np.pi), atol=1e-6)  # on r = 0.3 + theta / (2 pi)
    assert theta[0] == 0 and theta[-1] == pytest.approx(4 * np.pi)
    gaps = np.linalg.norm(np.diff(sp.means, axis=0), axis=1)
    assert 0.12 < gaps.min() and gaps.max() < 0.126  # 1 to 1.5 std: looks like a continuous curve
    assert np.abs(sp.means).max() + 2 * 0.1 <= 2.5 + 1e-12

    ri = rings()
    r = np.linalg.norm(ri.means, axis=1)
    np.testing.assert_allclose(r, [1.0] * 52 + [2.0] * 104)
    gaps = np.linalg.norm(np.diff(ri.means, axis=0), axis=1)
    np.testing.assert_allclose(gaps[:51], 2 * np.sin(np.pi / 52), rtol=1e-12)  # chord on the inner ring
    np.testing.assert_allclose(gaps[52:], 4 * np.sin(np.pi / 104), rtol=1e-12)  # and on the outer ring
    assert 0.1207 < gaps[:51].min() and gaps[52:].max() < 0.1209  # 1.2 std on both


# -- (TM1) the density and sampling -----------------------------------------------------------
@pytest.mark.parametrize("name", list(MIXTURES))
def test_smoothed_density_integrates_to_one(name):
    mixture = MIXTURES[name]()
    h = 0.02  # a tenth of the narrowest tau here; a Riemann sum of Gaussians converges very fast
    xs = np.arange(-5, 5 + h / 2, h)
    X, Y = np.meshgrid(xs, xs)
    p = np.exp(mixture.log_density(np.column_stack([X.ravel(), Y.ravel()]), 0.3))
    assert p.sum() * h * h == pytest.approx(1.0, abs=1e-6)


def test_mixture8_sample_statistics():
    n = 200_000
    x = mixture8().sample(n, seed=3)
    assert x.shape == (n, 2) and x.dtype == np.float32
    # mean 0; covariance (2^2 / 2 + 0.1^2) I = 2.01 I: each coordinate of 2 (cos, sin) has variance 2.
    # Standard errors: mean sqrt(2.01 / n) = 0.003, variance about sqrt(2 * 2.01^2 / n) = 0.006.
    np.testing.assert_allclose(x.mean(axis=0), [0, 0], atol=0.02)
    np.testing.assert_allclose(np.cov(x.T.astype(np.float64)), 2.01 * np.eye(2), atol=0.03)


def test_sample_is_seeded():
    m = lopsided()
    np.testing.assert_array_equal(m.sample(100, seed=5), m.sample(100, seed=5))
    assert not np.array_equal(m.sample(100, seed=5), m.sample(100, seed=6))
    rng = np.random.default_rng(5)
    first, second = m.sample(100, seed=rng), m.sample(100, seed=rng)  # a Generator advances
    np.testing.assert_array_equal(first, m.sample(100, seed=5))
    assert not np.array_equal(first, second)
    assert m.sample(10, dtype="float64").dtype == np.float64


def test_float32_input_gives_float64_answers():
    m = lopsided()
    x32 = m.sample(50, seed=0)  # float32
    x64 = x32.astype(np.float64)
    for f in (m.log_density, m.score, lambda x, s: m.posterior_mean(x, s)):
        out = f(x32, 0.2)
        assert out.dtype == np.float64
        np.testing.assert_array_equal(out, f(x64, 0.2))


def test_many_points_are_computed_in_blocks_with_the_same_answer():
    m = spiral()
    x = m.sample(9000, seed=0, dtype="float64")  # more than one block of rows
    whole = m.score(x, 0.2)
    np.testing.assert_allclose(whole[8000:], m.score(x[8000:], 0.2), rtol=1e-12, atol=1e-12)


# -- the Bayes error -------------------------------------------------------------------------
def test_bayes_error_of_one_gaussian_is_the_closed_form():
    # One Gaussian with std a: E[x|x~] is linear, and its error is a^2 s^2 / (a^2 + s^2) per coordinate.
    a, s = 0.5, 0.3
    result = GaussianMixture([[1.0, -1.0]], a).bayes_error(s, n=50_000)
    assert isinstance(result, BayesError) and float(result) == result.mse
    assert result.stderr < 0.01 * result.mse
    assert result.mse == pytest.approx(a**2 * s**2 / (a**2 + s**2), abs=5 * result.stderr)
    assert result.noisy_mse == pytest.approx(s**2, rel=0.03)


def test_bayes_error_is_below_the_noise_and_falls_with_it():
    m = mixture8()
    results = [m.bayes_error(s, n=20_000, seed=0) for s in (1.0, 0.5, 0.2, 0.05)]
    for r in results:
        assert r.mse < r.s**2 and r.mse < r.noisy_mse
    mses = [r.mse for r in results]
    assert mses == sorted(mses, reverse=True)
    # small s: the modes do not overlap, so each acts like one Gaussian, 0.1^2 s^2 / (0.1^2 + s^2)
    assert results[-1].mse == pytest.approx(0.01 * 0.0025 / 0.0125, abs=5 * results[-1].stderr)
    assert m.bayes_error(0.3, n=1000, seed=4) == m.bayes_error(0.3, n=1000, seed=4)


# -- names, grid, repr -----------------------------------------------------------------------
def test_get_toy_by_name():
    assert set(TOY_DATASETS) >= {"mixture8", "spiral", "rings"}
    for name in TOY_DATASETS:
        assert get_toy(name).name == name
    with pytest.raises(ValueError, match=r"unknown toy data set 'moons'; expected one of: mixture8, spiral"):
        get_toy("moons")


def test_grid_covers_the_data():
    m = mixture8()
    xs, ys, points = m.grid(n=11)
    np.testing.assert_allclose(xs, np.linspace(-2.5, 2.5, 11))
    np.testing.assert_allclose(ys, xs)
    assert points.shape == (121, 2)
    X, Y = np.meshgrid(xs, ys)
    np.testing.assert_array_equal(points[:, 0].reshape(11, 11), X)
    np.testing.assert_array_equal(points[:, 1].reshape(11, 11), Y)


def test_repr():
    assert repr(mixture8()) == "GaussianMixture(mixture8: 8 components in 2-D, std=0.1, equal weights)"
    assert repr(lopsided()) == "GaussianMixture(lopsided: 3 components in 2-D, std=0.1..0.4, unequal weights)"


# -- bad input is refused with a fix ------------------------------------------------------------
@pytest.mark.parametrize("kwargs, match", [
    (dict(means=[0.0, 1.0], std=0.1), r"means must have shape \(K, d\).*got shape \(2,\)"),
    (dict(means=[[0.0, np.nan]], std=0.1), r"means contain NaN"),
    (dict(means=[[0.0, 0.0]], std=-0.1), r"std must be finite and > 0"),
    (dict(means=[[0.0, 0.0]], std=0.0), r"std must be finite and > 0"),
    (dict(means=[[0.0, 0.0], [1.0, 1.0]], std=[0.1, 0.1, 0.1]), r"std must be a number or have shape \(2,\)"),
    (dict(means=[[0.0, 0.0], [1.0, 1.0]], std=0.1, weights=[0.5, 0.6]), r"weights must sum to 1.*w / w.sum"),
    (dict(means=[[0.0, 0.0], [1.0, 1.0]], std=0.1, weights=[1.5, -0.5]), r"weights must be finite and > 0"),
    (dict(means=[[0.0, 0.0], [1.0, 1.0]], std=0.1, weights=[1.0]), r"weights must have shape \(2,\)"),
])
def test_bad_mixtures_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GaussianMixture(**kwargs)


def test_bad_points_and_levels_are_refused():
    m = mixture8()
    with pytest.raises(ValueError, match=r"shape \(n, 2\).*got shape \(2,\).*x.reshape\(1, 2\)"):
        m.score(np.zeros(2), 0.1)
    with pytest.raises(ValueError, match=r"x_tilde must have shape \(n, 2\).*got shape \(4, 3\)"):
        m.posterior_mean(np.zeros((4, 3)), 0.1)
    with pytest.raises(TypeError, match=r"must be a NumPy array, got list.*numpy.asarray"):
        m.log_density([[0.0, 0.0]])
    with pytest.raises(TypeError, match=r"floating-point values, got dtype int64"):
        m.log_density(np.zeros((3, 2), dtype=np.int64))
    with pytest.raises(ValueError, match=r"NaN or inf"):
        m.score(np.array([[np.inf, 0.0]]))
    with pytest.raises(ValueError, match=r"noise level s must be a finite number from 0 to 1e\+150, got -0.1"):
        m.score(np.zeros((1, 2)), -0.1)
    with pytest.raises(ValueError, match=r"noise level s must be a finite number from 0"):
        m.bayes_error(float("nan"))
    with pytest.raises(ValueError, match=r"n must be a whole number from 1 to 100,000,000, got 0"):
        m.sample(0)
    with pytest.raises(TypeError, match=r"seed must be an int >= 0 or a numpy.random.Generator"):
        m.sample(5, seed="zero")
    with pytest.raises(TypeError, match=r"dtype must be a floating-point type, got int32"):
        m.sample(5, dtype="int32")
    with pytest.raises(ValueError, match=r"grid\(\) is for 2-D mixtures, this one is 3-D"):
        GaussianMixture([[0.0, 0.0, 0.0]], 0.1).grid()


def test_mixture_refuses_what_float64_cannot_answer():
    import numpy as np
    import pytest

    from scratchdae.toy import GaussianMixture, get_toy

    with pytest.raises(ValueError, match="overflow float64"):
        get_toy("mixture8").score(1e154 * np.ones((2, 2)))
    with pytest.raises(ValueError, match="its square a normal float64"):
        GaussianMixture([[0, 0]], 1e-200)
    with pytest.raises(ValueError, match="float64 cannot hold"):
        GaussianMixture([[0, 0]], 1e-140).score(np.full((1, 2), 1e30))
    assert np.isfinite(GaussianMixture([[0, 0]], 1e-140).log_density(np.full((1, 2), 1e10))).all()


def test_mixture_and_toys_check_their_arguments_by_name():
    import numpy as np
    import pytest

    from scratchdae.toy import GaussianMixture, get_toy

    m = get_toy("mixture8")
    P = m.sample(5, dtype="float64")
    assert np.array_equal(m.score(P, np.array(0.3)), m.score(P, 0.3))  # a 0-d array is its value
    for call, error, match in [
        (lambda: GaussianMixture([["a", "b"]], 0.1), TypeError, "means must be real numbers"),
        (lambda: GaussianMixture([[1j, 0]], 0.1), TypeError, "means must be real numbers"),
        (lambda: GaussianMixture([[1e200, 0]], 0.1), ValueError, "means as far as 1e\\+200"),
        (lambda: GaussianMixture([[0, 0]], True), TypeError, "std must be a number"),
        (lambda: get_toy(["mixture8"]), TypeError, "name must be a str"),
        (lambda: m.score(P, s=1e200), ValueError, "noise level s must be a finite number from 0 to"),
        (lambda: m.sample(10**13), ValueError, "n must be a whole number from 1 to"),
        (lambda: m.grid(n=10**6), ValueError, "n must be a whole number from 1 to 2,000"),
        (lambda: m.grid(margin=-1), ValueError, "Fix: pass e.g. margin=0.5"),
    ]:
        with pytest.raises(error, match=match):
            call()
