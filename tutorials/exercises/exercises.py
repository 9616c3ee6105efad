r"""Exercises: four pieces of the package to write yourself.

Fill in each function where it says ``raise NotImplementedError``, then run

    pytest tutorials/exercises                 # all four
    pytest tutorials/exercises -k tanh         # one at a time: tanh, tied, beta, adamw

The tests are red until your code is right. Each exercise names the
equations of docs/derivations.md it implements and the tutorial it goes
with. Model answers are in tutorials/solutions/ -- try first.

Arrays are NumPy arrays; rows are examples (N), as everywhere in the package.
"""


def tanh_backward(da, z, a):
    r"""Exercise 1 (tutorial 01; (A5)-(A6)): the backward pass of a = tanh(z).

    Given da = dL/da, the pre-activation z and the output a = tanh(z) (all N,O),
    return dz = dL/dz. Use the output a, not z: that is why forward keeps it.
    The test checks your gradient against central differences (GC1)-(GC2),
    and shows the same check catching a wrong formula.
    """
    raise NotImplementedError("Exercise 1: return dL/dz for a = tanh(z)  (A6)")


def tied_dense_backward(da, x, z, a, W_enc, activation_backward):
    r"""Exercise 2 (tutorial 02; (D1)-(D4) with tied weights): a decoder layer that uses the
    encoder's weight transposed.

    Forward was z = x W_enc^T + b, a = f(z), with W_enc of shape (I, O): the encoder maps
    I -> O, so this layer maps O -> I. Given da (N,I), the cache (x: N,O; z, a: N,I),
    W_enc (I,O) and ``activation_backward(da, z, a) -> dz``, return

        (dx, dW_enc, db)

    where dW_enc is the gradient with respect to the *shared* (I,O) matrix from this use
    of it (the model adds it to the encoder's own gradient), db is (I,), dx is (N,O).
    """
    raise NotImplementedError("Exercise 2: the tied layer's (dx, dW_enc, db)")


def beta_nll_gradients(mu, s, x, beta):
    r"""Exercise 3 (tutorial 04; (G6)-(G8)): the gradients of beta-NLL for one example.

    mu, s, x are (D,): the predicted means, log-variances s_d = log sigma_d^2, and the
    clean pixels. Derive (G7) from (G6) yourself, then weight both gradients by
    sg[sigma_d^(2 beta)] = exp(beta s_d), held constant (G8). Return (dmu, ds), each (D,).
    The test also checks what you should find on paper: with beta = 1 the mean's
    gradient is mu - x, the gradient of half the squared error.
    """
    raise NotImplementedError("Exercise 3: beta-NLL's (dmu, ds)  (G7)-(G8)")


def adamw_step(p, g, m, v, t, lr, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0):
    r"""Exercise 4 (tutorial 03; (O3)-(O6)): one step of AdamW, decoupled weight decay.

    The package's Adam adds weight_decay * p to the gradient first (O3): coupled L2, whose
    decay Adam then rescales by 1/sqrt(v). AdamW (Loshchilov and Hutter 2019) instead
    shrinks the weights directly, p <- p - lr weight_decay p, and runs (O4)-(O6) on the
    plain gradient. Update p, m and v in place (t is the step number, from 1) and return p.
    The test compares with the package's Adam when weight_decay = 0, and shows that
    coupled and decoupled decay differ when it is not.
    """
    raise NotImplementedError("Exercise 4: one AdamW step")
