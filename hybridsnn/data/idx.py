"""Read and write IDX files (the MNIST / Fashion-MNIST format), raw or gzip-compressed.

Layout (big-endian): two zero bytes, one type byte, one byte ``ndim``, then ``ndim`` uint32 dimension sizes,
then the data in C order. A file whose header or byte count does not match raises :class:`DataError`
naming the file.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from hybridsnn.atomic import write_with
from hybridsnn.errors import DataError

#: IDX type byte -> element type (big-endian, as stored).
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"


def read_idx_bytes(path: str | os.PathLike[str]) -> bytes:
    """The (decompressed) bytes of an IDX file; gzip is detected from the file's first two bytes."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise DataError(f"cannot read IDX file {path}: {exc.strerror or exc}") from exc
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"corrupt gzip in IDX file {path}: {exc}") from exc


def parse_idx(data: bytes, source: str | os.PathLike[str] = "<bytes>") -> np.ndarray:
    """Decode IDX bytes into a writable array in native byte order; ``source`` names the file in errors."""
    if len(data) < 4:
        raise DataError(f"IDX file {source} is truncated: {len(data)} bytes, less than the 4-byte magic")
    zero0, zero1, type_code, ndim = data[0], data[1], data[2], data[3]
    if zero0 != 0 or zero1 != 0 or type_code not in IDX_DTYPES:
        raise DataError(
            f"IDX file {source} has a bad magic number 0x{data[:4].hex()}; expected 0x0000TTNN "
            f"with type TT one of {', '.join(f'{c:02x}' for c in IDX_DTYPES)}"
        )
    if ndim == 0:
        raise DataError(f"IDX file {source} declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"IDX file {source} is truncated inside its header ({len(data)} of {header} bytes)")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[type_code]
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        kind = "truncated" if len(data) < expected else "longer than declared"
        raise DataError(
            f"IDX file {source} is {kind}: dimensions {dims} of {dtype.name} need {expected} bytes, "
            f"file has {len(data)}"
        )
    flat = np.frombuffer(data, dtype=dtype, offset=header)
    return flat.astype(dtype.newbyteorder("="), copy=True).reshape(dims)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (raw or gzip) into a numpy array of its stored type and dimensions."""
    return parse_idx(read_idx_bytes(path), path)


def encode_idx(array: np.ndarray) -> bytes:
    """The IDX bytes of ``array`` (type chosen from its dtype; must be one of the IDX types)."""
    array = np.asarray(array)
    codes = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes or array.ndim == 0 or array.ndim > 255:
        raise DataError(f"cannot store a {array.ndim}-d {array.dtype} array as IDX; allowed element types: "
                        f"{', '.join(sorted(str(d) for d in codes))}")
    big = IDX_DTYPES[codes[native]]
    header = bytes([0, 0, codes[native], array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array, dtype=big).tobytes()


def write_idx(path: str | os.PathLike[str], array: np.ndarray) -> Path:
    """Atomically write ``array`` as an IDX file; a path ending in ``.gz`` is gzip-compressed."""
    data = encode_idx(array)
    if str(path).endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    return write_with(path, lambda tmp: tmp.write_bytes(data))
