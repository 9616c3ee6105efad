"""Bad inputs and file-system faults: one clear error (exit 2 on the command line), nothing half-written,
nothing that existed lost, no silent wrong answer."""
import json
import os
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from scratchdae.files import atomic_write, folder_lock


def cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "scratchdae.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=600, **kw)


def strict_json(text):
    def refuse(name):
        raise ValueError(f"not JSON: {name}")
    return json.loads(text, parse_constant=refuse)


def test_new_files_get_the_umask_mode_and_replaced_files_keep_theirs(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "new.bin") as f:
            f.write(b"x")
        assert stat.S_IMODE((tmp_path / "new.bin").stat().st_mode) == 0o644
        (tmp_path / "private.bin").write_bytes(b"old")
        os.chmod(tmp_path / "private.bin", 0o600)
        with atomic_write(tmp_path / "private.bin") as f:
            f.write(b"new")
        assert stat.S_IMODE((tmp_path / "private.bin").stat().st_mode) == 0o600
        assert (tmp_path / "private.bin").read_bytes() == b"new"
    finally:
        os.umask(old)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_a_destination_that_is_not_a_regular_file_is_never_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        with atomic_write(fifo) as f:
            f.write(b"x")
    assert stat.S_ISFIFO(fifo.stat().st_mode) and not list(tmp_path.glob(".*part"))
    (tmp_path / "folder").mkdir()
    with pytest.raises(ValueError, match="not a regular file"):
        with atomic_write(tmp_path / "folder") as f:
            f.write(b"x")


def test_folder_lock_refuses_a_live_holder_and_takes_over_a_dead_ones(tmp_path):
    (tmp_path / ".lock").write_text(str(os.getppid()))  # a live process that is not us
    with pytest.raises(ValueError, match="in use by another training run"):
        with folder_lock(tmp_path):
            pass
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / ".lock").write_text(dead.stdout.strip())  # its process has exited
    with folder_lock(tmp_path) as lock:
        assert lock.read_text() == str(os.getpid())
    assert not (tmp_path / ".lock").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_two_trainings_into_one_folder_do_not_mix(tmp_path):
    out = tmp_path / "run"
    first = subprocess.Popen([sys.executable, "-m", "scratchdae.cli", "train", "--out", str(out), "--max-train", "3000",
                              "--hidden", "64", "--epochs", "50", "--no-figures", "--quiet", "--patience", "0"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / ".lock").exists() and time.time() < deadline:
        time.sleep(0.05)
    second = cli("train", "--out", out, "--max-train", "3000", "--hidden", "64", "--epochs", "1", "--quiet")
    first.send_signal(signal.SIGINT)
    first.communicate(timeout=120)
    assert second.returncode == 2 and ("in use by another training run" in second.stderr
                                       or "already holds a training run" in second.stderr), second.stderr
    assert "Traceback" not in second.stderr


def test_denoised_outputs_are_png_files_whatever_the_input_name(tmp_path):
    r = cli("train", "--out", tmp_path / "m", "--max-train", "300", "--hidden", "16", "--epochs", "1", "--quiet",
            "--no-figures")
    assert r.returncode == 0, r.stderr
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "digit.jpg")
    r = cli("denoise", "--model", tmp_path / "m" / "model.npz", tmp_path / "digit.jpg", "--out", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["digit.png"]
    with Image.open(tmp_path / "out" / "digit.png") as im:
        assert im.format == "PNG"
    r = cli("evaluate", "--model", tmp_path / "m" / "model.npz", "--dataset", "mnist-sample", "--noise", "none",
            "--json")
    assert r.returncode == 0, r.stderr
    scores = strict_json(r.stdout)  # no Infinity: a perfect (noise-free) input has PSNR null
    assert scores["psnr_noisy"] is None and scores["mse_noisy"] == 0


@pytest.mark.parametrize("args, message", [
    (("documents", "generate", "--out", "{tmp}/g", "--pages", "-3"), "--pages and --test-pages must be at least 0"),
    (("documents", "generate", "--out", "{tmp}/g", "--pages", "2", "--test-pages", "-1"),
     "got --pages 2 --test-pages -1"),
    (("documents", "generate", "--out", "{tmp}/g", "--pages", "0"), "not both 0"),
    (("documents", "evaluate", "--model", "{tmp}/none.npz", "--pages", "0"), "pages must be an integer from 1"),
    (("train", "--out", "{tmp}/t", "--max-seconds", "-1"), "max_seconds must be a finite number"),
    (("train", "--out", "{tmp}/t", "--max-seconds", "nan"), "max_seconds must be a finite number"),
    (("documents", "train", "--out", "{tmp}/t", "--windows-per-page", "0"),
     "windows_per_page must be a positive integer"),
])
def test_bad_counts_are_refused_before_anything_is_written(tmp_path, args, message):
    r = cli(*(a.format(tmp=tmp_path) for a in args))
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not any(p.name in ("g", "t") for p in tmp_path.iterdir())


def test_python_api_settings_are_explained_and_numpy_scalars_accepted(tmp_path):
    from scratchdae import train

    for kw, match in [(dict(seed=-1), "seed must be an integer >= 0"),
                      (dict(val_fraction="0.1"), "val_fraction must be a number in"),
                      (dict(resume=True), "resume continues the run in a folder")]:
        with pytest.raises(ValueError, match=match):
            train(quiet=True, **kw)
    r = train(out=tmp_path / "r", max_train=np.int64(300), batch_size=np.int64(32), lr=np.float32(0.01),
              hidden=(np.int64(8),), epochs=np.int64(1), quiet=True, figures=False)
    assert r.stopped == "finished" and r.model.config["hidden"] == [8]


def test_denoise_takes_one_path_and_models_without_normalisation_are_explained(tmp_path):
    from scratchdae import Autoencoder, GaussianNLL, get_corruption, save_model
    from scratchdae.evaluate import denoise

    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "a.png")
    model = Autoencoder(784, 8, seed=0, backend="numpy")
    save_model(tmp_path / "bare.npz", model, GaussianNLL(0.1), get_corruption("gaussian:0.5"))
    with pytest.raises(ValueError, match="no pixel normalisation.*save_model"):
        denoise(tmp_path / "bare.npz", tmp_path / "a.png", tmp_path / "out")
    save_model(tmp_path / "m.npz", model, GaussianNLL(0.1), get_corruption("gaussian:0.5"), task="images",
               normalisation={"scale": 255.0, "image_shape": [28, 28]})
    written = denoise(tmp_path / "m.npz", str(tmp_path / "a.png"), tmp_path / "out")  # one path, not a list
    assert [p.name for p in written] == ["a.png"]


