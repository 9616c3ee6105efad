"""Training on any data: train(inputs=X), the toy data sets, the low-dimensional defaults,
what the model file records, and resume with the same data (and only the same data)."""
import json
import subprocess
import sys

import numpy as np
import pytest

from scratchdae import get_toy, load_model, train
from scratchdae.checkpoint import load_npz
from scratchdae.tasks import POINTS_MAX_DIM

QUICK = dict(epochs=3, quiet=True, figures=False, backend="numpy")


def cloud(n=600, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-2, 2, (5, 2))
    return (centres[rng.integers(0, 5, n)] + 0.1 * rng.standard_normal((n, 2))).astype(np.float32)


def test_points_get_the_low_dimensional_defaults_and_learn(tmp_path):
    X = cloud()
    r = train(inputs=X, noise="gaussian:0.3", out=tmp_path / "r", **{**QUICK, "epochs": 30})
    c = r.model.config
    assert (c["n_in"], c["hidden"], c["decoder_hidden"], c["output_activation"]) == (2, [128, 128], [128], "identity")
    assert r.history[-1]["val_loss"] < r.history[0]["val_loss"]
    header = load_model(tmp_path / "r" / "model.npz")[2]
    assert header["task"] == "points" and header["dataset"] == "array"
    assert header["data"]["n_train"] + header["data"]["n_val"] == len(X)
    assert len(header["data"]["sha256"]) == 64 and "600 rows of 2 values" in header["data"]["source"]


def test_wide_arrays_train_with_the_image_defaults(tmp_path):
    X = np.random.default_rng(1).random((200, POINTS_MAX_DIM + 4), dtype=np.float32)
    r = train(inputs=X, out=tmp_path / "r", hidden=(8,), **QUICK)
    assert r.model.config["output_activation"] == "sigmoid" and r.model.config["n_in"] == POINTS_MAX_DIM + 4
    assert load_model(tmp_path / "r" / "model.npz")[2]["task"] == "images"


def test_val_inputs_are_used_as_given(tmp_path):
    X, V = cloud(500, 1), cloud(77, 2)
    r = train(inputs=X, val_inputs=V, out=tmp_path / "r", **QUICK)
    data = load_model(tmp_path / "r" / "model.npz")[2]["data"]
    assert (data["n_train"], data["n_val"]) == (500, 77)
    assert len(r.history) == 3


@pytest.mark.parametrize("inputs, val, err, match", [
    (np.zeros((10, 2)), None, TypeError, "inputs must be float32.*astype"),
    (np.zeros(10, np.float32), None, ValueError, r"shape \(N, D\).*reshape"),
    ([[0.0, 1.0]] * 10, None, TypeError, "must be a NumPy array"),
    (np.full((10, 2), np.nan, np.float32), None, ValueError, "NaN or inf"),
    (np.zeros((1, 2), np.float32), None, ValueError, "at least 2 rows"),
    (np.zeros((10, 2), np.float32), np.zeros((5, 3), np.float32), ValueError, "val_inputs has 3 columns"),
    (None, np.zeros((5, 2), np.float32), ValueError, "val_inputs was given without inputs"),
])
def test_bad_arrays_are_explained_and_write_nothing(tmp_path, inputs, val, err, match):
    with pytest.raises(err, match=match):
        train(inputs=inputs, val_inputs=val, out=tmp_path / "r", **QUICK)
    assert not (tmp_path / "r").exists()


def test_resume_needs_the_same_array_and_is_bit_for_bit(tmp_path):
    X = cloud(800, 3)
    full = train(inputs=X, out=tmp_path / "full", **QUICK)

    def stop(epoch, step, run):
        if (epoch, step) == (1, 1):
            run.stop()

    part = train(inputs=X, out=tmp_path / "part", on_step=stop, **QUICK)
    assert part.stopped == "interrupted"
    with pytest.raises(ValueError, match="not saved with it.*resume=True, inputs=X"):
        train(out=tmp_path / "part", resume=True, quiet=True)
    other = X.copy()
    other[0, 0] += 1
    with pytest.raises(ValueError, match="training data differ from those the run.*started on"):
        train(inputs=other, out=tmp_path / "part", resume=True, quiet=True)
    with pytest.raises(ValueError, match="training data differ"):
        train(inputs=X[:-10], out=tmp_path / "part", resume=True, quiet=True)
    resumed = train(inputs=X, out=tmp_path / "part", resume=True, quiet=True)
    for k, v in full.model.parameters().items():
        np.testing.assert_array_equal(v, resumed.model.parameters()[k], err_msg=k)


