r"""The IDX format of MNIST and Fashion-MNIST: reading and writing, raw or gzip.

Layout: two zero bytes, a type code, the number of dimensions n, then n
big-endian int32 sizes, then the values, big-endian, in C order. MNIST images
are type 0x08 (uint8) with dimensions (N, 28, 28); labels are (N,).
"""
import contextlib
import gzip
import math
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..files import atomic_write
from ..validation import as_int, check_fits_memory

TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
CODES = {np.dtype(v).newbyteorder("=").str.lstrip("<>|="): k for k, v in TYPES.items()}


class IDXError(ValueError):
    """An IDX file is truncated, corrupt, or not IDX at all."""


def _open(path):
    path = Path(path)
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (raw or .gz) into a NumPy array, checking every part of it.

    The header is read first; then exactly the bytes it declares, after checking
    that they would fit in memory. A small gzip file that declares millions of
    images is refused before anything is inflated.
    """
    path = _check_path(path)
    with _reading(path) as f:
        return _read_idx(path, f)


@contextlib.contextmanager
def _reading(path):
    """Open ``path`` (raw or gzip) for reading, turning the library's errors into IDXError in our words."""
    try:
        with _open(path) as f:
            yield f
    except PermissionError as err:
        raise IDXError(f"{path}: cannot be read ({err.strerror}). Fix: check the file's permissions.") from None
    except (OSError, EOFError, zlib.error) as err:
        raise IDXError(f"{path}: cannot decompress ({err}); the file is truncated or corrupt. "
                       "Fix: download it again.") from None


def _check_path(path):
    """``path`` as a Path, refused unless it is an existing file."""
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise IDXError(f"{path} is a link that leads nowhere (or to itself). Fix: pass the IDX file itself.")
    if not path.exists():
        raise FileNotFoundError(f"IDX file {str(path)!r} does not exist. Fix: check the path.")
    if not path.is_file():
        raise IDXError(f"{path} is a folder or a device, not an IDX file. Fix: pass the file itself, e.g. "
                       "train-images-idx3-ubyte.gz.")
    return path


def _stream_size(path):
    """The size of the stream a file holds: its own size, or for a gzip file the size its trailer records
    (ISIZE, modulo 2^32). A hint only: it lets the data be read into one buffer of the right size."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        if f.read(2) != b"\x1f\x8b" or size < 18:
            return size
        f.seek(-4, 2)
        return struct.unpack("<I", f.read(4))[0]


def _agrees(path, dims, expected):
    """Whether the file's stream size (a hint, see :func:`_stream_size`) is that of the header and data declared."""
    return _stream_size(path) % 2**32 == (4 + 4 * len(dims) + expected) % 2**32


IMAGE_MAGIC = {b"\x89PNG": "PNG", b"\xff\xd8\xff": "JPEG", b"GIF8": "GIF", b"II*\x00": "TIFF", b"MM\x00*": "TIFF",
               b"BM": "BMP", b"RIFF": "WebP"}  # how image files begin: a file given where an IDX file goes


def _read_header(path, f):
    """The dimensions, the value type and the byte count an IDX header declares, each checked."""
    magic = f.read(4)
    if len(magic) < 4:
        raise IDXError(f"{path}: {len(magic)} bytes is too short for an IDX header (at least 4). "
                       "Fix: download it again.")
    zero, code, ndim = struct.unpack(">HBB", magic)
    image = next((kind for start, kind in IMAGE_MAGIC.items() if magic.startswith(start)), None)
    if image:
        raise IDXError(f"{path} is a {image} image, and images are read here from IDX files (the format MNIST ships "
                       f"in). Fix: to denoise image files, scratchdae denoise --model FILE {path} --out DIR; to "
                       "evaluate, pass an IDX file (e.g. t10k-images-idx3-ubyte.gz) or --dataset mnist-sample.")
    if zero != 0 or code not in TYPES or ndim == 0:
        raise IDXError(f"{path}: bad magic number 0x{magic.hex()}; expected 0x0000TTNN with a known type TT "
                       f"(08 for uint8) and NN >= 1 dimensions (0x00000803 for MNIST images). Is this an IDX file? "
                       "Fix: pass an IDX file, e.g. t10k-images-idx3-ubyte.gz, or download it again.")
    raw_dims = f.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise IDXError(f"{path}: header announces {ndim} dimensions but the file ends after {4 + len(raw_dims)} bytes. "
                       "Fix: download it again.")
    dims = struct.unpack(f">{ndim}I", raw_dims)
    dtype = np.dtype(TYPES[code])
    expected = math.prod(dims) * dtype.itemsize  # Python integers: no overflow however large the dimensions
    check_fits_memory(expected, f"{path}: its header's dimensions {dims} ({dtype.itemsize}-byte values)",
                      "this is not a data set this machine can load; the file is probably corrupt. "
                      "Download it again.", error=IDXError)
    return dims, dtype, expected


