r"""Model answers to tutorials/exercises/exercises.py. Try the exercises first."""
import numpy as np


def tanh_backward(da, z, a):
    return da * (1 - a * a)  # (A6): d tanh(z)/dz = 1 - tanh(z)^2 = 1 - a^2


def tied_dense_backward(da, x, z, a, W_enc, activation_backward):
    dz = activation_backward(da, z, a)  # N,I  chain rule through f
    dW_T = x.T @ dz  # (D2) for the weight this layer uses, W_enc^T: O,I
    db = dz.sum(axis=0)  # (D3) I
    dx = dz @ W_enc  # (D4) with (W_enc^T)^T = W_enc: N,O
    return dx, dW_T.T, db  # the shared (I,O) matrix gets the transpose


def beta_nll_gradients(mu, s, x, beta):
    r2_iv = (x - mu) ** 2 * np.exp(-s)  # squared error in units of sigma^2
    dmu = (mu - x) * np.exp(-s)  # (G7) from d/dmu of (x - mu)^2 e^{-s} / 2
    ds = 0.5 * (1 - r2_iv)  # (G7) from d/ds of (s + (x - mu)^2 e^{-s}) / 2
    w = np.exp(beta * s)  # (G8) sigma^(2 beta), held constant
    return w * dmu, w * ds  # beta = 1: w dmu = mu - x


def adamw_step(p, g, m, v, t, lr, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0):
    p -= lr * weight_decay * p  # decoupled: shrink the weights, not the gradient
    m *= b1
    m += (1 - b1) * g  # (O4)
    v *= b2
    v += (1 - b2) * g * g  # (O5)
    m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
    p -= lr * m_hat / (np.sqrt(v_hat) + eps)  # (O6)
    return p
