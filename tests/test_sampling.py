"""The DAE Markov chain (MC1), sampling from each decoder's p(x | h), the sample measures,
and the probe and sample commands."""
import json
import subprocess
import sys

import numpy as np
import pytest

from scratchdae import (MSE, Autoencoder, BernoulliNLL, GaussianNLL, GaussianNLLLearnedSigma,
                        HeteroscedasticGaussianNLL, get_backend, get_corruption, markov_chain)
from scratchdae.sampling import (class_switches, copy_test, grey_fraction, mixture_chain, mode_statistics,
                                 nearest_distances, sample_quality)
from scratchdae.toy import get_toy

be = get_backend("numpy")


def test_each_likelihood_samples_its_own_distribution():
    rng = be.rng(0)
    mu = np.full((20000, 3), 0.3, np.float32)
    g = GaussianNLL(0.2).sample({"mean": mu}, rng)
    assert g.dtype == np.float32 and abs(g.mean() - 0.3) < 0.01 and abs(g.std() - 0.2) < 0.01
    learned = GaussianNLLLearnedSigma(0.5, backend="numpy").sample({"mean": mu}, rng)
    assert abs(learned.std() - 0.5) < 0.02
    hetero = HeteroscedasticGaussianNLL(0.0).sample({"mean": mu, "log_var": np.full_like(mu, np.log(0.01))}, rng)
    assert abs(hetero.std() - 0.1) < 0.01
    b = BernoulliNLL().sample({"mean": np.zeros_like(mu)}, rng)  # logits 0: p = 0.5
    assert set(np.unique(b)) == {0.0, 1.0} and abs(b.mean() - 0.5) < 0.01 and b.dtype == np.float32
    np.testing.assert_array_equal(MSE().sample({"mean": mu}, rng), mu)  # not a likelihood: the mean


def test_markov_chain_checks_its_steps():
    model = Autoencoder(6, 4, seed=0, backend="numpy")
    args = (model, GaussianNLL(0.1), get_corruption("gaussian:0.5"), np.zeros((2, 6), np.float32))
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        markov_chain(*args, 0, be.rng(0))
    with pytest.raises(ValueError, match="keep must list steps from 1 to 3"):
        markov_chain(*args, 3, be.rng(0), keep=[5])


def test_markov_chain_keeps_its_snapshots_and_is_reproducible():
    model = Autoencoder(6, 4, seed=0, backend="numpy")
    x0 = np.random.default_rng(0).random((3, 6), dtype=np.float32)
    args = (model, GaussianNLL(0.1), get_corruption("gaussian:0.5"), x0, 7)
    snaps, x = markov_chain(*args, be.rng(1), keep=[1, 7])
    again, _ = markov_chain(*args, be.rng(1), keep=[1, 7])
    assert sorted(snaps) == [1, 7] and snaps[7].shape == (3, 6) and x.shape == (3, 6)
    np.testing.assert_array_equal(snaps[7], again[7])
    default, _ = markov_chain(*args, be.rng(1))
    assert max(default) == 7


def test_without_noise_the_mean_chain_iterates_the_reconstruction():
    model = Autoencoder(6, 4, seed=0, backend="numpy")
    loss = GaussianNLL(0.1)
    x0 = np.random.default_rng(0).random((2, 6), dtype=np.float32)
    snaps, _ = markov_chain(model, loss, get_corruption("none"), x0, 2, be.rng(0), sample_decoder=False)
    np.testing.assert_allclose(snaps[2], model.reconstruct(model.reconstruct(x0)), rtol=1e-6)


def test_nearest_distances_match_brute_force():
    rng = np.random.default_rng(2)
    a, b = rng.random((30, 5)), rng.random((40, 5))
    brute = np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1)).min(1)
    np.testing.assert_allclose(nearest_distances(a, b, batch_size=7), brute, atol=1e-9)
    self_brute = np.sqrt(((b[:, None] - b[None]) ** 2).sum(-1) + np.diag(np.full(40, np.inf))).min(1)
    np.testing.assert_allclose(nearest_distances(b, b, exclude_self=True, batch_size=9), self_brute, atol=1e-9)


