"""The detectors of values written with digits or a fixed shape: emails, cards,
IBANs, SSNs, NINOs, IP addresses, dates of birth, postcodes and ZIP codes
(:mod:`custrec.redaction.detect`). Each appends candidate findings to ``out``."""

from __future__ import annotations

import ipaddress
import re
from bisect import bisect_left, bisect_right
from datetime import date
from typing import Any

from custrec.redaction.context import (
    ADDRESS_CONTEXT,
    CARD_NEGATIVE,
    CARD_POSITIVE,
    DOB_HINTS,
    DOB_WORD,
    IBAN_POSITIVE,
    IP_NEGATIVE,
    IP_POSITIVE,
    IP_WEAK,
    NINO_POSITIVE,
    SSN_NEGATIVE,
    SSN_POSITIVE,
    US_STATE_BEFORE,
    ZIP_NEGATIVE,
    after_end,
    context,
    ctx_note,
)
from custrec.redaction.findings import Finding
from custrec.redaction.patterns import (
    ANY_DIGIT,
    CARD,
    DATE,
    EMAIL,
    IBAN,
    IBAN_HEAD,
    IBAN_LENGTHS,
    IPV4,
    IPV6,
    MONTH_NUMBER,
    NINO,
    NINO_BAD_PREFIXES,
    SSN,
    SSN_INVALID,
    UK_POSTCODE,
    US_ZIP,
    iban_compact_valid,
    luhn_valid,
)


def find_emails(text: str, out: list[Finding]) -> None:
    for m in EMAIL.finditer(text):
        start, end = m.span()
        while text[start] == ".":  # a local part does not start with a dot
            start += 1
        local = text[start : text.index("@", start)]
        if not local or local.endswith(".") or ".." in local:
            continue
        out.append(
            Finding(
                start, end, "EMAIL_ADDRESS", 0.95, "email_address",
                "local part, '@' and a dotted domain with an alphabetic top-level label",
            )
        )  # fmt: skip


_CARD_ISSUERS: tuple[tuple[str, Any, frozenset[int]], ...] = (
    ("Visa", lambda d: d[0] == "4", frozenset({13, 16, 19})),
    (
        "Mastercard",
        lambda d: 51 <= int(d[:2]) <= 55 or 2221 <= int(d[:4]) <= 2720,
        frozenset({16}),
    ),
    ("American Express", lambda d: d[:2] in ("34", "37"), frozenset({15})),
    ("Mir", lambda d: 2200 <= int(d[:4]) <= 2204, frozenset(range(16, 20))),
    (
        "Discover",
        lambda d: (
            d[:4] == "6011"
            or 644 <= int(d[:3]) <= 649
            or d[:2] == "65"
            or 622126 <= int(d[:6]) <= 622925
        ),
        frozenset(range(16, 20)),
    ),
    # JCB: 3528-3589 today; numbers of the whole 35 block and the older 15-digit 1800
    # and 2131 ranges are still in circulation and in test data.
    ("JCB", lambda d: d[:2] == "35", frozenset(range(16, 20))),
    ("JCB", lambda d: d[:4] in ("1800", "2131"), frozenset({15})),
    (
        "Diners Club",
        lambda d: 300 <= int(d[:3]) <= 305 or d[:2] in ("36", "38", "39"),
        frozenset(range(14, 20)),
    ),
    ("UnionPay", lambda d: d[:2] == "62", frozenset(range(16, 20))),
    ("Maestro", lambda d: d[:2] == "50" or 56 <= int(d[:2]) <= 69, frozenset(range(12, 20))),
)


def card_issuer(digits: str) -> str | None:
    """The issuer whose number range and length ``digits`` fit, or None."""
    n = len(digits)
    if n < 12 or n > 19:
        return None
    for name, prefix_ok, lengths in _CARD_ISSUERS:
        if n in lengths and prefix_ok(digits):
            return str(name)
    return None


# How card numbers are written in groups: fours (the last one shorter), 4-6-5 (15
# digits), 4-6-4 (14 digits), 6-13 (19 digits).
_CARD_GROUPINGS = frozenset({(4, 6, 5), (4, 6, 4), (6, 13)})


