"""A consistent backup of a store: its data file and its key store, copied together.

The two files are written in a fixed order (:mod:`custrec.store.keystore`), so copies
taken apart, or while a command writes, may not go together (and are then refused
when put back). A backup holds the data file's write lock while it copies both, so no
change can run between the two copies, and copies each through SQLite's online backup
API (a consistent snapshot of each file, whatever is in its journal). Each copy is
built under a temporary name beside its target and renamed into place when complete
(mode 0600); an existing file is never overwritten. The key store may go to another
directory (separate custody, docs/rights.md, "Backups"). The tombstone file is not
copied: it is kept apart and never restored to an older version.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import NamedTuple

from custrec.errors import UsageError
from custrec.store import keystore
from custrec.store.fileformat import new_file_beside, put_in_place
from custrec.store.parts import UsesParts


class BackupResult(NamedTuple):
    data_file: Path
    key_store: Path | None
    """None for a format-1 store (its data keys are in the data file)."""
    generation: int


class Backup(UsesParts):
    def run(self, data_dir: Path, keys_dir: Path) -> BackupResult:
        path = self.session.path
        data_target = data_dir / path.name
        keys_source = keystore.path_of(path) if self.session.keystore is not None else None
        keys_target = keys_dir / keystore.path_of(path).name if keys_source else None
        for directory in {data_dir, keys_dir}:
            if not directory.is_dir():
                raise UsageError(f"{directory}: no such directory")
        for target in (data_target, keys_target):
            if target is not None and (target.exists() or target.is_symlink()):
                raise UsageError(f"{target} already exists; refusing to overwrite a backup")
        if data_target.resolve() == path.resolve():
            raise UsageError(f"{data_target} is the store itself")
        # The entry goes first, so that the copy holds the record of its own taking.
        self.auditor.access("backup", scope="all")
        with self.session.transaction(write=True, manifest=False):
            generation = self.session.require_header().generation
            _copy(path, data_target)
            if keys_source is not None and keys_target is not None:
                _copy(keys_source, keys_target)
        return BackupResult(data_target, keys_target, generation)


def _copy(source: Path, target: Path) -> None:
    """``source`` (an SQLite file) copied to ``target`` through the online backup API,
    complete or not at all."""
    with new_file_beside(target) as temp:
        reader = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
        writer = sqlite3.connect(temp)
        try:
            reader.backup(writer)
        finally:
            writer.close()
            reader.close()
        put_in_place(temp, target)
