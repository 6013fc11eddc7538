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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from custrec.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

    from custrec.schema import Schema

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


def interaction_schema() -> Schema:
    from custrec.schema import load_schema

    path = Path(__file__).resolve().parent.parent.parent / "schemas" / "interaction.yaml"
    if not path.is_file():
        raise InputError(str(path), "the interaction schema is missing from this installation")
    return load_schema(path)


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
) -> LoadedLogs:
    """The logs as one typed DataFrame of the canonical columns (see the module)."""
    import pandas as pd

    from custrec.io import open_table
    from custrec.kpi.calendar import zone
    from custrec.validate import SchemaGate

    chosen = schema or interaction_schema()
    gate = SchemaGate(chosen)
    renames = {source: target for target, source in (mapping or {}).items()}
    frames: list[pd.DataFrame] = []
    loaded = LoadedLogs(frame=None)
    seen_ids: set[str] = set()
    local = zone(tz)
    for source in sources:
        with open_table(
            source, input_format=input_format, delimiter=delimiter, encoding=encoding
        ) as reader:
            base = 0
            bad: dict[int, list[str]] = {}
            for batch in reader:
                frame = batch.to_pandas()
                frame.columns = [renames.get(c, c) for c in frame.columns]
                missing = [
                    c
                    for c in ("interaction_id", "case_id", "channel", "created_at")
                    if c not in frame.columns
                ]
                if missing:
                    raise InputError(
                        reader.name,
                        f"no {missing[0]!r} column (map one with --map {missing[0]}=COLUMN)",
                        line=1,
                    )
                frame = frame[[c for c in CANONICAL if c in frame.columns]].copy()
                for name in CANONICAL:
                    if name not in frame.columns:
                        frame[name] = None
                frame.index = pd.RangeIndex(base, base + len(frame))
                for position, reasons in gate.failures(frame.reset_index(drop=True)).items():
                    bad.setdefault(base + position, []).extend(r[0] for r in reasons)
                ids = frame["interaction_id"].astype("string")
                for label, value in ids.items():
                    if value is pd.NA:
                        continue
                    if value in seen_ids:
                        bad.setdefault(int(label), []).append("interaction_id.unique")
                    else:
                        seen_ids.add(str(value))
                keep = ~frame.index.isin(list(bad))
                frames.append(_typed(frame[keep], local))
                base += len(frame)
            loaded.rows += base
            if bad:
                lines = reader.row_lines(sorted(r + 1 for r in bad))
                loaded.invalid += len(bad)
                for row in sorted(bad)[: SHOWN_PROBLEMS - len(loaded.problems)]:
                    where = f"{reader.name}:{lines.get(row + 1, row + 2)}"
                    loaded.problems.append(f"{where}: {', '.join(dict.fromkeys(bad[row]))}")
    if loaded.invalid and not skip_invalid:
        shown = "; ".join(loaded.problems[:3])
        raise InputError(
            "interaction log",
            f"{loaded.invalid} invalid row(s) (first: {shown}); fix them, or leave them out "
            "with --skip-invalid (the report says how many)",
        )
    loaded.frame = (
        pd.concat(frames, ignore_index=True)
        if frames
        else _typed(pd.DataFrame(columns=list(CANONICAL)), local)
    )
    return loaded


def _typed(frame: pd.DataFrame, tz: Any) -> pd.DataFrame:
    """The canonical columns in the engine's types."""
    import pandas as pd

    out = pd.DataFrame(index=frame.index)
    for name in TEXT:
        values = frame[name].astype("string").str.strip()
        out[name] = (
            values.where(values.ne("").fillna(False)).astype(object).where(values.notna(), None)
        )
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
