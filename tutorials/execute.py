"""Run every tutorial notebook in full mode and save it, outputs included, under tutorials/executed/.

The notebooks in tutorials/ are kept without outputs (diffs stay readable);
the executed copies are for reading without running: every number and
figure as a full run on a 2-core CPU gives them. Run by hand after changing a
tutorial or the package:

    python tutorials/execute.py [NN ...]     # all tutorials, or the numbered ones

It prints each notebook's wall-clock time (the times in tutorials/README.md).
"""
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent


def main(numbers):
    out_dir = HERE / "executed"
    out_dir.mkdir(exist_ok=True)
    os.environ.pop("SCRATCHDAE_TUTORIAL_FAST", None)  # full mode
    os.environ.pop("MPLBACKEND", None)  # the kernel's inline backend
    for path in sorted(HERE.glob("[0-9][0-9]_*.ipynb")):
        if numbers and path.name[:2] not in numbers:
            continue
        nb = nbformat.read(path, as_version=4)
        with tempfile.TemporaryDirectory() as work:  # runs/ folders go here, not into the repository
            t = time.perf_counter()
            NotebookClient(nb, timeout=3600, kernel_name="python3", resources={"metadata": {"path": work}}).execute()
            seconds = time.perf_counter() - t
        nb.metadata["scratchdae"] = {"executed": "full mode", "seconds": round(seconds, 1)}
        nbformat.write(nb, out_dir / path.name)
        print(f"{path.stem:<36} {seconds:7.1f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
