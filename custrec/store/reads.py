"""Reading records: by id, by contact detail, by words of a name, and all of them.

Every read is one snapshot, leaves out what the record states say must not be shown
(:mod:`custrec.store.guard`), and is audited before anything is returned.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from custrec.errors import CustrecError, UsageError
from custrec.store.normalise import (
    COUNTRY_FIELD,
    is_phone_field,
    normalise_match_value,
    text_words,
    words_match,
)
from custrec.store.parts import StoreParts, UsesParts
from custrec.store.records import SYSTEM_COLUMNS, Record, to_record

if TYPE_CHECKING:
    import pyarrow as pa


class RecordReader(UsesParts):
    """Reads from one open store."""

    def __init__(self, parts: StoreParts) -> None:
        super().__init__(parts)
        self.restricted_skipped = 0

    def get_many(
        self, record_ids: Sequence[str], *, include_restricted: bool, action: str
    ) -> dict[str, Record]:
        found: dict[str, Record] = {}
        wanted = list(dict.fromkeys(record_ids))
        try:
            with self.session.transaction(write=False) as db:
                id_field = self.id_field
                hidden = self.guard.hidden(wanted)
                if not include_restricted:
                    self.guard.refuse_restricted(wanted)
                by_chunk, _ = self.index.chunks_of(db, [i for i in wanted if i not in hidden])
                for chunk_id, ids in by_chunk.items():
                    rows = self.vault.rows_with_ids(db, chunk_id, id_field, ids)
                    positions = self.index.positions(rows, ids, id_field)
                    for record_id in ids:
                        found[record_id] = to_record(rows[positions[record_id]], id_field)
        except CustrecError as exc:
            self.auditor.access(action, subjects=wanted, failure=exc)
            raise
        self.auditor.access(
            action, subjects=list(found), counts={"asked": len(wanted), "found": len(found)}
        )
        return found

    def find(self, field_name: str, value: str, *, region: str | None) -> list[Record]:
        settings = self.session.require_header().settings
        if field_name not in settings.match_fields:
            raise UsageError(
                f"{field_name!r} is not a match field of this store "
                f"(match fields: {', '.join(settings.match_fields) or 'none'})"
            )
        wanted = normalise_match_value(field_name, value, region or settings.region)
        try:
            results = self._find(field_name, wanted)
        except CustrecError as exc:
            self.auditor.access("find", fields=[field_name], failure=exc)
            raise
        self.auditor.access(
            "find",
            subjects=[r.id for r in results],
            fields=[field_name],
            counts={"found": len(results)},
        )
        return results

    def _find(self, field_name: str, wanted: str) -> list[Record]:
        results: list[Record] = []
        digits = re.sub(r"\D", "", wanted)
        with self.session.transaction(write=False) as db:
            id_field = self.id_field
            token = self.index.normal_token(field_name, wanted)
            for chunk_id in self.index.chunks_matching(db, field_name, token):
                chunk = self.vault.read(db, chunk_id)
                values = chunk.values(field_name)
                countries = chunk.values(COUNTRY_FIELD)
                ids = chunk.values(id_field)
                same = set()
                for value, country, record_id in zip(values, countries, ids, strict=True):
                    if value is None:
                        continue
                    text = str(value)
                    # Only numbers ending in the same digits can be the same number.
                    if (
                        is_phone_field(field_name)
                        and len(digits) >= 6
                        and not re.sub(r"\D", "", text).endswith(digits[-6:])
                    ):
                        continue
                    region = self.index.region_of(country)
                    if normalise_match_value(field_name, text, region) == wanted:
                        same.add(str(record_id))
                for row in chunk.records_where(self.vault.names(), id_field, same):
                    results.append(to_record(row, id_field))
            restricted, others = self.guard.hidden_tokens(False, False)
            hidden = restricted | others
            if hidden:
                results = [r for r in results if self.index.token_hex(r.id) not in hidden]
        return results

    def find_text(self, fields: Sequence[str], query: str) -> list[Record]:
        known = dict(self.session.require_header().columns)
        wanted = [name for name in fields if name in known]
        words = text_words(query)
        if not words:
            raise UsageError("the search text has no words")
        results: list[Record] = []
        try:
            with self.session.transaction(write=False) as db:
                id_field = self.id_field
                self.session.ensure_all_groups(db)
                for chunk_id in self.vault.chunk_ids(db):
                    chunk = self.vault.read(db, chunk_id)
                    columns = [chunk.values(name) for name in wanted]
                    ids = chunk.values(id_field)
                    hits = {
                        str(ids[i])
                        for i, values in enumerate(zip(*columns, strict=True))
                        if words_match(words, values)
                    }
                    if hits:
                        rows = chunk.records_where(self.vault.names(), id_field, hits)
                        results.extend(to_record(row, id_field) for row in rows)
                restricted, others = self.guard.hidden_tokens(False, False)
                hidden = restricted | others
                if hidden:
                    results = [r for r in results if self.index.token_hex(r.id) not in hidden]
        except CustrecError as exc:
            self.auditor.access("find", fields=wanted, failure=exc)
            raise
        self.auditor.access(
            "find", subjects=[r.id for r in results], fields=wanted, counts={"found": len(results)}
        )
        return results

    def count(self) -> int:
        with self.session.transaction(write=False) as db:
            return self.vault.count(db)

    def iter_batches(
        self,
        *,
        system: bool,
        action: str,
        fields: Iterable[str],
        include_restricted: bool,
        audited: bool,
        include_purged: bool,
    ) -> Iterator[pa.RecordBatch]:
        if audited:
            self.auditor.access(
                action, scope="all", fields=fields, counts={"records": self.count()}
            )
        self.restricted_skipped = 0
        with self.session.transaction(write=False) as db:
            self.session.ensure_all_groups(db)
            schema = self.vault.arrow_schema(system=True)
            system_names = [name for name, _ in SYSTEM_COLUMNS]
            for chunk_id in self.vault.chunk_ids(db):
                batch = self.vault.read(db, chunk_id).to_arrow(schema)
                batch, skipped = self.guard.visible(batch, include_restricted, include_purged)
                self.restricted_skipped += skipped
                yield batch if system else batch.drop_columns(system_names)

    def to_pandas(self) -> Any:
        import pyarrow as pa

        batches = list(
            self.iter_batches(
                system=False,
                action="read-all",
                fields=(),
                include_restricted=False,
                audited=True,
                include_purged=False,
            )
        )
        table = (
            pa.Table.from_batches(batches)
            if batches
            else self.vault.arrow_schema(system=False).empty_table()
        )
        return table.to_pandas()
