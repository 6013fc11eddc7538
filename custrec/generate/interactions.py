"""Seeded customer-service interaction logs (calls, e-mails, chats...) with known defects.

Rows are in ``created_at`` order over the 90 days before ``today``, weighted towards
business hours and weekdays: row n is placed in the n-th of ``rows`` equal slices of
that (weighted) time, so its time depends on ``rows`` but never on the chunk size.

Cases: most interactions open a case (``case_id`` is ``K-`` and the row number that
opened it); about one in six is a follow-up of an earlier unresolved contact, found
by rebuilding candidate rows on demand. A follow-up has the opener's case_id, customer
and (mostly) category, and is created after the opener ended. ``resolved`` says whether
this contact resolved the case; a case may have several follow-ups.

What good rows guarantee (the defect list is ground truth for validators):

* ids: ``I-{row:07d}`` unique; case_id ``K-nnnnnn``; customer_id in
  ``C-000001 .. C-{customers:06d}``; agent_id ``A-nnn`` (None if abandoned).
* created_at <= answered_at <= first_response_at <= ended_at, all before ``today``
  00:00 UTC; instants end in ``Z`` or carry an explicit ``+01:00`` offset.
* abandoned phone/chat contacts: answered_at, first_response_at, agent and all
  durations are None, ended_at is when the customer gave up, never resolved.
* talk/hold apply to phone (hold 0 when not held), talk to chat; e-mail, SMS and
  social have None for both; wrap_seconds is set for every answered contact.
* resolved_at is set iff resolved (ended_at + wrap); csat 1-5, nps 0-10, ces 1-7
  (7 = very easy, the CES 2.0 agreement scale) or None.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Iterator
from datetime import date, timedelta
from statistics import NormalDist
from typing import NamedTuple

from custrec.generate._common import (
    INTERACTION_DEFECT_KINDS,
    MAX_DUPLICATE_TRIES,
    SECONDS_PER_DAY,
    Chunk,
    Defect,
    RowSeeder,
    Value,
    Weighted,
    check_arguments,
    instant_text,
    iter_chunks,
)
from custrec.kpi.columns import TEXT

INTERACTION_COLUMNS: tuple[str, ...] = (
    *TEXT,
    "created_at",
    "answered_at",
    "first_response_at",
    "ended_at",
    "talk_seconds",
    "hold_seconds",
    "wrap_seconds",
    "resolved",
    "resolved_at",
    "escalated",
    "csat",
    "nps",
    "ces",
    "survey_sent",
)
"""The columns in the order of ``schemas/interaction.yaml``."""

TIMESTAMP_COLUMNS = ("created_at", "answered_at", "first_response_at", "ended_at", "resolved_at")

WINDOW_DAYS = 90
FOLLOW_UP_SHARE = 0.35
"""Share of rows that look for an open case to follow up (about half find one)."""
FOLLOW_UP_TRIES = 4

_CHANNEL = Weighted(
    [("phone", 40.0), ("email", 25.0), ("chat", 20.0), ("sms", 8.0), ("social", 7.0)]
)
_CATEGORY = Weighted(
    [
        ("billing", 25.0),
        ("delivery", 20.0),
        ("technical", 20.0),
        ("account", 15.0),
        ("complaint", 10.0),
        ("other", 10.0),
    ]
)
_OUTBOUND = {"phone": 0.15, "email": 0.08, "sms": 0.30, "chat": 0.0, "social": 0.0}
_TEAM_OF = {
    "billing": "billing",
    "delivery": "general",
    "technical": "technical",
    "account": "accounts",
    "complaint": "retention",
    "other": "general",
}
_AGENTS = {  # team -> agent numbers (inclusive)
    "billing": (1, 18),
    "technical": (19, 40),
    "accounts": (41, 55),
    "retention": (56, 65),
    "general": (66, 85),
}
# Contacts per hour of day (UTC) on a weekday; weekends get a third of it.
_HOUR_WEIGHTS = (0.3, 0.2, 0.2, 0.2, 0.2, 0.4, 1, 3, 8, 12, 12, 11, 9, 10, 11, 11, 10, 8, 5, 4,
                 3, 2, 1, 0.6)  # fmt: skip
_WEEKEND_FACTOR = 0.35

# Asynchronous channels: (pick-up median s, pick-up max s, handling median s, wrap median s).
_ASYNC = {
    "email": (3 * 3600, 48 * 3600, 420, 45),
    "sms": (20 * 60, 24 * 3600, 90, 20),
    "social": (3600, 36 * 3600, 240, 30),
}

# Survey answers, positively skewed; weights for scores low..high.
_CSAT = {True: (2, 3, 8, 30, 57), False: (18, 17, 25, 25, 15)}
_NPS = {True: (1, 1, 1, 1, 2, 3, 5, 10, 20, 25, 31), False: (8, 6, 7, 8, 9, 10, 12, 13, 12, 9, 6)}
_CES = {True: (2, 2, 4, 8, 14, 30, 40), False: (12, 14, 16, 18, 16, 14, 10)}
_SCORES = {
    name: {resolved: Weighted([(low + i, float(w)) for i, w in enumerate(weights)])
           for resolved, weights in table.items()}
    for name, low, table in (("csat", 1, _CSAT), ("nps", 0, _NPS), ("ces", 1, _CES))
}  # fmt: skip

_BAD_TIMESTAMPS = (
    "2026-13-40T25:00:00Z",
    "yesterday",
    "2026-02-30T09:15:00Z",
    "2026-10-05T24:61:07Z",
    "32/10/2026 10:00",
    "tomorrow 9am",
)
_BAD_SCORES = {"csat": (0, 6, 7, 10), "nps": (-1, 11, 12), "ces": (0, 8, 9)}
_FALLBACK_KINDS = tuple(k for k in INTERACTION_DEFECT_KINDS if k != "duplicate_id")

# Outcome of a contact from one uniform draw: abandoned below the first bound,
# resolved below the second, else answered but unresolved.
_OPENER_OUTCOME = (0.07, 0.73)
_FOLLOW_UP_OUTCOME = (0.05, 0.68)


class _Timeline:
    """Maps a fraction of all contacts to an instant of the window, so that contacts
    cluster in business hours."""

    def __init__(self, today: date) -> None:
        self.end = today.toordinal() * SECONDS_PER_DAY
        self.start = self.end - WINDOW_DAYS * SECONDS_PER_DAY
        first_day = today - timedelta(days=WINDOW_DAYS)
        self._weights: list[float] = []
        for hour in range(WINDOW_DAYS * 24):
            weekend = (first_day + timedelta(days=hour // 24)).weekday() >= 5
            factor = _WEEKEND_FACTOR if weekend else 1.0
            self._weights.append(_HOUR_WEIGHTS[hour % 24] * factor)
        self._cumulative: list[float] = []
        total = 0.0
        for weight in self._weights:
            total += weight
            self._cumulative.append(total)
        self._total = total

    def at(self, fraction: float) -> float:
        target = fraction * self._total
        hour = min(bisect_right(self._cumulative, target), len(self._weights) - 1)
        before = self._cumulative[hour - 1] if hour else 0.0
        within = (target - before) / self._weights[hour]
        return min(self.start + (hour + within) * 3600, self.end - 1)  # never past the end


class _Timings(NamedTuple):
    """Offsets in seconds from created_at; None where not applicable."""

    answered: int | None
    first_response: int | None
    ended: int
    talk: int | None
    hold: int | None
    wrap: int | None


class _Plan(NamedTuple):
    """A row's first decisions, cheap to peek at from other rows."""

    kind: str | None
    follow_up: bool
    slot: float
    """Where in its time slice the row falls, in [0, 1)."""
    outcome: float
    """Abandoned / resolved / unresolved, by the bounds of _OPENER_OUTCOME etc."""


