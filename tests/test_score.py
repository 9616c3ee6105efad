"""The score claim: score_field is (r(x) - x)/s^2, the agreement measures mean what they say,
and the toy report compares a model with the exact field and the Bayes error (S1)-(S5)."""
import numpy as np
import pytest

from scratchdae import Autoencoder, GaussianNLL, get_backend, get_toy, score_field
from scratchdae.inference import reconstruct
from scratchdae.score import field_agreement, noise_level, score_report


def test_score_field_is_the_scaled_displacement():
    model = Autoencoder(2, 8, output_activation="identity", seed=0, backend="numpy")
    loss = GaussianNLL(0.1)
    x = np.random.default_rng(0).standard_normal((50, 2)).astype(np.float32)
    psi = score_field(model, loss, x, 0.3)
    assert psi.shape == x.shape and psi.dtype == np.float32
    np.testing.assert_allclose(psi, (reconstruct(model, loss, x) - x) / np.float32(0.09), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="sigma must be a finite number > 0"):
        score_field(model, loss, x, 0.0)


def test_field_agreement_on_known_cases():
    rng = np.random.default_rng(1)
    e = rng.standard_normal((1000, 2))
    same = field_agreement(e, e)
    assert same["cosine"] == pytest.approx(1) and same["mean_cosine"] == pytest.approx(1)
    assert same["rel_l2"] == pytest.approx(0, abs=1e-12) and same["norm_ratio"] == pytest.approx(1)
    double = field_agreement(2 * e, e)
    assert double["cosine"] == pytest.approx(1) and double["norm_ratio"] == pytest.approx(2)
    assert double["rel_l2"] == pytest.approx(1)
    assert field_agreement(-e, e)["cosine"] == pytest.approx(-1)
    # a field right at most points but wrong where the exact one is tiny: every point counts alike in the
    # mean cosine, by its size in the L2(p_s) cosine
    small = e.copy()
    small[:500] *= 1e-3
    wrong = small.copy()
    wrong[:500] *= -1
    a = field_agreement(wrong, small)
    assert a["mean_cosine"] == pytest.approx(0, abs=1e-9) and a["cosine"] > 0.999
    with pytest.raises(ValueError, match=r"must both be \(N, d\)"):
        field_agreement(e[:, :1], e)


class ExactDenoiser:
    """A stand-in model whose reconstruction is the exact posterior mean (TM3): the best possible DAE."""

    def __init__(self, mixture, s):
        self.mixture, self.s = mixture, s
        self.backend, self.dtype = get_backend("numpy"), np.dtype("float64")

    def forward(self, x):
        return {"mean": self.mixture.posterior_mean(x, self.s)}, None


class MeanOnly:
    params = {}

    def reconstruction(self, out):
        return out["mean"]


@pytest.mark.parametrize("name, s", [("mixture8", 0.3), ("spiral", 0.1)])
def test_the_exact_posterior_mean_scores_perfectly(name, s):
    mixture = get_toy(name)
    r = score_report(ExactDenoiser(mixture, s), MeanOnly(), mixture, s, n=4000)
    assert r["field"]["cosine"] == pytest.approx(1, abs=1e-9) and r["field"]["rel_l2"] < 1e-6
    assert r["denoising"]["ratio_to_bayes"] == pytest.approx(1, abs=1e-9)
    assert r["denoising"]["mse_noisy"] == pytest.approx(s * s, rel=0.05)
    assert r["denoising"]["mse_bayes"] < s * s


def test_excess_over_bayes_is_the_score_error(tmp_path):
    """(S5): for any r, E||r - x||^2 - Bayes = E||r - E[x|x~]||^2 = s^4 E||psi - score||^2 (here, within MC error)."""
    mixture, s = get_toy("mixture8"), 0.3
    model = Autoencoder(2, 16, output_activation="identity", seed=3, backend="numpy", dtype="float64")  # untrained
    r = score_report(model, MeanOnly(), mixture, s, n=20000)
    d = r["denoising"]
    assert d["excess"] == pytest.approx(d["mse_model"] - d["mse_bayes"])
    assert d["excess"] == pytest.approx(d["excess_from_score"] + d["cross_term"], rel=1e-9)
    assert abs(d["cross_term"]) < 4 * d["cross_term_se"]  # zero in expectation, because E[x | x~] is exact
    assert d["excess"] == pytest.approx(d["excess_from_score"], rel=0.05)
    assert d["ratio_to_bayes"] > 2 and r["field"]["cosine"] < 0.9  # an untrained net is far from it


