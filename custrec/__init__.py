"""custrec: customer records kept in encrypted files, and customer-service KPIs.

The library is usable without the command line::

    import custrec
    profile = custrec.inspect_table("customers.csv")
    print(profile.rows, [c.inferred_type for c in profile.columns])

Heavy dependencies (pandas, pandera, pyarrow) are imported only by the functions that
need them, so ``import custrec`` is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from custrec.errors import (
    CheckFailedError,
    CustrecError,
    ExitCode,
    InputError,
    IntegrityError,
    KeyMissingError,
    KeyOrIntegrityError,
    MalformedKeyFileError,
    NotFoundError,
    StoreBusyError,
    UnknownColumnError,
    UnsafeKeyFileError,
    UsageError,
)

__version__ = "0.1.0"

# Public names provided by submodules, imported on first use (PEP 562).
_LAZY = {
    "inspect_table": "custrec.table_profile",
    "TableProfile": "custrec.table_profile",
    "open_table": "custrec.io",
    "open_row_writer": "custrec.io",
    "new_key_file": "custrec.keyfile",
    "read_key_file": "custrec.keyfile",
    "exclusive_lock": "custrec.locking",
    "write_dataset": "custrec.datasets",
    "run_demo": "custrec.demo",
    "collect_records": "custrec.collect",
    "CollectOptions": "custrec.collect",
    "get_records": "custrec.lookup",
    "find_records": "custrec.lookup",
    "update_record": "custrec.lookup",
    "export_records": "custrec.export",
}

if TYPE_CHECKING:
    from custrec.collect import CollectOptions, collect_records
    from custrec.datasets import write_dataset
    from custrec.demo import run_demo
    from custrec.export import export_records
    from custrec.io import open_row_writer, open_table
    from custrec.keyfile import new_key_file, read_key_file
    from custrec.locking import exclusive_lock
    from custrec.lookup import find_records, get_records, update_record
    from custrec.table_profile import TableProfile, inspect_table


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'custrec' has no attribute {name!r}")


__all__ = [
    "CheckFailedError",
    "CollectOptions",
    "CustrecError",
    "ExitCode",
    "InputError",
    "IntegrityError",
    "KeyMissingError",
    "KeyOrIntegrityError",
    "MalformedKeyFileError",
    "NotFoundError",
    "StoreBusyError",
    "TableProfile",
    "UnknownColumnError",
    "UnsafeKeyFileError",
    "UsageError",
    "__version__",
    "collect_records",
    "exclusive_lock",
    "export_records",
    "find_records",
    "get_records",
    "inspect_table",
    "new_key_file",
    "open_row_writer",
    "open_table",
    "read_key_file",
    "run_demo",
    "update_record",
    "write_dataset",
]
