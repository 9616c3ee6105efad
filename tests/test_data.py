"""IDX files, the bundled sample, folders, and downloads from a local HTTP server."""
import gzip
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

from scratchdae.data import (DownloadError, FileSpec, IDXError, RemoteSpec, check_idx_length, download,
                             find_idx_files, idx_header, iter_idx, load_dataset, read_idx, write_idx)
from scratchdae.data.datasets import MNIST, SAMPLE_DIR


@pytest.mark.parametrize("name", ["a-idx3-ubyte", "a-idx3-ubyte.gz"])
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
def test_idx_round_trip(tmp_path, name, dtype):
    a = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    if dtype == "uint8":
        a = np.abs(a).astype(dtype)
    path = write_idx(tmp_path / name, a)
    b = read_idx(path)
    assert b.dtype == a.dtype and b.dtype.isnative
    np.testing.assert_array_equal(a, b)


def test_idx_header_is_the_documented_one(tmp_path):
    write_idx(tmp_path / "x", np.zeros((3, 28, 28), np.uint8))
    raw = (tmp_path / "x").read_bytes()
    assert raw[:16] == bytes.fromhex("00000803" "00000003" "0000001c" "0000001c")
    assert len(raw) == 16 + 3 * 784


def test_truncated_and_corrupt_files_are_explained(tmp_path):
    good = write_idx(tmp_path / "good", np.ones((4, 5, 5), np.uint8)).read_bytes()
    (tmp_path / "short").write_bytes(good[:-3])
    with pytest.raises(IDXError, match=r"need 100 bytes of data, found 97: the file is truncated"):
        read_idx(tmp_path / "short")
    (tmp_path / "long").write_bytes(good + b"\0")
    with pytest.raises(IDXError, match="longer than its header says"):
        read_idx(tmp_path / "long")
    (tmp_path / "magic").write_bytes(b"\x12\x34" + good[2:])
    with pytest.raises(IDXError, match="bad magic number 0x1234.*Is this an IDX file"):
        read_idx(tmp_path / "magic")
    (tmp_path / "tiny").write_bytes(b"\0\0")
    with pytest.raises(IDXError, match="too short for an IDX header"):
        read_idx(tmp_path / "tiny")
    gz = gzip.compress(good)
    (tmp_path / "cut.gz").write_bytes(gz[: len(gz) // 2])
    with pytest.raises(IDXError, match="cannot decompress.*truncated or corrupt"):
        read_idx(tmp_path / "cut.gz")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_idx(tmp_path / "nope")


@pytest.mark.parametrize("name", ["a-idx3-ubyte", "a-idx3-ubyte.gz"])
@pytest.mark.parametrize("dtype", ["uint8", "int16", "float64"])
def test_reading_a_block_at_a_time_gives_the_whole_file(tmp_path, name, dtype):
    a = (np.arange(7 * 3 * 2) % 250).reshape(7, 3, 2).astype(dtype)
    path = write_idx(tmp_path / name, a)
    assert idx_header(path) == ((7, 3, 2), np.dtype(dtype))
    for rows in (1, 3, 7, 100):
        blocks = list(iter_idx(path, rows))
        assert [start for start, _ in blocks] == list(range(0, 7, rows))
        whole = np.concatenate([block for _, block in blocks])
        assert whole.dtype == a.dtype and whole.dtype.isnative
        np.testing.assert_array_equal(whole, read_idx(path))


def test_reading_a_block_at_a_time_checks_the_file_as_a_whole_read_does(tmp_path):
    good = write_idx(tmp_path / "good", np.ones((4, 5, 5), np.uint8)).read_bytes()
    for name, data, message in [("short", good[:-3], r"need 100 bytes of data, found 97: the file is truncated"),
                                ("long", good + b"\0", "longer than its header says"),
                                ("magic", b"\x12\x34" + good[2:], "bad magic number 0x1234"),
                                ("cut.gz", gzip.compress(good)[:len(gzip.compress(good)) // 2],
                                 "cannot decompress.*truncated or corrupt")]:
        (tmp_path / name).write_bytes(data)
        with pytest.raises(IDXError, match=message):
            list(iter_idx(tmp_path / name, 2))
        with pytest.raises(IDXError, match=message):
            read_idx(tmp_path / name)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        idx_header(tmp_path / "nope")


@pytest.mark.parametrize("gz", [False, True])
def test_a_file_shorter_or_longer_than_its_header_is_refused_before_anything_is_made(tmp_path, gz):
    # a header may claim millions of images a truncated file does not hold: say so, do not allocate for them
    good = write_idx(tmp_path / "good", np.ones((1000, 28, 28), np.uint8)).read_bytes()
    liar = bytes.fromhex("00000803") + (9_000_000).to_bytes(4, "big") + good[8:]
    for name, data, message in [("liar", liar, r"dimensions \(9000000, 28, 28\) need 7056000000 bytes of data, "
                                               r"found 784000: the file is truncated"),
                                ("long", good + b"\0\0", "longer than its header says")]:
        path = tmp_path / (name + (".gz" if gz else ""))
        path.write_bytes(gzip.compress(data) if gz else data)
        with pytest.raises(IDXError, match=message):
            check_idx_length(path)
    (tmp_path / "fine.gz").write_bytes(gzip.compress(good))
    assert check_idx_length(tmp_path / "fine.gz") == check_idx_length(tmp_path / "good") == (1000, 28, 28)


@pytest.mark.parametrize("rows", [0, -1, 2.5, True, "8"])
def test_a_block_size_that_is_not_a_whole_number_of_items_is_refused(tmp_path, rows):
    path = write_idx(tmp_path / "x", np.zeros((3, 2, 2), np.uint8))
    with pytest.raises(ValueError, match="rows must be a whole number of items >= 1"):
        iter_idx(path, rows)
    assert [start for start, _ in iter_idx(path, np.int64(2))] == [0, 2]


def test_images_of_no_pixels_or_a_file_of_no_images_are_refused_when_loaded(tmp_path):
    for name, train, test, message in [("flat", (5, 0, 28), (2, 0, 28), r"H and W at least 1, got uint8 \(5, 0, 28\)"),
                                       ("empty", (5, 8, 8), (0, 8, 8), "holds no images")]:
        folder = tmp_path / name
        folder.mkdir()
        write_idx(folder / "train-images-idx3-ubyte", np.zeros(train, np.uint8))
        write_idx(folder / "t10k-images-idx3-ubyte", np.zeros(test, np.uint8))
        for lazy in (True, False):
            with pytest.raises(ValueError, match=message):
                load_dataset(None, data_dir=folder, train_images=not lazy)


def test_a_data_set_can_leave_its_training_images_on_disk(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((5, 8, 8), np.uint8))
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.ones((2, 8, 8), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(5, np.uint8))
    data = load_dataset(None, data_dir=tmp_path, train_images=False)
    assert data.train_images.shape == (0, 8, 8) and data.image_shape == (8, 8) and len(data.train_labels) == 5
    assert data.files["train-images"].endswith("train-images-idx3-ubyte")
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(4, np.uint8))  # the header's count is still checked
    with pytest.raises(ValueError, match="4 labels for 5 images"):
        load_dataset(None, data_dir=tmp_path, train_images=False)


def test_bundled_sample_is_the_real_one():
    data = load_dataset("mnist-sample")
    assert data.train_images.shape == (7000, 28, 28) and data.test_images.shape == (1000, 28, 28)
    assert data.train_labels.shape == (7000,) and set(np.unique(data.test_labels)) == set(range(10))
    expected = {"train-images-idx3-ubyte.gz": "826dbeaa67336a0489009ff453798b2f38e3a677665f404b7070675795a55eea",
                "test-images-idx3-ubyte.gz": "ec7a1bc26a4ad27f7957390754dca6da63fe30812fd7cda5cf19cdaf45c4111f"}
    for name, sha in expected.items():
        assert hashlib.sha256((SAMPLE_DIR / name).read_bytes()).hexdigest() == sha
    assert "CC BY-SA 3.0" in (SAMPLE_DIR / "README.md").read_text()


def test_plain_folder_of_idx_files(tmp_path):
    write_idx(tmp_path / "train-images.idx3-ubyte", np.zeros((5, 8, 8), np.uint8))  # raw, dotted name
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.ones((2, 8, 8), np.uint8))
    data = load_dataset(None, data_dir=tmp_path)
    assert data.train_images.shape == (5, 8, 8) and data.test_images.shape == (2, 8, 8)
    assert data.train_labels is None


def test_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist or is not a folder"):
        find_idx_files(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match="no train-images or test-images IDX file.*Found: notes.txt"):
        find_idx_files(tmp_path)
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((5, 8, 8), np.uint8))
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((2, 9, 9), np.uint8))
    with pytest.raises(ValueError, match="train and test images differ in size"):
        load_dataset(None, data_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown data set 'cifar'"):
        load_dataset("cifar")


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(), reason="Debian's Fashion-MNIST not installed")
def test_debian_fashion_mnist_folder_passes_the_checksums():
    data = load_dataset("fashion-mnist", data_dir="/usr/share/datasets/fashion-mnist", log=lambda *a: None)
    assert data.train_images.shape == (60000, 28, 28) and data.test_images.shape == (10000, 28, 28)


