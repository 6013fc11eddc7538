"""The parts of an open store that the higher-level parts (reads, writes, rights, bulk
ingest, verification) work through, handed to each of them at once."""

from __future__ import annotations

from custrec.store.auditing import Auditor
from custrec.store.guard import RecordGuard
from custrec.store.index import BlindIndex
from custrec.store.session import StoreSession
from custrec.store.vault import ChunkVault


class StoreParts:
    __slots__ = ("auditor", "guard", "index", "session", "vault")

    def __init__(
        self,
        session: StoreSession,
        vault: ChunkVault,
        index: BlindIndex,
        guard: RecordGuard,
        auditor: Auditor,
    ) -> None:
        self.session = session
        self.vault = vault
        self.index = index
        self.guard = guard
        self.auditor = auditor


class UsesParts:
    """Base of a part that works through the others."""

    def __init__(self, parts: StoreParts) -> None:
        self.parts = parts
        self.session = parts.session
        self.vault = parts.vault
        self.index = parts.index
        self.guard = parts.guard
        self.auditor = parts.auditor

    @property
    def id_field(self) -> str:
        return self.session.require_header().settings.id_field