@pytest.mark.parametrize("spec", ["masking:0.3", "gaussian:0.3:clip", "salt-pepper:0.1", "none"])
def test_no_score_for_other_corruptions(spec):
    with pytest.raises(ValueError, match=r"unclipped Gaussian noise.*\(S7\)"):
        noise_level(spec)
    assert noise_level("gaussian:0.25") == 0.25


@pytest.mark.slow
def test_a_trained_toy_dae_learns_the_score(tmp_path):
    from scratchdae import train

    result = train(dataset="toy:mixture8", noise="gaussian:0.5", epochs=150, n_points=4000, out=tmp_path / "run",
                   quiet=True, backend="numpy")
    assert result.model.config["decoder_hidden"] == [128] and result.model.config["output_activation"] == "identity"
    assert (tmp_path / "run" / "field.png").is_file()
    r = score_report(tmp_path / "run" / "model.npz", n=5000)
    assert r["toy"] == "mixture8" and r["sigma"] == 0.5
    assert r["field"]["cosine"] > 0.95
    assert r["denoising"]["ratio_to_bayes"] < 1.1


def test_field_agreement_refuses_nan_and_zero_fields():
    import numpy as np
    import pytest

    from scratchdae.score import field_agreement

    ones = np.ones((4, 2))
    with pytest.raises(ValueError, match="NaN or inf at 1 of 4 points"):
        field_agreement(np.where(np.arange(8).reshape(4, 2) == 3, np.nan, 1.0), ones)
    with pytest.raises(ValueError, match="exact field is 0 at every point"):
        field_agreement(np.zeros((4, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="exact field is 0 at every point"):
        field_agreement(np.zeros((0, 2)), np.zeros((0, 2)))


def test_score_field_refuses_inputs_that_overflow():
    import numpy as np
    import pytest

    from scratchdae import Autoencoder, GaussianNLL, score_field

    model = Autoencoder(2, 8, seed=0, backend="numpy", output_activation="identity")
    with pytest.raises(ValueError, match="overflows? float32 inside"):
        score_field(model, GaussianNLL(0.1), np.full((3, 2), 3e38, np.float32), 0.3)


def test_probe_report_refuses_a_model_that_is_not_one():
    import pytest

    from scratchdae import Autoencoder
    from scratchdae.representation import probe_report

    with pytest.raises(TypeError, match=r"models\['a'\] must be a model"):
        probe_report(Autoencoder(784, 8, seed=0), models={"a": 5})


def test_field_agreement_at_any_scale_and_only_for_real_fields():
    import numpy as np
    import pytest

    from scratchdae.score import field_agreement

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(50, 2)), rng.normal(size=(50, 2))
    unit = field_agreement(a, b)
    for scale in (1e200, 1e-200):
        r = field_agreement(a * scale, b * scale)
        assert r == pytest.approx(unit)
    assert field_agreement(a * 1e200, b)["norm_ratio"] == pytest.approx(unit["norm_ratio"] * 1e200)
    tiny = field_agreement(a, b * 1e-170)  # finite, and the same ratios
    assert tiny["cosine"] == pytest.approx(unit["cosine"]) and tiny["norm_ratio"] == pytest.approx(
        unit["norm_ratio"] * 1e170)
    with pytest.raises(TypeError, match="real numbers"):
        field_agreement("a", "b")
    with pytest.raises(TypeError, match="complex field"):
        field_agreement(a + 1j, b)


def test_score_report_refuses_settings_beside_a_model_file(tmp_path):
    import pytest

    from scratchdae.score import score_report

    with pytest.raises(ValueError, match="sigma came with a model file"):
        score_report(tmp_path / "model.npz", sigma=0.0)
