"""Hostile but fair inputs: every one must end in one clear line and exit status 2.

Each case builds a bad input in a fresh folder (a damaged model file, a lying
IDX header, a pipe where an image should be, an option out of range, ...) and
runs the command line on it, in this process (fast) or, for signals, in a
child process. Each asserts:

* exit status 2 (argparse's own usage errors too), and no traceback;
* the last line on stderr names the command, and the file or option at fault;
  our own errors are that one line, and say how to fix it ("Fix:");
* nothing in the folder was written, changed or removed.

The families: data files, model and checkpoint files, options, paths and
outputs, documents, the Python API, and signals.
"""
import gzip
import hashlib
import io
import json
import os
import re
import signal
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scratchdae import cli
from scratchdae.checkpoint import load_npz, save_npz

# -- fixtures: one small trained model of each kind ----------------------------------


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Tiny models (digits, toy points, documents), trained once for the whole module."""
    from scratchdae import train
    from scratchdae.documents import train_cleaner

    root = tmp_path_factory.mktemp("models")
    quiet = dict(quiet=True, figures=False, epochs=1)
    train(out=root / "digits", max_train=300, hidden=(16,), **quiet)
    train(out=root / "toy", dataset="toy:mixture8", n_points=600, hidden=(8,), noise="gaussian:0.3", **quiet)
    train_cleaner(out=root / "docs", pages=2, windows_per_page=60, hidden=(8,), **quiet)
    return root


def snapshot(folder):
    """Every file under ``folder``: relative path -> (size, mode, SHA-256)."""
    out = {}
    for p in sorted(Path(folder).rglob("*")):
        if p.is_symlink() or not p.is_file():
            out[str(p.relative_to(folder))] = ("not a file", p.is_dir())
            continue
        out[str(p.relative_to(folder))] = (p.stat().st_size, p.stat().st_mode,
                                           hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def run_cli(argv, capsys):
    """(exit status, stdout, stderr) of ``scratchdae ARGV`` in this process."""
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as err:  # argparse's usage errors
        code = err.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_refused(argv, capsys, folder, *names):
    """Exit 2, one clear line naming each of ``names``, nothing written in ``folder``."""
    before = snapshot(folder)
    code, out, err = run_cli(argv, capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, f"exit {code} for {argv}; stderr: {err}"
    assert "Traceback" not in err and lines, err
    last = lines[-1]
    assert last.startswith(f"scratchdae {argv[0]}") or last.startswith("scratchdae: error"), last
    if "usage:" not in err:  # our own errors: one line, with the fix
        assert len(lines) == 1, f"more than one line for {argv}: {err}"
        assert "Fix:" in last or "expected" in last or "must" in last, last
    for name in names:
        assert str(name) in last, f"{name!r} not named in: {last}"
    assert snapshot(folder) == before, f"{argv} changed the folder"
    return last


# -- building bad files ------------------------------------------------------------------


def write_idx_bytes(path, code, dims, payload=b"", gz=False):
    raw = struct.pack(">HBB", 0, code, len(dims)) + struct.pack(f">{len(dims)}I", *dims) + payload
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def read_members(path):
    with zipfile.ZipFile(path) as z:
        return {info.filename: z.read(info) for info in z.infolist()}


def write_members(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def npy_bytes(a):
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def with_header(src, dst, change):
    """Copy model file ``src`` to ``dst`` with its JSON header passed through ``change`` (which may
    return any JSON value)."""
    members = read_members(src)
    header = json.loads(np.load(io.BytesIO(members["__header__.npy"])).tobytes())
    new = change(header)
    members["__header__.npy"] = npy_bytes(np.frombuffer(json.dumps(new).encode(), dtype=np.uint8))
    return write_members(dst, members)


def with_arrays(src, dst, change):
    """Copy ``src`` to ``dst`` with its arrays passed through ``change`` (header kept)."""
    arrays, header = load_npz(src)
    header = {k: v for k, v in header.items() if k not in ("format", "format_version", "scratchdae_version")}
    save_npz(dst, change(dict(arrays)), header)
    return dst


def drop(key):
    return lambda h: {k: v for k, v in h.items() if k != key}


def put(key, value):
    return lambda h: {**h, key: value}


def put_arch(key, value):
    return lambda h: {**h, "architecture": {**h["architecture"], key: value}}


# -- model files: each damaged header, given to each command that reads models ----------

HEADER_DAMAGE = {
    "no architecture": (drop("architecture"), "architecture"),
    "no loss": (drop("loss"), "loss"),
    "no corruption": (drop("corruption"), "corruption"),
    "no dtype": (drop("dtype"), "dtype"),
    "no kind": (drop("kind"), "kind"),
    "no format version": (drop("format_version"), "format_version"),
    "string format version": (put("format_version", "1"), "format_version"),
    "future format version": (put("format_version", 7), "format version 7"),
    "architecture a list": (put("architecture", [784, 16]), "architecture"),
    "hidden 1e12 units": (put_arch("hidden", [10**12]), "parameter"),
    "hidden negative": (put_arch("hidden", [-16]), "hidden"),
    "hidden empty": (put_arch("hidden", []), "hidden"),
    "n_in a string": (put_arch("n_in", "784"), "n_in"),
    "unknown activation": (put_arch("activation", "swish"), "activation"),
    "unknown architecture entry": (put_arch("depth", 3), "depth"),
    "dtype float16": (put("dtype", "float16"), "dtype"),
    "dtype object": (put("dtype", "object"), "dtype"),
    "loss a number": (put("loss", 3), "loss"),
    "unknown loss": (put("loss", {"name": "hinge"}), "hinge"),
    "negative loss sigma": (put("loss", {"name": "gaussian", "sigma": -1}), "sigma"),
    "corruption a list": (put("corruption", ["gaussian", 0.5]), "corruption"),
    "unknown corruption": (put("corruption", "blur:3"), "blur"),
    "image shape 1-D": (put("normalisation", {"scale": 255.0, "image_shape": [784]}), "normalisation"),
    "image shape of another size": (put("normalisation", {"scale": 255.0, "image_shape": [27, 27]}), "27x27"),
    "task unknown": (put("task", "audio"), "task"),
    "kind a checkpoint": (put("kind", "training-state"), "training-state"),
}
WHOLE_HEADER = {"header a JSON list": [1, 2], "header null": None, "header a number": 42, "header a string": "model"}


def digit_commands(model, folder):
    """Each command that reads a digit model, as argv."""
    png = folder / "in.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(png)
    return {
        "evaluate": ["evaluate", "--model", model, "--dataset", "mnist-sample"],
        "denoise": ["denoise", "--model", model, png, "--out", folder / "out"],
        "probe": ["probe", "--model", model, "--max-train", "100"],
        "sample": ["sample", "--model", model, "--out", folder / "s", "--steps", "2", "--quality-chains", "0"],
    }


@pytest.mark.parametrize("damage", sorted(HEADER_DAMAGE))
@pytest.mark.parametrize("command", ["evaluate", "denoise", "probe", "sample"])
def test_a_damaged_model_header_is_refused_by_every_command(models, tmp_path, capsys, damage, command):
    change, named = HEADER_DAMAGE[damage]
    bad = with_header(models / "digits" / "model.npz", tmp_path / "bad.npz", change)
    argv = digit_commands(bad, tmp_path)[command]
    last = assert_refused(argv, capsys, tmp_path, "bad.npz")
    assert named in last, last


@pytest.mark.parametrize("name", sorted(WHOLE_HEADER))
def test_a_header_that_is_not_an_object_is_refused(models, tmp_path, capsys, name):
    bad = with_header(models / "digits" / "model.npz", tmp_path / "bad.npz", lambda h: WHOLE_HEADER[name])
    assert "JSON object" in assert_refused(["evaluate", "--model", bad, "--dataset", "mnist-sample"], capsys,
                                           tmp_path, "bad.npz")


def _members_case(models, tmp_path, kind):
    src = models / "digits" / "model.npz"
    members = read_members(src)
    dst = tmp_path / "bad.npz"
    if kind == "raw bytes member":
        members["param/encoder.0.W.npy"] = b"these are not the weights"
    elif kind == "raw bytes header":
        members["__header__.npy"] = b'{"format": "scratchdae"}'
    elif kind == "no header":
        del members["__header__.npy"]
    elif kind == "header of floats":
        members["__header__.npy"] = npy_bytes(np.zeros(8))
    elif kind == "missing weight":
        del members["param/mean_head.W.npy"]
    elif kind == "extra weight":
        members["param/encoder.9.W.npy"] = npy_bytes(np.zeros((2, 2), np.float32))
    elif kind == "object array":
        members["param/encoder.0.b.npy"] = npy_bytes(np.array(["a", "b"]))
    elif kind == "huge declared weight":
        members["param/encoder.0.W.npy"] = npy_bytes(np.zeros(4, np.float32))
        write_members(dst, members)
        return _declare_size(dst, "param/encoder.0.W.npy", 2**40)
    return write_members(dst, members)


def _declare_size(path, member, size):
    """Rewrite the uncompressed size that ``path``'s zip directory records for ``member``: a file that lies."""
    raw = bytearray(path.read_bytes())
    i = raw.find(b"PK\x01\x02")
    while i >= 0:  # each central directory entry: its name length at +28, the name at +46, the size at +24
        n = struct.unpack("<H", raw[i + 28:i + 30])[0]
        if raw[i + 46:i + 46 + n] == member.encode():
            struct.pack_into("<I", raw, i + 24, min(size, 2**32 - 1))
        i = raw.find(b"PK\x01\x02", i + 4)
    path.write_bytes(bytes(raw))
    return path


MEMBER_DAMAGE = ["raw bytes member", "raw bytes header", "no header", "header of floats", "missing weight",
                 "extra weight", "object array", "huge declared weight"]


@pytest.mark.parametrize("kind", MEMBER_DAMAGE)
def test_damaged_members_are_refused(models, tmp_path, capsys, kind):
    bad = _members_case(models, tmp_path, kind)
    assert_refused(["evaluate", "--model", bad, "--dataset", "mnist-sample"], capsys, tmp_path, "bad.npz")