# -- downloads, from a server on 127.0.0.1 started by the test -----------------------

class Server:
    """Serves files from a dict path -> bytes; counts requests."""

    def __init__(self, files):
        self.files, self.requests = files, []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path)
                body = outer.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def tiny_remote(tmp_path, content_checksum=False):
    """A little data set in MNIST's layout, its files as bytes, and its spec."""
    rng = np.random.default_rng(0)
    arrays = {"train-images": rng.integers(0, 256, (6, 4, 4), dtype=np.uint8),
              "train-labels": rng.integers(0, 10, 6, dtype=np.uint8),
              "test-images": rng.integers(0, 256, (3, 4, 4), dtype=np.uint8),
              "test-labels": rng.integers(0, 10, 3, dtype=np.uint8)}
    names = {"train-images": "train-images-idx3-ubyte.gz", "train-labels": "train-labels-idx1-ubyte.gz",
             "test-images": "t10k-images-idx3-ubyte.gz", "test-labels": "t10k-labels-idx1-ubyte.gz"}
    blobs, specs = {}, {}
    for role, a in arrays.items():
        path = write_idx(tmp_path / "src" / names[role], a)
        blobs[names[role]] = path.read_bytes()
        data = gzip.decompress(blobs[names[role]]) if content_checksum else blobs[names[role]]
        specs[role] = FileSpec(names[role], hashlib.sha256(data).hexdigest(),
                               "content" if content_checksum else "file")
    return arrays, blobs, specs


