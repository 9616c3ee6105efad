"""The trainer: learning happens, seeds reproduce, resume is exact, Ctrl-C and
NaN stop cleanly, checkpoints round-trip and refuse bad files."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from scratchdae import get_backend, to_host
from scratchdae.checkpoint import CheckpointError, load_model, load_npz, save_npz
from scratchdae import train
from scratchdae.loop import TrainingDiverged

SMALL = dict(max_train=400, hidden=(24,), batch_size=50, epochs=3, quiet=True, figures=False, patience=0)
EXACT = dict(SMALL, backend="numpy")  # bit-for-bit reproducibility is promised on NumPy


def params_of(model):
    return {k: to_host(v) for k, v in model.parameters().items()}


def test_training_reduces_the_loss_and_writes_its_files(tmp_path):
    r = train(out=tmp_path / "run", **{**SMALL, "epochs": 4})
    losses = [h["train_loss"] for h in r.history]
    assert losses[-1] < losses[0]
    assert r.history[-1]["val_psnr"] > r.history[0]["val_psnr"]
    for name in ("model.npz", "checkpoint.npz", "history.jsonl"):
        assert (tmp_path / "run" / name).is_file()
    lines = (tmp_path / "run" / "history.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1, 2, 3, 4]
    last = json.loads(lines[-1])  # the NLL in its two parts, and in bits per pixel
    assert last["val_loss"] == pytest.approx(last["val_fit"] + last["loss_constant"])
    assert last["loss_constant"] == pytest.approx(-1084.8, abs=0.05)
    assert last["val_bits_per_dim"] == pytest.approx(last["val_loss"] / (784 * np.log(2)))
    assert not list((tmp_path / "run").glob("*.part"))


def test_same_seed_same_weights_on_numpy(tmp_path):
    a = train(out=tmp_path / "a", **EXACT)
    b = train(out=tmp_path / "b", **EXACT)
    c = train(out=tmp_path / "c", **{**EXACT, "seed": 1})
    pa, pb, pc = params_of(a.model), params_of(b.model), params_of(c.model)
    assert all(np.array_equal(pa[k], pb[k]) for k in pa)
    assert not np.array_equal(pa["encoder.0.W"], pc["encoder.0.W"])
    assert a.history == [{**h, "seconds": a.history[i]["seconds"]} for i, h in enumerate(b.history)]


@pytest.mark.parametrize("stop_at", [(0, 3), (1, 8), (1, 7)])  # mid-epoch, the last step of an epoch, ...
@pytest.mark.parametrize("kw", [dict(), dict(loss="gaussian-learned", optimizer="sgd", nesterov=True, lr=0.01),
                                dict(loss="gaussian-hetero:0.5", tied=True, noise="masking:0.3")])
def test_resume_after_interrupt_is_bit_for_bit(tmp_path, stop_at, kw):
    cfg = {**EXACT, **kw}
    full = train(out=tmp_path / "full", **cfg)

    def stop_there(epoch, step, run):
        if (epoch, step) == stop_at:
            run.stop()

    part = train(out=tmp_path / "part", on_step=stop_there, **cfg)
    assert part.stopped == "interrupted"
    resumed = train(out=tmp_path / "part", resume=True, quiet=True)
    assert resumed.stopped == "finished"
    pf, pr = params_of(full.model), params_of(resumed.model)
    for k in pf:
        np.testing.assert_array_equal(pf[k], pr[k], err_msg=k)
    strip = [{k: v for k, v in h.items() if k != "seconds"} for h in full.history]
    assert strip == [{k: v for k, v in h.items() if k != "seconds"} for h in resumed.history]


def test_resume_extends_a_finished_run_like_a_longer_one(tmp_path):
    longer = train(out=tmp_path / "long", **{**EXACT, "epochs": 4})
    train(out=tmp_path / "short", **EXACT)
    extended = train(out=tmp_path / "short", resume=True, epochs=4, quiet=True)
    for k, v in params_of(longer.model).items():
        np.testing.assert_array_equal(v, params_of(extended.model)[k])


def test_resume_refuses_changed_settings_and_fresh_runs_refuse_old_folders(tmp_path):
    train(out=tmp_path / "r", **SMALL)
    with pytest.raises(ValueError, match="resume continues the saved run with its own settings, but lr"):
        train(out=tmp_path / "r", resume=True, lr=0.5)
    with pytest.raises(ValueError, match="already holds a training run.*--resume"):
        train(out=tmp_path / "r", **SMALL)
    with pytest.raises(ValueError, match="nothing to resume.*does not exist.*drop --resume"):
        train(out=tmp_path / "empty", resume=True)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="nothing to resume.*holds no checkpoint.npz"):
        train(out=tmp_path / "empty", resume=True)
    again = train(out=tmp_path / "r", resume=True, **{**SMALL, "epochs": SMALL["epochs"] + 1})
    assert len(again.history) == SMALL["epochs"] + 1  # the first command again, with --resume: same values are fine


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_state(tmp_path):
    def blow_up(epoch, step, run):
        if (epoch, step) == (1, 2):  # as a too-large step would: a weight becomes inf
            run.model.parameters()["encoder.0.W"][0, 0] = np.inf

    with pytest.raises(TrainingDiverged, match=r"the loss became (nan|inf) at epoch 2, step [3-8].*lower the learning"):
        train(out=tmp_path / "r", on_step=blow_up, **SMALL)
    state = load_npz(tmp_path / "r" / "checkpoint.npz")[1]
    assert state["epoch"] == 1 and len(state["history"]) == 1  # the state after the last good epoch
    assert np.isfinite(load_npz(tmp_path / "r" / "checkpoint.npz")[0]["param/encoder.0.W"]).all()
    assert np.isfinite(load_npz(tmp_path / "r" / "model.npz")[0]["param/encoder.0.W"]).all()


def test_early_stopping(tmp_path):
    r = train(out=tmp_path / "r", **{**SMALL, "epochs": 40, "patience": 1, "lr": 0.05})
    assert r.stopped == "early stopping" and len(r.history) < 40


def test_model_file_round_trip_and_backend_portability(tmp_path, backend):
    r = train(out=tmp_path / "r", **{**SMALL, "epochs": 1, "backend": backend.name})
    model, loss, header = load_model(tmp_path / "r" / "model.npz", backend="numpy")
    assert header["architecture"]["hidden"] == [24] and header["corruption"] == "gaussian:0.5"
    assert header["normalisation"] == {"scale": 255.0, "image_shape": [28, 28]}
    for k, v in params_of(r.model).items():
        np.testing.assert_array_equal(v, to_host(model.parameters()[k]))
    again = load_model(tmp_path / "r" / "model.npz", backend=backend)[0]
    assert again.backend == get_backend(backend)


def test_bad_checkpoints_are_refused_clearly(tmp_path):
    train(out=tmp_path / "r", **{**SMALL, "epochs": 1})
    good = tmp_path / "r" / "model.npz"
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(CheckpointError, match="not a readable .npz checkpoint"):
        load_model(tmp_path / "junk.npz")
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    with pytest.raises(CheckpointError, match="not a scratchdae checkpoint"):
        load_model(tmp_path / "plain.npz")
    arrays, header = load_npz(good)
    save_npz(tmp_path / "future.npz", arrays, {**header, "format_version": 99})
    with pytest.raises(CheckpointError, match="format version 99"):
        load_model(tmp_path / "future.npz")
    save_npz(tmp_path / "shape.npz", {**arrays, "param/encoder.0.W": np.zeros((784, 5), np.float32)}, header)
    with pytest.raises(CheckpointError, match=r"encoder.0.W has shape \(784, 5\), this model expects \(784, 24\)"):
        load_model(tmp_path / "shape.npz")
    with pytest.raises(CheckpointError, match="holds a 'training-state', expected a 'model'"):
        load_model(tmp_path / "r" / "checkpoint.npz")


def test_bad_settings_are_explained(tmp_path):
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        train(out=tmp_path / "x", batch_size=0)
    with pytest.raises(ValueError, match="unknown noise 'speckle'"):
        train(out=tmp_path / "x", noise="speckle:1", **{k: v for k, v in SMALL.items()})
    assert not (tmp_path / "x" / "model.npz").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_in_the_cli_writes_a_checkpoint_and_resume_finishes(tmp_path):
    out = tmp_path / "run"
    args = [sys.executable, "-m", "scratchdae.cli", "train", "--out", str(out), "--max-train", "3000",
            "--hidden", "64", "--epochs", "50", "--no-figures", "--quiet", "--patience", "0"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / "history.jsonl").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert (out / "checkpoint.npz").is_file() and "Traceback" not in err
    header = load_npz(out / "checkpoint.npz")[1]
    assert header["epoch"] < 50
    r = subprocess.run([sys.executable, "-m", "scratchdae.cli", "train", "--out", str(out), "--resume",
                        "--epochs", str(header["epoch"] + 1), "--quiet", "--no-figures"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert len((out / "history.jsonl").read_text().splitlines()) == header["epoch"] + 1
    assert os.path.getsize(out / "model.npz") > 0


@pytest.mark.parametrize("noise", ["gaussian:0.5", "masking:0.3"])
def test_a_kept_and_a_batch_drawn_validation_corruption_are_the_same_numbers(tmp_path, monkeypatch, noise):
    # a small validation set's fixed corruption is drawn once and kept; a large one is drawn a batch at a
    # time each epoch (memory). Both must give the same validation losses, to the last bit.
    import importlib

    train_module = importlib.import_module("scratchdae.loop")
    runs = {}
    for name, small in (("kept", 1 << 24), ("drawn", 0)):
        monkeypatch.setattr(train_module, "SMALL_VALIDATION", small)
        r = train_module.train(out=tmp_path / name, epochs=2, max_train=700, noise=noise, quiet=True, figures=False)
        runs[name] = [h["val_loss"] for h in r.history]
    assert runs["kept"] == runs["drawn"]