def _blur3(x):
    """Each pixel the mean of its 3x3 neighbourhood: a blurred copy of each image."""
    im = np.pad(x.reshape(-1, 28, 28), ((0, 0), (1, 1), (1, 1)))
    return np.mean([im[:, i:i + 28, j:j + 28] for i in range(3) for j in range(3)], axis=0).reshape(-1, 784)


def test_sample_quality_sees_copies_and_blurs():
    from scratchdae.representation import labelled_digits

    x_tr, _, x_te, _, _ = labelled_digits()
    x_tr, x_te = x_tr[:2000], x_te[:400]
    copies = sample_quality(x_tr[:200], x_tr, x_te)
    assert copies["copies"] == 1.0 and copies["nn_ratio"] < 1e-6
    real = sample_quality(x_te[200:], x_tr, x_te)  # the held-out half itself
    assert real["copies"] == pytest.approx(0.05, abs=0.011) and real["copies_test"] == real["copies"]
    assert 0.8 < real["nn_ratio"] < 1.2 and 0.9 < real["grey_ratio"] < 1.1
    # blurred copies of training digits are copies; blurred test digits are not
    blurred_copies = sample_quality(_blur3(x_tr[:200]), x_tr, x_te)
    blurred_new = sample_quality(_blur3(x_te[200:]), x_tr, x_te)
    assert blurred_copies["copies"] > 0.4 and blurred_new["copies"] < 0.05
    assert blurred_copies["grey_ratio"] > 1.3 and blurred_new["grey_ratio"] > 1.3
    averages = np.stack([x_te[i:i + 8].mean(0) for i in range(0, 200)])  # averages of 8 digits
    assert sample_quality(averages, x_tr, x_te)["grey_ratio"] > 1.3
    assert grey_fraction(np.array([0.0, 0.5, 1.0, 1.0])) == pytest.approx(1 / 3)


def test_copy_test_bad_input():
    x = np.zeros((5, 4))
    with pytest.raises(ValueError, match="quantile"):
        copy_test(x, x, x, x, quantile=1.5)
    with pytest.raises(ValueError, match="at least 20 test digits"):
        sample_quality(x, x, x)


class ByFirstPixel:
    """A stand-in classifier: class 1 when the first pixel is bright."""

    def predict(self, x):
        return (x[:, 0] > 0.5).astype(int)


def test_class_switches_counts_changes_along_each_chain():
    snaps = {1: np.array([[0.0], [0.0]]), 5: np.array([[1.0], [0.0]]), 9: np.array([[0.0], [0.0]])}
    r = class_switches(snaps, ByFirstPixel())
    assert r == {"kept_steps": [1, 5, 9], "switches": 1.0, "moved": 0.5}  # chain 0 switched twice, chain 1 never


