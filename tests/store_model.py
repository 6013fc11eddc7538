"""The reference model and the operations of the model-based store test
(``tests/test_store_model.py``).

They live in a module of their own, without pytest, because a child process imports
them too: the test runs some operations in a process forked from a server child
(:func:`serve_forks`) and killed with SIGKILL while it works. Nothing here imports a
private name of custrec: operations go through the public library API
(``custrec.store``, ``custrec.collect``, ``custrec.retention``) or the command line
(``custrec.cli.main``), and the store's files are read only as ``docs/format.md``
describes them.

- :class:`State` is what one store file holds, as plain dicts and sets: records
  (version and fields), legal holds, restrictions, grace periods, tombstones, key
  holders.
- :class:`Model` adds what restoring an old copy of the file does not roll back (the
  day, the key in use, the saved purge plan, the backups, every canary value made) and
  works out what each operation must do: :class:`Expected` (exit codes, the state
  after it, the audit entries it writes, the states a kill may leave).
- :func:`run_operation` carries an operation out on the real store;
  :func:`run_killed` runs it in a forked process killed at a kill point.
- :func:`observe` reads the whole state of a store back through the public API;
  :func:`leaks`, :func:`ciphertexts` and :func:`tombstone_tokens` read its files.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import dataclasses
import datetime as dt
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from custrec.audit import AuditContext
from custrec.errors import CustrecError
from custrec.store import KeySource, Store, StoreSettings, create_store, open_store
from custrec.store.fileformat import GROUP_CHUNKS

REPO = Path(__file__).resolve().parent.parent

Value = str | int | float | bool | None
Op = dict[str, Any]
"""An operation: ``{"kind": ..., parameters}``, JSON so that a child can run it."""
Entry = tuple[str, str, str]
"""An audit entry as the test checks it: (action, phase, outcome)."""

ID_FIELD = "customer_id"
FIELDS = (ID_FIELD, "email", "phone", "note", "tier", "since")
COLUMNS = [(ID_FIELD, "string"), ("email", "string"), ("phone", "string"),
           ("note", "string"), ("tier", "int64"), ("since", "string")]  # fmt: skip
CANARY_FIELDS = ("email", "phone", "note")
"""Fields that hold a value unique to one record (its canaries): always set."""
OTHER_FIELDS = ("tier", "since")
IDS = tuple(f"C-{n:02d}" for n in range(12))
"""Every record id the test uses: with 4 records a chunk, up to 3 chunks and more."""
KEYS = ("k1", "k2", "k3")
"""Key files; k1 creates the store."""
CHUNK_RECORDS = 4
TIERS = (0, 1, 2, 3)
DUE_TIER = 3
SINCE_VALUES = ("2029-10-01", "2030-01-20", "2030-03-01", None)
START_DAY = dt.date(2030, 1, 1)
PERIOD_DAYS = 60
GRACE = "30d"
GRACE_DAYS = 30
RULE_ID = "lapsed"
POLICY = f"""version: 1
description: Records of tier {DUE_TIER} go {PERIOD_DAYS} days after their 'since' date.
rules:
  - id: {RULE_ID}
    where: "tier == {DUE_TIER}"
    trigger: since
    period: {PERIOD_DAYS}d
    action: delete