class _Contact(NamedTuple):
    """What happened, before it is written down as a row."""

    case_id: str
    customer_id: str
    category: str
    channel: str
    outbound: bool
    team: str
    agent_id: str | None
    abandoned: bool
    resolved: bool
    escalated: bool
    created: int
    timings: _Timings


# Standard normal quantiles at 4,096 evenly spaced probabilities: picking one is a
# normal draw (to 1/4096 resolution) several times cheaper than rng.normalvariate.
_NORMAL_QUANTILES = tuple(NormalDist().inv_cdf((i + 0.5) / 4096) for i in range(4096))


def _lognormal(rng: random.Random, median: float, sigma: float, low: int, high: int) -> int:
    """A log-normal duration in seconds, clamped to low..high."""
    z = _NORMAL_QUANTILES[int(rng.random() * 4096)]
    return min(max(int(median * math.exp(sigma * z)), low), high)


def _timings(rng: random.Random, channel: str, outbound: bool, abandoned: bool) -> _Timings:
    if channel in _ASYNC:
        pickup_median, pickup_max, handling_median, wrap_median = _ASYNC[channel]
        # Outbound messages are answered (picked up) the moment the agent starts them.
        pickup = 0 if outbound else _lognormal(rng, pickup_median, 1.0, 30, pickup_max)
        handling = _lognormal(rng, handling_median, 0.6, 15, 3600)
        wrap = _lognormal(rng, wrap_median, 0.6, 5, 600)
        return _Timings(pickup, pickup + handling, pickup + handling, None, None, wrap)
    if abandoned:  # the customer hung up or left the chat queue
        wait = _lognormal(rng, 70 if channel == "phone" else 90, 0.8, 5, 1200)
        return _Timings(None, None, wait, None, None, None)
    if channel == "phone":
        wait = int(5 + rng.random() * 25) if outbound else _lognormal(rng, 45, 0.9, 3, 1200)
        talk = _lognormal(rng, 330, 0.7, 20, 5400)
        hold = 0 if rng.random() < 0.6 else _lognormal(rng, 70, 0.8, 5, 1800)
        wrap = _lognormal(rng, 60, 0.6, 5, 900)
        return _Timings(wait, wait, wait + talk + hold, talk, hold, wrap)
    wait = _lognormal(rng, 35, 0.9, 2, 900)  # chat
    talk = _lognormal(rng, 540, 0.6, 30, 4000)
    greeting = min(int(2 + rng.random() * 38), talk)
    wrap = _lognormal(rng, 40, 0.6, 5, 600)
    return _Timings(wait, wait + greeting, wait + talk, talk, None, wrap)