def test_toy_data_sets_train_and_record_their_name(tmp_path):
    r = train(dataset="toy:spiral", noise="gaussian:0.5", n_points=500, out=tmp_path / "r", **QUICK)
    header = load_model(tmp_path / "r" / "model.npz")[2]
    assert header["toy"] == "spiral" and header["task"] == "points" and header["dataset"] == "toy:spiral"
    assert r.model.config["n_in"] == 2
    state = load_npz(tmp_path / "r" / "checkpoint.npz")[1]
    assert state["config"]["n_points"] == 500 and state["data"]["n_train"] == 500
    with pytest.raises(ValueError, match="unknown toy data set 'moons'"):
        train(dataset="toy:moons", out=tmp_path / "x", **QUICK)
    with pytest.raises(ValueError, match="n_points must be an integer from 2 to"):
        train(dataset="toy:spiral", n_points=1, out=tmp_path / "y", **QUICK)


def test_same_seed_same_toy_points():
    a = get_toy("mixture8").sample(100, seed=np.random.default_rng([0, 6]))
    b = get_toy("mixture8").sample(100, seed=np.random.default_rng([0, 6]))
    np.testing.assert_array_equal(a, b)


def cli(*args):
    return subprocess.run([sys.executable, "-m", "scratchdae.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=600)


@pytest.mark.slow
def test_cli_toy_train_then_score(tmp_path):
    r = cli("train", "--dataset", "toy:mixture8", "--noise", "gaussian:0.5", "--n-points", "3000", "--epochs", "60",
            "--out", tmp_path / "toy", "--quiet")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "toy" / "field.png").is_file()
    r = cli("score", "--model", tmp_path / "toy" / "model.npz", "--json", "--points", "3000",
            "--figure", tmp_path / "field.png")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["toy"] == "mixture8" and report["sigma"] == 0.5 and report["field"]["cosine"] > 0.9
    assert (tmp_path / "field.png").is_file()
    r = cli("score", "--model", tmp_path / "toy" / "model.npz")
    assert r.returncode == 0 and "model / Bayes" in r.stdout


def test_cli_train_options_for_points(tmp_path):
    r = cli("train", "--dataset", "toy:rings", "--n-points", "300", "--epochs", "1", "--hidden", "16",
            "--decoder-hidden", "8,4", "--output-activation", "tanh", "--out", tmp_path / "r", "--quiet",
            "--no-figures")
    assert r.returncode == 0, r.stderr
    c = load_model(tmp_path / "r" / "model.npz")[0].config
    assert (c["hidden"], c["decoder_hidden"], c["output_activation"]) == ([16], [8, 4], "tanh")
    r = cli("train", "--dataset", "toy:nothing", "--out", tmp_path / "x")
    assert r.returncode == 2 and "unknown data set 'toy:nothing'" in r.stderr and "toy:mixture8" in r.stderr


@pytest.mark.parametrize("kw, err, match", [
    (dict(inputs=5), TypeError, "must be a NumPy array"),
    (dict(inputs=cloud(), dataset="mnist-sample"), ValueError, "trains on X, and dataset chooses other data"),
    (dict(inputs=cloud(), max_train=100), ValueError, "max_train chooses other data"),
    (dict(inputs=cloud(10), val_fraction=0.96), ValueError, "leaves none to train on"),
    (dict(inputs=cloud(), loss="bernoulli"), ValueError, "Bernoulli loss needs targets in"),
    (dict(inputs=cloud(), output_activation="sigmoid"), ValueError, "sigmoid output lies in"),
    (dict(dataset="toy:mixture8", task="images"), ValueError, "trains as task 'points'"),
    (dict(dataset="mnist-sample", task="documents"), ValueError, "trains as task 'images'"),
    (dict(dataset="toy:mixture8", n_points=10**12), ValueError, "n_points must be an integer from 2"),
    (dict(dataset="toy:mixture8", output_activation="bogus"), ValueError, "unknown output_activation 'bogus'"),
])
def test_settings_that_cannot_work_are_refused(tmp_path, kw, err, match):
    with pytest.raises(err, match=match):
        train(out=tmp_path / "r", **{**QUICK, **kw})
    assert not (tmp_path / "r" / "model.npz").exists()


def test_wide_arrays_outside_0_1_get_a_linear_output(tmp_path):
    X = (np.random.default_rng(4).standard_normal((300, 20)) * 3).astype(np.float32)
    r = train(inputs=X, out=tmp_path / "r", hidden=(16,), **QUICK)
    assert r.model.config["output_activation"] == "identity"


def test_divergence_in_the_first_epoch_says_no_checkpoint_exists(tmp_path):
    from scratchdae.loop import TrainingDiverged

    def blow_up(epoch, step, run):
        run.model.parameters()["encoder.0.W"][0, 0] = np.inf

    with pytest.raises(TrainingDiverged, match="No checkpoint was written"):
        train(inputs=cloud(), out=tmp_path / "r", on_step=blow_up, **QUICK)
