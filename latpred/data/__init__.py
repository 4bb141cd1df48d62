"""Measured latency data: safe reading, checksummed download, per-space tables."""

from latpred.data.safe_pickle import UnsafePickleError, load_pt
from latpred.data.sources import (
    ChecksumError,
    DataUnavailableError,
    ensure_files,
    resolve_data_dir,
)
from latpred.data.tables import (
    LatencyTable,
    load_fbnet_archs,
    load_fbnet_zcp,
    load_latency_table,
    load_nb201_archs,
)

__all__ = [
    "ChecksumError",
    "DataUnavailableError",
    "LatencyTable",
    "UnsafePickleError",
    "ensure_files",
    "load_fbnet_archs",
    "load_fbnet_zcp",
    "load_latency_table",
    "load_nb201_archs",
    "load_pt",
    "resolve_data_dir",
]