def _card_grouping_ok(raw: str) -> bool:
    groups = tuple(len(g) for g in re.split(r"[ \-]", raw))
    if len(groups) == 1 or groups in _CARD_GROUPINGS:
        return True
    return all(g == 4 for g in groups[:-1]) and 1 <= groups[-1] <= 4


def _inside_iban_shape(text: str, start: int, end: int) -> bool:
    """True when ``text[start:end]`` lies in an IBAN-shaped span (whatever its check
    digits): the digit groups of a mistyped IBAN are not a card number."""
    head = IBAN_HEAD.search(text, max(0, start - 45), start)
    while head is not None:
        m = IBAN.match(text, head.start())
        if m is not None and m.end() >= end:
            return True
        head = IBAN_HEAD.search(text, head.start() + 1, start)
    return False


# A country calling code written before a run of digits: "+49 ", "+49-", "(+49) ".
_CALLING_CODE_BEFORE = re.compile(r"(?:\(\+(\d{1,3})\)|\+(\d{1,3}))[ \-]?\Z")


def _written_as_phone(text: str, start: int, digits: str) -> bool:
    """True when the digits at ``start`` are written as an international phone number:
    right after a ``+`` (a card number is never written with one), or after a calling
    code (``+49 ``, ``(+49) ``) with which they make a valid phone number."""
    if start > 0 and text[start - 1] == "+":
        return True
    lead = _CALLING_CODE_BEFORE.search(text, max(0, start - 7), start)
    if lead is None:
        return False
    import phonenumbers  # slow to import: only when a card-like run follows a "+"

    try:
        number = phonenumbers.parse(f"+{lead.group(1) or lead.group(2)}{digits}", None)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_valid_number(number))


def find_cards(text: str, out: list[Finding], lo: int, hi: int) -> None:
    for m in CARD.finditer(text, lo, hi):
        raw = m.group()
        digits = raw.replace(" ", "").replace("-", "")
        issuer = card_issuer(digits)
        if not 12 <= len(digits) <= 19 or not luhn_valid(digits) or not _card_grouping_ok(raw):
            continue
        start, end = m.span()
        if _inside_iban_shape(text, start, end) or _written_as_phone(text, start, digits):
            continue
        ctx = context(text, start, end, CARD_POSITIVE, CARD_NEGATIVE)
        if issuer is None:
            # No issuer's range, but a Luhn-valid card-length number that the text calls
            # a card ("block my card 0604 5276 2564"): a card of a range we do not
            # list, a retired one, or a store's own.
            if ctx.sign <= 0:
                continue
            why, score = "no listed issuer range; Luhn checksum valid", 0.75
        else:
            why = f"{issuer} range and length; Luhn checksum valid"
            score = 1.0 if ctx.sign > 0 else 0.3 if ctx.sign < 0 else 0.85
        out.append(
            Finding(start, end, "CREDIT_CARD", score, "credit_card", f"{why}{ctx_note(ctx)}")
        )


def _iban_span(text: str, m: re.Match[str]) -> tuple[int, int, str] | None:
    """The IBAN-shaped span at ``m``: exactly its country's length, not glued to more
    letters or digits; None when the shape does not fit."""
    raw = m.group()
    length = IBAN_LENGTHS.get(raw[:2])
    if length is None:
        return None
    count = 0
    cut = 0
    for i, ch in enumerate(raw):
        if ch != " ":
            count += 1
            if count == length:
                cut = i + 1
                break
    if count < length:
        return None
    start = m.start()
    end = start + cut
    if end < len(text) and text[end].isalnum():
        return None
    body = raw[:cut]
    if " " in body:
        groups = body.split(" ")
        if any(len(g) != 4 for g in groups[:-1]) or len(groups[-1]) > 4:
            return None
    return start, end, body.replace(" ", "")


def find_iban(text: str, out: list[Finding], at: int) -> None:
    m = IBAN.match(text, at)
    if m is None:
        return
    span = _iban_span(text, m)
    if span is None:
        return
    start, end, compact = span
    if not iban_compact_valid(compact):
        return
    ctx = context(text, start, end, IBAN_POSITIVE)
    score = 1.0 if ctx.sign > 0 else 0.9
    out.append(
        Finding(
            start, end, "IBAN_CODE", score, "iban_code",
            f"{compact[:2]} IBAN length {len(compact)}; mod-97 check valid{ctx_note(ctx)}",
        )
    )  # fmt: skip