def _read_idx(path, f):
    dims, dtype, expected = _read_header(path, f)
    if _agrees(path, dims, expected):  # the file agrees with its header:
        data = bytearray(expected)  # one buffer of the right size, filled in place
        got = 0
        while got < expected:
            n = f.readinto(memoryview(data)[got:got + 2**24])
            if not n:
                break
            got += n
    else:  # it does not: grow a buffer as bytes arrive, so a header that lies costs only the bytes really there
        data = bytearray()
        while len(data) < expected:
            chunk = f.read(min(2**24, expected - len(data)))
            if not chunk:
                break
            data += chunk
        got = len(data)
    _check_end(path, f, dims, got, expected)
    array = np.frombuffer(data, dtype=dtype).reshape(dims)  # a view of the bytes read, writable (a bytearray)
    if dtype.itemsize == 1:
        return array  # bytes have no byte order: no copy (the images of full MNIST are 47 MB)
    return array.astype(dtype.newbyteorder("="))


def _check_end(path, f, dims, got, expected):
    """Refuse a stream that ended early or goes on past the bytes its header declares."""
    if got < expected or f.read(1):
        _length_error(path, dims, got, expected)


def _length_error(path, dims, got, expected):
    what = "truncated" if got < expected else "longer than its header says"
    found = f"{got}" if got < expected else "more"
    raise IDXError(f"{path}: dimensions {dims} need {expected} bytes of data, found {found}: "
                   f"the file is {what}. Fix: download it again.")


def idx_header(path: str | Path) -> tuple[tuple[int, ...], np.dtype]:
    """The dimensions and value type an IDX file's header declares (checked as :func:`read_idx` checks
    them), read without its data."""
    path = _check_path(path)
    with _reading(path) as f:
        dims, dtype, _ = _read_header(path, f)
        return dims, dtype.newbyteorder("=")


def check_idx_length(path: str | Path) -> tuple[int, ...]:
    """Refuse a file whose data are shorter or longer than its header declares, before anything is made
    for them; returns the dimensions. A raw file's size, or a gzip file's recorded length, that agrees
    with the header is taken as it is (the data are checked again as they are read); one that does not
    is read through, counting the bytes, to say which it is."""
    path = _check_path(path)
    with _reading(path) as f:
        dims, _, expected = _read_header(path, f)
        if _agrees(path, dims, expected):
            return dims
        got = 0
        while got <= expected:
            chunk = f.read(1 << 24)
            if not chunk:
                break
            got += len(chunk)
        if got != expected:
            _length_error(path, dims, got, expected)
        return dims


def iter_idx(path: str | Path, rows: int = 1024) -> Iterator[tuple[int, np.ndarray]]:
    """Read an IDX file a block of ``rows`` items at a time: yields ``(start, array)``, the array holding
    items start, start + 1, ... (along the first dimension). Checked as :func:`read_idx` checks, the
    length at the end; the whole file is never held at once (the images of full MNIST are 47 MB)."""
    rows = as_int(rows)
    if not isinstance(rows, int) or isinstance(rows, bool) or rows < 1:
        raise ValueError(f"rows must be a whole number of items >= 1, got {rows!r}. Fix: e.g. rows=1024.")
    path = _check_path(path)
    return _blocks(path, rows)


def _blocks(path, rows):
    with _reading(path) as f:
        dims, dtype, expected = _read_header(path, f)
        item = math.prod(dims[1:]) * dtype.itemsize
        got = start = 0
        while start < dims[0]:
            k = min(rows, dims[0] - start)
            data = f.read(k * item)
            got += len(data)
            if len(data) < k * item:
                break
            block = np.frombuffer(data, dtype=dtype).reshape((k, *dims[1:]))
            yield start, block.astype(dtype.newbyteorder("="))  # a writable copy, in this machine's byte order
            start += k
        _check_end(path, f, dims, got, expected)


def write_idx(path: str | Path, array: np.ndarray) -> Path:
    """Write an array as IDX (gzip when the name ends in .gz), atomically."""
    array = np.ascontiguousarray(array)
    key = array.dtype.newbyteorder("=").str.lstrip("<>|=")
    if key not in CODES:
        raise TypeError(f"IDX stores uint8, int8, int16, int32, float32 or float64, got {array.dtype}.")
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"IDX needs 1 to 255 dimensions, got {array.ndim}.")
    code = CODES[key]
    payload = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload += array.astype(TYPES[code], copy=False).tobytes()
    path = Path(path)
    with atomic_write(path) as f:
        if path.suffix == ".gz":
            with gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as gz:
                gz.write(payload)
        else:
            f.write(payload)
    return path
