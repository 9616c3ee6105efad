r"""scratchdae: denoising autoencoders from scratch, NumPy on the CPU and CuPy on a GPU.

Where things are (each module is one step of the derivations in docs/):

backend      the array namespace: NumPy or CuPy, host/device copies, seeded generators
activations  elementwise nonlinearities and their derivatives            (A1)-(A12)
layers       Dense and TiedDense with hand-written backprop               (D1)-(D6)
model        Sequential stacks and the Autoencoder
losses       Gaussian NLL (fixed, learned, per-pixel, beta-NLL), Bernoulli, MSE
corruption   q(x~|x): Gaussian noise, masking, salt-and-pepper            (C1)-(C3)
optim        SGD (momentum, Nesterov) and Adam, in place                  (O1)-(O6)
gradient_check  central differences against every backward pass              (GC1)-(GC2)
"""
__version__ = "0.1.0"

from .activations import ACTIVATIONS, get_activation
from .backend import Backend, BackendUnavailable, available_backends, get_backend, to_host
from .corruption import GaussianNoise, Masking, NoCorruption, SaltPepper, get_corruption
from .gradient_check import gradcheck, numerical_gradient, relative_error
from .layers import Dense, TiedDense
from .losses import (MSE, BernoulliNLL, GaussianNLL, GaussianNLLLearnedSigma, HeteroscedasticGaussianNLL,
                     get_loss)
from .model import Autoencoder, Sequential
from .optim import SGD, Adam, get_optimizer, learning_rate

__all__ = [
    "ACTIVATIONS", "Adam", "Autoencoder", "Backend", "BackendUnavailable", "BernoulliNLL", "Dense",
    "GaussianNLL", "GaussianNLLLearnedSigma", "GaussianNoise", "HeteroscedasticGaussianNLL", "MSE", "Masking",
    "NoCorruption", "SGD", "SaltPepper", "Sequential", "TiedDense", "available_backends", "get_activation",
    "get_backend", "get_corruption", "get_loss", "get_optimizer", "gradcheck", "learning_rate",
    "numerical_gradient", "relative_error", "to_host",
]