def _squeezed(timings: _Timings, room: int) -> _Timings:
    """Scale a contact that would run past the snapshot instant to fit in ``room`` s.

    Flooring keeps the order of the offsets and talk + hold <= ended - answered.
    """
    total = timings.ended + (timings.wrap or 0)
    if total <= room:
        return timings
    factor = room / total

    def scale(value: int | None) -> int | None:
        return None if value is None else int(value * factor)

    return _Timings(
        scale(timings.answered),
        scale(timings.first_response),
        int(timings.ended * factor),
        scale(timings.talk),
        scale(timings.hold),
        scale(timings.wrap),
    )


class _InteractionFactory:
    def __init__(self, rows: int, customers: int, seed: int, bad_share: float, today: date) -> None:
        self._rows = rows
        self._customers = customers
        self._bad_share = bad_share
        self._seeder = RowSeeder(seed, "interactions")
        # A second generator rebuilds an opener without disturbing the row being built.
        self._rng = random.Random()
        self._source_rng = random.Random()
        self._timeline = _Timeline(today)
        self._rows_per_second = rows / (WINDOW_DAYS * SECONDS_PER_DAY)

    def make_row(self, n: int) -> tuple[dict[str, Value], Defect | None]:
        rng = self._rng
        plan, contact = self._contact(n, rng)
        return self._render(rng, n, plan, contact)

    def _plan(self, n: int) -> _Plan:
        bad, kind, follow_up, slot, outcome = self._seeder.uniforms(n)
        planned = INTERACTION_DEFECT_KINDS[int(kind * len(INTERACTION_DEFECT_KINDS))]
        return _Plan(
            planned if bad < self._bad_share else None, follow_up < FOLLOW_UP_SHARE, slot, outcome
        )

    def _opener_for(self, rng: random.Random, n: int, created: int) -> _Contact | None:
        """An earlier, clean, answered but unresolved opener that ended before
        ``created``, looked for about a day (up to two weeks) back."""
        for _ in range(FOLLOW_UP_TRIES):
            # The lag is turned into a number of rows at the average rate, so that every
            # earlier row is as likely a candidate (quiet night hours would otherwise
            # each catch the follow-ups of a whole night).
            lag = _lognormal(rng, SECONDS_PER_DAY, 1.0, 1800, 14 * SECONDS_PER_DAY)
            candidate = n - 1 - int(lag * self._rows_per_second)
            if candidate < 1:
                continue
            plan = self._plan(candidate)
            if plan.kind is not None or plan.follow_up or plan.outcome < _OPENER_OUTCOME[1]:
                continue
            # Openers are never follow-ups, so this rebuild does not recurse further.
            _, opener = self._contact(candidate, self._source_rng)
            if opener.created + opener.timings.ended < created:
                return opener
        return None

    def _contact(self, n: int, rng: random.Random) -> tuple[_Plan, _Contact]:
        plan = self._plan(n)
        self._seeder.seed(rng, n)
        created = int(self._timeline.at((n - 1 + plan.slot) / self._rows))
        opener = self._opener_for(rng, n, created) if plan.follow_up and n > 1 else None

        abandoned_below, resolved_below = _OPENER_OUTCOME if opener is None else _FOLLOW_UP_OUTCOME
        abandoned = plan.outcome < abandoned_below
        resolved = not abandoned and plan.outcome < resolved_below

        if opener is None:
            case_id = f"K-{n:06d}"
            # Some customers get in touch far more often than others.
            customer = min(1 + int(self._customers * rng.random() ** 1.4), self._customers)
            customer_id = f"C-{customer:06d}"
            category = _CATEGORY.pick(rng)
        else:
            case_id = opener.case_id
            customer_id = opener.customer_id
            category = opener.category if rng.random() < 0.9 else _CATEGORY.pick(rng)
        if abandoned:
            channel = "phone" if rng.random() < 0.7 else "chat"
        elif opener is not None and rng.random() < 0.6:
            channel = opener.channel
        else:
            channel = _CHANNEL.pick(rng)
        outbound_share = _OUTBOUND[channel] * (2 if opener is not None else 1)
        outbound = not abandoned and rng.random() < outbound_share
        team = _TEAM_OF[category]
        if category == "complaint" and rng.random() < 0.5:
            team = "general"
        agent_id = None
        escalated = False
        if not abandoned:
            low, high = _AGENTS[team]
            agent_id = f"A-{low + int(rng.random() * (high - low + 1)):03d}"
            escalated_share = 0.04 if resolved else 0.25
            escalated = rng.random() < escalated_share * (2 if category == "complaint" else 1)
        timings = _timings(rng, channel, outbound, abandoned)
        timings = _squeezed(timings, self._timeline.end - 1 - created)
        contact = _Contact(case_id, customer_id, category, channel, outbound, team, agent_id,
                           abandoned, resolved, escalated, created, timings)  # fmt: skip
        return plan, contact

    def _render(
        self, rng: random.Random, n: int, plan: _Plan, contact: _Contact
    ) -> tuple[dict[str, Value], Defect | None]:
        created, timings = contact.created, contact.timings
        offset = 60 if rng.random() < 0.12 else 0  # some systems log local time (+01:00)

        def at(seconds: int | None) -> str | None:
            return None if seconds is None else instant_text(created + seconds, offset)

        scores: dict[str, int | None] = {"csat": None, "nps": None, "ces": None}
        if not contact.abandoned:
            for name, response_rate in (("csat", 0.33), ("nps", 0.22), ("ces", 0.16)):
                if rng.random() < response_rate:
                    scores[name] = _SCORES[name][contact.resolved].pick(rng)
        resolved_at = timings.ended + (timings.wrap or 0) if contact.resolved else None

        row: dict[str, Value] = {
            "interaction_id": f"I-{n:07d}",
            "case_id": contact.case_id,
            "customer_id": contact.customer_id,
            "channel": contact.channel,
            "direction": "outbound" if contact.outbound else "inbound",
            "agent_id": contact.agent_id,
            "team": contact.team,
            "category": contact.category,
            "created_at": instant_text(created, offset),
            "answered_at": at(timings.answered),
            "first_response_at": at(timings.first_response),
            "ended_at": instant_text(created + timings.ended, offset),
            "talk_seconds": timings.talk,
            "hold_seconds": timings.hold,
            "wrap_seconds": timings.wrap,
            "resolved": contact.resolved,
            "resolved_at": at(resolved_at),
            "escalated": contact.escalated,
            "csat": scores["csat"],
            "nps": scores["nps"],
            "ces": scores["ces"],
            # Every contact that reached someone is sent a survey; the answers above
            # are its responses (no draw: the other columns stay as they were).
            "survey_sent": not contact.abandoned,
        }
        kind = plan.kind
        if kind is None:
            return row, None
        source = self._duplicate_source(rng, n) if kind == "duplicate_id" else None
        if kind == "duplicate_id" and source is None:
            kind = _FALLBACK_KINDS[int(rng.random() * len(_FALLBACK_KINDS))]
        field = _spoil(rng, kind, row, created, offset, source)
        return row, Defect(n, str(row["interaction_id"]), kind, field)

    def _duplicate_source(self, rng: random.Random, n: int) -> int | None:
        """An earlier row that kept its own interaction_id."""
        if n < 2:
            return None
        for _ in range(MAX_DUPLICATE_TRIES):
            candidate = 1 + int(rng.random() * (n - 1))
            if self._plan(candidate).kind != "duplicate_id":
                return candidate
        return None


