"""The linear probe: softmax regression (LR1)-(LR3), its fit, McNemar's exact test (MN1), bad input."""
import math
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given

from conftest import seeds, sizes, to_numpy
from scratchdae.gradient_check import TOLERANCE, check_softmax_regression, explain, gradcheck
from scratchdae.probe import (LinearProbe, ProbeResult, compare, mcnemar_exact, probe, softmax,
                              softmax_cross_entropy, softmax_regression_backward, softmax_regression_loss)

# -- gradients ------------------------------------------------------------------


@given(n=sizes, f=sizes, seed=seeds)
def test_softmax_regression_matches_central_differences(backend, n, f, seed):
    for lam in (0.0, 0.3):
        errors = check_softmax_regression(backend, seed=seed, n=n + 2, f=f, k=3, lam=lam)
        assert set(errors) == {"X", "W", "b"}
        assert max(errors.values()) <= TOLERANCE, explain(errors)


def test_gradient_check_catches_a_wrong_gradient():
    # Forget the penalty's lam W in (LR3): the check must notice.
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((6, 4)), np.arange(6) % 3
    params = {"W": rng.standard_normal((4, 3)), "b": rng.standard_normal(3)}
    lam = 0.5
    _, grads = softmax_regression_backward(softmax_regression_loss(params, X, y, lam)[1])
    wrong = {"W": grads["W"] - lam * params["W"], "b": grads["b"]}
    errors = gradcheck(lambda: softmax_regression_loss(params, X, y, lam)[0], params, wrong)
    assert errors["W"] > 1e-2 and errors["b"] <= TOLERANCE
    assert "gradient of W differs" in explain(errors) and "of b" not in explain(errors)


# -- a hand-worked number -------------------------------------------------------


def test_softmax_regression_worked_example():
    # X = I (2 examples, 2 features), so Z = W + b row by row; K = 3 classes, lam = 0.1.
    # W = [[2, -1, 0], [0, -1, 0]], b = [0, 1, 0]  ->  Z = [[2, 0, 0], [0, 0, 0]], labels y = (0, 2).
    # Row 1: p = (e^2, 1, 1) / (e^2 + 2) = (0.786986, 0.106507, 0.106507); -log p_0 = log(e^2 + 2) - 2 = 0.239545
    # Row 2: p = (1/3, 1/3, 1/3);                                            -log p_2 = log 3      = 1.098612
    # (LR2): (0.239545 + 1.098612) / 2 + 0.1 / 2 * (4 + 1 + 1) = 0.669079 + 0.3 = 0.969079
    # (LR3): dZ = (P - Y) / 2 = [[-0.106507, 0.053254, 0.053254], [1/6, 1/6, -1/3]]
    #        dW = X^T dZ + 0.1 W = dZ + 0.1 W,   db = column sums of dZ,   dX = dZ W^T
    X = np.eye(2)
    params = {"W": np.array([[2.0, -1.0, 0.0], [0.0, -1.0, 0.0]]), "b": np.array([0.0, 1.0, 0.0])}
    y = np.array([0, 2])
    value, cache = softmax_regression_loss(params, X, y, 0.1)
    assert float(value) == pytest.approx((math.log(math.e**2 + 2) - 2 + math.log(3)) / 2 + 0.3)
    assert float(value) == pytest.approx(0.969079, abs=1e-6)
    dX, grads = softmax_regression_backward(cache)
    np.testing.assert_allclose(grads["W"], [[0.093493, -0.046747, 0.053253], [0.166667, 0.066667, -0.333333]],
                               atol=1e-6)
    np.testing.assert_allclose(grads["b"], [0.060160, 0.219920, -0.280080], atol=1e-6)
    np.testing.assert_allclose(dX, [[-0.266267, -0.053253], [1 / 6, -1 / 6]], atol=1e-6)
    np.testing.assert_allclose(to_numpy(softmax(X @ params["W"] + params["b"]))[0],
                               [0.786986, 0.106507, 0.106507], atol=1e-6)


