r"""scratchdae: denoising autoencoders from scratch, NumPy on the CPU and CuPy on a GPU.

Where things are (each module is one step of the derivations in docs/):

backend      the array namespace: NumPy or CuPy, host/device copies, seeded generators
activations  elementwise nonlinearities and their derivatives            (A1)-(A12)
layers       Dense and TiedDense with hand-written backprop               (D1)-(D7)
model        Sequential stacks and the Autoencoder
losses       Gaussian NLL (fixed, learned, per-pixel, beta-NLL), Bernoulli, MSE
corruption   q(x~|x): Gaussian noise, masking, salt-and-pepper            (C1)-(C4)
optim        SGD (momentum, Nesterov) and Adam, in place                  (O1)-(O10)
gradient_check  central differences against every backward pass              (GC1)-(GC2)

What a trained DAE gives (docs/derivations.md, sections 9-11):

inference    reconstruct r(x~) ~ E[x | x~], score_field (r(x) - x)/s^2, encode h = E(x)   (S1)-(S4)
toy          2-D mixtures with an exact score and posterior mean                (TM1)-(TM3)
score        a toy model's field and denoiser against the exact ones             (S5)
probe        softmax regression on frozen features, McNemar's exact test        (LR1)-(LR3), (MN1)
representation  the probe on a model's code, raw pixels and a random network
sampling     the DAE Markov chain and measures of its samples                   (MC1)-(MC2)

The training loop:

loop         train_step and train(): the loop, read top to bottom
tasks        what the loop trains on (TaskData), and the applications built on the core
run/         the machinery of a run: settings (config), resume, the run folder
fast         speed only: the same numbers as the plain code, sooner
checkpoint   model.npz and checkpoint.npz; evaluate, figures: using a trained model

Above the core, never imported by it: documents/ (an application: dirty pages)
and cli/ (the ``scratchdae`` command). docs/architecture.md draws the layers.
"""
__version__ = "0.1.0"

from . import fast  # first: it sets OpenBLAS's thread timeout before NumPy loads  # noqa: I001

from .activations import ACTIVATIONS, get_activation
from .backend import Backend, BackendUnavailable, available_backends, get_backend, to_host
from .checkpoint import load_model, save_model
from .corruption import GaussianNoise, Masking, NoCorruption, SaltPepper, get_corruption
from .data import load_dataset
from .gradient_check import gradcheck, numerical_gradient, relative_error
from .inference import encode, prepare_images, reconstruct, score_field
from .layers import Dense, TiedDense
from .losses import (MSE, BernoulliNLL, GaussianNLL, GaussianNLLLearnedSigma, HeteroscedasticGaussianNLL,
                     get_loss)
from .model import Autoencoder, Sequential
from .optim import SGD, Adam, get_optimizer, learning_rate
from .probe import LinearProbe, mcnemar_exact
from .sampling import markov_chain
from .toy import GaussianMixture, get_toy
from .loop import train
from .run.config import TrainConfig

__all__ = [
    "ACTIVATIONS", "Adam", "Autoencoder", "Backend", "BackendUnavailable", "BernoulliNLL", "Dense",
    "GaussianMixture", "GaussianNLL", "GaussianNLLLearnedSigma", "GaussianNoise", "HeteroscedasticGaussianNLL",
    "LinearProbe", "MSE", "Masking", "NoCorruption", "SGD", "SaltPepper", "Sequential", "TiedDense", "TrainConfig",
    "available_backends", "encode", "get_activation", "get_backend", "get_corruption", "get_loss",
    "get_optimizer", "get_toy", "gradcheck", "learning_rate", "load_dataset", "load_model", "markov_chain",
    "mcnemar_exact", "numerical_gradient", "prepare_images", "reconstruct", "relative_error", "save_model",
    "score_field", "to_host", "train",
]