def test_images_are_read_by_one_reader_that_scales_16_bit_and_refuses_pipes_and_bombs(tmp_path):
    from scratchdae.documents.pages import read_page
    from scratchdae.evaluate import read_png
    from scratchdae.files import read_gray

    sixteen = (np.arange(28 * 28).reshape(28, 28) * 80).astype(np.uint16)  # up to 62,640 of 65,535
    Image.fromarray(sixteen).save(tmp_path / "deep.png")
    digit = read_png(tmp_path / "deep.png", (28, 28))
    assert digit.max() == round(62640 / 65535 * 255) and digit.min() == 0  # scaled, not clamped to 255
    np.testing.assert_allclose(read_page(tmp_path / "deep.png"), sixteen / 65535, atol=1e-6)
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.png")
        with pytest.raises(ValueError, match="not a regular file"):
            read_gray(tmp_path / "pipe.png")  # would block forever if opened
    with pytest.raises(ValueError, match="not a regular file"):
        read_gray(tmp_path)
    Image.new("L", (100, 100)).save(tmp_path / "big.png")
    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = 2000  # a 100x100 image is now a "bomb" (more than twice the limit)
    try:
        with pytest.raises(ValueError, match="too large to be a digit or a page.*Fix: resize"):
            read_gray(tmp_path / "big.png")
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def test_a_model_with_non_finite_weights_is_refused(tmp_path):
    from scratchdae import Autoencoder, GaussianNLL, get_corruption, load_model, save_model
    from scratchdae.checkpoint import CheckpointError

    from scratchdae.checkpoint import model_arrays, model_header, save_npz

    model = Autoencoder(784, 8, seed=0, backend="numpy")
    model.parameters()["encoder.0.W"][0, 0] = np.nan
    extra = {"task": "images", "normalisation": {"scale": 255.0, "image_shape": [28, 28]}}
    with pytest.raises(ValueError, match="encoder.0.W holds NaN or inf"):  # refused when saved ...
        save_model(tmp_path / "nan.npz", model, GaussianNLL(0.1), get_corruption("gaussian:0.5"), **extra)
    assert not (tmp_path / "nan.npz").exists()
    loss, noise = GaussianNLL(0.1), get_corruption("gaussian:0.5")  # ... and when such a file is loaded
    save_npz(tmp_path / "nan.npz", model_arrays(model, loss), model_header(model, loss, noise, **extra))
    with pytest.raises(CheckpointError, match="encoder.0.W hold NaN, inf"):
        load_model(tmp_path / "nan.npz")
    r = cli("evaluate", "--model", tmp_path / "nan.npz", "--dataset", "mnist-sample")
    assert r.returncode == 2 and "NaN, inf" in r.stderr
