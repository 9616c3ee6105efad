"""The CuPy code paths, run here on a strict stand-in (tests/fake_cupy.py).

Without a GPU the real CuPy tests skip. These run the same code with a
"device" array type that refuses to mix with host arrays, so a forgotten
``backend.asarray`` or ``to_host`` fails here rather than on the first GPU.
"""
import numpy as np
import pytest

import scratchdae.backend as backend_module
from fake_cupy import DeviceArray, HostDeviceMix, fake
from scratchdae import Autoencoder, get_backend, to_host
from scratchdae.gradient_check import TOLERANCE, run_all


@pytest.fixture
def device(monkeypatch):
    be = backend_module.Backend("cupy", fake)
    monkeypatch.setattr(backend_module, "_CUPY", be)
    monkeypatch.delenv("SCRATCHDAE_BACKEND", raising=False)
    return be


def test_the_stand_in_is_strict(device):
    a = device.asarray(np.ones(3, np.float32))
    assert isinstance(a, DeviceArray) and get_backend("cupy") is device
    with pytest.raises(HostDeviceMix):
        a + np.ones(3, np.float32)
    assert isinstance(to_host(a), np.ndarray) and not isinstance(to_host(a), DeviceArray)


def test_every_gradient_check_passes_on_the_device_path(device):
    rows = run_all(device)
    assert all(ok for _, _, ok in rows), [(n, e) for n, e, ok in rows if not ok]
    assert max(e for _, e, _ in rows) <= TOLERANCE


def test_model_arrays_live_on_the_device(device):
    model = Autoencoder(6, 4, backend="cupy", seed=0)
    assert all(isinstance(p, DeviceArray) for p in model.parameters().values())
    with pytest.raises(HostDeviceMix):  # a NumPy batch must be copied to the device first
        model.forward(np.zeros((2, 6), np.float32))
    out, _ = model.forward(device.asarray(np.zeros((2, 6), np.float32)))
    assert isinstance(out["mean"], DeviceArray)


def test_training_evaluating_and_denoising_on_the_device(device, tmp_path):
    from PIL import Image

    from scratchdae.checkpoint import load_model
    from scratchdae.evaluate import denoise, evaluate
    from scratchdae import train

    r = train(out=tmp_path / "run", backend="cupy", max_train=300, hidden=(16,), epochs=2, quiet=True,
              batch_size=50, loss="gaussian-hetero:0.5")
    assert r.history[-1]["val_loss"] < r.history[0]["val_loss"]
    assert (tmp_path / "run" / "sigma_map.png").is_file()
    scores = evaluate(tmp_path / "run" / "model.npz", dataset="mnist-sample", backend="cupy")
    assert scores["psnr_denoised"] > scores["psnr_noisy"]
    host_model = load_model(tmp_path / "run" / "model.npz", backend="numpy")[0]  # trained on the device, read on NumPy
    assert all(type(p) is np.ndarray for p in host_model.parameters().values())
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "d.png")
    assert denoise(tmp_path / "run" / "model.npz", [tmp_path / "d.png"], tmp_path / "o", backend="cupy")


def test_documents_on_the_device(device, tmp_path):
    from scratchdae.documents.evaluate import evaluate_documents
    from scratchdae import train

    from scratchdae.documents import train_cleaner

    train_cleaner(out=tmp_path / "doc", backend="cupy", pages=3, windows_per_page=400, epochs=1,
          hidden=(16,), quiet=True)
    r = evaluate_documents(tmp_path / "doc" / "model.npz", pages=1, backend="cupy")
    assert 0 < r["rmse"]["model"] < 1


def test_resume_on_the_device_continues(device, tmp_path):
    from scratchdae import train

    def stop(epoch, step, run):
        if (epoch, step) == (0, 3):
            run.stop()

    cfg = dict(backend="cupy", max_train=300, hidden=(16,), epochs=2, quiet=True, figures=False, batch_size=50)
    assert train(out=tmp_path / "r", on_step=stop, **cfg).stopped == "interrupted"
    assert train(out=tmp_path / "r", resume=True, quiet=True).stopped == "finished"