def test_a_huge_unused_member_is_never_read(models, tmp_path, capsys):
    src = models / "digits" / "model.npz"
    members = read_members(src)
    members["unused.npy"] = npy_bytes(np.zeros(16, np.uint8))
    bad = _declare_size(write_members(tmp_path / "m.npz", members), "unused.npy", 2**40)
    code, out, err = run_cli(["evaluate", "--model", bad, "--dataset", "mnist-sample", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["n_images"] == 1000


@pytest.mark.parametrize("kind", ["empty file", "text file", "npy renamed npz", "truncated", "a folder",
                                  "does not exist", "a fifo", "zip of text"])
def test_model_files_that_are_not_models(models, tmp_path, capsys, kind):
    bad = tmp_path / "bad.npz"
    if kind == "empty file":
        bad.write_bytes(b"")
    elif kind == "text file":
        bad.write_text("hello")
    elif kind == "npy renamed npz":
        np.save(tmp_path / "x.npy", np.zeros(3))
        (tmp_path / "x.npy").rename(bad)
    elif kind == "truncated":
        data = (models / "digits" / "model.npz").read_bytes()
        bad.write_bytes(data[: len(data) // 2])
    elif kind == "a folder":
        bad.mkdir()
    elif kind == "a fifo":
        os.mkfifo(bad)
    elif kind == "zip of text":
        write_members(bad, {"readme.txt": b"hi"})
    assert_refused(["evaluate", "--model", bad, "--dataset", "mnist-sample"], capsys, tmp_path, "bad.npz")


@pytest.mark.parametrize("kind", ["nan weight", "inf loss parameter", "weight of wrong shape", "int weights"])
def test_model_arrays_that_cannot_be_a_model(models, tmp_path, capsys, kind):
    def change(arrays):
        if kind == "nan weight":
            arrays["param/encoder.0.W"] = np.full_like(arrays["param/encoder.0.W"], np.nan)
        elif kind == "inf loss parameter":
            arrays["param/mean_head.b"] = np.full_like(arrays["param/mean_head.b"], np.inf)
        elif kind == "weight of wrong shape":
            arrays["param/encoder.0.W"] = arrays["param/encoder.0.W"][:, :5]
        elif kind == "int weights":
            arrays["param/encoder.0.W"] = arrays["param/encoder.0.W"].astype(np.int64)
        return arrays

    bad = with_arrays(models / "digits" / "model.npz", tmp_path / "bad.npz", change)
    code, out, err = run_cli(["evaluate", "--model", bad, "--dataset", "mnist-sample"], capsys)
    if kind == "int weights":  # integers convert exactly to the model's float32: a model that works
        assert code == 0, err
        return
    assert_refused(["evaluate", "--model", bad, "--dataset", "mnist-sample"], capsys, tmp_path, "bad.npz")


TASK_COMMANDS = {  # each command, and the kinds of model it takes
    ("evaluate", "--dataset", "mnist-sample"): "digits",
    ("denoise", "IN", "--out", "OUT"): "digits docs",
    ("probe", "--max-train", "100"): "digits",
    ("sample", "--out", "OUT", "--steps", "2"): "digits",
    ("score", "--points", "200"): "toy",
    ("documents", "evaluate", "--pages", "1"): "docs",
}
WRONG_TASK = [(command, kind) for command, fits in TASK_COMMANDS.items() for kind in ("digits", "toy", "docs")
              if kind not in fits]


@pytest.mark.parametrize("command, kind", WRONG_TASK)
def test_a_model_of_another_task_is_refused(models, tmp_path, capsys, command, kind):
    png = tmp_path / "in.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(png)
    head = 2 if command[0] == "documents" else 1
    rest = [png if a == "IN" else tmp_path / "out" if a == "OUT" else a for a in command[head:]]
    assert_refused([*command[:head], "--model", models / kind / "model.npz", *rest], capsys, tmp_path, "model.npz")


def test_a_model_saved_outside_train_is_refused_clearly_by_evaluate(tmp_path, capsys):
    from scratchdae import Autoencoder, GaussianNLL, get_corruption, save_model

    model = Autoencoder(784, 8, seed=0)
    save_model(tmp_path / "m.npz", model, GaussianNLL(0.1), get_corruption("gaussian:0.5"))
    last = assert_refused(["evaluate", "--model", tmp_path / "m.npz", "--dataset", "mnist-sample"], capsys, tmp_path,
                          "m.npz")
    assert "normalisation" in last or "image" in last


# -- resume from a damaged checkpoint -----------------------------------------------------


def interrupted_run(tmp_path):
    """A run stopped mid-epoch, so its checkpoint holds the order of the examples."""
    from scratchdae import train

    def stop(epoch, step, run):
        if step == 3:
            run.stop()

    train(out=tmp_path / "run", max_train=300, hidden=(8,), epochs=2, batch_size=32, quiet=True, figures=False,
          on_step=stop)
    return tmp_path / "run" / "checkpoint.npz"


RESUME_DAMAGE = {
    "perm out of range": lambda a, h: ({**a, "perm": a["perm"] + 10**6}, h),
    "perm too short": lambda a, h: ({**a, "perm": a["perm"][:10]}, h),
    "perm of floats": lambda a, h: ({**a, "perm": a["perm"].astype(np.float64)}, h),
    "perm repeated": lambda a, h: ({**a, "perm": np.zeros_like(a["perm"])}, h),
    "perm missing": lambda a, h: ({k: v for k, v in a.items() if k != "perm"}, h),
    "history not a list": lambda a, h: (a, {**h, "history": {"epoch": 1}}),
    "best missing": lambda a, h: (a, {k: v for k, v in h.items() if k != "best"}),
    "best without val_loss": lambda a, h: (a, {**h, "best": {"epoch": 0}}),
    "negative epoch": lambda a, h: (a, {**h, "epoch": -1}),
    "step a string": lambda a, h: (a, {**h, "step": "3"}),
    "step past the epoch": lambda a, h: (a, {**h, "step": 10**6}),
    "rng garbage": lambda a, h: (a, {**h, "rng": {"shuffle": {"bit_generator": "nope"}, "noise": None}}),
    "rng missing": lambda a, h: (a, {k: v for k, v in h.items() if k != "rng"}),
    "config with an unknown setting": lambda a, h: (a, {**h, "config": {**h["config"], "colour": "blue"}}),
    "config with a bad value": lambda a, h: (a, {**h, "config": {**h["config"], "batch_size": -4}}),
    "optimizer moment of wrong shape": lambda a, h: ({**a, "opt/encoder.0.W/m": np.zeros((2, 2), np.float32)}, h),
    "running not a pair": lambda a, h: (a, {**h, "running": [1.0]}),
    # damage that would not continue the run
    "best is NaN": lambda a, h: (a, {**h, "best": {**h["best"], "val_loss": float("nan")}}),
    "epoch disagrees with the history": lambda a, h: (a, {**h, "epoch": 10**6}),
    "optimizer state missing": lambda a, h: ({k: v for k, v in a.items() if not k.startswith("opt/")}, h),
    "optimizer state NaN": lambda a, h: ({**a, **{k: np.full_like(v, np.nan) for k, v in a.items()
                                                   if k.startswith("opt/")}}, h),
    "negative second moments": lambda a, h: ({**a, **{k: -np.ones_like(v) for k, v in a.items()
                                                       if k.endswith("/v")}}, h),
    "data record missing": lambda a, h: (a, {k: v for k, v in h.items() if k != "data"}),
    "data hash a number": lambda a, h: (a, {**h, "data": {**h["data"], "sha256": 5}}),
    "rng state out of range": lambda a, h: (a, {**h, "rng": {**h["rng"], "shuffle": {
        **h["rng"]["shuffle"], "state": {**h["rng"]["shuffle"]["state"], "state": -1}}}}),
}


@pytest.mark.parametrize("damage", sorted(RESUME_DAMAGE))
def test_resume_from_a_damaged_checkpoint_is_refused(tmp_path, capsys, damage):
    state = interrupted_run(tmp_path)
    arrays, header = load_npz(state)
    arrays, header = RESUME_DAMAGE[damage](dict(arrays), dict(header))
    header = {k: v for k, v in header.items() if k not in ("format", "format_version", "scratchdae_version")}
    save_npz(state, arrays, header)
    assert_refused(["train", "--out", tmp_path / "run", "--resume"], capsys, tmp_path, "checkpoint.npz")


def test_resume_after_the_data_changed_is_refused(tmp_path, capsys):
    interrupted_run(tmp_path)
    from scratchdae import train

    with pytest.raises(ValueError, match="differ|max_train"):
        train(out=tmp_path / "run", resume=True, max_train=200, quiet=True)


# -- data files -------------------------------------------------------------------------------


def idx_case(folder, kind):
    p = folder / "images.idx"
    ok = np.zeros((3, 28, 28), np.uint8).tobytes()
    if kind == "bad magic":
        p.write_bytes(b"\x12\x34\x56\x78" + ok)
    elif kind == "unknown type":
        write_idx_bytes(p, 0x42, (3, 28, 28), ok)
    elif kind == "zero dimensions":
        p.write_bytes(struct.pack(">HBB", 0, 8, 0))
    elif kind == "truncated header":
        p.write_bytes(struct.pack(">HBB", 0, 8, 3) + b"\x00\x00")
    elif kind == "truncated data":
        write_idx_bytes(p, 8, (3, 28, 28), ok[:-5])
    elif kind == "trailing data":
        write_idx_bytes(p, 8, (3, 28, 28), ok + b"extra")
    elif kind == "dims overflow int64":
        write_idx_bytes(p, 8, (2**32 - 1, 2**32 - 1, 2**32 - 1))
    elif kind == "gzip declaring 2e6 images":
        write_idx_bytes(p, 8, (2_000_000, 28, 28), ok, gz=True)
    elif kind == "corrupt gzip":
        p.write_bytes(b"\x1f\x8b" + b"garbage" * 10)
    elif kind == "empty":
        p.write_bytes(b"")
    elif kind == "labels not images":
        write_idx_bytes(p, 8, (3,), b"\x01\x02\x03")
    elif kind == "images of another size":
        write_idx_bytes(p, 8, (3, 20, 20), bytes(1200))
    elif kind == "float images":
        write_idx_bytes(p, 0x0D, (1, 28, 28), np.zeros(784, ">f4").tobytes())
    elif kind == "a folder":
        p.mkdir()
    elif kind == "a fifo":
        os.mkfifo(p)
    elif kind == "missing":
        pass
    elif kind == "zero images":
        write_idx_bytes(p, 8, (0, 28, 28))
    return p


IDX_CASES = ["bad magic", "unknown type", "zero dimensions", "truncated header", "truncated data", "trailing data",
             "dims overflow int64", "gzip declaring 2e6 images", "corrupt gzip", "empty", "labels not images",
             "images of another size", "float images", "a folder", "a fifo", "missing", "zero images"]


@pytest.mark.parametrize("kind", IDX_CASES)
def test_bad_idx_files_for_evaluate(models, tmp_path, capsys, kind):
    p = idx_case(tmp_path, kind)
    assert_refused(["evaluate", "--model", models / "digits" / "model.npz", "--images", p], capsys, tmp_path,
                   "images.idx")


@pytest.mark.parametrize("kind", ["bad magic", "truncated data", "dims overflow int64", "gzip declaring 2e6 images",
                                  "labels not images"])
def test_bad_idx_files_in_a_training_folder(tmp_path, capsys, kind):
    data = tmp_path / "data"
    data.mkdir()
    p = idx_case(data, kind)
    p.rename(data / "train-images-idx3-ubyte")
    write_idx_bytes(data / "t10k-images-idx3-ubyte", 8, (2, 28, 28), bytes(2 * 784))
    assert_refused(["train", "--data-dir", data, "--out", tmp_path / "run"], capsys, tmp_path,
                   "train-images-idx3-ubyte")


def test_a_folder_without_idx_files(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "notes.txt").write_text("hi")
    assert_refused(["train", "--data-dir", tmp_path / "data", "--out", tmp_path / "run"], capsys, tmp_path, "data")


# -- images given to denoise --------------------------------------------------------------------


def image_case(folder, kind):
    p = folder / "in.png"
    if kind == "not an image":
        p.write_bytes(b"hello, not a png")
    elif kind == "empty":
        p.write_bytes(b"")
    elif kind == "colour":
        rgb = np.zeros((28, 28, 3), np.uint8)
        rgb[..., 0] = 255
        Image.fromarray(rgb).save(p)
    elif kind == "wrong size":
        Image.fromarray(np.zeros((30, 28), np.uint8)).save(p)
    elif kind == "a folder":
        p.mkdir()
    elif kind == "a fifo":
        os.mkfifo(p)
    elif kind == "missing":
        pass
    elif kind == "truncated png":
        buf = io.BytesIO()
        Image.fromarray(np.zeros((28, 28), np.uint8)).save(buf, format="PNG")
        p.write_bytes(buf.getvalue()[:40])
    elif kind == "decompression bomb":
        Image.new("1", (40000, 40000)).save(p)  # 1.6 gigapixels, a small file
    elif kind == "a link to nowhere":
        p.symlink_to(folder / "nowhere.png")
    elif kind == "a link loop":
        p.symlink_to(p)
    return p


IMAGE_CASES = ["not an image", "empty", "wrong size", "a folder", "a fifo", "missing", "truncated png",
               "decompression bomb", "a link to nowhere", "a link loop"]


@pytest.mark.parametrize("kind", IMAGE_CASES)
def test_bad_images_for_denoise(models, tmp_path, capsys, kind):
    if kind == "decompression bomb" and os.environ.get("SCRATCHDAE_FAST_HOSTILE"):
        pytest.skip("slow to build")
    p = image_case(tmp_path, kind)
    assert_refused(["denoise", "--model", models / "digits" / "model.npz", p, "--out", tmp_path / "out"], capsys,
                   tmp_path, "in.png")


# -- options ----------------------------------------------------------------------------------------

TRAIN_OPTIONS = [
    ("--epochs", "0"), ("--epochs", "-1"), ("--epochs", "1.5"), ("--batch-size", "0"), ("--batch-size", "-8"),
    ("--lr", "0"), ("--lr", "-0.1"), ("--lr", "nan"), ("--lr", "inf"), ("--lr", "abc"), ("--seed", "-1"),
    ("--seed", "x"), ("--val-fraction", "0"), ("--val-fraction", "1"), ("--val-fraction", "nan"),
    ("--max-train", "1"), ("--max-train", "-5"), ("--patience", "-1"), ("--max-seconds", "0"),
    ("--max-seconds", "inf"), ("--momentum", "1.5"), ("--weight-decay", "-1"), ("--hidden", "0"),
    ("--hidden", "-3"), ("--hidden", "abc"), ("--hidden", "10000000000"), ("--hidden", "100000,100000,100000"),
    ("--decoder-hidden", "-1"), ("--noise", "gaussian:"), ("--noise", "gaussian:-1"), ("--noise", "gaussian:nan"),
    ("--noise", "gaussian:inf"), ("--noise", "masking:2"), ("--noise", "foo:1"), ("--noise", "salt-pepper:-0.1"),
    ("--loss", "gaussian:0"), ("--loss", "gaussian:1e308"), ("--loss", "gaussian:1e-300"), ("--loss", "hinge"),
    ("--loss", "gaussian-learned:-1"), ("--activation", "swish"), ("--output-activation", "softmax"),
    ("--lr-schedule", "linear"), ("--lr-schedule", "step:0:0.5"), ("--dataset", "cifar"),
    ("--backend", "cupy"), ("--n-points", "0"), ("--optimizer", "rmsprop"),
]


@pytest.mark.parametrize("option, value", TRAIN_OPTIONS)
def test_bad_training_options(tmp_path, capsys, option, value):
    if option == "--backend":
        from scratchdae.backend import available_backends

        if "cupy" in available_backends():
            pytest.skip("CuPy works here")
    argv = ["train", "--out", tmp_path / "run", "--max-train", "300", "--epochs", "1", option, value]
    last = assert_refused(argv, capsys, tmp_path)
    stem = option.lstrip("-").replace("-", "_")
    assert option in last or stem in last or value in last or stem.split("_")[0] in last, last


OTHER_OPTIONS = [
    (["score", "--points", "5"], "--points"),
    (["score", "--points", "-1"], "--points"),
    (["sample", "--steps", "0", "--out", "OUT"], "steps"),
    (["sample", "--chains", "-1", "--out", "OUT"], "chains"),
    (["sample", "--quality-chains", "-3", "--out", "OUT"], "quality"),
    (["probe", "--max-train", "1"], "max"),
    (["probe", "--compare", "nofile"], "--compare"),
    (["probe", "--compare", "a=MODEL", "--compare", "a=MODEL"], "twice"),
    (["evaluate", "--dataset", "mnist-sample", "--noise", "gaussian:-2"], "gaussian"),
    (["evaluate", "--dataset", "mnist-sample", "--seed", "-1"], "seed"),
    (["evaluate"], "say what to evaluate on"),
    (["documents", "generate", "--out", "OUT", "--pages", "-3"], "--pages"),
    (["documents", "generate", "--out", "OUT", "--pages", "0", "--test-pages", "0"], "--pages"),
    (["documents", "generate", "--out", "OUT", "--fonts", "comic"], "comic"),
    (["documents", "generate", "--out", "OUT", "--backgrounds", "tea"], "tea"),
    (["documents", "evaluate", "--pages", "0"], "pages"),
    (["documents", "evaluate", "--pages", "-1"], "pages"),
]


@pytest.mark.parametrize("argv, named", OTHER_OPTIONS)
def test_bad_options_of_the_other_commands(models, tmp_path, capsys, argv, named):
    model = {"score": "toy", "documents": "docs"}.get(argv[0], "digits")
    argv = [tmp_path / "out" if a == "OUT" else models / "digits" / "model.npz" if a == "MODEL" else a for a in argv]
    if argv[0] == "documents" and argv[1] == "evaluate":
        argv = [*argv[:2], "--model", models / model / "model.npz", *argv[2:]]
    elif argv[0] != "documents" and argv[-1] != "say what to evaluate on":
        argv = [argv[0], "--model", models / model / "model.npz", *argv[1:]]
    if argv == ["evaluate"]:
        argv = ["evaluate", "--model", models / "digits" / "model.npz"]
    assert named in assert_refused(argv, capsys, tmp_path)


# -- paths and outputs -------------------------------------------------------------------------------


def test_train_out_is_a_file(tmp_path, capsys):
    (tmp_path / "run").write_text("my notes")
    assert_refused(["train", "--out", tmp_path / "run", "--max-train", "300"], capsys, tmp_path, "run")


def test_train_out_under_a_file(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    assert_refused(["train", "--out", tmp_path / "afile" / "run", "--max-train", "300"], capsys, tmp_path, "afile")


def test_train_out_holding_a_model_is_not_replaced(models, tmp_path, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "model.npz").write_bytes((models / "digits" / "model.npz").read_bytes())
    assert_refused(["train", "--out", tmp_path / "run", "--max-train", "300"], capsys, tmp_path, "model.npz")


def test_train_out_holding_a_run_needs_resume(models, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    for name in ("model.npz", "checkpoint.npz"):
        (run / name).write_bytes((models / "digits" / name).read_bytes())
    assert_refused(["train", "--out", run], capsys, tmp_path, "--resume")


def test_resume_without_out(tmp_path, capsys):
    assert_refused(["train", "--resume"], capsys, tmp_path, "--out")


def test_resume_of_a_folder_without_a_run(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    assert_refused(["train", "--resume", "--out", tmp_path / "run"], capsys, tmp_path, "checkpoint.npz")


def test_resume_with_changed_settings(models, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    for name in ("model.npz", "checkpoint.npz"):
        (run / name).write_bytes((models / "digits" / name).read_bytes())
    assert_refused(["train", "--resume", "--out", run, "--lr", "0.5"], capsys, tmp_path, "lr")


def test_a_folder_given_as_model(tmp_path, capsys):
    (tmp_path / "m").mkdir()
    assert "folder" in assert_refused(["evaluate", "--model", tmp_path / "m", "--dataset", "mnist-sample"], capsys,
                                      tmp_path, "m")


def test_a_folder_given_as_images(models, tmp_path, capsys):
    (tmp_path / "imgs").mkdir()
    assert_refused(["evaluate", "--model", models / "digits" / "model.npz", "--images", tmp_path / "imgs"], capsys,
                   tmp_path, "imgs")


def test_denoise_duplicate_output_names(models, tmp_path, capsys):
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "a.jpg", format="PNG")
    assert_refused(["denoise", "--model", models / "digits" / "model.npz", tmp_path / "a.png", tmp_path / "a.jpg",
                    "--out", tmp_path / "out"], capsys, tmp_path, "a.png")


def test_denoise_over_its_own_input(models, tmp_path, capsys):
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "x.png")
    assert_refused(["denoise", "--model", models / "digits" / "model.npz", tmp_path / "x.png", "--out", tmp_path],
                   capsys, tmp_path, "x.png")


def test_denoise_into_a_file(models, tmp_path, capsys):
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "x.png")
    (tmp_path / "out").write_text("a file")
    assert_refused(["denoise", "--model", models / "digits" / "model.npz", tmp_path / "x.png", "--out",
                    tmp_path / "out"], capsys, tmp_path, "out")


def test_denoise_one_bad_input_among_good_ones_writes_nothing(models, tmp_path, capsys):
    for name in ("a", "b"):
        Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / f"{name}.png")
    (tmp_path / "c.png").write_text("not an image")
    assert_refused(["denoise", "--model", models / "digits" / "model.npz", tmp_path / "a.png", tmp_path / "b.png",
                    tmp_path / "c.png", "--out", tmp_path / "out"], capsys, tmp_path, "c.png")


def test_denoise_on_a_full_disk_writes_nothing(models, tmp_path, capsys, monkeypatch):
    import errno

    from PIL import PngImagePlugin

    for name in ("a", "b", "c"):
        Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / f"{name}.png")
    real, calls = PngImagePlugin._save, []

    def full(im, fp, filename, *args, **kw):
        calls.append(filename)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(im, fp, filename, *args, **kw)

    monkeypatch.setitem(Image.SAVE, "PNG", full)
    last = assert_refused(["denoise", "--model", models / "digits" / "model.npz", *(tmp_path / f"{n}.png" for n in "abc"),
                           "--out", tmp_path / "out"], capsys, tmp_path, "c.png")
    assert "No space left" in last and "none of the 3" in last


@pytest.mark.parametrize("dest", ["/dev/null", "DIR"])
def test_outputs_that_are_not_regular_files(models, tmp_path, capsys, dest):
    dest = tmp_path / "d" if dest == "DIR" else Path(dest)
    if dest != Path("/dev/null"):
        dest.mkdir()
    (tmp_path / "pages").mkdir()
    Image.fromarray(np.full((20, 20), 200, np.uint8)).save(tmp_path / "pages" / "1.png")
    before = os.stat("/dev/null")
    code, out, err = run_cli(["documents", "submit", "--model", models / "docs" / "model.npz", "--test-dir",
                              tmp_path / "pages", "--csv", dest, "--overwrite"], capsys)
    assert code == 2 and "not a regular file" in err and "Traceback" not in err, err
    after = os.stat("/dev/null")
    assert (before.st_ino, before.st_mode) == (after.st_ino, after.st_mode)


def test_a_read_only_output_folder(models, tmp_path, capsys):
    if os.geteuid() == 0:
        pytest.skip("root may write anywhere")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "x.png")
    try:
        assert_refused(["denoise", "--model", models / "digits" / "model.npz", tmp_path / "x.png", "--out", ro],
                       capsys, tmp_path, "ro")
    finally:
        ro.chmod(0o700)


# -- documents -----------------------------------------------------------------------------------------


def kaggle_folder(root, *, cleaned=True, shapes=((40, 50), (40, 50)), names=("1.png", "1.png")):
    (root / "train").mkdir(parents=True)
    Image.fromarray(np.full(shapes[0], 200, np.uint8)).save(root / "train" / names[0])
    if cleaned:
        (root / "train_cleaned").mkdir()
        Image.fromarray(np.full(shapes[1], 255, np.uint8)).save(root / "train_cleaned" / names[1])
    return root


@pytest.mark.parametrize("kind", ["no train_cleaned", "shapes differ", "twin missing", "empty train"])
def test_bad_kaggle_folders(models, tmp_path, capsys, kind):
    k = tmp_path / "k"
    if kind == "no train_cleaned":
        kaggle_folder(k, cleaned=False)
    elif kind == "shapes differ":
        kaggle_folder(k, shapes=((40, 50), (41, 50)))
    elif kind == "twin missing":
        kaggle_folder(k, names=("1.png", "2.png"))
    elif kind == "empty train":
        (k / "train").mkdir(parents=True)
        (k / "train_cleaned").mkdir()
    named = {"no train_cleaned": "train_cleaned", "shapes differ": "1.png", "twin missing": "1.png",
             "empty train": "train"}[kind]
    assert_refused(["documents", "evaluate", "--model", models / "docs" / "model.npz", "--data-dir", k], capsys,
                   tmp_path, named)
    if kind != "no train_cleaned":
        assert_refused(["documents", "train", "--data-dir", k, "--out", tmp_path / "run"], capsys,
                       tmp_path)


def test_generate_into_a_folder_that_holds_files(tmp_path, capsys):
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / "mine.txt").write_text("keep me")
    assert_refused(["documents", "generate", "--out", tmp_path / "g", "--pages", "1"], capsys, tmp_path, "g")


def test_generate_interrupted_leaves_nothing(tmp_path, monkeypatch):
    from scratchdae.documents import generate

    real, calls = generate.write_png, []

    def interrupted(path, gray):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(path, gray)

    monkeypatch.setattr(generate, "write_png", interrupted)
    with pytest.raises(KeyboardInterrupt):
        generate.generate_folder(tmp_path / "g", 3, log=lambda *a: None)
    assert list(tmp_path.iterdir()) == []  # no folder that looks like Kaggle's, no temporary
    monkeypatch.setattr(generate, "write_png", real)
    generate.generate_folder(tmp_path / "g", 2, log=lambda *a: None)  # and a rerun works
    assert (tmp_path / "g" / "manifest.json").is_file()


@pytest.mark.parametrize("kind", ["non-numeric name", "colour page", "empty folder", "missing folder"])
def test_bad_submission_inputs(models, tmp_path, capsys, kind):
    t = tmp_path / "test"
    if kind != "missing folder":
        t.mkdir()
    if kind == "non-numeric name":
        Image.fromarray(np.full((20, 20), 200, np.uint8)).save(t / "page.png")
    elif kind == "colour page":
        Image.fromarray(np.zeros((20, 20, 3), np.uint8) + np.array([255, 0, 0], np.uint8)).save(t / "1.png")
    assert_refused(["documents", "submit", "--model", models / "docs" / "model.npz", "--test-dir", t, "--csv",
                    tmp_path / "s.csv"], capsys, tmp_path)


# -- the Python API --------------------------------------------------------------------------------------


API_CASES = {
    "train val_fraction a string": (lambda m, t: __import__("scratchdae").train(val_fraction="0.1", quiet=True),
                                    "val_fraction"),
    "train lr a string": (lambda m, t: __import__("scratchdae").train(lr="0.1", quiet=True), "lr"),
    "train hidden a string": (lambda m, t: __import__("scratchdae").train(hidden="16", quiet=True), "hidden"),
    "train inputs a list": (lambda m, t: __import__("scratchdae").train(inputs=[[0.0, 1.0]], quiet=True), "inputs"),
    "train inputs float64": (lambda m, t: __import__("scratchdae").train(inputs=np.zeros((10, 2)), quiet=True),
                             "float32"),
    "train inputs with nan": (lambda m, t: __import__("scratchdae").train(
        inputs=np.full((10, 2), np.nan, np.float32), quiet=True), "NaN"),
    "load_model of a folder": (lambda m, t: __import__("scratchdae").load_model(t), "folder"),
    "reconstruct a list": (lambda m, t: __import__("scratchdae").reconstruct(
        *__import__("scratchdae").load_model(m / "digits" / "model.npz")[:2], [[0.0] * 784]), "array"),
    "reconstruct wrong width": (lambda m, t: __import__("scratchdae").reconstruct(
        *__import__("scratchdae").load_model(m / "digits" / "model.npz")[:2], np.zeros((2, 5), np.float32)), "784"),
    "score_field negative sigma": (lambda m, t: __import__("scratchdae").score_field(
        *__import__("scratchdae").load_model(m / "toy" / "model.npz")[:2], np.zeros((2, 2), np.float32), -1.0),
        "sigma"),
}


@pytest.mark.parametrize("case", sorted(API_CASES))
def test_the_python_api_explains_bad_arguments(models, tmp_path, case):
    call, named = API_CASES[case]
    before = snapshot(tmp_path)
    with pytest.raises((ValueError, TypeError)) as info:
        call(models, tmp_path)
    assert named in str(info.value) and ("Fix" in str(info.value) or "expected" in str(info.value)
                                          or "must" in str(info.value)), str(info.value)
    assert snapshot(tmp_path) == before


def test_the_python_api_accepts_numpy_scalars(tmp_path):
    from scratchdae import train

    run = train(out=tmp_path / "r", max_train=np.int64(300), hidden=(np.int64(8),), epochs=np.int32(1),
                lr=np.float32(1e-3), batch_size=np.int64(64), seed=np.int64(1), quiet=True, figures=False)
    assert run.stopped == "finished"


# -- signals --------------------------------------------------------------------------------------------


def child(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "scratchdae", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_during_training_saves_the_state_and_leaves_no_temporary(tmp_path, sig):
    run = tmp_path / "run"
    p = child("train", "--out", run, "--max-train", "2000", "--epochs", "50", "--hidden", "64")
    deadline = time.time() + 120
    while not (run / "checkpoint.npz").exists() and time.time() < deadline:  # the first epoch is done
        time.sleep(0.05)
    time.sleep(0.3)
    p.send_signal(sig)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 128 + sig, (out, err)  # as a shell reports it: 130, 143, 129
    assert "state saved" in out and "Traceback" not in err
    assert not list(run.glob(".*.part")) and not (run / ".lock").exists()
    arrays, header = load_npz(run / "checkpoint.npz")
    assert header["step"] > 0 or header["epoch"] > 0
    r = subprocess.run([sys.executable, "-m", "scratchdae", "train", "--out", run, "--resume", "--epochs",
                        str(header["epoch"] + 1), "--quiet"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr


def test_stale_temporaries_of_a_killed_run_are_cleaned_on_resume(tmp_path):
    from scratchdae import train

    interrupted_run(tmp_path)
    stale = tmp_path / "run" / ".scratchdae-999999999-abc12345.part"  # mkstemp's 8 characters
    stale.write_bytes(b"half a checkpoint")
    (tmp_path / "run" / ".lock").write_text("999999999")  # the killed run's lock: its process is gone
    train(out=tmp_path / "run", resume=True, quiet=True)
    assert not stale.exists() and not (tmp_path / "run" / ".lock").exists()


@pytest.mark.slow
def test_sigterm_during_denoise_leaves_no_temporary(models, tmp_path):
    pages = []
    for i in range(30):
        Image.fromarray(np.full((420, 540), 200, np.uint8)).save(tmp_path / f"{i}.png")
        pages.append(tmp_path / f"{i}.png")
    out = tmp_path / "out"
    p = child("denoise", "--model", models / "docs" / "model.npz", *pages, "--out", out)
    time.sleep(3)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    if p.returncode == 0:
        pytest.skip("denoising finished before the signal")
    assert p.returncode == 143 and "terminated" in err and "Traceback" not in err, err
    assert not out.exists() or not any(out.iterdir())


# -- more model files, resume states, images, labels, options and API calls ----------------------------


def test_weights_beyond_float32_are_refused(models, tmp_path, capsys):
    bad = with_arrays(models / "digits" / "model.npz", tmp_path / "bad.npz",
                      lambda a: {**a, "param/encoder.0.W": a["param/encoder.0.W"].astype(np.float64) * 1e300})
    assert "too large for float32" in assert_refused(["evaluate", "--model", bad, "--dataset", "mnist-sample"],
                                                     capsys, tmp_path, "bad.npz")


def test_a_npy_member_whose_header_lies_about_its_size(models, tmp_path, capsys):
    members = read_members(models / "digits" / "model.npz")
    header = np.lib.format.header_data_from_array_1_0(np.zeros((784, 16), np.float32))
    header["shape"] = (784, 10**9)
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    members["param/encoder.0.W.npy"] = buf.getvalue() + bytes(64)
    bad = write_members(tmp_path / "bad.npz", members)
    assert "announces" in assert_refused(["evaluate", "--model", bad, "--dataset", "mnist-sample"], capsys, tmp_path,
                                         "bad.npz")


def test_a_loss_that_does_not_fit_the_architecture(models, tmp_path, capsys):
    bad = with_header(models / "digits" / "model.npz", tmp_path / "bad.npz",
                      put("loss", {"name": "gaussian-hetero", "beta": 0.5, "min_sigma": 1e-3}))
    assert "variance head" in assert_refused(["evaluate", "--model", bad, "--dataset", "mnist-sample"], capsys,
                                             tmp_path, "bad.npz")




def test_a_lock_that_is_a_folder(tmp_path, capsys):
    interrupted_run(tmp_path)
    (tmp_path / "run" / ".lock").mkdir()
    assert_refused(["train", "--out", tmp_path / "run", "--resume"], capsys, tmp_path, ".lock")


@pytest.mark.parametrize("kind", ["floats beyond 1", "32-bit integers beyond 16 bits", "negative integers",
                                  "100 megapixels"])
def test_images_that_cannot_be_read_as_intensities(models, tmp_path, capsys, kind):
    p = tmp_path / ("in.png" if kind == "100 megapixels" else "in.tif")
    if kind == "floats beyond 1":
        Image.fromarray(np.full((28, 28), 5, np.float32), "F").save(p)
    elif kind == "32-bit integers beyond 16 bits":
        Image.fromarray(np.arange(784, dtype=np.int32).reshape(28, 28) * 1000, "I").save(p)
    elif kind == "negative integers":
        Image.fromarray(np.arange(784, dtype=np.int32).reshape(28, 28) - 400, "I").save(p)
    else:
        Image.new("1", (10000, 10000)).save(p)
    code, out, err = run_cli(["denoise", "--model", models / "digits" / "model.npz", p, "--out", tmp_path / "o"],
                             capsys)
    assert code == 2 and "Warning" not in err and len(err.splitlines()) == 1 and p.name in err, err


def test_float_images_in_unit_range_are_read_as_they_are(tmp_path):
    from scratchdae.files import read_gray

    values = np.linspace(0, 1, 784, dtype=np.float32).reshape(28, 28)
    Image.fromarray(values, "F").save(tmp_path / "f.tif")
    np.testing.assert_array_equal(read_gray(tmp_path / "f.tif"), values)


def idx_folder(root, **extra):
    root.mkdir()
    write_idx_bytes(root / "train-images-idx3-ubyte", 8, (150, 28, 28), bytes(150 * 784))
    write_idx_bytes(root / "t10k-images-idx3-ubyte", 8, (20, 28, 28), bytes(20 * 784))
    write_idx_bytes(root / "train-labels-idx1-ubyte", 8, (150,), bytes(range(10)) * 15)
    write_idx_bytes(root / "t10k-labels-idx1-ubyte", 8, (20,), bytes(range(10)) * 2)
    for name, make in extra.items():
        make(root / name)
    return root


@pytest.mark.parametrize("kind", ["no test images", "labels of two dimensions", "one class"])
def test_probe_on_labels_it_cannot_use(models, tmp_path, capsys, kind):
    d = idx_folder(tmp_path / "d")
    if kind == "no test images":
        write_idx_bytes(d / "t10k-images-idx3-ubyte", 8, (0, 28, 28))
        write_idx_bytes(d / "t10k-labels-idx1-ubyte", 8, (0,))
    elif kind == "labels of two dimensions":
        write_idx_bytes(d / "train-labels-idx1-ubyte", 8, (150, 1), bytes(150))
    else:
        write_idx_bytes(d / "train-labels-idx1-ubyte", 8, (150,), bytes(150))
    assert_refused(["probe", "--model", models / "digits" / "model.npz", "--data-dir", d], capsys, tmp_path)


@pytest.mark.parametrize("kind", ["a folder under the name", "raw and gzip both", "train/ without train_cleaned/"])
def test_idx_folders_that_are_not_what_they_seem(tmp_path, capsys, kind):
    d = idx_folder(tmp_path / "d")
    if kind == "a folder under the name":
        (d / "train-images-idx3-ubyte").unlink()
        (d / "train-images-idx3-ubyte").mkdir()
        named = "not a regular file"
    elif kind == "raw and gzip both":
        write_idx_bytes(d / "train-images-idx3-ubyte.gz", 8, (150, 28, 28), bytes(150 * 784), gz=True)
        named = "keep one"
    else:
        for p in d.iterdir():
            p.unlink()
        (d / "train").mkdir()
        named = "train_cleaned"
    assert named in assert_refused(["train", "--data-dir", d, "--out", tmp_path / "run"], capsys, tmp_path)


MORE_OPTIONS = [
    (["documents", "train", "--pages", "10000000000"], "pages"),
    (["documents", "train", "--windows-per-page", "10000000000"], "windows_per_page"),
    (["documents", "train", "--window", "1001"], "window"),
    (["documents", "train", "--patch", "0"], "--patch"),
    (["documents", "generate", "--out", "OUT", "--pages", "10000000000"], "pages"),
    (["documents", "evaluate", "--model", "DOCS", "--pages", "10000000000"], "pages"),
    (["documents", "evaluate", "--model", "DOCS", "--data-dir", "OUT", "--pages", "3"], "--pages"),
    (["train", "--weight-decay", "inf"], "weight_decay"),
    (["train", "--weight-decay", "1e10"], "weight_decay"),
    (["train", "--nesterov"], "--momentum/--nesterov"),
    (["train", "--momentum", "0.5"], "--momentum/--nesterov"),
    (["train", "--pages", "5"], "--pages"),
    (["train", "--fonts", "comic"], "--fonts"),
    (["train", "--dataset", "documents"], "scratchdae documents train"),
    (["train", "--dataset", "toy:mixture8", "--data-dir", "OUT"], "--data-dir"),
    (["train", "--loss", "gaussian:"], "gaussian:"),
    (["train", "--out", ""], "out"),
    (["train", "--lr-schedule", "step:1:1e308"], "step"),
    (["evaluate", "--model", "DIGITS", "--images", "OUT", "--data-dir", "OUT"], "--images and --data-dir"),
    (["score", "--model", "TOY", "--seed", "-1"], "--seed"),
    (["probe", "--model", "DIGITS", "--seed", "-1"], "--seed"),
    (["sample", "--model", "DIGITS", "--out", "OUT", "--seed", "-1"], "--seed"),
    (["documents", "generate", "--out", "OUT", "--seed", "-1"], "--seed"),
    (["documents", "evaluate", "--model", "DOCS", "--seed", "-1"], "--seed"),
    (["score", "--model", "TOY", "--figure", "FIG.jpg"], ".png"),
]


@pytest.mark.parametrize("argv, named", MORE_OPTIONS)
def test_more_options_that_cannot_work(models, tmp_path, capsys, argv, named):
    if argv[0] == "train" and "--out" not in argv:
        argv = [*argv, "--out", tmp_path / "run"]
    swap = {"OUT": tmp_path / "o", "DOCS": models / "docs" / "model.npz", "DIGITS": models / "digits" / "model.npz",
            "TOY": models / "toy" / "model.npz", "FIG.jpg": tmp_path / "fig.jpg"}
    argv = [swap.get(a, a) if isinstance(a, str) else a for a in argv]
    assert named in assert_refused(argv, capsys, tmp_path)


@pytest.mark.parametrize("where", ["score figure", "generate out", "submit csv"])
def test_outputs_under_a_file(models, tmp_path, capsys, where):
    (tmp_path / "afile").write_text("mine")
    (tmp_path / "pages").mkdir()
    Image.fromarray(np.full((20, 20), 200, np.uint8)).save(tmp_path / "pages" / "1.png")
    argv = {"score figure": ["score", "--model", models / "toy" / "model.npz", "--points", "200", "--figure",
                             tmp_path / "afile" / "f.png"],
            "generate out": ["documents", "generate", "--out", tmp_path / "afile" / "g", "--pages", "1"],
            "submit csv": ["documents", "submit", "--model", models / "docs" / "model.npz", "--test-dir",
                           tmp_path / "pages", "--csv", tmp_path / "afile" / "s.csv"]}[where]
    assert "afile" in assert_refused(argv, capsys, tmp_path)


def test_paths_of_the_wrong_kind(models, tmp_path, capsys):
    (tmp_path / "loop.npz").symlink_to(tmp_path / "loop.npz")
    assert_refused(["evaluate", "--model", tmp_path / "loop.npz", "--dataset", "mnist-sample"], capsys, tmp_path,
                   "loop.npz")
    (tmp_path / "loopdir").symlink_to(tmp_path / "loopdir")
    assert "leads nowhere" in assert_refused(["train", "--out", tmp_path / "loopdir"], capsys, tmp_path, "loopdir")
    Image.fromarray(np.full((20, 20), 200, np.uint8)).save(tmp_path / "1.png")
    assert "is a file" in assert_refused(["documents", "submit", "--model", models / "docs" / "model.npz",
                                          "--test-dir", tmp_path / "1.png", "--csv", tmp_path / "s.csv"], capsys,
                                         tmp_path, "1.png")


def api(call):
    import scratchdae

    return lambda models, tmp: call(scratchdae, models, tmp)


def digit_model(models):
    from scratchdae import load_model

    return load_model(models / "digits" / "model.npz")


MORE_API_CASES = {
    "evaluate batch_size -1": (api(lambda s, m, t: s.evaluate.evaluate(m / "digits" / "model.npz",
                                                                        dataset="mnist-sample", batch_size=-1)),
                               "batch_size"),
    "reconstruct batch_size 0": (api(lambda s, m, t: s.reconstruct(*digit_model(m)[:2], np.zeros((2, 784), np.float32),
                                                                   batch_size=0)), "batch_size"),
    "encode batch_size a string": (api(lambda s, m, t: s.encode(digit_model(m)[0], np.zeros((2, 784), np.float32),
                                                                batch_size="10")), "batch_size"),
    "reconstruct NaN rows": (api(lambda s, m, t: s.reconstruct(*digit_model(m)[:2],
                                                               np.full((2, 784), np.nan, np.float32))), "NaN"),
    "reconstruct without a loss": (api(lambda s, m, t: s.reconstruct(digit_model(m)[0], None,
                                                                     np.zeros((2, 784), np.float32))), "loss"),
    "prepare_images of floats": (api(lambda s, m, t: s.prepare_images(np.random.rand(3, 28, 28))), "uint8"),
    "prepare_images of nothing": (api(lambda s, m, t: s.prepare_images(np.zeros((0, 28, 28), np.uint8))), "N >= 1"),
    "prepare_images into ints": (api(lambda s, m, t: s.prepare_images(np.zeros((2, 28, 28), np.uint8),
                                                                      dtype="int32")), "float32"),
    "evaluate a model object": (api(lambda s, m, t: s.evaluate.evaluate(digit_model(m)[0], dataset="mnist-sample")),
                                "load_model"),
    "denoise inputs None": (api(lambda s, m, t: s.evaluate.denoise(m / "digits" / "model.npz", None, t / "o")),
                            "input"),
    "Autoencoder hidden a string": (api(lambda s, m, t: s.Autoencoder(784, "16")), "hidden"),
    "Autoencoder seed -1": (api(lambda s, m, t: s.Autoencoder(784, 16, seed=-1)), "seed"),
    "train a dict": (api(lambda s, m, t: s.train({"epochs": 1})), "TrainConfig"),
    "train an optimizer object": (api(lambda s, m, t: s.train(optimizer=s.Adam(1e-3), quiet=True)), "optimizer"),
    "save_model of NaN weights": (api(lambda s, m, t: _save_nan(s, t)), "NaN"),
    "save_model overriding the kind": (api(lambda s, m, t: s.save_model(
        t / "m.npz", s.Autoencoder(784, 8), s.GaussianNLL(0.1), s.get_corruption("gaussian:0.5"),
        kind="training-state")), "kind"),
    "save_model images of another size": (api(lambda s, m, t: s.save_model(
        t / "m.npz", s.Autoencoder(784, 8), s.GaussianNLL(0.1), s.get_corruption("gaussian:0.5"), task="images",
        normalisation={"scale": 255.0, "image_shape": [10, 10]})), "10x10"),
    "save_model with a loss spec": (api(lambda s, m, t: s.save_model(
        t / "m.npz", s.Autoencoder(784, 8), "gaussian:0.1", s.get_corruption("gaussian:0.5"))), "Loss"),
    "score_field sigma 1e-30": (api(lambda s, m, t: s.score_field(
        *s.load_model(m / "toy" / "model.npz")[:2], np.zeros((2, 2), np.float32), 1e-30)), "sigma"),
}


def _save_nan(s, t):
    model = s.Autoencoder(784, 8)
    model.parameters()["encoder.0.W"][0, 0] = np.nan
    return s.save_model(t / "m.npz", model, s.GaussianNLL(0.1), s.get_corruption("gaussian:0.5"))


@pytest.mark.parametrize("case", sorted(MORE_API_CASES))
def test_more_python_api_misuse_is_explained(models, tmp_path, case):
    call, named = MORE_API_CASES[case]
    before = snapshot(tmp_path)
    with pytest.raises((ValueError, TypeError)) as info:
        call(models, tmp_path)
    msg = str(info.value)
    assert named in msg and ("Fix" in msg or "expected" in msg or "must" in msg), msg
    assert snapshot(tmp_path) == before


def test_the_python_api_takes_objects_and_numpy_scalars_where_it_can(models, tmp_path):
    import scratchdae as s

    run = s.train(max_train=300, hidden=(8,), epochs=1, out=tmp_path / "r", noise=s.GaussianNoise(0.3),
                  loss=s.GaussianNLL(0.2), quiet=True, figures=False)
    _, header = load_npz(tmp_path / "r" / "model.npz")
    assert header["corruption"] == "gaussian:0.3" and header["loss"] == {"name": "gaussian", "sigma": 0.2}
    assert run.model.config["n_in"] == s.Autoencoder(np.int64(784), np.int64(16)).config["n_in"]
    r = s.evaluate.evaluate(models / "digits" / "model.npz", dataset="mnist-sample", seed=np.int64(3))
    assert r["seed"] == 3 and r["n_images"] == 1000
    field = s.score_field(*s.load_model(models / "toy" / "model.npz")[:2], np.zeros((2, 2), np.float32),
                          np.array(0.3))
    assert field.shape == (2, 2)


def test_a_float64_model_saved_by_hand_samples(tmp_path, capsys):
    import scratchdae as s

    s.save_model(tmp_path / "m.npz", s.Autoencoder(784, 16, dtype="float64", seed=0), s.GaussianNLL(0.1),
                 s.get_corruption("gaussian:0.5"), task="images", normalisation={"scale": 255.0, "image_shape": [28, 28]})
    code, out, err = run_cli(["sample", "--model", tmp_path / "m.npz", "--out", tmp_path / "s", "--steps", "2",
                              "--quality-chains", "20", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["quality"]["chains"] == 20


# -- outputs over inputs, resume without its model, settings that would be ignored -----------------------


def test_submit_never_writes_over_the_model_or_a_page(models, tmp_path, capsys):
    pages = tmp_path / "pages"
    pages.mkdir()
    Image.fromarray(np.full((20, 20), 200, np.uint8)).save(pages / "1.png")
    model = tmp_path / "m.npz"
    model.write_bytes((models / "docs" / "model.npz").read_bytes())
    for csv in (model, pages / "1.png"):
        assert "own inputs" in assert_refused(["documents", "submit", "--model", model, "--test-dir", pages, "--csv",
                                               csv, "--overwrite"], capsys, tmp_path)
    (tmp_path / "s.csv").write_text("my earlier submission")
    assert "--overwrite" in assert_refused(["documents", "submit", "--model", model, "--test-dir", pages, "--csv",
                                            tmp_path / "s.csv"], capsys, tmp_path, "s.csv")
    code, _, err = run_cli(["documents", "submit", "--model", model, "--test-dir", pages, "--csv", tmp_path / "s.csv",
                            "--overwrite", "--quiet"], capsys)
    assert code == 0 and (tmp_path / "s.csv").read_text().startswith("id,value"), err


def test_denoise_never_replaces_a_file_it_was_not_asked_to(models, tmp_path, capsys):
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "a.jpg", format="PNG")
    Image.fromarray(np.full((28, 28), 9, np.uint8)).save(tmp_path / "a.png")  # another picture, same stem
    assert "--overwrite" in assert_refused(["denoise", "--model", models / "digits" / "model.npz", tmp_path / "a.jpg",
                                            "--out", tmp_path], capsys, tmp_path, "a.png")
    code, _, err = run_cli(["denoise", "--model", models / "digits" / "model.npz", tmp_path / "a.jpg", "--out",
                            tmp_path, "--overwrite"], capsys)
    assert code == 0, err


@pytest.mark.parametrize("damage", ["missing", "garbage"])
def test_resume_without_its_best_model_is_refused_before_training(tmp_path, capsys, damage):
    interrupted_run(tmp_path)
    model = tmp_path / "run" / "model.npz"
    if not model.exists():  # stopped in the first epoch: finish it, so that a best model exists
        from scratchdae import train

        train(out=tmp_path / "run", resume=True, quiet=True)
    if damage == "missing":
        model.unlink()
    else:
        model.write_text("junk")
    assert "best model" in assert_refused(["train", "--out", tmp_path / "run", "--resume", "--epochs", "5"], capsys,
                                          tmp_path, "model.npz")


def test_resume_with_fewer_epochs_than_done(tmp_path, capsys):
    from scratchdae import train

    train(out=tmp_path / "run", max_train=300, hidden=(8,), epochs=2, quiet=True, figures=False)
    assert "fewer epochs" in assert_refused(["train", "--out", tmp_path / "run", "--resume", "--epochs", "1"], capsys,
                                            tmp_path, "--epochs")


@pytest.mark.parametrize("argv, named", [
    (["train", "--dataset", "mnist-sample", "--data-dir", "DATA"], "data_dir"),
    (["evaluate", "--model", "DIGITS", "--dataset", "mnist-sample", "--data-dir", "DATA"], "data_dir"),
    (["probe", "--model", "DIGITS", "--dataset", "mnist-sample", "--data-dir", "DATA"], "data_dir"),
    (["train", "--data-dir", ""], "--data-dir"),
    (["denoise", "--model", "DIGITS", "IMG", "--out", ""], "--out"),
    (["sample", "--model", "DIGITS", "--out", ""], "--out"),
    (["score", "--model", "TOY", "--figure", ""], "--figure"),
    (["train", "--data-dir", "KAGGLE", "--pages", "50"], "--pages"),
    (["train", "--data-dir", "KAGGLE", "--fonts", "serif"], "--fonts"),
    (["train", "--noise", "gaussian:0.5:0"], "clip"),
])
def test_settings_that_would_be_ignored_or_are_empty(models, tmp_path, capsys, argv, named):
    (tmp_path / "data").mkdir()
    kaggle_folder(tmp_path / "k")
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "in.png")
    swap = {"DATA": tmp_path / "data", "DIGITS": models / "digits" / "model.npz", "TOY": models / "toy" / "model.npz",
            "IMG": tmp_path / "in.png", "KAGGLE": tmp_path / "k"}
    argv = [swap.get(a, a) for a in argv]
    if argv[0] == "train":
        argv += ["--out", tmp_path / "run"]
    assert named in assert_refused(argv, capsys, tmp_path)


def test_transparent_and_many_frame_images(models, tmp_path, capsys):
    from scratchdae.files import read_gray

    ink = np.zeros((28, 28), np.uint8)
    ink[10:18, 10:18] = 255  # the digit lives in the alpha channel: black ink on a transparent page
    Image.fromarray(np.stack([np.zeros_like(ink), ink], axis=-1), "LA").save(tmp_path / "la.png")
    gray = read_gray(tmp_path / "la.png")
    assert gray[0, 0] == 1.0 and gray[12, 12] == 0.0  # white paper, black ink, as a viewer shows it
    frames = [Image.fromarray(np.zeros((28, 28), np.uint8)), Image.fromarray(ink)]
    frames[0].save(tmp_path / "two.gif", save_all=True, append_images=frames[1:])
    assert "frames" in assert_refused(["denoise", "--model", models / "digits" / "model.npz", tmp_path / "two.gif",
                                       "--out", tmp_path / "o"], capsys, tmp_path, "two.gif")


@pytest.mark.parametrize("kind", ["float labels", "negative labels", "a label of a billion"])
def test_labels_that_are_not_class_numbers(models, tmp_path, capsys, kind):
    d = idx_folder(tmp_path / "d")
    if kind == "float labels":
        write_idx_bytes(d / "train-labels-idx1-ubyte", 0x0D, (150,), (np.arange(150) % 10 + 0.7).astype(">f4").tobytes())
    elif kind == "negative labels":
        write_idx_bytes(d / "train-labels-idx1-ubyte", 0x09, (150,), (np.arange(150) % 10 - 1).astype("i1").tobytes())
    else:
        labels = (np.arange(150) % 10).astype(">i4")
        labels[0] = 10**9
        write_idx_bytes(d / "train-labels-idx1-ubyte", 0x0C, (150,), labels.tobytes())
    assert "class numbers" in assert_refused(["probe", "--model", models / "digits" / "model.npz", "--data-dir", d],
                                             capsys, tmp_path, "train-labels")


def test_members_that_lie_about_their_size_through_the_zip_directory(models, tmp_path, capsys):
    members = read_members(models / "digits" / "model.npz")
    bad = write_members(tmp_path / "bad.npz", members)  # stored, as numpy writes them
    _declare_size(bad, "param/encoder.0.W.npy", 10**9)
    assert "declares" in assert_refused(["evaluate", "--model", bad, "--dataset", "mnist-sample"], capsys, tmp_path,
                                        "bad.npz")


def test_a_learned_sigma_too_small_for_float32(tmp_path, capsys):
    from scratchdae import Autoencoder, get_corruption, get_loss, save_model

    loss = get_loss("gaussian-learned:0.1")
    save_model(tmp_path / "m.npz", Autoencoder(784, 8, seed=0), loss, get_corruption("gaussian:0.5"), task="images",
               normalisation={"scale": 255.0, "image_shape": [28, 28]})
    bad = with_arrays(tmp_path / "m.npz", tmp_path / "bad.npz", lambda a: {**a, "loss/log_var": np.float32(-80)})
    assert "sigma below" in assert_refused(["evaluate", "--model", bad, "--dataset", "mnist-sample"], capsys,
                                           tmp_path, "bad.npz")


def test_a_file_name_too_long_and_a_lock_with_no_process(models, tmp_path, capsys):
    last = assert_refused(["score", "--model", models / "toy" / "model.npz", "--points", "200", "--figure",
                           tmp_path / ("e" * 300 + ".png")], capsys, tmp_path)
    assert "shorter name" in last
    from scratchdae.files import folder_lock

    (tmp_path / ".lock").write_text("9" * 30)  # no process has such an id: a stale lock
    with folder_lock(tmp_path):
        pass
    assert not (tmp_path / ".lock").exists()


def test_generate_into_a_link_to_an_empty_folder(tmp_path):
    from scratchdae.documents.generate import generate_folder

    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    generate_folder(tmp_path / "link", 1, log=lambda *a: None)
    assert (tmp_path / "real" / "manifest.json").is_file() and (tmp_path / "link").is_symlink()


def test_the_newer_entry_points_take_numpy_integers(models, tmp_path):
    from scratchdae.documents.evaluate import evaluate_documents
    from scratchdae.documents.generate import generate_folder
    from scratchdae.documents.windows import WindowSpec
    from scratchdae.representation import probe_report
    from scratchdae.sampling import sample_report

    generate_folder(tmp_path / "g", np.int64(1), np.int64(3), log=lambda *a: None)
    assert evaluate_documents(models / "docs" / "model.npz", pages=np.int64(1), seed=np.int64(2))["pages"] == 1
    assert WindowSpec(window=np.int64(9), patch=np.int64(3)).window == 9
    assert probe_report(models / "digits" / "model.npz", max_train=np.int64(200))["n_train"] == 200
    assert sample_report(models / "digits" / "model.npz", tmp_path / "s", steps=np.int64(2), chains=np.int64(2),
                         quality_chains=0)["steps"] == 2
    with pytest.raises(TypeError, match="dict of name"):
        probe_report(models / "digits" / "model.npz", models=[models / "digits" / "model.npz"])


# -- all-or-none with --overwrite, one process, odd names -------------------------------------------------


def test_overwrite_replaces_all_outputs_or_none(models, tmp_path, capsys, monkeypatch):
    import scratchdae.files as files

    for name in ("a", "b"):
        Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / f"{name}.png")
    out = tmp_path / "out"
    out.mkdir()
    for name in ("a", "b"):
        (out / f"{name}.png").write_bytes(b"old " + name.encode())
    real = os.replace

    def b_cannot_be_replaced(src, dst):  # as an immutable file: it cannot be renamed, nor renamed over
        if str(src).endswith("b.png") or str(dst).endswith("b.png"):
            raise PermissionError(1, "Operation not permitted", str(src))
        return real(src, dst)

    monkeypatch.setattr(files.os, "replace", b_cannot_be_replaced)
    last = assert_refused(["denoise", "--model", models / "digits" / "model.npz", tmp_path / "a.png",
                           tmp_path / "b.png", "--out", out, "--overwrite"], capsys, tmp_path, "b.png")
    assert "every output was left as it was" in last


def test_an_interrupted_sample_leaves_no_figure(models, tmp_path, monkeypatch):
    import scratchdae.figures as figures
    from scratchdae.sampling import sample_report

    real, calls = figures.chain_figure, []

    def interrupted(*args, **kw):
        calls.append(args[0])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kw)

    monkeypatch.setattr(figures, "chain_figure", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sample_report(models / "digits" / "model.npz", tmp_path / "s", steps=2, chains=2, quality_chains=0)
    assert not (tmp_path / "s").exists() or not list((tmp_path / "s").iterdir())


def test_two_trainings_in_one_process_cannot_share_a_folder(tmp_path):
    from scratchdae import train

    def nested(epoch, step, run):
        if step == 1:
            train(out=tmp_path / "run", max_train=300, hidden=(8,), epochs=1, quiet=True, figures=False)

    with pytest.raises(ValueError, match="in use by another training run in this same program"):
        train(out=tmp_path / "run", max_train=300, hidden=(8,), epochs=1, quiet=True, figures=False, on_step=nested)
    assert not (tmp_path / "run" / ".lock").exists()


def test_names_that_are_not_utf8_and_flags_that_are_not_booleans(models, tmp_path, capsys):
    from scratchdae.evaluate import denoise
    from scratchdae import TrainConfig

    odd = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9.png"))
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(odd)
    code, _, err = run_cli(["denoise", "--model", models / "digits" / "model.npz", odd, "--out", tmp_path / "o"],
                           capsys)
    assert code == 0, err
    with pytest.raises(TypeError, match="overwrite must be True or False"):
        denoise(models / "digits" / "model.npz", [odd], tmp_path / "o", overwrite="no")
    with pytest.raises(TypeError, match="tied must be True or False"):
        TrainConfig(tied="yes")


def test_more_api_edges(models):
    import scratchdae as s
    from scratchdae.documents.stacked import load_cleaner

    model = s.load_model(models / "digits" / "model.npz")[0]
    assert s.encode(model, np.zeros((0, 784), np.float32)).shape == (0, 16)
    assert s.Dense(np.int64(3), np.int64(2)).n_in == 3
    with pytest.raises(ValueError, match="epoch must be an integer >= 0"):
        s.learning_rate(0.1, -1, 10, "step:2:0.5")
    with pytest.raises(ValueError, match="NaN or inf pixels"):
        load_cleaner(models / "docs" / "model.npz")(np.full((10, 10), np.nan, np.float32))
    with pytest.raises(ValueError, match=r"masking probability nu must be a number in \[0, 1\)"):
        s.get_corruption("masking:1")


def test_a_closed_pipe_stops_quietly(tmp_path):
    p = subprocess.run(f"{sys.executable} -m scratchdae train --out {tmp_path / 'run'} --max-train 300 --hidden 8 "
                       "--epochs 3 | head -c 10", shell=True, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in p.stderr and "Broken pipe" not in p.stderr, p.stderr


def test_ctrl_c_while_outputs_move_in_puts_every_old_file_back(tmp_path, monkeypatch):
    import scratchdae.files as files

    for name in "abc":
        (tmp_path / f"{name}.png").write_bytes(b"old " + name.encode())
    real, calls = os.replace, []

    def interrupted(src, dst):
        calls.append(dst)
        if len(calls) == 5:  # three moved aside, one moved in: then Ctrl-C
            raise KeyboardInterrupt
        return real(src, dst)

    monkeypatch.setattr(files.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        files.write_pngs([(tmp_path / f"{name}.png", np.zeros((4, 4), np.uint8)) for name in "abc"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png", "c.png"]
    assert [(tmp_path / f"{n}.png").read_bytes() for n in "abc"] == [b"old a", b"old b", b"old c"]


def test_resume_with_another_runs_model_in_place(tmp_path, capsys):
    from scratchdae import train

    train(out=tmp_path / "run", max_train=300, hidden=(8,), epochs=1, quiet=True, figures=False)
    train(out=tmp_path / "other", max_train=300, hidden=(8,), epochs=1, quiet=True, figures=False, seed=5)
    (tmp_path / "run" / "model.npz").write_bytes((tmp_path / "other" / "model.npz").read_bytes())
    assert "another run's model" in assert_refused(["train", "--out", tmp_path / "run", "--resume", "--epochs", "2"],
                                                   capsys, tmp_path, "model.npz")


@pytest.mark.parametrize("settings, words", [
    (dict(hidden=(0,)), "hidden must be one or more positive layer sizes, got (0,). Fix: e.g. --hidden 1000"),
    (dict(hidden=(16,), decoder_hidden=(8, -1)), "decoder_hidden must be zero or more positive layer sizes"),
    (dict(seed=-1), "seed must be an integer >= 0, got -1. Fix: e.g. --seed 0"),
    (dict(seed=1.5), "seed must be an integer >= 0"),
])
def test_the_settings_refuse_sizes_and_seeds_in_the_words_of_the_model_that_checks_them(settings, words):
    from scratchdae import Autoencoder, TrainConfig

    with pytest.raises(ValueError) as err:
        TrainConfig(**settings)
    assert str(err.value).startswith(words)
    model_words = words.split(", got")[0]
    with pytest.raises(ValueError, match=re.escape(model_words)):  # the same check, in the model's words
        Autoencoder(4, settings.get("hidden", (3,)), decoder_hidden=settings.get("decoder_hidden"),
                    seed=settings.get("seed"))


# -- what a run writes, and what it may not replace -------------------------------------------


@pytest.mark.parametrize("name", ["history.jsonl", "loss_curves.png", "denoising.png", "filters.png"])
def test_train_out_holding_a_file_the_run_writes_is_not_replaced(tmp_path, capsys, name):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / name).write_text("mine")
    last = assert_refused(["train", "--out", tmp_path / "r", "--max-train", "200", "--epochs", "1"], capsys,
                          tmp_path, name, "--out")
    assert "Fix:" in last


def test_train_out_holding_a_figure_is_fine_without_figures(tmp_path, capsys):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "filters.png").write_text("mine")
    code, _, err = run_cli(["train", "--out", tmp_path / "r", "--max-train", "200", "--epochs", "1", "--hidden", "8",
                            "--no-figures", "--quiet"], capsys)
    assert code == 0, err
    assert (tmp_path / "r" / "filters.png").read_text() == "mine"


@pytest.mark.parametrize("name", ["history.jsonl", "pages.png", "stages.json", "first-stage/history.jsonl"])
def test_documents_out_holding_a_file_the_run_writes_is_not_replaced(tmp_path, capsys, name):
    (tmp_path / "r" / name).parent.mkdir(parents=True)
    (tmp_path / "r" / name).write_text("mine")
    assert_refused(["documents", "train", "--out", tmp_path / "r", "--pages", "2", "--windows-per-page", "60",
                    "--hidden", "8", "--epochs", "1"], capsys, tmp_path, name)


@pytest.mark.parametrize("where", ["train", ".", "train_cleaned/sub"])
def test_documents_out_inside_its_data_folder_is_refused(tmp_path, capsys, where):
    k = kaggle_folder(tmp_path / "k")
    for i in (2, 3, 4, 5):
        Image.fromarray(np.full((40, 50), 200, np.uint8)).save(k / "train" / f"{i}.png")
        Image.fromarray(np.full((40, 50), 255, np.uint8)).save(k / "train_cleaned" / f"{i}.png")
    Image.fromarray(np.full((40, 50), 190, np.uint8)).save(k / "train" / "loss_curves.png")
    Image.fromarray(np.full((40, 50), 250, np.uint8)).save(k / "train_cleaned" / "loss_curves.png")
    assert_refused(["documents", "train", "--data-dir", k, "--out", k / where, "--stages", "1",
                    "--windows-per-page", "60", "--hidden", "8", "--epochs", "1"], capsys, tmp_path, "--data-dir")


def _disk_full_at_checkpoint(monkeypatch, where, nth=1):
    """checkpoint.npz in the folder ``where`` cannot be written the ``nth`` time: the disk is full."""
    import errno

    from scratchdae.run import resume

    real, calls = resume.save_npz, []

    def full(path, arrays, header):
        if Path(path).parent == Path(where):
            calls.append(path)
            if len(calls) == nth:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, arrays, header)

    monkeypatch.setattr(resume, "save_npz", full)
    return real


@pytest.mark.parametrize("nth", [1, 2])
def test_a_full_disk_at_a_checkpoint_leaves_a_run_that_restarts_or_resumes(tmp_path, capsys, monkeypatch, nth):
    from scratchdae.run import resume

    argv = ["train", "--out", tmp_path / "r", "--max-train", "200", "--epochs", "2", "--hidden", "8", "--no-figures",
            "--quiet"]
    real = _disk_full_at_checkpoint(monkeypatch, tmp_path / "r", nth)
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and "No space left" in err and "Traceback" not in err, err
    monkeypatch.setattr(resume, "save_npz", real)
    if nth == 1:  # nothing of the run was kept: the same command starts it again
        assert "--resume" not in err and "same command" in err, err
        assert not any((tmp_path / "r").glob("*")), list((tmp_path / "r").iterdir())
        code, _, err = run_cli(argv, capsys)
    else:  # the first epoch was kept whole: --resume continues it
        assert "--resume" in err, err
        code, _, err = run_cli([*argv, "--resume"], capsys)
    assert code == 0, err
    assert (tmp_path / "r" / "model.npz").is_file()


def test_a_full_disk_at_the_second_stages_first_checkpoint_leaves_a_run_that_resumes(tmp_path, capsys, monkeypatch):
    from scratchdae.run import resume

    argv = ["documents", "train", "--out", tmp_path / "r", "--pages", "3", "--windows-per-page", "60", "--hidden", "8",
            "--epochs", "1", "--no-figures", "--quiet"]
    real = _disk_full_at_checkpoint(monkeypatch, tmp_path / "r")
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and "No space left" in err and "--resume" in err and "Traceback" not in err, err
    monkeypatch.setattr(resume, "save_npz", real)
    code, _, err = run_cli([*argv, "--resume"], capsys)
    assert code == 0, err
    assert (tmp_path / "r" / "model.npz").is_file() and (tmp_path / "r" / "checkpoint.npz").is_file()


@pytest.mark.parametrize("kind", ["digits", "docs"])
def test_two_denoise_runs_into_one_folder_at_once_the_later_is_refused(models, tmp_path, capsys, monkeypatch, kind):
    import scratchdae.evaluate as evaluate
    from scratchdae.documents import stacked

    size = (28, 28) if kind == "digits" else (30, 40)
    Image.fromarray(np.full(size, 90, np.uint8)).save(tmp_path / "a.png")
    argv = ["denoise", "--model", models / kind / "model.npz", tmp_path / "a.png", "--out", tmp_path / "out"]
    owner, name = (evaluate, "reconstruct") if kind == "digits" else (stacked, "cleaning_as_asked")
    real = getattr(owner, name)
    inner = []

    def meanwhile(*a, **kw):  # while this run works, another writes the same output and finishes first
        if not inner:
            inner.append(None)
            inner[0] = cli.main([str(a) for a in argv])
        return real(*a, **kw)

    monkeypatch.setattr(owner, name, meanwhile)
    code, _, err = run_cli(argv, capsys)
    assert inner == [0]
    assert code == 2 and "a.png" in err and "--overwrite" in err and "Traceback" not in err, err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a.png"]  # the first run's, and no temporary


@pytest.mark.parametrize("other", [dict(hidden=(16,)), dict(lr=0.01)])
def test_resume_refuses_a_best_model_of_another_architecture_or_other_weights(tmp_path, capsys, other):
    from scratchdae import train

    kw = dict(max_train=300, hidden=(8,), epochs=1, quiet=True, figures=False)
    train(out=tmp_path / "run", **kw)
    train(out=tmp_path / "other", **{**kw, **other})  # the same data
    (tmp_path / "run" / "model.npz").write_bytes((tmp_path / "other" / "model.npz").read_bytes())
    last = assert_refused(["train", "--out", tmp_path / "run", "--resume", "--epochs", "2"], capsys, tmp_path,
                          "model.npz")
    assert "another run's model" in last and ("784-16-784" in last if "hidden" in other else "SHA-256" in last), last


@pytest.mark.parametrize("stage", [1, 2])
def test_a_two_stage_run_resumed_with_more_epochs_ends_the_same_wherever_it_stopped(tmp_path, stage):
    from scratchdae.documents import train_cleaner

    def stop(epoch, step, run):
        if epoch == 1 and step == 1 and (run.model.config["n_in"] == 3 * 81) == (stage == 1):
            run.stop()

    kw = dict(pages=3, windows_per_page=60, hidden=(8,), epochs=2, quiet=True, figures=False)
    assert train_cleaner(out=tmp_path / "r", on_step=stop, **kw).stopped == "interrupted"
    resumed = train_cleaner(out=tmp_path / "r", resume=True, epochs=3, quiet=True)
    first = [json.loads(line) for line in (tmp_path / "r" / "first-stage" / "history.jsonl").read_text().splitlines()]
    # --epochs on resume: the second stage's; the first keeps its own
    assert (len(first), len(resumed.history)) == (2, 3)


@pytest.mark.parametrize("kind", ["digits", "two stages"])
def test_a_run_stopped_in_its_first_epoch_names_only_files_that_exist(tmp_path, capsys, kind):
    import argparse

    from scratchdae import train
    from scratchdae.cli.train import report
    from scratchdae.documents import train_cleaner

    def stop(epoch, step, run):
        run.stop()

    kw = dict(out=tmp_path / "r", hidden=(8,), epochs=2, quiet=True, on_step=stop)
    result = (train(max_train=200, **kw) if kind == "digits" else
              train_cleaner(pages=3, windows_per_page=60, **kw))
    assert result.stopped == "interrupted" and result.files
    assert report(result, argparse.Namespace(json=False)) == 130
    named = [line.split(maxsplit=1)[1] for line in capsys.readouterr().out.splitlines()]
    assert named and all(Path(p).exists() for p in named), named
    assert all(Path(p).exists() for p in result.files.values()), result.files


def test_a_cleaner_takes_8_bit_pages_and_refuses_floats_outside_0_1(models):
    from scratchdae.documents.stacked import load_cleaner

    cleaner = load_cleaner(models / "docs" / "model.npz")
    page = np.random.default_rng(0).integers(120, 256, (40, 50)).astype(np.uint8)
    np.testing.assert_array_equal(cleaner(page), cleaner(page / np.float32(255)))
    for bad, came in ((page.astype(np.float32), "float32 pixels from 120 to 255"),
                      (page / 255.0 - 0.5, "float64 pixels from -0.029")):
        with pytest.raises(ValueError) as err:
            cleaner(bad)
        message = str(err.value)
        assert came in message and "[0, 1]" in message and "Fix:" in message and "/ 255" in message, message


@pytest.mark.parametrize("value", ["bogus", "cupy"])
def test_info_reports_a_backend_variable_that_cannot_work_and_exits_0(capsys, monkeypatch, value):
    if value == "cupy":
        from scratchdae.backend import available_backends

        if "cupy" in available_backends():
            pytest.skip("CuPy works here")
    monkeypatch.setenv("SCRATCHDAE_BACKEND", value)
    code, out, err = run_cli(["info"], capsys)
    assert code == 0 and not err, err
    line = next(line for line in out.splitlines() if line.startswith("backends"))
    assert "SCRATCHDAE_BACKEND" in line and value in line and "Fix:" in line, line
    code, out, err = run_cli(["info", "--json"], capsys)
    info = json.loads(out)
    assert code == 0 and info["default_backend"] is None and "SCRATCHDAE_BACKEND" in info["backend_error"], info


def test_printing_never_fails_on_the_terminals_encoding(models, tmp_path):
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "café.png")
    env = {**os.environ, "PYTHONIOENCODING": "ascii", "OPENBLAS_NUM_THREADS": "1"}
    argv = [sys.executable, "-m", "scratchdae", "denoise", "--model", str(models / "digits" / "model.npz"),
            str(tmp_path / "café.png"), "--out", str(tmp_path / "out")]
    done = subprocess.run(argv, capture_output=True, env=env, timeout=300)
    assert done.returncode == 0 and b"caf\\xe9.png" in done.stdout and not done.stderr, done.stderr
    assert (tmp_path / "out" / "café.png").is_file()
    done = subprocess.run(argv, capture_output=True, env=env, timeout=300)  # refused: its message has the name too
    assert done.returncode == 2 and b"caf\\xe9.png" in done.stderr and b"Traceback" not in done.stderr, done.stderr


# -- messages that name what they are about -----------------------------------------------------


@pytest.mark.parametrize("kw, words", [
    (dict(inputs="X", task="documents"), ["task='documents'", "inputs", "scratchdae documents train", "Fix:"]),
    (dict(dataset="array"), ["dataset='array'", "inputs", "Fix:"]),
    (dict(dataset="array", task="documents"), ["dataset='array'", "inputs", "Fix:"]),
])
def test_train_on_an_array_for_another_task_or_without_the_array_says_so(tmp_path, kw, words):
    from scratchdae import train

    if kw.get("inputs") == "X":
        kw = {**kw, "inputs": np.random.default_rng(0).random((50, 4)).astype(np.float32)}
    with pytest.raises(ValueError) as err:
        train(out=tmp_path / "r", epochs=1, quiet=True, **kw)
    message = str(err.value)
    assert "resume" not in message and all(w in message for w in words), message
    assert not (tmp_path / "r").exists()


def test_first_stage_given_from_a_folder_that_was_deleted_says_so(tmp_path):
    (tmp_path / "gone").mkdir()
    done = subprocess.run(f"cd {tmp_path / 'gone'} && rmdir {tmp_path / 'gone'} && {sys.executable} -m scratchdae "
                          f"documents train --first-stage model.npz --out {tmp_path / 'r'}", shell=True,
                          capture_output=True, text=True, timeout=300, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode == 2 and "--first-stage model.npz" in last and "current folder" in last, done.stderr
    assert "Fix:" in last and not (tmp_path / "r").exists()


def test_generate_into_a_dangling_link_or_a_folder_filled_meanwhile_says_what_happened(tmp_path, capsys, monkeypatch):
    from scratchdae.documents import generate

    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    last = assert_refused(["documents", "generate", "--out", tmp_path / "link", "--pages", "1"], capsys, tmp_path,
                          "link")
    assert "leads nowhere" in last and "space" not in last, last
    real = generate.write_png

    def meanwhile(path, gray):  # another generate finishes into the same --out first
        if not (tmp_path / "g").exists():
            (tmp_path / "g").mkdir()
            (tmp_path / "g" / "manifest.json").write_text("theirs")
        return real(path, gray)

    monkeypatch.setattr(generate, "write_png", meanwhile)
    code, _, err = run_cli(["documents", "generate", "--out", tmp_path / "g", "--pages", "1"], capsys)
    assert code == 2 and "another" in err and "space" not in err and "Fix:" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g", "link"]
    assert [p.name for p in (tmp_path / "g").iterdir()] == ["manifest.json"]


def test_score_on_a_model_whose_width_is_not_its_toy_data_sets_names_the_file(tmp_path, capsys):
    from scratchdae import Autoencoder, get_corruption, get_loss, save_model

    save_model(tmp_path / "m3.npz", Autoencoder(3, (8,), seed=0, output_activation="identity"),
               get_loss("gaussian:0.1"), get_corruption("gaussian:0.3"), task="points", toy="mixture8",
               dataset="toy:mixture8")
    last = assert_refused(["score", "--model", tmp_path / "m3.npz"], capsys, tmp_path, "m3.npz", "toy:mixture8")
    assert "flatten" not in last and "3" in last and "2-D" in last, last


def test_save_model_refuses_a_documents_model_without_its_window_sizes(models, tmp_path):
    from scratchdae import Autoencoder, get_corruption, get_loss, load_model, save_model

    with pytest.raises(ValueError) as err:
        save_model(tmp_path / "d.npz", Autoencoder(243, (8,), n_out=25, seed=0), get_loss("gaussian:0.1"),
                   get_corruption("none"), task="documents")
    assert "window" in str(err.value) and "Fix:" in str(err.value) and "damaged" not in str(err.value), err.value
    assert not any(tmp_path.iterdir())
    model, loss, header = load_model(models / "docs" / "model.npz")  # a whole one is saved as before
    extra = {k: v for k, v in header.items() if k not in ("format", "format_version", "scratchdae_version", "kind",
                                                           "architecture", "dtype", "loss", "corruption", "trained_on")}
    arrays = load_npz(models / "docs" / "model.npz", embedded={"first/": "first_stage"})[0]
    save_model(tmp_path / "ok.npz", model, loss, get_corruption(header["corruption"]),
               arrays={k: v for k, v in arrays.items() if k.startswith("first/")}, **extra)


def test_a_figure_that_is_not_png_is_refused_before_any_page_is_scored(models, tmp_path, capsys, monkeypatch):
    from scratchdae.documents import evaluate

    def scored(*a, **kw):
        raise AssertionError("pages were scored before the --figure name was checked")

    monkeypatch.setattr(evaluate, "score_pages", scored)
    last = assert_refused(["documents", "evaluate", "--model", models / "docs" / "model.npz", "--pages", "1",
                           "--figure", tmp_path / "x.jpg"], capsys, tmp_path, "--figure", "x.jpg")
    assert ".png" in last, last
    with pytest.raises(ValueError, match="x.jpg"):
        evaluate.evaluate_documents(models / "docs" / "model.npz", pages=1, figure=tmp_path / "x.jpg")


def test_a_stacked_run_on_a_folder_holding_one_page_under_two_names_is_refused_before_training(tmp_path, capsys):
    import shutil

    k = tmp_path / "k"
    for sub in ("train", "train_cleaned"):
        (k / sub).mkdir(parents=True)
    rng = np.random.default_rng(3)
    for i in range(1, 6):
        Image.fromarray(rng.integers(100, 256, (40, 50)).astype(np.uint8)).save(k / "train" / f"{i}.png")
        Image.fromarray(np.full((40, 50), 255, np.uint8)).save(k / "train_cleaned" / f"{i}.png")
    order = np.random.default_rng([0, 1]).permutation(5)  # the first stage's split: validation pages first
    copy, original = order[0] + 1, order[2] + 1  # a validation page that is a training page under another name
    for sub in ("train", "train_cleaned"):
        shutil.copy(k / sub / f"{original}.png", k / sub / f"{copy}.png")
    last = assert_refused(["documents", "train", "--data-dir", k, "--out", tmp_path / "r", "--val-fraction", "0.4",
                           "--windows-per-page", "60", "--hidden", "8", "--epochs", "1"], capsys, tmp_path,
                          f"{copy}.png")
    assert "same page" in last, last


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("loss, sigma_hint", [("gaussian:0.1", False), ("gaussian-learned", True)])
def test_a_learning_rate_that_diverges_exits_2_with_a_fix_that_applies(tmp_path, capsys, loss, sigma_hint):
    code, _, err = run_cli(["train", "--out", tmp_path / "r", "--max-train", "200", "--epochs", "1", "--hidden", "8",
                            "--lr", "1e30", "--loss", loss, "--output-activation", "identity", "--no-figures"],
                           capsys)
    last = err.strip().splitlines()[-1]
    assert code == 2 and "--lr" in last and "1e+30" in last and "Fix:" in last, err
    assert ("fixed sigma" in last) == sigma_hint, last


# -- files a command reads or did not write are never replaced nor deleted ------------------------------


@pytest.mark.parametrize("page", ["train/1.png", "train_cleaned/1.png"])
def test_documents_evaluate_never_writes_its_figure_over_a_page_it_reads(models, tmp_path, capsys, page):
    from scratchdae.documents.evaluate import evaluate_documents

    k = kaggle_folder(tmp_path / "k")
    last = assert_refused(["documents", "evaluate", "--model", models / "docs" / "model.npz", "--data-dir", k,
                           "--figure", k / page, "--overwrite"], capsys, tmp_path, k / page, "--figure")
    assert "own inputs" in last, last
    with pytest.raises(ValueError, match="own inputs"):
        evaluate_documents(models / "docs" / "model.npz", data_dir=k, figure=k / page, overwrite=True)
    assert Image.open(k / page).size == (50, 40)


def test_evaluate_documents_replaces_a_figure_that_exists_only_when_asked(models, tmp_path):
    from scratchdae.documents.evaluate import evaluate_documents

    mine = tmp_path / "mine.png"
    mine.write_bytes(b"mine")
    with pytest.raises(ValueError, match="mine.png already exists. Fix: .*overwrite"):
        evaluate_documents(models / "docs" / "model.npz", pages=1, figure=mine)
    assert mine.read_bytes() == b"mine"
    assert evaluate_documents(models / "docs" / "model.npz", pages=1, figure=mine, overwrite=True)["figure"]
    assert mine.read_bytes()[:4] == b"\x89PNG"


def test_a_lock_file_that_no_run_wrote_is_refused_and_kept(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / ".lock").write_text("mine\n")
    last = assert_refused(["train", "--out", run, "--max-train", "200", "--epochs", "1", "--hidden", "8",
                           "--no-figures"], capsys, tmp_path, run / ".lock")
    assert "move that file away" in last and not (run / "history.jsonl").exists(), last


def test_only_the_packages_own_temporary_names_are_taken_for_stale_temporaries(tmp_path):
    from scratchdae.files import folder_lock

    mine = [".scratchdae-999999999-notes.txt", ".scratchdae-999999999-abc12345.part.bak", ".scratchdae-x-abc12345.part"]
    for name in mine:
        (tmp_path / name).write_text("mine")
    ours = tmp_path / ".scratchdae-999999999-abc12345.part"  # a killed writer's: its process is gone
    ours.write_bytes(b"half a file")
    with folder_lock(tmp_path):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(mine)



# -- settings that would give a wrong answer without a word ------------------------------------------


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_the_bernoulli_loss_refuses_an_output_activation_that_squashes_its_logits(tmp_path, capsys, activation):
    last = assert_refused(["train", "--out", tmp_path / "r", "--max-train", "200", "--epochs", "1", "--hidden", "8",
                           "--loss", "bernoulli", "--output-activation", activation, "--no-figures"], capsys, tmp_path,
                          "--output-activation", activation, "identity")
    assert "logits" in last and "Fix: drop --output-activation" in last, last


def test_names_of_written_files_are_printed_as_they_are_on_disk(models, tmp_path, capsys):
    odd = Path(os.fsdecode(bytes(tmp_path) + b"/bad\xff.png"))  # not UTF-8
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(odd)
    code, out, err = run_cli(["denoise", "--model", models / "digits" / "model.npz", odd, "--out", tmp_path / "o"],
                             capsys)
    assert code == 0 and out.strip() == f"{tmp_path / 'o'}/bad\\xff.png" and "\ufffd" not in out, (out, err)
    assert os.path.isfile(bytes(tmp_path) + b"/o/bad\xff.png")


@pytest.mark.parametrize("name", ["patience", "max_train", "batch_size", "epochs"])
def test_train_refuses_a_bool_for_an_integer_setting_and_takes_numpy_integers(tmp_path, name):
    from scratchdae import TrainConfig, train

    with pytest.raises(ValueError, match=f"{name} must be an integer, got True.*Fix: e.g. --{name.replace('_', '-')} "):
        train(out=tmp_path / "r", quiet=True, **{name: True})
    assert not (tmp_path / "r").exists()
    assert getattr(TrainConfig(**{name: np.int64(3)}), name) == 3
    with pytest.raises(ValueError, match="n_points must be an integer, got True"):
        TrainConfig(dataset="toy:rings", n_points=True)


def test_a_complex_page_is_refused_not_cut_to_its_real_part(models):
    from scratchdae.documents.stacked import load_cleaner

    page = np.full((20, 20), 0.5, np.complex64) + 0.25j
    with pytest.raises(ValueError, match=r"complex \(complex64\) pixels. Fix: .*page.real or abs\(page\)"):
        load_cleaner(models / "docs" / "model.npz")(page)


# -- what used to end in a traceback ---------------------------------------------------------------------


def test_page_cleaners_check_their_arguments_first(models):
    from scratchdae.documents.stacked import PageCleaner, load_cleaner

    stages = load_cleaner(models / "docs" / "model.npz").stages
    for heights in ((10,), None, (1, 2, 3), "ab"):
        with pytest.raises(ValueError, match=r"text heights must be \(low, high\) pixels.*Fix: e.g. text_heights="):
            PageCleaner(stages, text_heights=heights)
    for bad in ("stages", 5, [None]):
        with pytest.raises(TypeError, match="stages must be a list of one or two Stage.*Fix: .*load_cleaner"):
            PageCleaner(bad)


def test_paths_given_as_numbers_and_callbacks_that_are_not_functions_are_refused_up_front(models, tmp_path):
    from scratchdae import train
    from scratchdae.documents.evaluate import evaluate_documents
    from scratchdae.files import check_folder, check_png_name

    with pytest.raises(TypeError, match=r"out must be a path \(a str or an os.PathLike.*got int 3. Fix: e.g. out="):
        train(out=3, max_train=200, epochs=1, quiet=True)
    with pytest.raises(TypeError, match="figure must be a path.*got int 5"):
        evaluate_documents(models / "docs" / "model.npz", pages=1, figure=5)
    with pytest.raises(TypeError, match="must be a path"):
        check_folder(None)
    with pytest.raises(TypeError, match="must be a path"):
        check_png_name(2.5)
    with pytest.raises(TypeError, match="on_step must be a function.*got str 'print'"):
        train(out=tmp_path / "r", max_train=200, epochs=1, hidden=(8,), quiet=True, on_step="print")
    assert not (tmp_path / "r").exists()


# -- messages that say what happened and a fix that works --------------------------------------------------


def cli_child(*args, **kw):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", **kw.pop("env", {})}
    kw.setdefault("stdout", subprocess.PIPE)
    return subprocess.run([sys.executable, "-m", "scratchdae", *map(str, args)], stderr=subprocess.PIPE, text=True,
                          timeout=300, env=env, **kw)


def test_info_reports_an_mplbackend_that_matplotlib_refuses_and_exits_0():
    done = cli_child("info", env={"MPLBACKEND": "bogus"})
    line = next(line for line in done.stdout.splitlines() if line.startswith("matplotlib"))
    assert done.returncode == 0 and not done.stderr, done.stderr
    assert "MPLBACKEND" in line and "'bogus'" in line and "Fix:" in line, line
    info = json.loads(cli_child("info", "--json", env={"MPLBACKEND": "bogus"}).stdout)
    assert "MPLBACKEND" in info["matplotlib_error"] and info["matplotlib"], info


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_under_standard_output_is_said_to_be_that():
    with open("/dev/full", "w") as full:
        done = cli_child("info", stdout=full)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "writing to standard output failed" in lines[0] and "disk is full" in lines[0] and "Fix:" in lines[0]


def test_evaluate_given_an_image_points_to_denoise(models, tmp_path, capsys):
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "d28.png")
    last = assert_refused(["evaluate", "--model", models / "digits" / "model.npz", "--images", tmp_path / "d28.png"],
                          capsys, tmp_path, "d28.png", "scratchdae denoise")
    assert "is a PNG image" in last and "IDX" in last, last


def test_a_figure_named_only_by_its_extension(models, tmp_path, capsys):
    last = assert_refused(["score", "--model", models / "toy" / "model.npz", "--points", "200", "--figure",
                           tmp_path / ".png"], capsys, tmp_path, "--figure")
    assert "only an extension" in last and "field.png" in last and ".png.png" not in last, last


def test_generate_past_a_limit_on_file_sizes_names_out_and_the_cause(tmp_path):
    import resource

    def limited():
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    done = cli_child("documents", "generate", "--out", tmp_path / "g", "--pages", "3", preexec_fn=limited)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    last = lines[-1]
    assert f"--out {tmp_path / 'g'}" in last and "File too large" in last and "size limit" in last, last
    assert last.count("Fix:") == 1 and "partial" not in last and "writable" not in last, last
    assert not any(tmp_path.iterdir())


def test_documents_out_holding_a_file_named_first_stage(tmp_path, capsys):
    (tmp_path / "dt4").mkdir()
    (tmp_path / "dt4" / "first-stage").write_text("mine")
    last = assert_refused(["documents", "train", "--out", tmp_path / "dt4", "--pages", "2", "--windows-per-page", "50",
                           "--epochs", "1", "--hidden", "8"], capsys, tmp_path, f"--out {tmp_path / 'dt4'}",
                          "a file named first-stage")
    assert "first stage" in last, last


def test_resume_of_a_two_stage_run_whose_first_stage_was_removed_gives_a_fix_that_works(tmp_path):
    import shutil

    from scratchdae.documents import train_cleaner

    kw = dict(out=tmp_path / "ds", pages=3, windows_per_page=60, epochs=1, hidden=(8,), quiet=True, figures=False)
    assert train_cleaner(on_step=lambda epoch, step, run: run.stop(), **kw).stopped == "interrupted"
    shutil.rmtree(tmp_path / "ds" / "first-stage")
    with pytest.raises(ValueError) as err:
        train_cleaner(out=tmp_path / "ds", resume=True, quiet=True)
    message = str(err.value)
    assert "first-stage is missing" in message and "stages.json" in message and "Fix:" in message, message
    (tmp_path / "ds" / "stages.json").unlink()  # the fix: then the same command without --resume
    assert train_cleaner(**kw).stopped == "finished"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_on_data_far_out_of_range_blames_the_data_not_the_learning_rate(tmp_path):
    from scratchdae import train
    from scratchdae.loop import TrainingDiverged

    points = np.random.default_rng(0).normal(size=(200, 2)).astype(np.float32) * np.float32(1e30)
    with pytest.raises(TrainingDiverged) as err:
        train(inputs=points, epochs=1, quiet=True, out=tmp_path / "r")
    message = str(err.value)
    assert "far outside the usual range" in message and "learning rate" not in message.split("Fix:")[1], message


def test_more_arguments_are_explained_in_their_own_words(models):
    from scratchdae import load_model
    from scratchdae.checkpoint import CheckpointError
    from scratchdae.documents.stacked import load_cleaner
    from scratchdae.documents.training import make_pages

    with pytest.raises(CheckpointError, match="path is empty"):
        load_model("")
    with pytest.raises(ValueError, match="--stride 2.0: stride must be an integer"):
        load_cleaner(models / "docs" / "model.npz", stride=2.0)
    assert load_cleaner(models / "docs" / "model.npz", tidy=np.False_).tidy is False
    with pytest.raises(ValueError, match="number of pages must be an integer >= 0, got True"):
        make_pages(True, 0, "test")
    assert len(make_pages(np.int64(1), np.int64(0), "test")) == 1