"""
KEPT_FIELDS = ((), ("tier",), ("tier", "since"))
"""What an erasure may keep (``--except``): never a canary field."""
CLEAN_ENV: Mapping[str, str | None] = {
    "CUSTREC_KEY_FILE": None,
    "CUSTREC_PASSPHRASE": None,
    "CUSTREC_NEW_PASSPHRASE": None,
    "CUSTREC_ACTOR": None,
    "CUSTREC_FORMAT": None,
    "CUSTREC_DEBUG": None,
}


# --- the model ---------------------------------------------------------------------------


@dataclass
class Rec:
    version: int
    data: dict[str, Value]


@dataclass
class State:
    """What one store file holds."""

    records: dict[str, Rec] = field(default_factory=dict)
    """Every record in the file: visible, restricted, in a grace period, or an erased
    record's kept fields."""
    hold: set[str] = field(default_factory=set)
    restricted: set[str] = field(default_factory=set)
    grace: dict[str, str] = field(default_factory=dict)
    """Id -> last day of the grace period (ISO). Erasing a record whole ends its grace
    period; one erased with fields kept stays in it."""
    erased: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Tombstones: id -> the fields its erasure kept."""
    holders: set[str] = field(default_factory=set)
    """Names of the key files that open the store."""

    def copy(self) -> State:
        return copy.deepcopy(self)

    def visible(self) -> list[str]:
        return sorted(i for i in self.records if i not in self.grace)

    def readable(self) -> list[str]:
        """Visible and not restricted: what get, find and a full read give."""
        return [i for i in self.visible() if i not in self.restricted]


@dataclass
class PlanResult:
    """What a purge plan holds: records destroyed now, records entering a grace period
    (id -> its last day), and records kept in theirs."""

    now: list[str]
    graced: dict[str, str]
    in_grace: int

    def planned(self, state: State) -> set[tuple[str, int]]:
        return {(i, state.records[i].version) for i in [*self.now, *self.graced]}


@dataclass
class SavedPlan:
    as_of: dt.date
    grace: str | None
    planned: set[tuple[str, int]]


@dataclass
class Expected:
    """What an operation must do. ``after`` is the state when it succeeds (exit 0);
    a refused operation leaves the state as it was. ``audit`` gives, per exit code, the
    entries the operation writes under its actor. ``middle`` lists states a kill may
    leave besides before and after; ``rerun`` says that after a kill the operation is
    run again (it is resumable, and the docs say to), which must end in ``after``."""

    exits: frozenset[int]
    after: State
    audit: dict[int, list[Entry]]
    middle: list[State] = field(default_factory=list)
    rerun: bool = False
    info: dict[str, Any] = field(default_factory=dict)
    erasing: bool = False
    """Whether it destroys records: the old ciphertext of their chunks must then be gone
    from every file of the store."""


def change(action: str, outcome: str = "ok") -> list[Entry]:
    """The entries of one audited change: its intent, then its outcome."""
    return [(action, "intent", "started"), (action, "outcome", outcome)]


def refused(before: State, action: str, code: int, info: dict[str, Any] | None = None) -> Expected:
    return Expected(
        frozenset({code}), before.copy(), {code: change(action, "failed")}, info=info or {}
    )


def typed(name: str, text: str | None) -> Value:
    """A CSV cell as the store keeps it (tier is an integer column)."""
    if text is None:
        return None
    return int(text) if name == "tier" else text


def date_of(text: Value) -> dt.date | None:
    if not isinstance(text, str):
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def plan_for(state: State, as_of: dt.date, grace: str | None) -> PlanResult:
    """The purge the policy :data:`POLICY` plans as of ``as_of`` (docs/retention.md):
    records of tier 3 whose ``since`` is 60 days old are due; held and restricted ones
    are left alone; with a grace period they first become invisible; records whose
    grace period ended (and that are not held) go now."""
    day = as_of.isoformat()
    until = (as_of + dt.timedelta(days=GRACE_DAYS)).isoformat()
    result = PlanResult([], {}, 0)
    for record_id in sorted(state.records):
        data = state.records[record_id].data
        if record_id in state.grace:
            if record_id in state.hold or state.grace[record_id] > day:
                result.in_grace += 1
            else:
                result.now.append(record_id)
            continue
        since = date_of(data["since"])
        if data["tier"] != DUE_TIER or since is None:
            continue
        if since + dt.timedelta(days=PERIOD_DAYS) > as_of:
            continue
        if record_id in state.hold or record_id in state.restricted:
            continue
        if grace:
            result.graced[record_id] = until
        else:
            result.now.append(record_id)
    return result


def erase_in(state: State, record_id: str, keep: Sequence[str]) -> None:
    """What ``erase`` does to the state (the tombstone is the caller's)."""
    rec = state.records[record_id]
    if keep:
        rec.data = {n: (v if n in keep or n == ID_FIELD else None) for n, v in rec.data.items()}
        rec.version += 1
    else:
        del state.records[record_id]
        state.grace.pop(record_id, None)
    state.restricted.discard(record_id)


def needs_erasing(state: State, record_id: str) -> bool:
    """Whether ``reapply-erasures`` erases the record again: it is in the file with a
    value in a field its erasure did not keep."""
    rec = state.records.get(record_id)
    if rec is None or record_id not in state.erased:
        return False
    keep = state.erased[record_id]
    return any(v is not None for n, v in rec.data.items() if n != ID_FIELD and n not in keep)


@dataclass
class Model:
    """The reference model: the store's :class:`State` and what lies outside the file."""

    state: State
    today: dt.date = START_DAY
    current_key: str = KEYS[0]
    plan: SavedPlan | None = None
    snapshots: list[tuple[Path, State]] = field(default_factory=list)
    canaries: list[str] = field(default_factory=list)
    """Every canary value the test ever made (in order), of every record."""
    emails: list[str] = field(default_factory=list)

    def expect(self, op: Op) -> Expected:
        method: Callable[[Op], Expected] = getattr(self, f"expect_{op['kind']}")
        return method(op)

    def expect_collect(self, op: Op) -> Expected:
        s = self.state
        rows: list[dict[str, str | None]] = op["rows"]
        ids = [str(row[ID_FIELD]) for row in rows]
        invalid = 1 if op["invalid"] else 0
        # A row of an erased customer or of a record in a grace period goes to the
        # rejects file, whatever --on-duplicate says; the rest of the batch is written.
        turned_away = [i for i in ids if i in s.erased or i in s.grace]
        update = op["on_duplicate"] == "update"
        if update and any(
            i in s.records and i in s.restricted for i in ids if i not in turned_away
        ):
            return refused(s, "collect", 1)
        after = s.copy()
        counts = {"inserted": 0, "updated": 0, "skipped": 0,
                  "rejected": invalid + len(turned_away)}  # fmt: skip
        for row in rows:
            record_id = str(row[ID_FIELD])
            if record_id in turned_away:
                continue
            values = {n: typed(n, v) for n, v in row.items() if n != ID_FIELD}
            if record_id in after.records:
                if update:
                    after.records[record_id].data.update(values)
                    after.records[record_id].version += 1
                    counts["updated"] += 1
                else:
                    counts["skipped"] += 1
            else:
                data: dict[str, Value] = dict.fromkeys(FIELDS)
                data.update(values, customer_id=record_id)
                after.records[record_id] = Rec(1, data)
                counts["inserted"] += 1
        expected = Expected(frozenset({0}), after, {0: change("collect")}, info=counts)
        expected.info["turned_away"] = sorted(turned_away)
        return expected

    def expect_update_one(self, op: Op) -> Expected:
        s = self.state
        record_id = op["id"]
        rec = s.records.get(record_id)
        if rec is None or record_id in s.grace:
            return refused(s, "update", 6)
        if op["if_version"] is not None and op["if_version"] != rec.version:
            return refused(s, "update", 5)
        if record_id in s.restricted:
            return refused(s, "update", 1)
        after = s.copy()
        new = after.records[record_id]
        new.data.update(op["set"])
        new.data.update(dict.fromkeys(op["unset"]))
        new.version += 1
        return Expected(frozenset({0}), after, {0: change("update")}, info={"version": new.version})

    def expect_update_many(self, op: Op) -> Expected:
        s = self.state
        changes: list[dict[str, Any]] = op["changes"]
        ids = [c["id"] for c in changes]
        if any(i not in s.records for i in ids):
            return refused(s, "update", 6)
        if any(c["version"] != s.records[c["id"]].version for c in changes):
            return refused(s, "update", 5)
        blocked = {1 for i in ids if i in s.restricted} | {6 for i in ids if i in s.grace}
        if blocked:
            expected = refused(s, "update", min(blocked))
            expected.exits = frozenset(blocked)
            expected.audit = {code: change("update", "failed") for code in blocked}
            return expected
        after = s.copy()
        for c in changes:
            rec = after.records[c["id"]]
            rec.data.update({n: typed(n, v) for n, v in c["fields"].items()})
            rec.version += 1
        return Expected(frozenset({0}), after, {0: change("update")})

    def expect_set_state(self, op: Op) -> Expected:
        s = self.state
        action = {("hold", True): "hold", ("hold", False): "release"}.get(
            (op["state"], op["on"]), "restrict" if op["on"] else "unrestrict"
        )
        record_id = op["id"]
        if record_id not in s.records:
            return refused(s, action, 6)
        after = s.copy()
        table = after.hold if op["state"] == "hold" else after.restricted
        before_on = record_id in table
        if op["on"]:
            table.add(record_id)
        else:
            table.discard(record_id)
        info = {"changed": before_on != op["on"]}
        return Expected(frozenset({0}), after, {0: change(action)}, info=info)

    def expect_erase(self, op: Op) -> Expected:
        s = self.state
        record_id = op["id"]
        if record_id not in s.records and record_id in s.erased:  # erased already
            return Expected(frozenset({0}), s.copy(), {0: change("erase")})
        if record_id not in s.records:
            return refused(s, "erase", 6)
        if record_id in s.hold:
            return refused(s, "erase", 1)
        after = s.copy()
        erase_in(after, record_id, op["keep"])
        after.erased[record_id] = tuple(op["keep"])
        return Expected(frozenset({0}), after, {0: change("erase")}, erasing=True)

    def _purge(self, as_of: dt.date, grace: str | None) -> Expected:
        s = self.state
        plan = plan_for(s, as_of, grace)
        marked = s.copy()
        marked.grace.update(plan.graced)
        after = marked.copy()
        for record_id in plan.now:
            del after.records[record_id]
            after.grace.pop(record_id, None)
        entries: list[Entry] = [("purge-plan", "access", "ok")]
        entries += change("purge") if plan.graced else []
        entries += change("purge") if plan.now else []
        return Expected(
            frozenset({0}),
            after,
            {0: entries},
            middle=[marked] if plan.graced and plan.now else [],
            info={"now": sorted(plan.now), "graced": sorted(plan.graced)},
            erasing=bool(plan.now),
        )

    def expect_purge_now(self, op: Op) -> Expected:
        return self._purge(dt.date.fromisoformat(op["as_of"]), op["grace"])

    def expect_make_plan(self, op: Op) -> Expected:
        as_of = dt.date.fromisoformat(op["as_of"])
        plan = plan_for(self.state, as_of, op["grace"])
        info = {"planned": plan.planned(self.state), "in_grace": plan.in_grace}
        return Expected(frozenset({0}), self.state.copy(), {0: []}, info=info)

    def expect_apply_plan(self, op: Op) -> Expected:
        saved = self.plan
        if saved is None:  # no plan file: refused by the command line, nothing audited
            return Expected(frozenset({2}), self.state.copy(), {2: []})
        fresh = plan_for(self.state, saved.as_of, saved.grace)
        if fresh.planned(self.state) != saved.planned:
            return Expected(
                frozenset({1}), self.state.copy(), {1: [("purge-plan", "access", "ok")]}
            )
        return self._purge(saved.as_of, saved.grace)

    def expect_restore(self, op: Op) -> Expected:
        s = self.state
        record_id = op["id"]
        if record_id not in s.grace:
            return refused(s, "restore", 6)
        after = s.copy()
        del after.grace[record_id]
        expected = Expected(frozenset({0}), after, {0: change("restore")})
        if record_id not in s.records:  # erased in its grace period: nothing comes back
            expected.exits = frozenset({0, 6})
            expected.audit[6] = change("restore", "failed")
        return expected

    def expect_key_add(self, op: Op) -> Expected:
        s = self.state
        if op["key"] in s.holders:
            return refused(s, "key-add", 2)
        after = s.copy()
        after.holders.add(op["key"])
        return Expected(frozenset({0}), after, {0: change("key-add")})

    def expect_key_remove(self, op: Op) -> Expected:
        s = self.state
        if op["key"] not in s.holders:
            return refused(s, "key-remove", 6)
        if len(s.holders) == 1:
            return refused(s, "key-remove", 2)
        after = s.copy()
        after.holders.discard(op["key"])
        return Expected(frozenset({0}), after, {0: change("key-remove")})

    def expect_key_rotate(self, op: Op) -> Expected:
        return Expected(frozenset({0}), self.state.copy(), {0: change("key-rotate")}, rerun=True)

    def expect_migrate(self, op: Op) -> Expected:
        """Run on a store written back as format 1 (:func:`downgrade_to_format_1`): the
        records, states and holders are unchanged; run again after a kill, as the
        docs say (a second run of a completed migration changes nothing). Format 1 goes
        to format 2, then to format 3, each step audited; the migration ends with a full
        verify, audited as a read."""
        entries = [*change("migrate"), *change("migrate"), ("verify", "access", "ok")]
        return Expected(frozenset({0}), self.state.copy(), {0: entries}, rerun=True)

    def expect_reapply(self, op: Op) -> Expected:
        after = self.state.copy()
        again = [i for i in sorted(after.erased) if needs_erasing(after, i)]
        for record_id in again:
            erase_in(after, record_id, after.erased[record_id])
        entries = [e for _ in again for e in change("erase")] + change("reapply-erasures")
        return Expected(
            frozenset({0}),
            after,
            {0: entries},
            rerun=True,
            info={"again": len(again)},
            erasing=bool(again),
        )

    def reapply_blocked(self, state: State) -> bool:
        """Whether ``reapply-erasures`` would have to erase a held record again (it then
        stops with exit 1 part way: the test leaves that case out)."""
        return any(needs_erasing(state, i) and i in state.hold for i in state.erased)


# --- running operations ---------------------------------------------------------------------


@dataclass(frozen=True)
class Paths:
    """The files of one run. The store's directory holds the store and what custrec
    writes beside it, nothing else: inputs, rejects, plans, key files and snapshots
    are outside it, so that every byte in it can be searched for canaries."""

    work: Path

    @property
    def store_dir(self) -> Path:
        return self.work / "store"

    @property
    def store(self) -> Path:
        return self.store_dir / "customers.crec"

    @property
    def policy(self) -> Path:
        return self.work / "retention.yaml"

    @property
    def plan(self) -> Path:
        return self.work / "plan.json"

    @property
    def inputs(self) -> Path:
        return self.work / "inputs"

    @property
    def snapshots(self) -> Path:
        return self.work / "snapshots"

    def key(self, name: str) -> Path:
        return self.work / "keys" / f"{name}.key"

    @classmethod
    def create(cls) -> Paths:
        paths = cls(Path(tempfile.mkdtemp(prefix="custrec-model-", dir=scratch_directory())))
        for directory in (paths.store_dir, paths.inputs, paths.snapshots, paths.key("x").parent):
            directory.mkdir(parents=True, exist_ok=True)
        paths.policy.write_text(POLICY, encoding="utf-8")
        return paths


def scratch_directory() -> str | None:
    """Where runs keep their files: ``CUSTREC_MODEL_TMP``, else ``/dev/shm`` when it is
    a writable directory (a memory file system: the test kills processes, not the
    machine, so what the disk keeps across a power cut is not in question, and
    thousands of synced commits cost nothing there), else the usual temporary one."""
    chosen = os.environ.get("CUSTREC_MODEL_TMP")
    if chosen:
        return chosen
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK) else None


