"""The command line, as a user runs it: train, evaluate --json, denoise, info, gradcheck."""
import json
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from scratchdae.data import load_dataset, write_idx


def run(*args, check=True):
    r = subprocess.run([sys.executable, "-m", "scratchdae.cli", *map(str, args)], capture_output=True, text=True,
                       timeout=600)
    if check:
        assert r.returncode == 0, r.stderr
    return r


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    run("train", "--out", out, "--max-train", "4000", "--hidden", "256", "--epochs", "6", "--quiet", "--seed", "1")
    return out


def test_train_writes_model_history_and_figures(trained):
    for name in ("model.npz", "checkpoint.npz", "history.jsonl", "denoising.png", "loss_curves.png", "filters.png"):
        assert (trained / name).is_file(), name
    with Image.open(trained / "denoising.png") as im:
        assert im.size[0] > 300 and im.size[1] > 100


def test_evaluate_json_on_held_out_digits(trained, tmp_path):
    r = run("evaluate", "--model", trained / "model.npz", "--dataset", "mnist-sample", "--json")
    scores = json.loads(r.stdout)
    assert scores["n_images"] == 1000 and scores["noise"] == "gaussian:0.5"
    assert scores["loss_config"] == {"name": "gaussian", "sigma": 0.1} and scores["nll_constant"] < -1000
    assert scores["psnr_noisy"] == pytest.approx(6.02, abs=0.05)  # sigma 0.5: MSE 0.25
    assert scores["psnr_denoised"] > scores["psnr_noisy"] + 8
    # --images with an IDX file, another noise and seed
    test = load_dataset("mnist-sample").test_images[:50]
    write_idx(tmp_path / "few-idx3-ubyte.gz", test)
    other = json.loads(run("evaluate", "--model", trained / "model.npz", "--images", tmp_path / "few-idx3-ubyte.gz",
                           "--noise", "masking:0.5", "--seed", "3", "--json").stdout)
    assert other["n_images"] == 50 and other["noise"] == "masking:0.5"
    text = run("evaluate", "--model", trained / "model.npz", "--dataset", "mnist-sample").stdout
    assert "PSNR (dB)" in text and "denoised" in text


def test_evaluate_refuses_wrong_image_size(trained, tmp_path):
    write_idx(tmp_path / "big-idx3-ubyte", np.zeros((3, 32, 32), np.uint8))
    r = run("evaluate", "--model", trained / "model.npz", "--images", tmp_path / "big-idx3-ubyte", check=False)
    assert r.returncode == 2 and "takes images of 28x28 pixels" in r.stderr and "Traceback" not in r.stderr


def test_denoise_pngs(trained, tmp_path):
    digits = load_dataset("mnist-sample").test_images[:3]
    rng = np.random.default_rng(0)
    paths = []
    for i, d in enumerate(digits):
        noisy = np.clip(d + rng.normal(0, 80, d.shape), 0, 255).astype(np.uint8)
        paths.append(tmp_path / f"digit{i}.png")
        Image.fromarray(noisy).save(paths[-1])
    run("denoise", "--model", trained / "model.npz", *paths, "--out", tmp_path / "clean")
    for i, d in enumerate(digits):
        with Image.open(tmp_path / "clean" / f"digit{i}.png") as im:
            out = np.asarray(im)
        assert out.shape == (28, 28) and out.dtype == np.uint8
        noisy = np.asarray(Image.open(paths[i]))
        assert np.mean((out / 255 - d / 255) ** 2) < np.mean((noisy / 255 - d / 255) ** 2)


def test_denoise_wrong_size_or_not_an_image_writes_nothing(trained, tmp_path):
    good = tmp_path / "good.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(good)
    big = tmp_path / "big.png"
    Image.fromarray(np.zeros((30, 40), np.uint8)).save(big)
    r = run("denoise", "--model", trained / "model.npz", good, big, "--out", tmp_path / "o", check=False)
    assert r.returncode == 2 and "big.png is 40x30 pixels; the model takes 28x28" in r.stderr
    text = tmp_path / "notes.png"
    text.write_text("hello")
    r = run("denoise", "--model", trained / "model.npz", good, text, "--out", tmp_path / "o", check=False)
    assert r.returncode == 2 and "is not a readable image" in r.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args, message", [
    (["train", "--noise", "gaussian:-1"], "noise sigma must be a finite number > 0"),
    (["train", "--loss", "laplace"], "unknown loss 'laplace'"),
    (["train", "--hidden", "10,x"], "expected layer sizes like 1000 or 512,128"),
    (["train", "--data-dir", "/nonexistent/folder"], "does not exist or is not a folder"),
    (["evaluate", "--model", "/nonexistent/model.npz", "--dataset", "mnist-sample"], "does not exist"),
    (["train", "--backend", "tpu"], "invalid choice: 'tpu'"),
])
def test_bad_input_gives_one_clear_line(args, message, tmp_path):
    r = run(*args, "--out", tmp_path / "o", check=False) if args[0] == "train" else run(*args, check=False)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o" / "model.npz").exists()


def test_info_and_gradcheck():
    assert "backends   numpy" in run("info").stdout
    r = run("gradcheck")
    assert re.search(r"all \d+ checks passed", r.stdout) and "autoencoder" in r.stdout and "FAIL" not in r.stdout
