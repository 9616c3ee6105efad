#!/usr/bin/env bash
# The GPU check: run on a machine with an NVIDIA GPU and CuPy installed
# (pip install -e '.[test,cuda12]'). It prints, in order:
#   1. scratchdae info (CuPy version, the GPU),
#   2. the whole test suite with the CuPy backend as the default
#      (tests parametrized over backends run on both),
#   3. scratchdae gradcheck on CuPy (float64 on the GPU),
#   4. the training throughput benchmark on CuPy, against PyTorch on CUDA when present.
# Record what it prints in docs/gpu.md.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
status=0
python -m scratchdae.cli info || status=1
SCRATCHDAE_BACKEND=cupy python -m pytest -q -p no:cacheprovider -x "$@" || status=1
python -m scratchdae.cli gradcheck --backend cupy || status=1
python benchmarks/train_throughput.py --backend cupy --steps 500 || status=1
python benchmarks/train_throughput.py --backend cupy --steps 200 --batch-size 1024 --hidden 2000 || status=1
exit $status