def test_softmax_is_stable_for_huge_logits():
    Z = np.array([[1e4, 0.0, -1e4], [1e4, 1e4, 1e4], [-1e4, -1e4, -1e4 + 1]], dtype=np.float32)
    y = np.array([2, 0, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # overflow in exp, log(0), 0/0 would all warn
        P = softmax(Z)
        value, cache = softmax_cross_entropy(Z, y)
        _, grads = softmax_regression_backward(softmax_regression_loss(
            {"W": np.eye(3, dtype=np.float32), "b": np.zeros(3, np.float32)}, Z, y, 0.0)[1], need_dx=True)
    assert np.isfinite(P).all() and np.isfinite(float(value)) and all(np.isfinite(g).all() for g in grads.values())
    np.testing.assert_allclose(P[0], [1, 0, 0])
    np.testing.assert_allclose(P[1], [1 / 3] * 3, rtol=1e-6)
    # row 1: -log p_2 = 2e4; row 2: log 3; row 3: log(2 + e) - 1
    assert float(value) == pytest.approx((2e4 + math.log(3) + math.log(2 + math.e) - 1) / 3, rel=1e-6)
    assert P.dtype == np.float32 and value.dtype == np.float32


# -- fitting ----------------------------------------------------------------------


def blobs(n, seed, n_features=5, k=3, shift=8.0):
    """k Gaussian blobs of unit variance, centred at shift times the first k axes.

    Two centres are shift * sqrt(2) apart, so with shift = 8 a point lands past the
    half-way plane with probability Phi(-5.7) ~ 1e-8: linearly separable in practice.
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    centres = np.eye(k, n_features) * shift
    return (centres[y] + rng.standard_normal((n, n_features))).astype(np.float32), y


FAST = dict(epochs=5, lams=(1e-3, 1e-2))


def test_probe_separates_separable_data():
    X, y = blobs(600, 0)  # one draw, so train and test share the blobs' centres
    X, Xt, y, yt = X[:400], X[400:], y[:400], y[400:]
    result = probe(X, y, Xt, yt, lams=(1e-3, 1e-2))  # the default 20 epochs
    assert isinstance(result, ProbeResult)
    assert result.accuracy == 1.0 and result.model.accuracy(X, y) == 1.0
    assert result.correct.dtype == bool and result.correct.shape == (200,)
    assert result.lam in (1e-3, 1e-2) and set(result.val_accuracies) == {1e-3, 1e-2}
    assert result.seconds > 0 and result.model.history[-1] < result.model.history[0]


def test_probe_is_at_chance_on_random_labels():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((2000, 20)).astype(np.float32)
    y = rng.integers(0, 4, 2000)
    result = probe(X[:1500], y[:1500], X[1500:], y[1500:], **FAST)
    assert abs(result.accuracy - 0.25) < 0.08  # 500 test rows: the std of chance accuracy is 0.019


def test_probe_is_deterministic_and_keeps_float32():
    X, y = blobs(300, 2, shift=1.0)  # overlapping blobs: predictions depend on the fit
    X[:, 0] = 0.0  # a constant column, like a border pixel: the std floor keeps it finite
    a = LinearProbe(seed=3, **FAST).fit(X, y)
    b = LinearProbe(seed=3, **FAST).fit(X, y)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    np.testing.assert_array_equal(a.params["W"], b.params["W"])
    assert a.val_accuracies == b.val_accuracies and a.lam == b.lam
    assert all(p.dtype == np.float32 for p in a.params.values())
    assert a.mean.dtype == a.scale.dtype == a.predict_proba(X).dtype == np.float32
    assert np.all(a.params["W"][0] == 0)  # the constant feature gets no gradient
    assert "5 features -> 3 classes" in repr(a)
    c = LinearProbe(seed=4, **FAST).fit(X, y)
    assert not np.array_equal(a.params["W"], c.params["W"])  # the seed matters


def test_given_validation_rows_and_a_single_lam():
    X, y = blobs(500, 5)
    single = LinearProbe(lams=(1e-3,), epochs=3).fit(X, y)
    assert single.lam == 1e-3 and single.val_accuracies == {}
    given_val = LinearProbe(epochs=3, lams=(1e-4, 1e-1)).fit(X[:400], y[:400], X_val=X[400:], y_val=y[400:])
    assert set(given_val.val_accuracies) == {1e-4, 1e-1} and given_val.lam in (1e-4, 1e-1)
    assert given_val.accuracy(X[400:], y[400:]) >= 0.95


def test_probe_runs_on_each_backend(backend):
    # CuPy draws other random numbers than NumPy: compare outcomes, not draws.
    X, y = blobs(400, 6)
    Xb = backend.asarray(X)  # labels may stay NumPy: they are copied to the features' device
    result = probe(Xb[:300], y[:300], Xb[300:], y[300:], lams=(1e-3, 1e-2))
    assert result.accuracy == 1.0 and result.model.params["W"].dtype == np.float32
    assert mcnemar_exact(result.correct, result.correct)["p"] == 1.0


# -- McNemar's exact test (MN1) ------------------------------------------------------


def pairs(b, c, both=3, neither=2):
    """Correctness vectors with b (A right, B wrong) and c (A wrong, B right) discordant pairs."""
    a = np.array([True] * b + [False] * c + [True] * both + [False] * neither)
    bb = np.array([False] * b + [True] * c + [True] * both + [False] * neither)
    return a, bb


@pytest.mark.parametrize("b,c,p", [(0, 0, 1.0), (10, 0, 2 / 1024), (5, 5, 1.0), (0, 1, 1.0), (1, 5, 0.21875)])
def test_mcnemar_worked_values(b, c, p):
    # (1, 5): n = 6, 2 (C(6,0) + C(6,1)) / 2^6 = 2 * 7 / 64 = 0.21875;  (0, 1): 2 * 1 / 2 = 1
    r = mcnemar_exact(*pairs(b, c))
    assert (r["b"], r["c"], r["n"]) == (b, c, b + c)
    assert r["p"] == pytest.approx(p, rel=1e-15)


def test_mcnemar_matches_a_direct_binomial_sum_and_is_symmetric():
    a, bb = pairs(3, 12)
    # P(X <= 3) + P(X >= 12) for X ~ Binomial(15, 1/2), summed term by term in floats
    direct = sum(math.comb(15, i) * 0.5**15 for i in range(16) if i <= 3 or i >= 12)
    assert mcnemar_exact(a, bb)["p"] == pytest.approx(direct, rel=1e-12)
    ab, ba = mcnemar_exact(a, bb), mcnemar_exact(bb, a)
    assert (ab["b"], ab["c"]) == (ba["c"], ba["b"]) and ab["p_exact"] == ba["p_exact"]


def test_mcnemar_does_not_underflow():
    r = mcnemar_exact(*pairs(1000, 0))
    assert r["p_exact"] == Fraction(2, 2**1000)  # exact
    assert 0 < r["p"] == pytest.approx(2.0**-999)
    huge = mcnemar_exact(*pairs(1500, 3))  # p ~ 1e-446: below every float, but exact
    assert huge["p_exact"] > 0 and huge["p"] == 0.0


def test_compare_pairs_every_result():
    X, y = blobs(600, 7, shift=1.0)
    res = {"all": probe(X[:450], y[:450], X[450:], y[450:], **FAST),
           "two": probe(X[:450, :2], y[:450], X[450:, :2], y[450:], **FAST)}
    table = compare({**res, "raw": res["all"].correct})
    assert list(table) == [("all", "two"), ("all", "raw"), ("two", "raw")]
    assert table[("all", "raw")] == {"b": 0, "c": 0, "n": 0, "p": 1.0, "p_exact": 1}
    assert 0 <= table[("all", "two")]["p"] <= 1


# -- bad input --------------------------------------------------------------------------


Z42 = np.zeros((4, 2), np.float32)
Y4 = np.array([0, 1, 1, 0])


@pytest.mark.parametrize("X,y,err,match", [
    (Z42, np.array([0, 1, 2, 5]), None, None),  # fine: classes 0..5, some unseen
    (Z42, np.array([0, 1, -1, 1]), ValueError, r"class labels in 0\.\.K-1, got values from -1"),
    (Z42, Y4[:3], ValueError, "3 labels but the features have 4 rows"),
    (Z42[:, 0], Y4, ValueError, r"2 dimensions.*reshape"),
    (Z42, Y4.astype(float), TypeError, r"integer class labels.*astype\('int64'\)"),
    (Z42, Y4.astype(bool), TypeError, "integer class labels"),
    (Z42, [0, 1, 1, 0], TypeError, "array of integer labels"),
    (Z42, np.zeros((4, 3), int), ValueError, "must be 1-D"),
    (np.full((4, 2), np.nan, np.float32), Y4, ValueError, "NaN or inf"),
    (Z42.astype(np.uint8), Y4, TypeError, "floating-point"),
    (Z42, np.zeros(4, int), ValueError, "at least 2"),
])
def test_bad_fit_input(X, y, err, match):
    model = LinearProbe(lams=(1e-3,), epochs=1)
    if err is None:
        assert model.fit(X, y).params["W"].shape == (2, 6)
        return
    with pytest.raises(err, match=match):
        model.fit(X, y)


def test_bad_predict_and_test_input():
    X, y = blobs(100, 8)
    with pytest.raises(ValueError, match="not fitted yet"):
        LinearProbe().predict(X)
    model = LinearProbe(lams=(1e-3,), epochs=1, n_classes=3).fit(X, y)
    with pytest.raises(ValueError, match=r"labels in 0\.\.2, got values from 0 to 3"):
        model.accuracy(X, np.where(y == 2, 3, y))
    with pytest.raises(ValueError, match="5 features"):
        model.predict(X[:, :4])
    with pytest.raises(TypeError, match="float32"):
        model.predict(X.astype(np.float64))  # no silent casts
    with pytest.raises(ValueError, match="both X_val and y_val"):
        LinearProbe().fit(X, y, X_val=X)
    with pytest.raises(ValueError, match=r"labels in 0\.\.1"):
        LinearProbe(n_classes=2).fit(X, y)
    with pytest.raises(ValueError, match="lams must be"):
        LinearProbe(lams=())
    with pytest.raises(ValueError, match="at least one row on each side"):
        LinearProbe(val_fraction=0.1).fit(X[:3], y[:3])


def test_bad_mcnemar_input():
    a = np.array([True, False, True])
    with pytest.raises(ValueError, match="same test set"):
        mcnemar_exact(a, a[:2])
    with pytest.raises(TypeError, match="boolean.*predictions == labels"):
        mcnemar_exact(a.astype(int), a)
    with pytest.raises(ValueError, match="1-D"):
        mcnemar_exact(a[None], a[None])


# -- real digits ---------------------------------------------------------------------------


@pytest.mark.slow
def test_probe_on_raw_pixels_of_the_bundled_digits():
    from scratchdae.data import load_dataset

    d = load_dataset("mnist-sample", log=lambda *a: None)
    X = d.train_images.reshape(len(d.train_images), -1).astype(np.float32) / 255  # 7000,784 in [0, 1]
    Xt = d.test_images.reshape(len(d.test_images), -1).astype(np.float32) / 255  # 1000,784
    result = probe(X, d.train_labels, Xt, d.test_labels, seed=0)  # uint8 labels are integers too
    # 0.922 with lam = 0.01 chosen; about 1.3 s on 2 idle cores. No time bound here: on a shared
    # machine OpenBLAS threads fighting other processes made the same fit take over a minute.
    assert result.accuracy > 0.88, result
    assert result.lam in result.val_accuracies and result.seconds > 0


def test_probe_on_the_strict_cupy_stand_in(monkeypatch):
    # tests/fake_cupy.py refuses to mix host and device arrays, as CuPy does: the probe's CuPy path
    # (labels copied to the device, shuffles drawn there, McNemar copying back to the host) runs here.
    import scratchdae.backend as backend_module
    from fake_cupy import DeviceArray, fake

    device = backend_module.Backend("cupy", fake)
    monkeypatch.setattr(backend_module, "_CUPY", device)
    X, y = blobs(400, 9)
    Xd = device.asarray(X)
    result = probe(Xd[:300], y[:300], Xd[300:], y[300:], lams=(1e-3, 1e-2))  # NumPy labels
    assert isinstance(result.correct, DeviceArray) and isinstance(result.model.params["W"], DeviceArray)
    assert result.accuracy == 1.0 and result.model.params["W"].dtype == np.float32
    assert compare({"a": result, "b": result})[("a", "b")]["n"] == 0


def test_mcnemar_is_exact_and_quick_for_many_discordant_digits():
    # 29,000 discordant pairs: the tail as a sum of binomial coefficients, each from the one before;
    # it agrees with the regularised incomplete beta function, 2 I_{1/2}(n - k, k + 1)
    from scratchdae.stats import betainc

    for b, c in ((15_000, 14_000), (10_000, 10_000), (400, 520)):
        a = np.array([True] * b + [False] * c)
        r = mcnemar_exact(a, ~a)
        n, k = b + c, min(b, c)
        assert r["n"] == n
        assert r["p"] == pytest.approx(min(1.0, 2 * betainc(n - k, k + 1, 0.5)), rel=1e-9)
    assert mcnemar_exact(np.array([True] * 10_000 + [False] * 10_000),
                         np.array([False] * 10_000 + [True] * 10_000))["p_exact"] == 1


def test_probe_refuses_labels_that_are_not_class_numbers():
    X = np.random.default_rng(0).random((20, 3))
    y = np.zeros(20, dtype=np.int64)
    y[0] = 1_000_000_000  # would make a 3 x 1e9 weight matrix
    with pytest.raises(ValueError, match="number the classes from 0"):
        LinearProbe(lams=0.0, epochs=1).fit(X, y)


@pytest.mark.parametrize("kw,error,match", [
    (dict(lams=float("inf")), ValueError, "finite"),
    (dict(lams=(0.0, float("nan"))), ValueError, "finite"),
    (dict(lams=0.0, lr=1e30), ArithmeticError, "diverged"),
    (dict(lams=0.0, lr=1e30, dtype32=True), ArithmeticError, "diverged"),
])
def test_probe_refuses_settings_that_give_nan(kw, error, match):
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(60, 4)) * 1e3, rng.integers(0, 3, 60)
    if kw.pop("dtype32", False):
        X = X.astype(np.float32)
    with pytest.raises(error, match=match):
        LinearProbe(epochs=3, **kw).fit(X, y)


@pytest.mark.parametrize("kw,error,match", [
    (dict(seed=-1), ValueError, "seed must be an integer >= 0"),
    (dict(seed=None), ValueError, "seed must be an integer >= 0"),
    (dict(seed=1.5), ValueError, "seed must be an integer >= 0"),
    (dict(seed="0"), ValueError, "seed must be an integer >= 0"),
    (dict(epochs=True), ValueError, "epochs must be a positive int"),
    (dict(n_classes=True), ValueError, "n_classes must be an int"),
    (dict(lams="0.1"), ValueError, "lams must be a non-empty list"),
])
def test_probe_settings_are_checked_up_front(kw, error, match):
    with pytest.raises(error, match=match):
        LinearProbe(**kw)


def test_probe_takes_numpy_numbers_for_its_settings():
    p = LinearProbe(lams=np.float32(0.1), epochs=np.int64(2), n_classes=np.int64(3), seed=np.int64(1))
    assert p.lams == (pytest.approx(0.1),) and p.epochs == 2 and p.n_classes == 3
    assert LinearProbe(lams=[np.float32(0.1), 0.01]).lams == (0.01, pytest.approx(0.1))


def test_probe_names_float16_features_and_refuses_an_empty_test_set():
    rng = np.random.default_rng(0)
    X, y = rng.random((30, 3)), rng.integers(0, 2, 30)
    with pytest.raises(TypeError, match=r"X must be float32 or float64 features, got float16. Fix: X.astype"):
        LinearProbe(lams=0.0, epochs=1).fit(X.astype(np.float16), y)
    p = LinearProbe(lams=0.0, epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="X has no rows"):
        p.accuracy(X[:0], y[:0])
    with pytest.raises(ValueError, match="X has no rows"):
        probe(X, y, X[:0], y[:0], lams=0.0, epochs=1)