def test_download_from_the_first_mirror_that_works(tmp_path):
    arrays, blobs, specs = tiny_remote(tmp_path)
    with Server({f"/good/{k}": v for k, v in blobs.items()}) as srv:
        remote = RemoteSpec("tiny", [f"{srv.url}/dead/", f"{srv.url}/good/"], specs)
        paths = download(remote, tmp_path / "cache", log=lambda *a: None)
        assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(blobs)  # no .part files left
        np.testing.assert_array_equal(read_idx(paths["test-images"]), arrays["test-images"])
        n = len(srv.requests)
        download(remote, tmp_path / "cache", log=lambda *a: None)  # cached and verified: no new requests
        assert len(srv.requests) == n


def test_load_dataset_downloads_mnist_from_given_mirrors(tmp_path, monkeypatch):
    arrays, blobs, specs = tiny_remote(tmp_path)
    monkeypatch.setattr(MNIST, "files", specs)
    monkeypatch.setenv("SCRATCHDAE_DATA", str(tmp_path / "cache"))
    with Server({f"/m/{k}": v for k, v in blobs.items()}) as srv:
        data = load_dataset("mnist", mirrors=[f"{srv.url}/m/"], log=lambda *a: None)
    assert (tmp_path / "cache" / "mnist" / "train-images-idx3-ubyte.gz").is_file()
    np.testing.assert_array_equal(data.train_labels, arrays["train-labels"])


def test_corrupted_file_is_discarded_and_next_mirror_used(tmp_path):
    arrays, blobs, specs = tiny_remote(tmp_path)
    bad = {k: v[:-1] + bytes([v[-1] ^ 1]) for k, v in blobs.items()}
    with Server({**{f"/bad/{k}": v for k, v in bad.items()}, **{f"/good/{k}": v for k, v in blobs.items()}}) as srv:
        remote = RemoteSpec("tiny", [f"{srv.url}/bad/", f"{srv.url}/good/"], specs)
        paths = download(remote, tmp_path / "cache", log=lambda *a: None)
    np.testing.assert_array_equal(read_idx(paths["train-images"]), arrays["train-images"])


