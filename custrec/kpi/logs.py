"""Reading interaction logs for the KPI reports: mapped, validated, typed.

Each log (CSV, NDJSON, Parquet, or ``-``) is read in batches, its columns renamed by
``--map canonical=source``, and every row checked against the interaction schema
(``schemas/interaction.yaml``: required columns, types, ranges of survey answers,
times that do not run backwards, unique interaction ids) before any number is
computed. Invalid rows stop the report (exit 3, naming file, line and rule), or are
left out and counted with ``skip_invalid``. Timestamps with an offset are honoured;
those without one are read in ``tz``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from custrec.errors import InputError
from custrec.validate import SeenValues

if TYPE_CHECKING:
    import pandas as pd

    from custrec.schema import Schema
    from custrec.store import Store

TEXT = (
    "interaction_id",
    "case_id",
    "customer_id",
    "channel",
    "direction",
    "agent_id",
    "team",
    "category",
)
TIMES = ("created_at", "answered_at", "first_response_at", "ended_at", "resolved_at")
NUMBERS = ("talk_seconds", "hold_seconds", "wrap_seconds", "csat", "nps", "ces")
FLAGS = ("resolved", "escalated")
CANONICAL = TEXT + TIMES + NUMBERS + FLAGS
_OFFSET = re.compile(r"(?:Z|[+-][0-9]{2}:?[0-9]{2})$")
SHOWN_PROBLEMS = 10


@dataclass
class LoadedLogs:
    frame: Any
    rows: int = 0
    invalid: int = 0
    problems: list[str] = field(default_factory=list)


def load_logs(
    sources: Sequence[str],
    *,
    mapping: Mapping[str, str] | None = None,
    input_format: str | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    tz: str = "UTC",
    skip_invalid: bool = False,
    schema: Schema | None = None,
    open_store: Callable[[str], Store] | None = None,
) -> LoadedLogs:
    """The logs as one typed DataFrame of the canonical columns (see the module). A
    source that is a custrec store is read through ``open_store`` (its key)."""
    import pandas as pd

    from custrec.io import open_table
    from custrec.kpi.calendar import zone
    from custrec.schema import shipped_schema
    from custrec.store.container import is_store_file
    from custrec.validate import SchemaGate

    reading = _Reading(
        gate=SchemaGate(schema or shipped_schema("interaction")),
        renames={source: target for target, source in (mapping or {}).items()},
        tz=zone(tz),
    )
    for source in sources:
        if source != "-" and open_store is not None and is_store_file(source):
            with open_store(source) as store:
                ids: list[str] = []
                bad = reading.consume(store.iter_batches(action="report"), source, ids)
                reading.note(bad, {row: f"{source}: record {ids[row]}" for row in bad})
            continue
        with open_table(
            source, input_format=input_format, delimiter=delimiter, encoding=encoding
        ) as reader:
            bad = reading.consume(reader, reader.name, None)
            lines = reader.row_lines(sorted(r + 1 for r in bad)) if bad else {}
            reading.note(bad, {r: f"{reader.name}:{lines.get(r + 1, r + 2)}" for r in bad})
    loaded = reading.loaded
    if loaded.invalid and not skip_invalid:
        shown = "; ".join(loaded.problems[:3])
        raise InputError(
            "interaction log",
            f"{loaded.invalid} invalid row(s) (first: {shown}); fix them, or leave them out "
            "with --skip-invalid (the report says how many)",
        )
    loaded.frame = (
        pd.concat(reading.frames, ignore_index=True)
        if reading.frames
        else _typed(pd.DataFrame(columns=list(CANONICAL)), reading.tz)
    )
    return loaded


@dataclass
class _Reading:
    """State while reading several logs: typed frames, and ids seen (as hashes)."""

    gate: Any
    renames: dict[str, str]
    tz: Any
    loaded: LoadedLogs = field(default_factory=lambda: LoadedLogs(frame=None))
    frames: list[Any] = field(default_factory=list)
    seen: SeenValues = field(default_factory=SeenValues)

    def consume(
        self, batches: Iterable[Any], name: str, ids: list[str] | None
    ) -> dict[int, list[str]]:
        """Check and type every batch of one log; the rows refused, by position."""
        import pandas as pd

        base = 0
        bad: dict[int, list[str]] = {}
        for batch in batches:
            frame = batch.to_pandas()
            frame.columns = [self.renames.get(c, c) for c in frame.columns]
            required = ("interaction_id", "case_id", "channel", "created_at")
            missing = [c for c in required if c not in frame.columns]
            if missing:
                raise InputError(
                    name,
                    f"no {missing[0]!r} column (map one with --map {missing[0]}=COLUMN)",
                    line=1,
                )
            frame = frame[[c for c in CANONICAL if c in frame.columns]].copy()
            for column in CANONICAL:
                if column not in frame.columns:
                    frame[column] = None
            frame.index = pd.RangeIndex(0, len(frame))
            if ids is not None:
                ids.extend(str(v) for v in frame["interaction_id"])
            refused = {
                p: [r[0] for r in reasons] for p, reasons in self.gate.failures(frame).items()
            }
            for position in self._repeated(frame["interaction_id"]):
                refused.setdefault(position, []).append("interaction_id.unique")
            for position, rules in refused.items():
                bad[base + position] = rules
            keep = ~frame.index.isin(list(refused))
            self.frames.append(_typed(frame[keep], self.tz))
            base += len(frame)
        self.loaded.rows += base
        return bad

    def _repeated(self, ids: Any) -> list[int]:
        """Positions of ids seen before, in this batch or an earlier one."""
        values = ids[ids.notna()].astype(str)
        if values.empty:
            return []
        return [int(p) for p in values.index[self.seen.repeated(values)]]

    def note(self, bad: Mapping[int, list[str]], where: Mapping[int, str]) -> None:
        """Count the refused rows; keep the first few, each with where it is."""
        self.loaded.invalid += len(bad)
        for row in sorted(bad)[: max(SHOWN_PROBLEMS - len(self.loaded.problems), 0)]:
            self.loaded.problems.append(f"{where[row]}: {', '.join(dict.fromkeys(bad[row]))}")


def _typed(frame: pd.DataFrame, tz: Any) -> pd.DataFrame:
    """The canonical columns in the engine's types."""
    import pandas as pd

    out = pd.DataFrame(index=frame.index)
    for name in TEXT:
        values = frame[name].astype("string[pyarrow]").str.strip()
        out[name] = values.where(values.ne("").fillna(False))  # blank text is missing
    for name in TIMES:
        out[name] = _instants(frame[name], tz)
    for name in NUMBERS:
        out[name] = pd.to_numeric(frame[name].astype("string").str.strip(), errors="coerce").astype(
            "float64"
        )
    for name in FLAGS:
        text = frame[name].astype("string").str.strip().str.lower()
        out[name] = text.map({"true": True, "1": True, "false": False, "0": False}).astype(
            "boolean"
        )
    return out


def _instants(values: pd.Series, tz: Any) -> pd.Series:
    """UTC instants: offsets honoured, times without one read in ``tz``."""
    import pandas as pd

    text = values.astype("string").str.strip()
    text = text.where(text.ne("").fillna(False))
    has_offset = text.str.contains(_OFFSET.pattern, regex=True).fillna(False).astype(bool)
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    if has_offset.any():
        out[has_offset] = pd.to_datetime(
            text[has_offset], format="ISO8601", utc=True, errors="coerce"
        )
    naive = text.notna() & ~has_offset
    if naive.any():
        local = pd.to_datetime(text[naive], format="ISO8601", errors="coerce")
        out[naive] = local.dt.tz_localize(
            tz, ambiguous="NaT", nonexistent="shift_forward"
        ).dt.tz_convert("UTC")
    return out