def _ssn_issued(area: str, group: str, serial: str) -> bool:
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    whole = area + group + serial
    return whole not in SSN_INVALID and len(set(whole)) > 1


def find_ssns(text: str, out: list[Finding], lo: int, hi: int) -> None:
    for m in SSN.finditer(text, lo, hi):
        area, sep, group, serial = m.groups()
        if not _ssn_issued(area, group, serial):
            continue
        start, end = m.span()
        ctx = context(text, start, end, SSN_POSITIVE, SSN_NEGATIVE)
        if ctx.sign < 0:
            score = 0.3
        elif sep == "-":
            score = 0.95 if ctx.sign > 0 else 0.7
        elif ctx.sign > 0:
            score = 0.85
        else:
            continue  # spaces or no separator count only next to a context word
        written = "dashes" if sep == "-" else "spaces" if sep else "no separator"
        out.append(
            Finding(
                start, end, "US_SSN", score, "us_ssn",
                f"area/group/serial in issued ranges ({written}){ctx_note(ctx)}",
            )
        )  # fmt: skip


def find_ninos(text: str, out: list[Finding], lo: int, hi: int) -> None:
    for m in NINO.finditer(text, lo, hi):
        letters = m.group(1) + m.group(5)
        if not (letters.isupper() or letters.islower()):
            continue  # "Ab123456c": mixed case is a code, not a NINO as people write it
        if letters[:2].upper() in NINO_BAD_PREFIXES:
            continue
        start, end = m.span()
        ctx = context(text, start, end, NINO_POSITIVE)
        score = 1.0 if ctx.sign > 0 else 0.85
        out.append(
            Finding(
                start, end, "UK_NINO", score, "uk_nino",
                f"HMRC prefix letters, six digits, suffix A-D{ctx_note(ctx)}",
            )
        )  # fmt: skip


def find_ipv4(text: str, out: list[Finding], lo: int, hi: int) -> None:
    for m in IPV4.finditer(text, lo, hi):
        start, end = m.span()
        ctx = context(text, start, end, IP_POSITIVE, IP_NEGATIVE, weak=IP_WEAK)
        score = 0.95 if ctx.sign > 0 else 0.3 if ctx.sign < 0 else 0.75
        out.append(
            Finding(
                start, end, "IP_ADDRESS", score, "ip_address",
                f"IPv4 address, four octets 0-255{ctx_note(ctx)}",
            )
        )  # fmt: skip


def find_ipv6(text: str, out: list[Finding]) -> None:
    for m in IPV6.finditer(text):
        cand = m.group()
        if not ANY_DIGIT.search(cand):
            continue
        try:
            ipaddress.IPv6Address(cand)
        except ValueError:
            continue
        start, end = m.span()
        ctx = context(text, start, end, IP_POSITIVE)
        score = 0.95 if ctx.sign > 0 else 0.85
        out.append(
            Finding(
                start, end, "IP_ADDRESS", score, "ip_address",
                f"IPv6 address (ipaddress accepts it){ctx_note(ctx)}",
            )
        )  # fmt: skip


def _year(text: str) -> int:
    y = int(text)
    if len(text) == 2:
        y += 1900 if y > 30 else 2000
    return y


def _valid_date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def parse_date(m: re.Match[str]) -> list[date]:
    """The dates a match of ``DATE`` can mean (day/month order is ambiguous)."""
    g = m.groupdict()
    found: list[date] = []
    if g["iy"] is not None:
        cand = [_valid_date(int(g["iy"]), int(g["im"]), int(g["id"]))]
    elif g["na"] is not None:
        y = _year(g["ny"])
        a, b = int(g["na"]), int(g["nb"])
        cand = [_valid_date(y, b, a), _valid_date(y, a, b)]
    elif g["td"] is not None:
        month = MONTH_NUMBER[g["tm"][:3].lower()]
        cand = [_valid_date(int(g["ty"]), month, int(g["td"]))]
    else:
        month = MONTH_NUMBER[g["mm"][:3].lower()]
        cand = [_valid_date(int(g["my"]), month, int(g["md"]))]
    for c in cand:
        if c is not None and 1900 <= c.year <= 2100 and c not in found:
            found.append(c)
    return found


