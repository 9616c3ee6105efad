r"""Data: the IDX format, and the data sets built on it."""
from .datasets import (DATASETS, Dataset, DownloadError, FileSpec, RemoteSpec, download, find_idx_files,
                       load_dataset)
from .idx import IDXError, check_idx_length, idx_header, iter_idx, read_idx, write_idx

__all__ = ["DATASETS", "Dataset", "DownloadError", "FileSpec", "IDXError", "RemoteSpec", "download",
           "check_idx_length", "find_idx_files", "idx_header", "iter_idx", "load_dataset", "read_idx", "write_idx"]
