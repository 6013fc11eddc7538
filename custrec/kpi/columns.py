"""The canonical columns of an interaction log, their kinds, and
:class:`KpiColumns`: a log held column by column in compact types (text as Arrow
strings, blank text missing; instants as int64 microseconds since the epoch in UTC,
``NAT`` when missing; numbers as float64, NaN when missing; flags as Arrow booleans).
:meth:`KpiColumns.from_frame` and :meth:`KpiColumns.to_frame` convert from and to the
pandas DataFrame of the same columns, :meth:`KpiColumns.from_polars` from the polars
frame the KPI loader keeps; :mod:`custrec.kpi.definitions` reads any of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

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
FLAGS = ("resolved", "escalated", "survey_sent")
CANONICAL = TEXT + TIMES + NUMBERS + FLAGS
DTYPES = {"text": "String", "time": "Int64", "number": "Float64", "flag": "Boolean"}
"""Each kind's type in the KPI definitions' frames (missing values null), by its name
in polars and in Narwhals."""

NAT = -(2**63)
"""A missing instant (numpy's and pandas' NaT as int64)."""


def kind_of(name: str) -> str:
    """``text``, ``time``, ``number`` or ``flag``: how a canonical column is held."""
    if name in TEXT:
        return "text"
    if name in TIMES:
        return "time"
    if name in NUMBERS:
        return "number"
    if name in FLAGS:
        return "flag"
    raise KeyError(name)


@dataclass
class KpiColumns:
    """Some canonical columns of ``rows`` contacts (see the module docstring)."""

    rows: int
    text: dict[str, pa.ChunkedArray] = field(default_factory=dict)
    times: dict[str, np.ndarray] = field(default_factory=dict)
    numbers: dict[str, np.ndarray] = field(default_factory=dict)
    flags: dict[str, pa.ChunkedArray] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        held = {*self.text, *self.times, *self.numbers, *self.flags}
        return [name for name in CANONICAL if name in held]

    def __contains__(self, name: object) -> bool:
        return (
            name in self.text or name in self.times or name in self.numbers or (name in self.flags)
        )

    def to_frame(self) -> pd.DataFrame:
        """A pandas DataFrame of the columns held: text as Arrow-backed strings, UTC
        timestamps, float64 numbers and nullable booleans."""
        import pandas as pd

        out = pd.DataFrame(index=pd.RangeIndex(self.rows))
        for name in self.names:
            if name in self.text:
                out[name] = pd.Series(pd.arrays.ArrowStringArray(_strings(self.text[name])))
            elif name in self.times:
                out[name] = pd.Series(self.times[name].view("datetime64[us]")).dt.tz_localize("UTC")
            elif name in self.numbers:
                out[name] = self.numbers[name]
            else:
                out[name] = pd.Series(self.flags[name].to_pandas(), dtype="boolean")
        return out

    @classmethod
    def from_polars(cls, frame: Any) -> KpiColumns:
        """The canonical columns of a polars DataFrame in the types of
        :mod:`custrec.kpi.definitions` (missing values null)."""
        import numpy as np
        import pyarrow as pa

        out = cls(rows=frame.height)
        for name in frame.columns:
            if name not in CANONICAL:
                continue
            column = frame.get_column(name)
            kind = kind_of(name)
            if kind == "text":
                out.text[name] = pa.chunked_array([column.to_arrow().cast(pa.string())])
            elif kind == "time":
                out.times[name] = column.fill_null(NAT).to_numpy().astype("int64")
            elif kind == "number":
                out.numbers[name] = column.cast(float).fill_null(np.nan).to_numpy()
            else:
                out.flags[name] = pa.chunked_array([column.to_arrow()])
        return out

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, names: Iterable[str] | None = None) -> KpiColumns:
        """The canonical columns ``names`` (default: all) of ``frame``, whose values
        are text, instants (naive ones read as UTC), numbers and booleans; a column
        the frame lacks is missing throughout."""
        import numpy as np
        import pandas as pd
        import pyarrow as pa

        rows = len(frame)
        out = cls(rows=rows)
        for name in CANONICAL if names is None else names:
            column = frame[name] if name in frame.columns else None
            kind = kind_of(name)
            if kind == "text":
                if column is None:
                    out.text[name] = pa.chunked_array([pa.nulls(rows, pa.string())])
                    continue
                values = _strings(pa.array(column.astype("string[pyarrow]")))
                out.text[name] = (
                    values if isinstance(values, pa.ChunkedArray) else pa.chunked_array([values])
                )
            elif kind == "time":
                if column is None:
                    out.times[name] = np.full(rows, NAT, dtype="int64")
                    continue
                times = pd.to_datetime(column, utc=True)
                naive = times.dt.tz_localize(None).dt.as_unit("us")
                out.times[name] = naive.to_numpy(dtype="datetime64[us]").view("int64").copy()
            elif kind == "number":
                if column is None:
                    out.numbers[name] = np.full(rows, np.nan)
                    continue
                numbers = pd.to_numeric(column, errors="coerce").astype("Float64")
                out.numbers[name] = numbers.to_numpy(dtype="float64", na_value=np.nan)
            else:
                if column is None:
                    out.flags[name] = pa.chunked_array([pa.nulls(rows, pa.bool_())])
                    continue
                flags = column.astype("boolean")
                out.flags[name] = pa.chunked_array([pa.array(flags, type=pa.bool_())])
        return out


def _strings(values: Any) -> Any:
    """Arrow text (any string type, dictionary-encoded or not) as plain ``string``."""
    import pyarrow as pa

    if isinstance(values, pa.ChunkedArray):
        return pa.chunked_array([_strings(c) for c in values.chunks], type=pa.string())
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if values.type != pa.string():
        values = values.cast(pa.string())
    return values