def _spoil(
    rng: random.Random,
    kind: str,
    row: dict[str, Value],
    created: int,
    offset: int,
    source: int | None,
) -> str:
    """Give ``row`` its one defect of ``kind``; return the defect's field."""
    if kind == "negative_duration":
        durations = ("talk_seconds", "hold_seconds", "wrap_seconds")
        positive = [name for name in durations if isinstance(row[name], int) and row[name]]
        field = positive[int(rng.random() * len(positive))] if positive else "talk_seconds"
        value = row[field]
        row[field] = -(value if isinstance(value, int) and value else 5 + int(rng.random() * 600))
        return field
    if kind == "ended_before_created":
        row["ended_at"] = instant_text(created - 60 - int(rng.random() * 7200), offset)
        return "ended_at"
    if kind == "out_of_range_score":
        field = ("csat", "nps", "ces")[int(rng.random() * 3)]
        choices = _BAD_SCORES[field]
        row[field] = choices[int(rng.random() * len(choices))]
        return field
    if kind == "missing_required":
        field = ("case_id", "channel", "created_at")[int(rng.random() * 3)]
        row[field] = "" if rng.random() < 0.5 else None
        return field
    if kind == "bad_timestamp":
        present = [name for name in TIMESTAMP_COLUMNS if row[name] is not None]
        field = present[int(rng.random() * len(present))]
        row[field] = _BAD_TIMESTAMPS[int(rng.random() * len(_BAD_TIMESTAMPS))]
        return field
    # duplicate_id: the caller found an earlier source row (or chose another kind).
    assert source is not None
    row["interaction_id"] = f"I-{source:07d}"
    return ""


def generate_interactions(
    rows: int,
    *,
    customers: int = 1000,
    seed: int = 2026,
    bad_share: float = 0.05,
    chunk_rows: int = 10_000,
    today: date = date(2026, 11, 1),
) -> Iterator[Chunk]:
    """Generate ``rows`` interactions of customers ``C-000001..C-{customers:06d}`` in
    chunks of ``chunk_rows`` rows.

    A share ``bad_share`` of the rows (decided per row) carries exactly one defect of
    :data:`INTERACTION_DEFECT_KINDS`, listed in ``Chunk.defects``. Output is identical
    for the same arguments whatever ``chunk_rows`` is, and only the current chunk is
    held in memory. ``today`` anchors the 90-day window instead of the wall clock.

    Arguments are checked at once (ValueError); rows are made lazily while iterating.
    """
    check_arguments(rows, bad_share, chunk_rows)
    if customers < 1:
        raise ValueError(f"customers must be 1 or more, got {customers}")
    factory = _InteractionFactory(rows, customers, seed, bad_share, today)
    return iter_chunks(rows, chunk_rows, factory.make_row)