def _dob_words(text: str, low: str) -> list[tuple[int, int, str]]:
    """The date-of-birth context words in ``text`` (``low`` is its lower case), as
    whole words: (start, end, word)."""
    hits: dict[int, tuple[int, int, str]] = {}
    for hint in DOB_HINTS:
        q = low.find(hint)
        while q >= 0:
            p = q
            if hint == "birth" and low[max(0, q - 9) : q].rstrip().endswith("date of"):
                p = low.rfind("date", 0, q)  # "date of birth" starts before "birth"
            if p not in hits and (p == 0 or not text[p - 1].isalnum()):
                m = DOB_WORD.match(text, p)
                if m is not None:
                    hits[p] = (p, m.end(), " ".join(m.group().lower().split()))
            q = low.find(hint, q + len(hint))
    return sorted(hits.values())


def find_dobs(text: str, out: list[Finding]) -> None:
    low = text.lower()
    if not any(hint in low for hint in DOB_HINTS):
        return
    hits = _dob_words(text, low)
    if not hits:
        return
    by_span: dict[tuple[int, int], re.Match[str]] = {}
    for s, e, _ in hits:  # dates are looked for near the context words only
        # (up to 60 characters after the word; a date is at most about 30 long: without
        # an end, a text of context words and no date was searched to its end each time)
        for m in DATE.finditer(text, max(0, s - 45), e + 100):
            if m.start() > e + 60:
                break
            if m.span() not in by_span and parse_date(m):
                by_span[m.span()] = m
    dates = [by_span[k] for k in sorted(by_span)]
    starts = [s for s, _, _ in hits]  # sorted: only the words near a date are looked at
    for k, m in enumerate(dates):
        start, end = m.span()
        # The context word is the nearest one, with no other date between it and this one.
        lo = max(start - 45, dates[k - 1].end() if k > 0 else 0)
        hi = after_end(text, end, 25)
        if k + 1 < len(dates):
            hi = min(hi, dates[k + 1].start())
        word = None
        for _, e, w in reversed(hits[bisect_left(starts, lo) : bisect_right(starts, start)]):
            if e <= start:
                word = w
                break
        if word is None:
            nxt = dates[k + 1].start() if k + 1 < len(dates) else len(text) + 99
            # a word after this date, unless it stands right before the next one
            for _, e, w in hits[bisect_left(starts, end) : bisect_right(starts, hi)]:
                if e <= hi and nxt - e > 12:
                    word = w
                    break
        if word is None:
            continue
        out.append(
            Finding(
                start, end, "DATE_OF_BIRTH", 0.85, "date_of_birth",
                f"valid calendar date; context word '{word}'",
            )
        )  # fmt: skip


def find_postcodes(text: str, out: list[Finding], lo: int, hi: int) -> None:
    for m in UK_POSTCODE.finditer(text, lo, hi):
        start, end = m.span()
        ctx = context(text, start, end, ADDRESS_CONTEXT, before=60, after=25)
        if ctx.sign <= 0:
            continue
        score = 0.9 if m.group().isupper() else 0.7
        out.append(
            Finding(
                start, end, "UK_POSTCODE", score, "uk_postcode",
                f"UK postcode format{ctx_note(ctx)}",
            )
        )  # fmt: skip


def find_zips(text: str, out: list[Finding], lo: int, hi: int) -> None:
    for m in US_ZIP.finditer(text, lo, hi):
        start, end = m.span()
        if m.group(1) == "00000" or (m.group(2) is not None and m.group(2) == "0000"):
            continue
        if US_STATE_BEFORE.search(text, max(0, start - 6), start) is not None:
            ctx = context(text, start, end, None, ZIP_NEGATIVE, negative_after=0)
            if ctx.sign < 0:
                continue
            note = "; after a US state abbreviation"
            score = 0.9
        else:
            ctx = context(text, start, end, ADDRESS_CONTEXT, ZIP_NEGATIVE, before=60)
            if ctx.sign <= 0:
                continue
            note = ctx_note(ctx)
            score = 0.8
        form = "ZIP+4" if m.group(2) else "five-digit ZIP code"
        out.append(Finding(start, end, "US_ZIP", score, "us_zip", f"{form}{note}"))
