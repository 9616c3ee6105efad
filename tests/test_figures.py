"""Figures are drawn on their own Figure objects: the library never changes matplotlib's backend,
so a notebook keeps its inline pictures; and each figure writes a real PNG."""
import subprocess
import sys

import numpy as np
from PIL import Image

from scratchdae import Autoencoder, GaussianNLL, get_corruption, get_toy
from scratchdae.figures import chain_figure, field_figure, filters_by_noise_figure


def test_importing_and_training_leave_the_backend_alone(tmp_path):
    code = ("import matplotlib; matplotlib.use('pdf'); import scratchdae, scratchdae.figures; "
            "from scratchdae import train; "
            f"train(max_train=200, hidden=(8,), epochs=1, quiet=True, out=r'{tmp_path / 'r'}'); "
            "print(matplotlib.get_backend())")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "pdf"
    assert (tmp_path / "r" / "denoising.png").is_file()


def png_size(path):
    with Image.open(path) as im:
        return im.size


def test_field_filters_and_chain_figures_write_pngs(tmp_path):
    model = Autoencoder(2, 8, output_activation="identity", seed=0, backend="numpy")
    points = get_toy("mixture8").sample(300, seed=0)
    p = field_figure(tmp_path / "field.png", model, GaussianNLL(0.1), get_corruption("gaussian:0.3"), points,
                     mixture=get_toy("mixture8"))
    assert png_size(p)[0] > 2 * png_size(p)[1] * 0.8  # two panels side by side
    one = field_figure(tmp_path / "one.png", model, GaussianNLL(0.1), get_corruption("masking:0.3"), points,
                       mixture=get_toy("mixture8"))  # no exact field for masking: one panel
    assert png_size(one)[0] < png_size(p)[0]
    W = np.random.default_rng(0).standard_normal((784, 50))
    assert png_size(filters_by_noise_figure(tmp_path / "f.png", {"a": W, "b": W}, (28, 28), n=16))[0] > 200
    snaps = {1: np.zeros((2, 784)), 5: np.ones((2, 784))}
    assert png_size(chain_figure(tmp_path / "c.png", np.zeros((2, 784)), snaps, (28, 28)))[1] > 100
