"""KPI targets (``report kpi --targets FILE``): a small YAML or JSON mapping of KPI to
the figure aimed at, shown on the HTML report's tiles and charts.

```yaml
csat: 80          # percent of responses satisfied
nps: 20           # points
fcr: 75%
sl: 80/20         # service level: 80% answered within 20 seconds
frt: 1h           # times: seconds (a number), or 45s, 5m, 4h
abandonment: 5
```

Keys are the KPI names of the JSON report (``csat``, ``service_level``...) or their
short forms (``sl``, ``abandonment``, ``escalation``, ``resolution``). A target is met
when the figure is at least the target, or at most it for the KPIs where lower is
better (times, abandonment, escalation). ``sl: 80/20`` must name the threshold the
report counts with (``--sl-threshold``, 20 seconds by default).

The file is read with the strict YAML reader of :mod:`custrec.yamldoc` (JSON is YAML
too). A missing or unreadable file is exit 3; a file that is not such a mapping, an
unknown KPI or a value out of range is exit 2, naming the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from custrec.errors import InputError
from custrec.kpi.display import LOOKS, duration_text
from custrec.yamldoc import MAX_BYTES, YamlDocument, YamlFileError

ALIASES = {
    "sl": "service_level",
    "abandonment": "abandonment_rate",
    "abandoned": "abandonment_rate",
    "escalation": "escalation_rate",
    "escalated": "escalation_rate",
    "survey_response": "survey_response_rate",
    "surveys": "survey_response_rate",
    "follow_up": "follow_up_rate",
    "resolution": "resolution_time",
    "first_response_time": "frt",
}
_RANGES = {"rate": (0.0, 100.0), "nps": (-100.0, 100.0), "score": (1.0, 7.0)}
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class TargetsFileError(YamlFileError):
    """A targets file whose content cannot be used (exit 2, naming the line)."""


class _TargetsDoc(YamlDocument):
    error_class = TargetsFileError


@dataclass(frozen=True)
class Target:
    """The figure aimed at for ``kpi`` (percent, points, score or seconds), and for the
    service level the threshold in seconds it counts with."""

    kpi: str
    value: float
    threshold: float | None = None

    def met(self, figure: float) -> bool:
        if LOOKS[self.kpi].better > 0:
            return figure >= self.value
        return figure <= self.value

    def text(self) -> str:
        kind = LOOKS[self.kpi].kind
        if kind == "time":  # with its unit: a target is shown on axes of either form
            text = duration_text(self.value)
            return text if text.endswith(" h") else f"{text} min"
        if kind == "rate":
            within = f" in {self.threshold:g} s" if self.threshold is not None else ""
            return f"{self.value:g}%{within}"
        return f"{self.value:+g}" if kind == "nps" else f"{self.value:g}"


def read_targets(path: str, sl_threshold: float) -> dict[str, Target]:
    """The targets of the file at ``path`` by KPI (see the module docstring)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise InputError(path, "no such targets file") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory; expected a targets file") from None
    except OSError as exc:
        raise InputError(path, f"cannot read the targets file ({exc.strerror})") from None
    if len(raw) > MAX_BYTES:
        raise InputError(path, "too large for a targets file (a few lines are expected)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text (byte {exc.start + 1})") from None
    return parse_targets(text, Path(path).name, sl_threshold)


def parse_targets(text: str, source: str, sl_threshold: float) -> dict[str, Target]:
    """The targets of a targets file's ``text`` (``source`` names it in errors)."""
    doc = _TargetsDoc(text, source)
    if doc.data is None:
        return {}
    if not isinstance(doc.data, dict):
        raise doc.error("expected a mapping of KPI to target, e.g. 'csat: 80'")
    known = ", ".join([*LOOKS, *ALIASES])
    targets: dict[str, Target] = {}
    for key, value in doc.data.items():
        kpi = ALIASES.get(str(key), str(key))
        if kpi not in LOOKS:
            raise doc.error(f"{key!r} is not a KPI; expected one of {known}", key)
        if kpi in targets:
            raise doc.error(f"{key!r} gives the target of {kpi} a second time", key)
        targets[kpi] = _target(doc, key, kpi, value, sl_threshold)
    return targets


def _target(doc: YamlDocument, key: object, kpi: str, value: object, threshold: float) -> Target:
    kind = LOOKS[kpi].kind
    within: float | None = None
    if kind == "time":
        number = _seconds(value)
        if number is None or number < 0:
            raise doc.error(
                f"{key}: {value!r} is not a time; expected seconds (90) or 45s, 5m, 4h", key
            )
        return Target(kpi, number)
    text = str(value).strip() if isinstance(value, str) else None
    if kpi == "service_level" and text is not None and "/" in text:
        percent, _, seconds = text.partition("/")
        within = _number(seconds.strip().removesuffix("s"))
        if within is None or within <= 0:
            raise doc.error(f"{key}: {value!r}: expected percent/seconds, e.g. 80/20", key)
        if within != threshold:
            raise doc.error(
                f"{key}: {value!r} counts answers within {within:g} s, but the report counts "
                f"those within {threshold:g} s; run with --sl-threshold {within:g} or change "
                "the target",
                key,
            )
        value = percent.strip()
    number = _number(value.strip().removesuffix("%") if isinstance(value, str) else value)
    low, high = _RANGES[kind]
    if number is None or not low <= number <= high:
        raise doc.error(f"{key}: {value!r}: expected a number from {low:g} to {high:g}", key)
    return Target(kpi, number, within if within is not None else None)


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]+(\.[0-9]+)?", value):
        return float(value)
    return None


def _seconds(value: object) -> float | None:
    number = _number(value)
    if number is not None:
        return number
    if isinstance(value, str):
        match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)\s*([smhd])", value.strip().lower())
        if match:
            return float(match[1]) * _UNITS[match[2]]
    return None
