"""Training throughput: scratchdae against PyTorch, each in its own process, taking turns.

Same network, loss (Gaussian NLL, sigma 0.1), optimizer (Adam, lr 1e-3), noise
(Gaussian 0.5, fresh every batch), batch gathered from a shuffled order, and
dtype (float32) on both sides; PyTorch computes its gradients by autograd.
Each side runs in its own worker process (NumPy's and PyTorch's thread pools
fight when they share one), with the same number of threads, and the two
take turns for slices of ``--slice`` seconds, ``--rounds`` times, the order
swapped every round. For each round the ratio of the two rates is taken; the
table gives the median of those paired ratios, and each side's GFLOP/s.

    python benchmarks/train_throughput.py                   # both nets, batches 64, 256, 1024
    python benchmarks/train_throughput.py --backend cupy    # PyTorch on CUDA, batches 256 and 4096
    git worktree add /tmp/base REV && python benchmarks/train_throughput.py --peers base --base /tmp/base

Run it by hand on an otherwise idle machine.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

NETS = {"784-1000-784": (1000,), "784-512-128-512-784": (512, 128)}


def flops_per_step(batch, sizes):
    """Multiply-adds of one step, times two: forward (x W), dW, and dx for every layer but the first."""
    pairs = list(zip(sizes[:-1], sizes[1:]))
    mults = sum(a * b for a, b in pairs)
    return 2 * batch * (2 * mults + (mults - pairs[0][0] * pairs[0][1]))


def layer_sizes(hidden):
    return [784, *hidden, *hidden[-2::-1], 784]


# -- the workers ------------------------------------------------------------------------


def scratchdae_worker(args):
    from scratchdae import Adam, Autoencoder, GaussianNLL, get_backend, get_corruption, prepare_images
    from scratchdae.data import load_dataset
    try:
        from scratchdae.loop import train_step
    except ImportError:  # an older checkout (--base): the loop's module was scratchdae.train
        from scratchdae.train import train_step

    try:
        from scratchdae.fast import accelerate, keep_freed_host_memory
    except ImportError:  # an older checkout (--base): its optimizer's own step was its fast one
        accelerate = lambda opt: opt  # noqa: E731
        try:
            from scratchdae.backend import keep_freed_host_memory
        except ImportError:  # older still: no such setting
            keep_freed_host_memory = lambda: None  # noqa: E731
    keep_freed_host_memory()  # as train() does
    be = get_backend(args.backend)
    X = be.asarray(prepare_images(load_dataset("mnist-sample", log=lambda *a: None).train_images))
    model = Autoencoder(784, NETS[args.net], seed=0, backend=be)
    loss, corrupt = GaussianNLL(0.1), get_corruption("gaussian:0.5")
    opt = accelerate(Adam(1e-3))  # the fast step that train() uses
    params, rng, order = model.parameters(), be.rng(3), __import__("numpy").random.default_rng(2)
    state = {"perm": None, "at": len(X)}

    def step():
        if state["at"] + args.batch > len(X):
            state["perm"], state["at"] = be.asarray(order.permutation(len(X))), 0
        idx = state["perm"][state["at"]:state["at"] + args.batch]
        state["at"] += args.batch
        return train_step(model, loss, opt, corrupt, X, X, idx, rng, params)

    return step, be.synchronize


def torch_worker(args):
    import numpy as np
    import torch

    from scratchdae import prepare_images
    from scratchdae.data import load_dataset

    torch.set_num_threads(args.threads)
    device = "cuda" if args.backend == "cupy" else "cpu"
    torch.manual_seed(0)
    sizes, layers = layer_sizes(NETS[args.net]), []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [torch.nn.Linear(a, b), torch.nn.Sigmoid() if i == len(sizes) - 2 else torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    X = torch.as_tensor(prepare_images(load_dataset("mnist-sample", log=lambda *a: None).train_images), device=device)
    order = np.random.default_rng(2)
    const = 784 * (math.log(0.1) + 0.5 * math.log(2 * math.pi))
    state = {"perm": None, "at": len(X)}

    def step():
        if state["at"] + args.batch > len(X):
            state["perm"], state["at"] = torch.as_tensor(order.permutation(len(X)), device=device), 0
        idx = state["perm"][state["at"]:state["at"] + args.batch]
        state["at"] += args.batch
        x = X[idx]
        mu = net(x + 0.5 * torch.randn_like(x))
        value = ((mu - x) ** 2).sum(1).mean() / (2 * 0.1**2) + const
        opt.zero_grad(set_to_none=True)
        value.backward()
        opt.step()
        return value.item()  # the loss on the host, as scratchdae's loop reads it

    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    return step, sync


def tuned_worker(args):
    """The plain NumPy DAE written for speed alone (``tuned_numpy.py``), on the same data and order."""
    import numpy as np

    from scratchdae import prepare_images
    from scratchdae.data import load_dataset
    from tuned_numpy import TunedDAE

    X = prepare_images(load_dataset("mnist-sample", log=lambda *a: None).train_images)
    dae = TunedDAE(X, layer_sizes(NETS[args.net]), args.batch)
    order, state = np.random.default_rng(2), {"perm": None, "at": len(X)}

    def step():
        if state["at"] + args.batch > len(X):
            state["perm"], state["at"] = order.permutation(len(X)), 0
        idx = state["perm"][state["at"]:state["at"] + args.batch]
        state["at"] += args.batch
        return dae.step(idx)

    return step, lambda: None


WORKERS = {"scratchdae": scratchdae_worker, "base": scratchdae_worker, "torch": torch_worker, "tuned": tuned_worker}


def worker(args):
    """Warm up, then for each line "SECONDS" on stdin run steps for that long and print steps and seconds."""
    step, sync = WORKERS[args.side](args)
    for _ in range(20):  # warm-up: buffers, BLAS threads, CUDA kernels
        step()
    sync()
    print("ready", flush=True)
    for line in sys.stdin:
        budget = float(line)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < budget:
            step()
            n += 1
        sync()
        print(json.dumps({"steps": n, "seconds": time.perf_counter() - t0}), flush=True)


# -- the driver -------------------------------------------------------------------------------


def start(side, args, net, batch):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(args.threads), "OMP_NUM_THREADS": str(args.threads)}
    if side == "tuned":  # the OpenBLAS setting that scratchdae makes on import (the tuned peer is plain NumPy)
        env["OPENBLAS_THREAD_TIMEOUT"] = "4"
    if side == "base":  # another checkout of scratchdae, as it is (its own settings, if any)
        env["PYTHONPATH"] = os.path.abspath(args.base) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, __file__, "--worker", side, "--net", net, "--batch", str(batch), "--backend",
           args.backend, "--threads", str(args.threads)]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    assert p.stdout.readline().strip() == "ready", f"{side} worker failed to start"
    return p


def turn(p, seconds):
    p.stdin.write(f"{seconds}\n")
    p.stdin.flush()
    r = json.loads(p.stdout.readline())
    return r["steps"] / r["seconds"]


def compare(args, net, batch):
    """Median paired ratios scratchdae / peer for each peer, and each side's GFLOP/s and examples a second."""
    sides = ["scratchdae", *args.peers]
    procs = {side: start(side, args, net, batch) for side in sides}
    ratios, rates = {peer: [] for peer in args.peers}, {side: [] for side in sides}
    try:
        for r in range(args.rounds):
            order = sides[r % len(sides):] + sides[:r % len(sides)]  # each side goes first in turn
            order = order if r % 2 == 0 else order[::-1]
            got = {}
            for side in order:
                time.sleep(0.3)  # the last side's idle threads (OpenBLAS spins up to 0.1 s) settle first
                got[side] = turn(procs[side], args.slice)
            for side in sides:
                rates[side].append(got[side])
            for peer in args.peers:
                ratios[peer].append(got["scratchdae"] / got[peer])
    finally:
        for p in procs.values():
            p.stdin.close()
            p.wait(timeout=60)
    flops = flops_per_step(batch, layer_sizes(NETS[net]))
    gflops = {k: statistics.median(v) * flops / 1e9 for k, v in rates.items()}
    examples = {k: statistics.median(v) * batch for k, v in rates.items()}
    spread = {peer: (min(v), max(v)) for peer, v in ratios.items()}  # the range of the paired ratios
    return {peer: statistics.median(v) for peer, v in ratios.items()}, gflops, examples, spread


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="numpy", choices=["numpy", "cupy"])
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="threads on each side (all cores)")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--slice", type=float, default=1.0, help="seconds each side runs per turn")
    ap.add_argument("--batches", default=None, help="comma-separated (64,256,1024; cupy: 256,4096)")
    ap.add_argument("--nets", default=",".join(NETS), help="comma-separated: " + ", ".join(NETS))
    ap.add_argument("--peers", default="torch,tuned",
                    help="comma-separated: torch (PyTorch), tuned (benchmarks/tuned_numpy.py), base (--base)")
    ap.add_argument("--base", help="a folder holding another checkout of scratchdae (git worktree add DIR REV), "
                                   "measured as the peer 'base'")
    ap.add_argument("--worker", choices=list(WORKERS), help=argparse.SUPPRESS)
    ap.add_argument("--net", help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        args.side = args.worker
        return worker(args)
    args.peers = [p for p in args.peers.split(",") if p]
    if args.backend == "cupy" and "tuned" in args.peers:
        args.peers.remove("tuned")  # the tuned peer is NumPy on the CPU
    batches = [int(b) for b in (args.batches or ("256,4096" if args.backend == "cupy" else "64,256,1024")).split(",")]
    print(f"scratchdae / peer training steps per second, {args.backend}, {args.threads} thread(s) each, "
          f"{args.rounds} rounds of {args.slice:g} s slices, median of paired ratios (and their range)")
    names = {"torch": "PyTorch", "tuned": "tuned NumPy", "base": "base"}
    if "base" in args.peers and not args.base:
        ap.error("the peer 'base' needs --base DIR, a checkout of the code to compare with")
    head = f"{'net':<22} {'batch':>6}" + "".join(f" {'/ ' + names[p]:>14}" for p in args.peers)
    head += f" {'scratchdae ex/s':>16}" + "".join(f" {names[p] + ' ex/s':>17}" for p in args.peers)
    print(head + "   GFLOP/s (scratchdae" + "".join(f", {names[p]}" for p in args.peers) + ")")
    for net in args.nets.split(","):
        for batch in batches:
            ratios, gflops, ex, spread = compare(args, net, batch)
            line = f"{net:<22} {batch:>6}" + "".join(f" {ratios[p]:>13.2f}x" for p in args.peers)
            line += f" {ex['scratchdae']:>16,.0f}" + "".join(f" {ex[p]:>17,.0f}" for p in args.peers)
            line += "   " + ", ".join(f"{gflops[s]:.0f}" for s in ["scratchdae", *args.peers])
            print(line + "   ratio ranges: " + ", ".join(f"{names[p]} {spread[p][0]:.2f}-{spread[p][1]:.2f}"
                                                     for p in args.peers), flush=True)

if __name__ == "__main__":
    main()
