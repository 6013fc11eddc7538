"""Phone numbers in free text (:mod:`custrec.redaction.detect`): candidates read by
``phonenumbers`` for a list of regions, or taken for phone numbers by their layout
and context. ``phonenumbers`` is imported the first time a number is read."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from custrec.redaction.context import (
    PHONE_NEGATIVE,
    PHONE_POSITIVE,
    US_STATE_BEFORE,
    context,
    ctx_note,
)
from custrec.redaction.findings import Finding
from custrec.redaction.patterns import (
    AMOUNT,
    CURRENCY_SIGNS,
    DECIMAL,
    IBAN,
    IBAN_HEAD,
    NANP_LAYOUT,
    NON_DIGIT,
    PAIRS,
    PHONE_BLOCK,
    PHONE_EXTENSION,
    PHONE_MIN_DIGITS,
    PHONE_WINDOW,
    SSN_SHAPE,
    STREET_AFTER,
    ZIP_SHAPE,
)


class _RegionCheck(NamedTuple):
    region: str
    national_prefix: re.Pattern[str] | None
    plain_prefix: bool  # the prefix is removed as it is (no transform rule)
    # (national number pattern, possible lengths) per number type (fixed line, mobile, ...)
    kinds: tuple[tuple[re.Pattern[str], frozenset[int]], ...]
    general: re.Pattern[str]  # any number of the region
    lengths: frozenset[int]
    # (leading digits, number pattern, national prefix required) per national format
    formats: tuple[tuple[re.Pattern[str] | None, re.Pattern[str], bool], ...]


_NOTHING = re.compile("(?!)")
_NUMBER_KINDS = (
    "fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost", "personal_number",
    "voip", "pager", "uan", "voicemail",
)  # fmt: skip


class _PhoneSupport:
    """``phonenumbers`` objects for a list of regions, built once."""

    def __init__(self, regions: tuple[str, ...]) -> None:
        import phonenumbers  # slow to import: only when a phone number is read

        self.matcher = phonenumbers.PhoneNumberMatcher
        self.leniency = phonenumbers.Leniency.VALID
        self.regions = regions
        checks = []
        for region in regions:
            meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
            if meta is None or meta.general_desc is None:
                checks.append(_RegionCheck(region, None, False, (), _NOTHING, frozenset(), ()))
                continue
            npp = meta.national_prefix_for_parsing
            general_desc = meta.general_desc
            general = frozenset(general_desc.possible_length or ())
            kinds = []
            for name in _NUMBER_KINDS:
                desc = getattr(meta, name, None)
                if desc is None or not desc.national_number_pattern:
                    continue
                lengths = frozenset(desc.possible_length or ()) or general
                kinds.append((re.compile(desc.national_number_pattern), lengths))
            formats: list[tuple[re.Pattern[str] | None, re.Pattern[str], bool]] = []
            for fmt in meta.number_format:
                if fmt.pattern is None:
                    continue
                leading = fmt.leading_digits_pattern
                rule = fmt.national_prefix_formatting_rule
                required = bool(
                    rule
                    and not fmt.national_prefix_optional_when_formatting
                    and not _FIRST_GROUP_ONLY.fullmatch(rule)
                )
                formats.append(
                    (
                        re.compile(leading[-1]) if leading else None,
                        re.compile(fmt.pattern),
                        required,
                    )
                )
            checks.append(
                _RegionCheck(
                    region,
                    re.compile(npp) if npp else None,
                    meta.national_prefix_transform_rule is None,
                    tuple(kinds),
                    re.compile(general_desc.national_number_pattern or "(?!)"),
                    general,
                    tuple(formats),
                )
            )
        self.checks = tuple(checks)
        intl00 = [
            r
            for r in regions
            if (m := phonenumbers.PhoneMetadata.metadata_for_region(r)) is not None
            and m.international_prefix == "00"
        ]
        self.region_00 = intl00[0] if intl00 else "GB"
        self.region_plus = regions[0] if regions else "GB"
        self._cache: dict[tuple[str, str], tuple[tuple[int, int] | None]] = {}
        self._regions_cache: dict[str, list[str]] = {}

    def national_regions(self, digits: str) -> list[str]:
        """Regions where ``digits`` may be a valid national number (the region's number
        patterns are checked cheaply before the matcher is asked)."""
        cached = self._regions_cache.get(digits)
        if cached is not None:
            return cached
        found = []
        for check in self.checks:
            if not check.kinds or not check.plain_prefix:
                found.append(check.region)  # cannot be pre-checked: ask the matcher
                continue
            cands = [digits]
            if check.national_prefix is not None:
                m = check.national_prefix.match(digits)
                if m is not None and m.end() > 0:
                    cands.append(digits[m.end() :])
            for nsn in cands:
                if len(nsn) not in check.lengths or check.general.fullmatch(nsn) is None:
                    continue
                if any(len(nsn) in lengths and p.fullmatch(nsn) for p, lengths in check.kinds):
                    if nsn is digits and _prefix_required(check, nsn):
                        continue  # written without the national prefix its format needs
                    found.append(check.region)
                    break
        if len(self._regions_cache) >= 4096:
            self._regions_cache.clear()
        self._regions_cache[digits] = found
        return found

    def match(self, window: str, region: str) -> tuple[int, int] | None:
        """The span of a valid number covering all the digits of ``window``."""
        key = (window, region)
        cached = self._cache.get(key)
        if cached is not None:
            return cached[0]
        want = _count_digits(window)
        span = None
        for found in self.matcher(window, region, leniency=self.leniency):
            if _count_digits(found.raw_string) == want:
                span = (found.start, found.end)
                break
        if len(self._cache) >= 4096:
            self._cache.clear()
        self._cache[key] = (span,)
        return span


_FIRST_GROUP_ONLY = re.compile(r"\(?\$1\)?|\(?\\1\)?")


def _prefix_required(check: _RegionCheck, nsn: str) -> bool:
    """True when the national format of ``nsn`` in the region starts with the national
    prefix (the matcher's VALID leniency rejects the number written without it)."""
    for leading, pattern, required in check.formats:
        if leading is not None and leading.match(nsn) is None:
            continue
        if pattern.fullmatch(nsn):
            return required
    return False


@lru_cache(maxsize=16)
def phone_support(regions: tuple[str, ...]) -> _PhoneSupport:
    return _PhoneSupport(regions)


def _count_digits(text: str) -> int:
    return len(NON_DIGIT.sub("", text))


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    parts = []
    last = 0
    for start, end in spans:
        parts.append(text[last:start])
        parts.append("x" * (end - start))
        last = end
    parts.append(text[last:])
    return "".join(parts)


def find_phones_in_run(
    text: str,
    out: list[Finding],
    run_start: int,
    run_end: int,
    regions: tuple[str, ...],
    threshold: float,
) -> None:
    """Phone numbers in the digit run ``text[run_start:run_end]`` (with a ``+`` or
    brackets just before it). Dates, IPv4 addresses and IBAN-shaped spans in or next
    to the run are masked first, so that no number is read across them."""
    n = len(text)
    lo = run_start
    while lo > 0 and run_start - lo < 3 and text[lo - 1] in "+(":
        lo -= 1
    hi = min(n, run_end + 2)  # what follows: a word character, or an extension "x549"
    blocked = []
    raw = text[run_start:run_end]
    if "-" in raw or "." in raw or "/" in raw:
        blocked = [m.span() for m in PHONE_BLOCK.finditer(text, run_start, min(n, run_end + 2))]
    head = IBAN_HEAD.search(text, max(0, run_start - 45), run_end)
    if head is not None:
        for m in IBAN.finditer(text, head.start(), min(n, run_end + 2)):
            if m.end() > lo:
                blocked.append(m.span())
    # Only text[lo:hi] is searched (its look-behind reads two characters before lo):
    # masking a copy of that part, not of the whole text, keeps a text of many runs
    # linear.
    base = max(0, lo - 4)
    scanned = text[base:hi]
    if blocked:
        size = len(scanned)
        local = [(max(s - base, 0), min(e - base, size)) for s, e in blocked if e > base and s < hi]
        scanned = _mask(scanned, sorted(local))
    for w in PHONE_WINDOW.finditer(scanned, lo - base, hi - base):
        start, end = w.start() + base, w.end() + base
        window = text[start:end]
        digits = NON_DIGIT.sub("", window)
        ndigits = len(digits)
        if ndigits < PHONE_MIN_DIGITS:
            continue
        if start >= 2 and text[start - 1] == ":" and text[start - 2].isdigit():
            continue  # the seconds of a time ("13:34:05.298954")
        if STREET_AFTER.match(text, end):
            continue  # a house number ("0305 530 Briarwood Drive")
        international = window.lstrip("(").startswith("+")
        idd = digits.startswith("00") or digits.startswith("011")
        if ndigits > (17 if idd else 15):
            continue
        if ndigits >= 13 and not (international or idd):
            continue  # card-length runs are not phone numbers
        if SSN_SHAPE.fullmatch(window) or DECIMAL.fullmatch(window) or AMOUNT.fullmatch(window):
            continue  # an SSN-shaped or decimal number, an amount
        if ZIP_SHAPE.fullmatch(window) and US_STATE_BEFORE.search(text, max(0, start - 6), start):
            continue  # "MA 02108-9667" is a ZIP+4 code
        before = text[max(0, start - 2) : start].strip()
        if before and before[-1] in CURRENCY_SIGNS:
            continue  # an amount
        support = phone_support(regions)
        regions_found = [] if international else support.national_regions(digits)
        ctx = context(text, start, end, PHONE_POSITIVE, PHONE_NEGATIVE, clause=True)
        if ctx.sign < 0:
            score = 0.3
        elif ctx.sign > 0:
            score = 0.9
        elif international or idd:
            score = 0.7
        elif PAIRS.fullmatch(window):
            score = 0.4  # "12 34 56 78 90": pairs without a trunk prefix are rarely a number
        else:
            score = 0.6
        if score < threshold:
            continue
        span = None
        how = ""
        if international:
            span = support.match(window, support.region_plus)
            how = "international number"
        else:
            for region in regions_found:
                span = support.match(window, region)
                if span is not None:
                    how = f"{region} national number"
                    break
            if span is None and digits.startswith("00"):
                span = support.match(window, support.region_00)
                how = "international number (00 prefix)"
            if span is None and digits.startswith("011"):
                span = support.match(window, "US")
                how = "international number (011 prefix)"
        if span is not None:
            how = f"valid {how} (phonenumbers, VALID leniency)"
        else:
            # Not a number any region assigns, but written as phone numbers are: in a
            # possible length after its country code, in the North American layout, or
            # right after a word such as "phone" or "call me on". Numbers that do not
            # exist still identify someone in the text they were written in.
            possible = _possible_phone(window, digits, international or idd, ctx.sign > 0)
            if possible is None:
                continue
            how, score = possible
            span = (0, len(window))
        if ndigits < 7 and ctx.sign <= 0:
            continue  # six digits are a phone number only next to a word saying so
        found_end = start + span[1]
        extension = PHONE_EXTENSION.match(text, found_end)
        if extension is not None:
            found_end = extension.end()
        out.append(
            Finding(
                start + span[0], found_end, "PHONE_NUMBER", score, "phone_number",
                f"{how}{ctx_note(ctx)}",
            )
        )  # fmt: skip


def _possible_phone(
    window: str, digits: str, international: bool, context: bool
) -> tuple[str, float] | None:
    """Why ``window`` (not a valid number of any region read) is still taken for a
    phone number, and its score; None when it is not."""
    if international:
        import phonenumbers

        written = window.replace("(0)", "")
        if digits.startswith("00"):
            written = "+" + digits[2:]
        elif digits.startswith("011"):
            written = "+" + digits[3:]
        try:
            possible = phonenumbers.is_possible_number(phonenumbers.parse(written, None))
        except phonenumbers.NumberParseException:
            possible = False
        if possible:
            how = "international number of a possible length (phonenumbers)"
            return how, 0.9 if context else 0.6
    if context and len(digits) <= (15 if international else 12):
        return "digits written as a phone number after a context word", 0.8
    if NANP_LAYOUT.fullmatch(window):
        return "ten digits in the North American layout", 0.6
    return None
