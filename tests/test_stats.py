"""Testing a claim over seeds: Student's t (ST3) and its quantile, the contrast test (ST1)-(ST4), Holm (ST5)."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scratchdae.stats import betainc, contrast_test, holm, t_quantile, t_two_sided


# -- the t distribution --------------------------------------------------------

def test_betainc_closed_forms():
    for x in (0.0, 0.1, 0.5, 0.93, 1.0):
        assert betainc(1.0, 1.0, x) == pytest.approx(x, abs=1e-15)  # uniform
        assert betainc(3.0, 1.0, x) == pytest.approx(x**3, rel=1e-13, abs=1e-15)  # I_x(a, 1) = x^a
        assert betainc(1.0, 2.5, x) == pytest.approx(1 - (1 - x) ** 2.5, rel=1e-13, abs=1e-15)


@pytest.mark.parametrize("t", [0.0, 0.3, 1.0, 2.5, 12.0, 300.0])
def test_t_two_sided_closed_forms(t):
    # df = 1 is the Cauchy distribution, df = 2 has P(|T| > t) = 1 - t / sqrt(2 + t^2)
    assert t_two_sided(t, 1) == pytest.approx(1 - 2 / math.pi * math.atan(t), rel=1e-12)
    assert t_two_sided(t, 2) == pytest.approx(1 - t / math.sqrt(2 + t * t), rel=1e-10)
    assert t_two_sided(-t, 2) == t_two_sided(t, 2)


def test_t_two_sided_tends_to_the_normal():
    assert t_two_sided(1.959963984540054, 1e7) == pytest.approx(0.05, rel=1e-5)


def test_t_agrees_with_scipy():
    stats = pytest.importorskip("scipy.stats")
    for df in (1, 2, 3.7, 4, 10, 57.3, 1000, 1e5):
        for t in (0.0, 0.5, 1.96, 3.0, 10.0, 40.0):
            want = 2 * stats.t.sf(t, df)
            assert t_two_sided(t, df) == pytest.approx(want, rel=1e-9, abs=1e-300), (t, df)
        for q in (0.1, 0.8, 0.975, 0.9999):
            assert t_quantile(q, df) == pytest.approx(stats.t.ppf(q, df), rel=1e-8), (q, df)


@settings(max_examples=60, deadline=None)
@given(q=st.floats(0.501, 0.9999), df=st.floats(0.5, 5000))
def test_t_quantile_inverts_the_tail(q, df):
    t = t_quantile(q, df)
    assert t > 0
    assert t_two_sided(t, df) == pytest.approx(2 * (1 - q), rel=1e-7)
    assert t_quantile(1 - q, df) == pytest.approx(-t, rel=1e-9)


def test_t_bad_input():
    with pytest.raises(ValueError, match="degrees of freedom"):
        t_two_sided(1.0, 0)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        t_quantile(1.0, 3)
    with pytest.raises(ValueError, match="0 <= x <= 1"):
        betainc(1, 1, 1.5)


# -- Holm ------------------------------------------------------------------------

def test_holm_worked_example():
    # sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> kept at 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([]) == []
    assert holm([0.7]) == [0.7]
    assert holm([0.4, 0.5]) == [0.8, 0.8]


@given(st.lists(st.floats(0, 1), min_size=1, max_size=30))
def test_holm_properties(p):
    a = holm(p)
    assert all(pi <= ai <= 1 for pi, ai in zip(p, a))  # never below the raw p, never above 1
    assert min(a) == pytest.approx(min(1.0, len(p) * min(p)))  # the smallest is Bonferroni's
    order = sorted(range(len(p)), key=lambda i: p[i])
    assert all(a[i] <= a[j] for i, j in zip(order, order[1:]))  # the order is kept


def test_holm_bad_input():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([0.1, 1.2])


# -- the contrast over seeds and digits -------------------------------------------

def test_contrast_by_hand():
    # two codes, two seeds, three digits
    a = np.array([[1, 1, 0], [1, 1, 1]])
    b = np.array([[1, 0, 0], [0, 1, 0]])
    r = contrast_test(np.stack([a, b]), (1, -1))
    D = a - b  # [[0, 1, 0], [1, 0, 1]]
    m, g = D.mean(1), D.mean(0)  # seeds 1/3, 2/3; digits 0.5, 0.5, 0.5
    seed_term, digit_term = np.var(m, ddof=1) / 2, np.var(g, ddof=1) / 3  # 1/36, 0
    assert r["estimate"] == pytest.approx(0.5)
    assert r["per_seed"] == pytest.approx([1 / 3, 2 / 3])
    assert r["seed_term"] == pytest.approx(seed_term) and r["digit_term"] == pytest.approx(digit_term)
    assert r["se"] == pytest.approx(1 / 6)
    assert r["df"] == pytest.approx(1.0)  # the seed term alone: K - 1
    assert r["t"] == pytest.approx(3.0)
    assert r["p"] == pytest.approx(1 - 2 / math.pi * math.atan(3.0))  # t with 1 df is Cauchy


def test_contrast_holds_its_level_under_the_null():
    # equal codes with a seed effect: false alarms at 0.05 stay at or below about 5%
    rng = np.random.default_rng(0)
    alarms = 0
    for _ in range(300):
        base = rng.uniform(0.7, 1.0, (1, 1, 400))
        prob = np.clip(base + rng.normal(0, 0.01, (2, 5, 1)), 0, 1)
        alarms += contrast_test(rng.random((2, 5, 400)) < prob, (1, -1))["p"] < 0.05
    assert alarms / 300 <= 0.07


def test_contrast_finds_a_real_difference_and_counts_the_seeds():
    rng = np.random.default_rng(1)
    base = rng.uniform(0.7, 0.95, (1, 1, 2000))
    steady = rng.random((2, 5, 2000)) < base + np.array([0.04, 0.0])[:, None, None]
    r = contrast_test(steady, (1, -1))
    assert 0.02 < r["estimate"] < 0.06 and r["p"] < 1e-6
    # the same mean difference, but the better code's seeds scatter: the seed term grows and p with it
    spread = np.array([0.0, 0.08, -0.04, 0.09, 0.07])[None, :, None] * np.array([1, 0])[:, None, None]
    shaky = rng.random((2, 5, 2000)) < np.clip(base + spread, 0, 1)
    s = contrast_test(shaky, (1, -1))
    assert s["seed_term"] > 10 * r["seed_term"] and s["p"] > r["p"]
    assert s["detectable"] > r["detectable"]


def test_contrast_trend_weights():
    # accuracy rising by 0.1 per unit of the level: the least-squares slope recovers it
    rng = np.random.default_rng(2)
    levels = np.array([0.0, 0.1, 0.3, 0.5])
    w = (levels - levels.mean()) / ((levels - levels.mean()) ** 2).sum()
    c = rng.random((4, 6, 20000)) < (0.8 + 0.1 * levels)[:, None, None]
    r = contrast_test(c, w)
    assert r["estimate"] == pytest.approx(0.1, abs=0.02)


def test_contrast_identical_codes():
    c = np.ones((2, 3, 10), dtype=bool)
    r = contrast_test(c, (1, -1))
    assert r["estimate"] == 0 and r["p"] == 1.0 and r["se"] == 0.0


@pytest.mark.parametrize("shape,weights,match", [
    ((2, 3), (1, -1), "codes, seeds, digits"),
    ((2, 3, 10), (1, -1, 0), "one number per code"),
    ((2, 3, 10), (1, 1), "sum to 0"),
    ((2, 1, 10), (1, -1), "at least 2 seeds"),
])
def test_contrast_bad_input(shape, weights, match):
    with pytest.raises(ValueError, match=match):
        contrast_test(np.zeros(shape, dtype=bool), weights)


def test_contrast_refuses_accuracies():
    with pytest.raises(TypeError, match=r"astype\(bool\)"):
        contrast_test(np.full((2, 3, 10), 0.9), (1, -1))
    with pytest.raises(ValueError, match="0/1"):
        contrast_test(np.full((2, 3, 10), 2), (1, -1))


def test_contrast_is_the_same_whatever_the_weights_scale():
    rng = np.random.default_rng(3)
    c = rng.random((2, 5, 300)) < np.array([0.9, 0.85])[:, None, None]
    unit = contrast_test(c, (1, -1))
    for scale in (1e-300, 1e300):
        r = contrast_test(c, (scale, -scale))
        assert r["p"] == pytest.approx(unit["p"]) and r["df"] == pytest.approx(unit["df"])
        assert r["estimate"] == pytest.approx(unit["estimate"] * scale)
        assert r["se"] == pytest.approx(unit["se"] * scale)


@pytest.mark.parametrize("kw,error,match", [
    (dict(alpha=1.5), ValueError, "alpha must be strictly between 0 and 1"),
    (dict(alpha=0), ValueError, "alpha must be"),
    (dict(alpha=float("nan")), ValueError, "alpha must be"),
    (dict(alpha="0.05"), TypeError, "alpha must be a real number"),
    (dict(power=1), ValueError, "power must be"),
    (dict(weights=(0, 0)), ValueError, "all 0"),
    (dict(weights=("a", "b")), TypeError, "weights must be real numbers"),
])
def test_contrast_checks_its_settings(kw, error, match):
    args = dict(correct=np.ones((2, 3, 10), dtype=bool), weights=(1, -1))
    args.update(kw)
    with pytest.raises(error, match=match):
        contrast_test(**args)


def test_contrast_needs_codes():
    with pytest.raises(ValueError, match="no codes"):
        contrast_test(np.ones((0, 3, 10), dtype=bool), [])


def test_t_for_huge_degrees_of_freedom_is_the_normal():
    assert t_two_sided(2.0, 1e300) == pytest.approx(math.erfc(2 / math.sqrt(2)), rel=1e-12)
    assert t_two_sided(2.0, math.inf) == pytest.approx(0.0455002638963584, rel=1e-12)
    assert t_quantile(0.975, 1e300) == pytest.approx(1.959963984540054, rel=1e-12)
    assert t_quantile(0.975, math.inf) == pytest.approx(1.959963984540054, rel=1e-12)


@pytest.mark.parametrize("call,error,match", [
    (lambda: t_two_sided("2", 10), TypeError, "t must be a real number"),
    (lambda: t_two_sided(2.0, "10"), TypeError, "df must be a real number"),
    (lambda: t_two_sided(np.array([1.0, 2.0]), 10), TypeError, "t must be a real number"),
    (lambda: t_two_sided(float("nan"), 10), ValueError, "t is NaN"),
    (lambda: t_two_sided(1.0, float("nan")), ValueError, "degrees of freedom"),
    (lambda: t_quantile("0.9", 5), TypeError, "q must be a real number"),
    (lambda: betainc("2", 3, 0.4), TypeError, "a must be a real number"),
    (lambda: betainc(2, 3, np.array([0.4, 0.5])), TypeError, "x must be a real number"),
    (lambda: betainc(2, math.inf, 0.4), ValueError, "finite a > 0 and b > 0"),
    (lambda: betainc(math.inf, 3, 0.4), ValueError, "finite a > 0 and b > 0"),
])
def test_t_and_beta_name_what_is_wrong(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_t_takes_numpy_scalars_and_0d_arrays():
    assert t_two_sided(np.float32(2.0), np.int64(10)) == pytest.approx(t_two_sided(2.0, 10))
    assert t_two_sided(np.array(2.0), 10) == pytest.approx(t_two_sided(2.0, 10))


@pytest.mark.parametrize("bad,error,match", [
    (0.05, TypeError, "list of p-values"),
    ("0.05", TypeError, "list of p-values"),
    ({0.01, 0.02}, TypeError, "a set has no order"),
    (np.array([[0.1, 0.2]]), ValueError, "1-D"),
    ([None], TypeError, "each p-value must be a real number"),
    ([True, False], TypeError, "each p-value must be a real number"),
    ([0.1, float("nan")], ValueError, r"\[0, 1\]"),
])
def test_holm_refuses_what_is_not_a_list_of_p_values(bad, error, match):
    with pytest.raises(error, match=match):
        holm(bad)


def test_holm_takes_a_numpy_array():
    assert holm(np.array([0.01, 0.04])) == pytest.approx([0.02, 0.04])
