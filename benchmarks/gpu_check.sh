#!/usr/bin/env bash
# The GPU check: run on a machine with an NVIDIA GPU and CuPy installed
# (pip install -e '.[test,cuda12]'). It prints, in order:
#   1. scratchdae info (CuPy version, the GPU),
#   2. the whole test suite with the CuPy backend as the default
#      (tests parametrized over backends run on both),
#   3. scratchdae gradcheck on CuPy (float64 on the GPU),
#   4. the training throughput benchmark on CuPy against PyTorch on CUDA (each in its own
#      process, taking turns), on the default net at batch 256 and 4096,
#   5. the peak GPU memory of a short default training run.
# Record what it prints in docs/gpu.md.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
status=0
python -m scratchdae.cli info || status=1
SCRATCHDAE_BACKEND=cupy python -m pytest -q -p no:cacheprovider -x "$@" || status=1
python -m scratchdae.cli gradcheck --backend cupy || status=1
python benchmarks/train_throughput.py --backend cupy --nets 784-1000-784 --batches 256,4096 || status=1
python - <<'PY' || status=1
import tempfile

import cupy

from scratchdae import train

pool = cupy.get_default_memory_pool()
with tempfile.TemporaryDirectory() as out:
    train(backend="cupy", epochs=2, out=f"{out}/run", quiet=True, figures=False)
print(f"peak GPU memory held by CuPy's pool in a 2-epoch default run: {pool.total_bytes() / 2**20:.1f} MiB")
PY
exit $status