def test_only_corrupted_mirrors_fail_clearly_and_leave_nothing(tmp_path):
    arrays, blobs, specs = tiny_remote(tmp_path)
    bad = {k: b"not the file" for k in blobs}
    with Server({f"/bad/{k}": v for k, v in bad.items()}) as srv:
        remote = RemoteSpec("tiny", [f"{srv.url}/bad/"], specs)
        with pytest.raises(DownloadError, match=r"(?s)Tried:.*/bad/train-images-idx3-ubyte.gz: SHA-256 mismatch"
                                                r".*put them in .*cache"):
            download(remote, tmp_path / "cache", log=lambda *a: None)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_dead_server_names_every_url_tried(tmp_path):
    arrays, blobs, specs = tiny_remote(tmp_path)
    with Server({}) as srv:
        dead = srv.url
    remote = RemoteSpec("tiny", [f"{dead}/a/", f"{dead}/b/"], specs)
    with pytest.raises(DownloadError) as info:
        download(remote, tmp_path / "cache", timeout=2, log=lambda *a: None)
    msg = str(info.value)
    assert f"{dead}/a/train-images-idx3-ubyte.gz" in msg and f"{dead}/b/train-images-idx3-ubyte.gz" in msg
    assert "--data-dir" in msg and "mnist-sample" in msg


def test_content_checksum_accepts_a_recompressed_mirror(tmp_path):
    arrays, blobs, specs = tiny_remote(tmp_path, content_checksum=True)
    recompressed = {k: gzip.compress(gzip.decompress(v), compresslevel=1, mtime=123) for k, v in blobs.items()}
    assert recompressed != blobs
    with Server({f"/r/{k}": v for k, v in recompressed.items()}) as srv:
        paths = download(RemoteSpec("tiny", [f"{srv.url}/r/"], specs), tmp_path / "c", log=lambda *a: None)
    np.testing.assert_array_equal(read_idx(paths["test-labels"]), arrays["test-labels"])


def test_a_damaged_cached_file_is_fetched_again(tmp_path):
    arrays, blobs, specs = tiny_remote(tmp_path)
    with Server({f"/g/{k}": v for k, v in blobs.items()}) as srv:
        remote = RemoteSpec("tiny", [f"{srv.url}/g/"], specs)
        download(remote, tmp_path / "c", log=lambda *a: None)
        (tmp_path / "c" / "t10k-images-idx3-ubyte.gz").write_bytes(b"garbage")
        paths = download(remote, tmp_path / "c", log=lambda *a: None)
    np.testing.assert_array_equal(read_idx(paths["test-images"]), arrays["test-images"])


def test_a_users_own_file_of_that_name_is_never_deleted(tmp_path):
    arrays, blobs, specs = tiny_remote(tmp_path)
    mine = tmp_path / "c" / "train-images-idx3-ubyte.gz"
    mine.parent.mkdir()
    mine.write_bytes(b"my own notes, not MNIST")
    with Server({f"/bad/{k}": b"corrupt" for k in blobs}) as srv:
        with pytest.raises(DownloadError, match="SHA-256 mismatch"):
            download(RemoteSpec("tiny", [f"{srv.url}/bad/"], specs), tmp_path / "c", log=lambda *a: None)
    assert mine.read_bytes() == b"my own notes, not MNIST"  # a failed download leaves it alone
    assert sorted(p.name for p in mine.parent.iterdir()) == [mine.name]  # and no temporary behind
    with Server({f"/g/{k}": v for k, v in blobs.items()}) as srv:
        paths = download(RemoteSpec("tiny", [f"{srv.url}/g/"], specs), tmp_path / "c", log=lambda *a: None)
    np.testing.assert_array_equal(read_idx(paths["train-images"]), arrays["train-images"])
    kept = mine.with_name(mine.name + ".mismatch")
    assert kept.read_bytes() == b"my own notes, not MNIST"  # a good download keeps it beside, renamed