def cli(*args):
    return subprocess.run([sys.executable, "-m", "scratchdae.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("probe") / "run"
    r = cli("train", "--out", out, "--max-train", "2000", "--hidden", "128", "--epochs", "3", "--quiet",
            "--no-figures")
    assert r.returncode == 0, r.stderr
    return out / "model.npz"


@pytest.mark.slow
def test_probe_command(digits_model, tmp_path):
    r = cli("probe", "--model", digits_model, "--max-train", "2000", "--json",
            "--compare", f"again={digits_model}")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert set(report["accuracy"]) == {"raw", "random", "model", "again"}
    assert report["features"] == {"raw": 784, "random": 128, "model": 128, "again": 128}
    assert all(0.8 < a <= 1 for a in report["accuracy"].values())
    assert report["mcnemar"]["model vs again"] == {"b": 0, "c": 0, "n": 0, "p": 1.0}
    text = cli("probe", "--model", digits_model, "--max-train", "1000")
    assert text.returncode == 0 and "McNemar" in text.stdout and "random" in text.stdout
    bad = cli("probe", "--model", digits_model, "--compare", "nonsense")
    assert bad.returncode == 2 and "NAME=MODEL_FILE" in bad.stderr
    for args, message in [(("--compare", f"raw={digits_model}"), "names a row the probe fills itself"),
                          (("--compare", f"a={digits_model}", "--compare", f"a={digits_model}"), "names 'a' twice"),
                          (("--max-train", "0"), "at least 100 labelled training images"),
                          (("--data-dir", tmp_path / "nothing"), "does not exist")]:
        bad = cli("probe", "--model", digits_model, *args)
        assert bad.returncode == 2 and message in bad.stderr, bad.stderr


@pytest.mark.slow
def test_sample_command(digits_model, tmp_path):
    r = cli("sample", "--model", digits_model, "--out", tmp_path / "s", "--steps", "5", "--chains", "3",
            "--quality-chains", "20", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert (tmp_path / "s" / "chain_noise.png").is_file() and (tmp_path / "s" / "chain_digit.png").is_file()
    q = report["quality"]
    assert q["n"] == 20 and sum(q["classes"]) == 20 and 0 <= q["recognised"] <= 1 and q["nn_ratio"] > 0
    assert 0 <= q["moved"] <= 1 and q["kept_steps"][-1] == 5
    for args, message in [(("--steps", "0"), "steps must be an integer from 1"),
                          (("--chains", "0"), "chains must be an integer from 1 to 100"),
                          (("--quality-chains", "-1"), "quality_chains must be an integer from 0")]:
        bad = cli("sample", "--model", digits_model, "--out", tmp_path / "t", *args)
        assert bad.returncode == 2 and message in bad.stderr, bad.stderr
        assert not (tmp_path / "t").exists()
    (tmp_path / "file").write_text("x")
    bad = cli("sample", "--model", digits_model, "--out", tmp_path / "file")
    assert bad.returncode == 2 and "is a file" in bad.stderr


def test_commands_refuse_the_wrong_kind_of_model(tmp_path):
    r = cli("train", "--dataset", "toy:mixture8", "--n-points", "200", "--epochs", "1", "--out", tmp_path / "toy",
            "--quiet", "--no-figures")
    assert r.returncode == 0, r.stderr
    r = cli("sample", "--model", tmp_path / "toy" / "model.npz", "--out", tmp_path / "s")
    assert r.returncode == 2 and "trained on images" in r.stderr and "Traceback" not in r.stderr
    r = cli("probe", "--model", tmp_path / "toy" / "model.npz")
    assert r.returncode == 2 and "takes 2 inputs" in r.stderr
    for command in (("evaluate", "--dataset", "mnist-sample"), ("denoise", "x.png", "--out", tmp_path / "d")):
        r = cli(command[0], "--model", tmp_path / "toy" / "model.npz", *command[1:])
        assert r.returncode == 2 and "not on images" in r.stderr and "scratchdae score" in r.stderr, r.stderr
    r = cli("train", "--dataset", "toy:mixture8", "--noise", "masking:0.3", "--n-points", "200", "--epochs", "1",
            "--out", tmp_path / "masked", "--quiet", "--no-figures")
    r = cli("score", "--model", tmp_path / "masked" / "model.npz")
    assert r.returncode == 2 and "unclipped Gaussian noise" in r.stderr


def test_the_exact_gibbs_chain_samples_the_data_and_the_mean_plus_noise_chain_does_not():
    # (MC2) on a toy mixture: drawing from the exact p(x | x~) (TM4) keeps the data's distribution, from
    # any start; the exact posterior mean plus fixed noise, a unimodal decoder, puts mass between the modes.
    mixture = get_toy("mixture8")
    x0 = np.random.default_rng(0).uniform(-3, 3, (3000, 2))
    data = mode_statistics(mixture.sample(3000, seed=1, dtype="float64"), mixture)
    gibbs = mode_statistics(mixture_chain(mixture, 0.5, x0, 60, seed=2), mixture)
    mean = mode_statistics(mixture_chain(mixture, 0.5, x0, 60, seed=2, decoder_std=0.1), mixture)
    assert abs(data["within_std"] - 0.1) < 0.005 and abs(gibbs["within_std"] - 0.1) < 0.005
    assert data["between"] < 0.003 and gibbs["between"] < 0.003 and gibbs["occupancy_error"] < 0.03
    assert mean["between"] > 0.1 and mean["within_std"] > 0.12
    np.testing.assert_array_equal(mixture_chain(mixture, 0.5, x0[:5], 3, seed=7),
                                  mixture_chain(mixture, 0.5, x0[:5], 3, seed=7))  # seeded


def test_mode_statistics_by_hand_and_refusals():
    mixture = get_toy("mixture8")
    m = mixture.means
    points = np.array([m[0] + [0.1, 0.0], m[0] - [0.1, 0.0], m[1], 1.5 * m[1]])  # the last 10 stds out
    r = mode_statistics(points, mixture)
    assert r["between"] == 0.25 and r["occupancy"][:2] == [0.5, 0.5]
    np.testing.assert_allclose(r["within_std"], np.sqrt((0.01 + 0.01 + 0) / 3 / 2))  # per coordinate
    with pytest.raises(ValueError, match="points must have shape \\(N, 2\\)"):
        mode_statistics(np.zeros((3, 3)), mixture)
    with pytest.raises(ValueError, match="decoder_std must be None"):
        mixture_chain(mixture, 0.5, points, 2, decoder_std=-1)
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        mixture_chain(mixture, 0.5, points, 0)


def test_sample_quality_on_black_and_pure_black_and_white_digits():
    # test digits without grey ink, or equal to training digits, give no ratio (None), not a ZeroDivisionError
    rng = np.random.default_rng(4)
    binary = (rng.random((40, 16)) > 0.7).astype(np.float64)
    q = sample_quality(rng.random((10, 16)), binary, binary[:30])
    assert q["grey_ratio"] is None and q["nn_ratio"] is None
    black = np.zeros((30, 16))
    q = sample_quality(rng.random((10, 16)), black, black)
    assert q["grey_ratio"] is None and q["grey_test"] == 0.0


class _TableLike:
    """An object with a shape, a dtype and __array__, as a data frame has: not an array."""

    shape, dtype = (2, 6), np.dtype("float32")

    def __array__(self, dtype=None, copy=None):
        return np.zeros(self.shape, dtype or self.dtype)


@pytest.mark.parametrize("change,error,match", [
    (dict(rng=0), TypeError, "rng must be a generator"),
    (dict(corrupt="gaussian:0.5"), TypeError, "get_corruption"),
    (dict(loss=None), TypeError, "loss must be the model's Loss"),
    (dict(model="runs/first/model.npz"), TypeError, "load_model"),
    (dict(x0=[[0.0] * 6] * 2), TypeError, "numpy.asarray"),
    (dict(x0=np.zeros((2, 6), np.int64)), TypeError, "dtype float32"),
    (dict(x0=np.full((2, 6), np.nan, np.float32)), ValueError, "NaN"),
    (dict(x0=np.zeros((2, 5), np.float32)), ValueError, "6 features"),
    (dict(x0=_TableLike()), TypeError, "NumPy or CuPy array"),
])
def test_markov_chain_refuses_what_it_cannot_run(change, error, match):
    args = dict(model=Autoencoder(6, 4, seed=0, backend="numpy"), loss=GaussianNLL(0.1),
                corrupt=get_corruption("gaussian:0.5"), x0=np.zeros((2, 6), np.float32), steps=2, rng=be.rng(0))
    args.update(change)
    with pytest.raises(error, match=match):
        markov_chain(**args)


def _args(**change):
    args = dict(model=Autoencoder(6, 4, seed=0, backend="numpy"), loss=GaussianNLL(0.1),
                corrupt=get_corruption("gaussian:0.5"), x0=np.zeros((2, 6), np.float32), steps=2, rng=be.rng(0))
    args.update(change)
    return args


def test_markov_chain_takes_numpy_integers_and_refuses_odd_keeps():
    snaps, _ = markov_chain(**_args(steps=np.int64(2), keep=[np.int64(2)]))
    assert sorted(snaps) == [2]
    with pytest.raises(TypeError, match="keep must be a list of steps"):
        markov_chain(**_args(keep=5))
    with pytest.raises(TypeError, match="sample_decoder must be True or False"):
        markov_chain(**_args(sample_decoder="no"))
    wild = Autoencoder(6, 4, seed=0, backend="numpy", output_activation="identity")
    with pytest.raises(ValueError, match="overflowed to NaN or inf"):
        markov_chain(**_args(model=wild, x0=np.full((2, 6), 3e38, np.float32), steps=3))


def test_reconstruct_and_encode_refuse_inputs_that_overflow():
    from scratchdae import encode, reconstruct

    m = Autoencoder(6, 4, seed=0, backend="numpy", output_activation="identity")
    huge = np.full((2, 6), 3e38, np.float32)
    with pytest.raises(ValueError, match="x_tilde, with values as large as 3e"):
        reconstruct(m, GaussianNLL(0.1), huge)
    with pytest.raises(ValueError, match="overflows float32"):
        encode(m, huge)


def test_score_field_names_its_own_argument():
    from scratchdae import score_field

    m = Autoencoder(2, 4, seed=0, backend="numpy", output_activation="identity")
    with pytest.raises(ValueError, match=r"^x must have 2 features.*rows of 2 values"):
        score_field(m, GaussianNLL(0.1), np.zeros((3, 5), np.float32), 0.3)


@pytest.mark.parametrize("change,error,match", [
    (dict(samples=np.full((10, 16), np.nan)), ValueError, "samples holds NaN"),
    (dict(samples=np.zeros((0, 16))), ValueError, "non-empty"),
    (dict(samples=np.full((10, 16), 200.0)), ValueError, "divide 8-bit images by 255"),
    (dict(test=np.full((30, 16), 255.0)), ValueError, "test must be images in"),
    (dict(train=np.full((40, 16), 1e4)), ValueError, "train must be images in"),
    (dict(train=np.full((40, 16), 1e200)), ValueError, "train must be images in"),
    (dict(test=np.full((30, 16), np.inf)), ValueError, "test holds NaN or inf"),
    (dict(train=np.zeros((0, 16))), ValueError, "train must be a non-empty"),
    (dict(train=np.zeros((40, 15))), ValueError, "rows of 15 pixels, the samples 16"),
    (dict(samples=np.zeros((10, 16), np.uint8)), TypeError, "floats in"),
    (dict(classifier="probe"), TypeError, "fitted LinearProbe"),
])
def test_sample_quality_refuses_what_it_cannot_measure(change, error, match):
    rng = np.random.default_rng(5)
    args = dict(samples=rng.random((10, 16)), train=rng.random((40, 16)), test=rng.random((30, 16)))
    args.update(change)
    with pytest.raises(error, match=match):
        sample_quality(**args)


@pytest.mark.parametrize("change,match", [
    (dict(quantile="0.05"), "quantile must be a number"),
    (dict(quantile=np.array([0.05, 0.1])), "quantile must be a number"),
    (dict(held_out=np.zeros((0, 4))), "held_out must be a non-empty"),
    (dict(test_ref=np.zeros((0, 4))), "test_ref must be a non-empty"),
    (dict(x=np.full((3, 4), np.nan)), "x holds NaN"),
    (dict(train=np.zeros((5, 3))), "rows of 3 pixels"),
])
def test_copy_test_refuses_what_it_cannot_compare(change, match):
    args = dict(x=np.zeros((3, 4)), train=np.ones((5, 4)), test_ref=np.ones((5, 4)), held_out=np.ones((5, 4)))
    args.update(change)
    with pytest.raises(ValueError, match=match):
        copy_test(**args)
