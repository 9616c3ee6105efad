"""Training throughput of the default DAE: scratchdae against PyTorch, same run.

Same architecture (784-1000-784, ReLU, sigmoid output), batch size, optimizer
(Adam, lr 1e-3), loss (Gaussian NLL, fixed sigma), corruption (Gaussian 0.5)
and dtype (float32) on both sides; PyTorch computes its gradients by autograd.
Prints samples per second and the ratio. Run by hand:

    python benchmarks/train_throughput.py [--backend numpy|cupy] [--steps 300]

On --backend cupy PyTorch runs on the GPU too (when it has CUDA).
"""
import argparse
import math
import os
import time

from scratchdae import Adam, Autoencoder, GaussianNLL, get_backend, get_corruption
from scratchdae.data import load_dataset
from scratchdae import prepare_images


def scratchdae_rate(be, X, steps, batch, hidden):
    model = Autoencoder(X.shape[1], hidden, seed=0, backend=be)
    loss, opt, corrupt = GaussianNLL(0.1), Adam(1e-3), get_corruption("gaussian:0.5")
    params, rng = model.parameters(), be.rng(0)
    Xd = be.asarray(X)

    def step(i):
        x = Xd[(i * batch) % (len(Xd) - batch):][:batch]
        out, cache = model.forward(corrupt(x, rng))
        value, lc = loss.forward(out, x)
        _, grads = model.backward(loss.backward(lc)[0], cache)
        opt.step(params, grads)
        return value

    for i in range(10):  # warm-up: allocations, BLAS threads, CUDA kernels
        step(i)
    be.synchronize()
    t = time.perf_counter()
    for i in range(steps):
        value = step(i)
    float(value)
    be.synchronize()
    return steps * batch / (time.perf_counter() - t)


def torch_rate(device, X, steps, batch, hidden):
    import torch

    torch.manual_seed(0)
    layers, sizes = [], [X.shape[1], *hidden]
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    for a, b in zip(sizes[::-1][:-2], sizes[::-1][1:-1]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    layers += [torch.nn.Linear(sizes[1], X.shape[1]), torch.nn.Sigmoid()]
    net = torch.nn.Sequential(*layers).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    Xd = torch.as_tensor(X, device=device)
    const = X.shape[1] * (math.log(0.1) + 0.5 * math.log(2 * math.pi))

    def step(i):
        x = Xd[(i * batch) % (len(Xd) - batch):][:batch]
        x_tilde = x + 0.5 * torch.randn_like(x)
        mu = net(x_tilde)
        value = ((mu - x) ** 2).sum(1).mean() / (2 * 0.01) + const
        opt.zero_grad(set_to_none=True)
        value.backward()
        opt.step()
        return value

    for i in range(10):
        step(i)
    if device == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for i in range(steps):
        value = step(i)
    value.item()
    if device == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="numpy", choices=["numpy", "cupy"])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--hidden", default="1000")
    ap.add_argument("--repeats", type=int, default=3, help="alternate the two this many times; report the best")
    args = ap.parse_args()
    hidden = tuple(int(h) for h in args.hidden.split(","))
    be = get_backend(args.backend)
    X = prepare_images(load_dataset("mnist-sample", log=lambda *a: None).train_images)
    print(f"backend {be.name}, {os.cpu_count()} CPUs, 784-{'-'.join(map(str, hidden))}-784, batch {args.batch_size}, "
          f"float32, Adam, {args.steps} steps x {args.repeats}")
    try:
        import torch
        device = "cuda" if be.name == "cupy" and torch.cuda.is_available() else "cpu"
        print(f"torch {torch.__version__} on {device}, {torch.get_num_threads()} threads")
    except ImportError:
        torch = None
        print("torch not importable: scratchdae alone")
    ours, theirs = [], []
    for _ in range(args.repeats):  # interleaved, so both see the same machine load
        ours.append(scratchdae_rate(be, X, args.steps, args.batch_size, hidden))
        if torch is not None:
            theirs.append(torch_rate(device, X, args.steps, args.batch_size, hidden))
    print(f"scratchdae ({be.name}): {max(ours):10,.0f} samples/s  (runs: {', '.join(f'{r:,.0f}' for r in ours)})")
    if theirs:
        print(f"pytorch ({device}):   {max(theirs):10,.0f} samples/s  (runs: {', '.join(f'{r:,.0f}' for r in theirs)})")
        print(f"ratio scratchdae / pytorch: {max(ours) / max(theirs):.2f}")


if __name__ == "__main__":
    main()