def key_source(paths: Paths, name: str) -> KeySource:
    return KeySource.from_key_file(paths.key(name))


MODEL_SCHEMA = f"""\
version: 1
name: model
id: {ID_FIELD}
match: [email, phone]
strict: false
fields:
  {ID_FIELD}: {{}}
  email: {{}}
  phone: {{}}
  note: {{}}
  tier: {{type: integer}}
  since: {{}}
groups:
  identity: {{fields: [{ID_FIELD}]}}
  contact: {{fields: [email, phone]}}
  service: {{fields: [note, tier, since]}}
"""
"""The model store's schema: its fields in three field groups, so that every chunk is
sealed as three parts under keys of their own (store format 3)."""


def create_model_store(paths: Paths, *, grouped: bool = True) -> None:
    """The store of a test run: with ``grouped``, under :data:`MODEL_SCHEMA`."""
    from custrec.keyfile import new_key_file

    for name in KEYS:
        new_key_file(paths.key(name))
    settings = StoreSettings(
        chunk_records=CHUNK_RECORDS, region="GB", schema=MODEL_SCHEMA if grouped else None
    )
    with create_store(paths.store, key_source(paths, KEYS[0]), settings=settings, columns=COLUMNS):
        pass


def downgrade_to_format_1(paths: Paths, key_name: str) -> None:
    """Write the closed store back in format 1, as custrec wrote it before format 2
    (docs/format.md, *Compatibility*): every chunk sealed whole under a new data key,
    the data keys sealed under the wrap key in the data file's ``data_keys`` table, match
    tokens under the index key, no key store. Test-only and white-box: for ``custrec
    migrate`` to convert again. The audit trail is left as it is."""
    from custrec import crypto
    from custrec.store import chunkcodec
    from custrec.store.keyschedule import seal_data_key

    with open_store(paths.store, key_source(paths, key_name)) as store:
        session, vault, index = store._session, store._parts.vault, store._parts.index
        assert session.keystore is not None
        with session.transaction(write=True) as db:
            header = session.require_header()
            keys = session.require_keys()
            session.ensure_all_groups(db)
            names, columns = vault.names(), vault.columns()
            chunks = {c: vault.read(db, c).records(names) for c in vault.chunk_ids(db)}
            header.format, header.generation, header.groups = 1, 0, []
            for name in ("keystore_keys", "match_keys"):
                del header.sealed[name]
            db.execute(
                "CREATE TABLE data_keys (key_no INTEGER PRIMARY KEY AUTOINCREMENT, "
                "sealed BLOB NOT NULL)"
            )
            db.execute("CREATE TABLE chunk_payloads (chunk_id INTEGER PRIMARY KEY, payload BLOB)")
            db.execute("DELETE FROM match_index")
            for chunk_id, rows in chunks.items():
                generation, _, epoch, records = db.execute(
                    "SELECT generation, key_no, epoch, records FROM chunks WHERE chunk_id = ?",
                    (chunk_id,),
                ).fetchone()
                data_key = crypto.random_bytes()
                key_no = db.execute("INSERT INTO data_keys (sealed) VALUES (x'')").lastrowid
                assert key_no is not None
                db.execute(
                    "UPDATE data_keys SET sealed = ? WHERE key_no = ?",
                    (seal_data_key(keys, header.store_id, key_no, data_key), key_no),
                )
                db.execute("UPDATE chunks SET key_no = ? WHERE chunk_id = ?", (key_no, chunk_id))
                aad = vault.chunk_aad(chunk_id, generation, key_no, epoch, records)
                payload = crypto.seal(data_key, chunkcodec.encode(rows, columns), aad)
                db.execute("INSERT INTO chunk_payloads VALUES (?, ?)", (chunk_id, payload))
                index.reindex(db, chunk_id, {str(r[header.settings.id_field]): r for r in rows})
            db.execute("DROP TABLE chunk_parts")
            db.execute("DROP TABLE pending_destroy")
            db.execute(
                "DELETE FROM header WHERE name IN "
                "('keystore_keys', 'generation', 'groups', 'match_keys')"
            )
            db.execute("PRAGMA user_version = 1")
            session.update_manifest(db, {c // GROUP_CHUNKS for c in chunks})
    keys_file = paths.store.with_name(paths.store.name + ".keys")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{keys_file}{suffix}").unlink(missing_ok=True)


def key_ids(paths: Paths) -> dict[str, str]:
    from custrec.keyfile import read_key_file

    return {name: read_key_file(paths.key(name)).key_id for name in KEYS}


@dataclass
class Outcome:
    exit: int
    info: dict[str, Any] = field(default_factory=dict)


def cli(args: Sequence[str]) -> tuple[int, str, str]:
    """``custrec ARGS`` in this process: exit code, stdout, stderr."""
    from click.testing import CliRunner

    from custrec.cli import main

    result = CliRunner().invoke(main, list(args), env=dict(CLEAN_ENV), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, Value]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    return path


def run_operation(paths: Paths, op: Op, actor: str) -> Outcome:
    """Carry ``op`` out on the store under ``actor`` (library or command line, as the
    operation says). A refusal is an outcome with its exit code, not an exception."""
    key = paths.key(op["using"])
    context = AuditContext(command=f"model {op['kind']}", actor=actor, reason="model test")
    common = ["--key-file", str(key)]
    try:
        if op["kind"] in CLI_COMMANDS:
            args = CLI_COMMANDS[op["kind"]](paths, op)
            code, _, err = cli(["--actor", actor, *args, *common])
            if code not in (0, 1, 2, 4, 5, 6):
                raise AssertionError(f"custrec {' '.join(args)} exited {code}: {err}")
            return Outcome(code, {"error": err.strip()} if code else {})
        with open_store(paths.store, KeySource.from_key_file(key), context=context) as store:
            return LIBRARY_OPERATIONS[op["kind"]](store, paths, op)
    except CustrecError as exc:
        return Outcome(int(exc.exit_code), {"error": f"{type(exc).__name__}: {exc}"})


def _collect(store: Store, paths: Paths, op: Op) -> Outcome:
    from custrec.collect import CollectOptions, collect_records

    options = CollectOptions(
        on_duplicate=op["on_duplicate"], on_invalid="reject", rejects=op["rejects"], source="model"
    )
    result = collect_records(store, [op["input"]], options)
    counts = {
        "inserted": result.inserted,
        "updated": result.updated,
        "skipped": result.skipped,
        "rejected": result.rejected,
    }
    return Outcome(0 if result.written else 1, counts)


def _update_one(store: Store, paths: Paths, op: Op) -> Outcome:
    record = store.update(
        op["id"], set_fields=op["set"], unset=op["unset"], if_version=op["if_version"]
    )
    return Outcome(0, {"version": record.version})


def _set_state(store: Store, paths: Paths, op: Op) -> Outcome:
    return Outcome(0, {"changed": store.set_state(op["state"], op["id"], op["on"])})


def _purge_now(store: Store, paths: Paths, op: Op) -> Outcome:
    from custrec.retention import apply_purge, load_policy, plan_purge

    policy = load_policy(paths.policy, dict(store.columns), None)
    as_of = dt.date.fromisoformat(op["as_of"])
    plan = plan_purge(store, policy, as_of, grace=op["grace"])
    apply_purge(store, plan, policy, None)
    now = sorted(r.record_id for r in plan.records if r.until is None)
    graced = sorted(r.record_id for r in plan.records if r.until is not None)
    return Outcome(0, {"now": now, "graced": graced})


def _restore(store: Store, paths: Paths, op: Op) -> Outcome:
    store.restore(op["id"])
    return Outcome(0)


def _reapply(store: Store, paths: Paths, op: Op) -> Outcome:
    return Outcome(0, {"again": len(store.reapply_erasures())})


LIBRARY_OPERATIONS: dict[str, Callable[[Store, Paths, Op], Outcome]] = {
    "collect": _collect,
    "update_one": _update_one,
    "set_state": _set_state,
    "purge_now": _purge_now,
    "restore": _restore,
    "reapply": _reapply,
}


def _grace_args(op: Op) -> list[str]:
    return ["--grace", op["grace"]] if op["grace"] else []


CLI_COMMANDS: dict[str, Callable[[Paths, Op], list[str]]] = {
    "update_many": lambda p, op: ["update", str(p.store), "--from", op["input"],
                                  "--reason", "model test", "--format", "json"],
    "erase": lambda p, op: ["erase", str(p.store), op["id"], "--reason", "model test",
                            *(a for f in op["keep"] for a in ("--except", f)),
                            *(["--ground", "tax law"] if op["keep"] else [])],
    "make_plan": lambda p, op: ["purge", str(p.store), "--policy", str(p.policy),
                                "--plan", str(p.plan), "--as-of", op["as_of"], *_grace_args(op)],
    "apply_plan": lambda p, op: ["purge", str(p.store), "--policy", str(p.policy),
                                 "--apply", str(p.plan), *_grace_args(op)],
    "key_add": lambda p, op: ["key", "add", str(p.store), "--new-key-file",
                              str(p.key(op["key"]))],
    "key_remove": lambda p, op: ["key", "remove", str(p.store), op["key_id"]],
    "key_rotate": lambda p, op: ["key", "rotate", str(p.store)],
    "migrate": lambda p, op: ["migrate", str(p.store), "--reason", "model test"],
}  # fmt: skip
"""Operations run through the command line: their arguments (the key file and the
actor are added)."""


def describe(op: Op) -> str:
    """``op`` in a few words, for the report of a failing sequence."""
    shown = {k: v for k, v in op.items() if k not in ("kind", "input", "rejects", "rows",
                                                       "changes", "key_id")}  # fmt: skip
    if "rows" in op:
        shown["ids"] = [row[ID_FIELD] for row in op["rows"]]
    if "changes" in op:
        shown["rows"] = [(c["id"], c["version"]) for c in op["changes"]]
    return f"{op['kind']} {json.dumps(shown, sort_keys=True)}"


AUDIT_COMMANDS = {
    "update_many": "custrec update",
    "erase": "custrec erase",
    "make_plan": "custrec purge",
    "apply_plan": "custrec purge",
    "key_add": "custrec key add",
    "key_remove": "custrec key remove",
    "key_rotate": "custrec key rotate",
    "migrate": "custrec migrate",
}


def audit_command(op: Op) -> str:
    """The ``command`` of the audit entries ``op`` writes."""
    return AUDIT_COMMANDS.get(op["kind"], f"model {op['kind']}")


# --- killing an operation -------------------------------------------------------------------

KILL_SQL = re.compile(r"\s*(BEGIN|COMMIT|ROLLBACK|PRAGMA\s+wal_checkpoint)", re.IGNORECASE)
KILL_CALLS = ("open", "replace", "rename", "fsync", "unlink")
KILL_SPAN = 1000
"""A kill is drawn as 1..KILL_SPAN, a place among an operation's kill points."""
KILL_POINTS = {
    "collect": 27,
    "update_one": 20,
    "update_many": 20,
    "set_state": 9,
    "erase": 24,
    "purge_now": 30,
    "apply_plan": 30,
    "restore": 9,
    "key_add": 8,
    "key_remove": 14,
    "key_rotate": 40,
    "reapply": 50,
    "migrate": 45,
}
"""About how many kill points each operation passes (a few more than most runs of it,
so that some kills come after the end and the child finishes)."""
KILL_SECONDS = {kind: 0.02 for kind in KILL_POINTS} | {"collect": 0.06, "reapply": 0.04}
"""With CUSTREC_MODEL_KILL=timer: the longest delay before the kill, per operation."""
WARM_MODULES = (
    "pyarrow",
    "pyarrow.compute",
    "pyarrow.csv",
    "custrec.cli",
    "custrec.cli.core",
    "custrec.cli.key",
    "custrec.cli.lookup",
    "custrec.cli.records",
    "custrec.cli.rights",
    "custrec.collect",
    "custrec.io",
    "custrec.lookup",
    "custrec.retention",
    "custrec.validate",
    "custrec.audit_read",
    "custrec.store.ingest",
    "custrec.schema.batch",
    "custrec.schema.expectations",
    "click.testing",
)
"""What the operations import when they run, imported before a child is forked."""
SERVER = "from tests.store_model import serve_forks; serve_forks()"


AFTER_COMMIT = KILL_SPAN // 3
"""Draws (of KILL_SPAN) that kill just after a commit rather than at a kill point."""


def kill_point(kind: str, kill: int) -> int:
    """Where the draw ``kill`` (1..KILL_SPAN) kills an operation: kill point ``n`` (1
    and up), or ``-k``, the first kill point after its ``k``-th commit (2 to 4: the
    first one commits the intent entry of a change), where what a change does after
    committing (checkpoint, files beside the store) is done or not. The draw is
    scrambled first (7919 is prime to KILL_SPAN): hypothesis draws small numbers more
    often, which would kill most children at their start."""
    scrambled = kill * 7919 % KILL_SPAN
    if scrambled < AFTER_COMMIT:
        return -(2 + scrambled % 3)
    return 1 + (scrambled - AFTER_COMMIT) * KILL_POINTS[kind] // (KILL_SPAN - AFTER_COMMIT)


class KillPoints:
    """Counts the kill points this process passes once installed, and SIGKILLs it at the
    ``kill_at``-th, just before that step runs (``kill_at`` -k: at the first point after
    the k-th COMMIT). Kill points are the moments where what is durable changes: the
    start of every SQL ``BEGIN``, ``COMMIT``, ``ROLLBACK`` and checkpoint (seen by
    SQLite's trace callback on every connection opened from then on), every
    ``os.open``, ``os.replace``, ``os.rename``, ``os.fsync`` and ``os.unlink``, and the
    end of the operation (before its outcome is reported). Killed at a kill point
    rather than after a delay, a run is the same each time the same sequence is tried,
    so hypothesis can shrink it."""

    def __init__(self, kill_at: int) -> None:
        self.kill_at = kill_at
        self.passed = 0
        self.commits = 0
        self.armed = False
        self.active = True
        connect = sqlite3.connect

        def traced_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
            db: sqlite3.Connection = connect(*args, **kwargs)
            db.set_trace_callback(self.statement)
            return db

        sqlite3.connect = traced_connect  # type: ignore[assignment]
        for name in KILL_CALLS:
            setattr(os, name, self.counted(getattr(os, name)))

    def point(self) -> None:
        if self.active:
            self.passed += 1
            if self.passed == self.kill_at or self.armed:
                os.kill(os.getpid(), signal.SIGKILL)

    def statement(self, sql: str) -> None:
        if KILL_SQL.match(sql):
            self.point()
            if sql.lstrip().upper().startswith("COMMIT"):  # killed at the next point
                self.commits += 1
                self.armed = self.active and self.commits == -self.kill_at

    def counted(self, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.point()
            return real(*args, **kwargs)

        return call


def warm_up() -> None:
    """Run each kind of operation once on a throwaway store, so that the forked
    processes find everything imported and initialised (a first collect costs half a
    second of imports; a forked one then takes milliseconds)."""
    paths = Paths.create()
    try:
        # Without the schema: its batch rules run on polars, whose thread pool, once
        # started here, would be copied without its threads into every forked child,
        # which then waits for them forever. The children start their own.
        create_model_store(paths, grouped=False)
        row = {ID_FIELD: IDS[0], "email": "warm@example.com", "phone": "+447700900000",
               "note": "warm", "tier": "3", "since": "2029-01-01"}  # fmt: skip
        source = write_csv(paths.inputs / "warm.csv", FIELDS, [row])
        changes = write_csv(paths.inputs / "changes.csv", [ID_FIELD, "_version", "note"],
                            [{ID_FIELD: IDS[0], "_version": 1, "note": "x"}])  # fmt: skip
        ops: list[Op] = [
            {"kind": "collect", "input": str(source), "rejects": str(paths.inputs / "r.csv"),
             "on_duplicate": "update"},
            {"kind": "update_many", "input": str(changes)},
            {"kind": "update_one", "id": IDS[0], "set": {"tier": 2}, "unset": [],
             "if_version": None},
            {"kind": "set_state", "id": IDS[0], "state": "hold", "on": False},
            {"kind": "make_plan", "as_of": "2030-06-01", "grace": None},
            {"kind": "apply_plan", "grace": None},
            {"kind": "purge_now", "as_of": "2030-06-01", "grace": GRACE},
            {"kind": "restore", "id": IDS[0]},
            {"kind": "erase", "id": IDS[0], "keep": ["tier"]},
            {"kind": "reapply"},
            {"kind": "key_add", "key": KEYS[1]},
            {"kind": "key_remove", "key_id": key_ids(paths)[KEYS[1]]},
            {"kind": "key_rotate"},
            {"kind": "migrate"},
        ]  # fmt: skip
        for op in ops:
            run_operation(paths, {**op, "using": KEYS[0]}, "warm-up")
    finally:
        shutil.rmtree(paths.work, ignore_errors=True)


def serve_forks() -> None:
    """The fork server: a child of the test that imports what the operations need
    once, then for each request on stdin (a JSON line) forks a process that runs the
    operation and is killed with SIGKILL (by itself at a kill point, or by the server
    after a delay). The forked process writes its outcome to the request's result file
    if it lives; the server answers with a JSON line saying how it ended."""
    import importlib
    import traceback

    for name in WARM_MODULES:
        importlib.import_module(name)
    warm_up()
    print("ready", flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        result = Path(request["result"])
        pid = os.fork()
        if pid == 0:  # the process that runs the operation
            code = 0
            try:
                points = KillPoints(request["kill_at"] if request["mode"] == "points" else 0)
                outcome = run_operation(
                    Paths(Path(request["work"])), request["op"], request["actor"]
                )
                points.point()  # the end: done, not yet reported
                points.active = False
                answer = {"outcome": dataclasses.asdict(outcome), "points": points.passed}
            except BaseException:  # noqa: BLE001 - reported to the test, which fails
                answer, code = {"error": traceback.format_exc()}, 70
            # Complete or absent: a timer's kill may come while it is written.
            part = result.with_name(result.name + ".part")
            part.write_text(json.dumps(answer), encoding="utf-8")
            os.replace(part, result)
            os._exit(code)
        if request["mode"] == "timer":
            time.sleep(request["delay"])
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        ended = {
            "killed": os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL,
            "status": status,
        }
        print(json.dumps(ended), flush=True)


class ForkServer:
    """The running :func:`serve_forks` process."""

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONHASHSEED": "0"}
        env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        for name in CLEAN_ENV:
            env.pop(name, None)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO,
        )
        if self.answer() != "ready":
            raise AssertionError("the fork server did not start")

    def answer(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"the fork server ended (exit {self.proc.wait()})")
        return line.strip()

    def run(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        ended: dict[str, Any] = json.loads(self.answer())
        return ended

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


_server: list[ForkServer] = []


def fork_server() -> ForkServer:
    """The fork server of this test process, started on first use."""
    if not _server or _server[0].proc.poll() is not None:
        _server[:] = [ForkServer()]
    return _server[0]


def stop_fork_server() -> None:
    while _server:
        _server.pop().close()


@dataclass
class ChildRun:
    outcome: Outcome | None
    """None when the child was killed."""
    points: int | None = None


def run_killed(
    paths: Paths, op: Op, actor: str, kill: int, mode: str = "points", point: int | None = None
) -> ChildRun:
    """Run ``op`` in a child process killed with SIGKILL: at kill point
    :func:`kill_point` (mode ``points``; ``point`` chooses one directly), or after
    ``kill / KILL_SPAN`` of :data:`KILL_SECONDS` (mode ``timer``)."""
    result = paths.work / "child-result.json"
    result.unlink(missing_ok=True)
    request = {
        "work": str(paths.work),
        "op": op,
        "actor": actor,
        "mode": mode,
        "kill_at": point if point is not None else kill_point(op["kind"], kill),
        "delay": KILL_SECONDS[op["kind"]] * kill / KILL_SPAN,
        "result": str(result),
    }
    ended = fork_server().run(request)
    if ended["killed"] and not result.exists():
        return ChildRun(None)
    answer = json.loads(result.read_text(encoding="utf-8"))
    if "error" in answer:
        raise AssertionError(f"the child running {op['kind']} failed:\n{answer['error']}")
    return ChildRun(Outcome(**answer["outcome"]), answer["points"])


# --- reading the store back -------------------------------------------------------------------


@dataclass
class Observed:
    """A store's whole state as read back, comparable with :func:`projection`."""

    records: dict[str, tuple[int, dict[str, Value]]]
    hold: set[str]
    restricted: set[str]
    erased: set[str]
    grace: dict[str, str]
    holders: set[str]


def observe(store: Store) -> Observed:
    """Every record in the file (restricted and invisible ones too), each id's states,
    the grace periods and the key holders, through the public API (the reads are
    audited under the store's actor)."""
    records: dict[str, tuple[int, dict[str, Value]]] = {}
    for batch in store.iter_batches(
        system=True, include_restricted=True, include_purged=True, action="model-observe"
    ):
        for row in batch.to_pylist():
            records[str(row[ID_FIELD])] = (int(row["_version"]), {n: row[n] for n in FIELDS})
    states = {record_id: store.record_states(record_id) for record_id in IDS}
    purged = store.purged_states()
    tokens = {store.token_hex(record_id): record_id for record_id in IDS}
    return Observed(
        records=records,
        hold={i for i, s in states.items() if s["hold"]},
        restricted={i for i, s in states.items() if s["restricted"]},
        erased={i for i, s in states.items() if s["erased"]},
        grace={tokens[t]: str(e["until"]) for t, e in purged.items() if tokens.get(t) in records},
        holders={h.key_id for h in store.holders()},
    )


def projection(state: State, ids_of_keys: Mapping[str, str]) -> Observed:
    return Observed(
        records={i: (r.version, dict(r.data)) for i, r in state.records.items()},
        hold=set(state.hold),
        restricted=set(state.restricted),
        erased=set(state.erased),
        grace={i: d for i, d in state.grace.items() if i in state.records},
        holders={ids_of_keys[name] for name in state.holders},
    )


def differences(seen: Observed, wanted: Observed) -> list[str]:
    """What differs between a store and the model, one line each."""
    out = []
    for name in ("hold", "restricted", "erased", "grace", "holders"):
        if getattr(seen, name) != getattr(wanted, name):
            out.append(f"{name}: store {getattr(seen, name)}, model {getattr(wanted, name)}")
    for record_id in sorted(set(seen.records) | set(wanted.records)):
        a, b = seen.records.get(record_id), wanted.records.get(record_id)
        if a != b:
            out.append(f"record {record_id}: store {a}, model {b}")
    return out


def store_files(paths: Paths) -> list[Path]:
    """Every file in the store's directory (the store, -wal, -shm, .erasures, ...)."""
    return sorted(p for p in paths.store_dir.rglob("*") if p.is_file())


def leaks(paths: Paths, needles: Iterable[str | bytes]) -> list[str]:
    """Which needles occur in which file of the store's directory."""
    wanted = [n.encode() if isinstance(n, str) else n for n in needles]
    found = []
    for path in store_files(paths):
        data = path.read_bytes()
        found += [f"{n[:40]!r} in {path.name}" for n in wanted if n in data]
    return found


def ciphertexts(paths: Paths) -> set[bytes]:
    """Pieces of every chunk payload in the store file (its ``chunk_parts`` table)
    and every sealed data key in its key store (``STORE.keys``, table ``data_keys``,
    docs/format.md), read from copies while the store is closed."""
    with tempfile.TemporaryDirectory() as scratch:
        copy_path = Path(scratch) / "copy.crec"
        shutil.copyfile(paths.store, copy_path)
        keys_copy = Path(scratch) / "copy.keys"
        shutil.copyfile(keystore_path(paths.store), keys_copy)
        db = sqlite3.connect(copy_path)
        keys = sqlite3.connect(keys_copy)
        try:
            payloads = [bytes(r[0]) for r in db.execute("SELECT payload FROM chunk_parts")]
            sealed = [bytes(r[0]) for r in keys.execute("SELECT sealed FROM data_keys")]
        finally:
            db.close()
            keys.close()
    return {p[16:80] for p in payloads} | {s[16:] for s in sealed if len(s) > 16}


def keystore_path(store: Path) -> Path:
    return store.with_name(store.name + ".keys")


def copy_store_files(source: Path, target: Path) -> None:
    """A backup or a restore: the data file and its key store, taken together."""
    for name in ("-wal", "-shm"):
        target.with_name(target.name + name).unlink(missing_ok=True)
        keystore_path(target).with_name(keystore_path(target).name + name).unlink(missing_ok=True)
    shutil.copyfile(source, target)
    shutil.copyfile(keystore_path(source), keystore_path(target))


def generation(path: Path, table: str = "header") -> int:
    """A file's generation row (data file or key store), read without a key."""
    db = sqlite3.connect(path)
    try:
        row = db.execute(f"SELECT value FROM {table} WHERE name = 'generation'").fetchone()
    finally:
        db.close()
    return int(bytes(row[0]))


def tombstone_tokens(paths: Paths) -> set[str]:
    """The id tokens (hex) in ``STORE.erasures``: its fifth line is the canonical JSON of
    the ``erased`` states, keyed by id token, after the magic, store, count and mac lines
    (docs/format.md)."""
    path = paths.store.with_name(paths.store.name + ".erasures")
    if not path.exists():
        return set()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "custrec-erasures v2", lines[0]
    assert lines[2].startswith("count: "), lines[2]
    tokens = set(json.loads(lines[4]))
    assert int(lines[2].removeprefix("count: ")) == len(tokens), lines[2]
    return tokens


def digests(paths: Paths) -> dict[str, bytes]:
    """The files of the store's directory but SQLite's shared-memory index."""
    return {p.name: p.read_bytes() for p in store_files(paths) if not p.name.endswith("-shm")}
