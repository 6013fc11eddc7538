"""Seeded customer records with realistic mess and a known set of deliberately bad rows.

Each row is a function of ``(seed, row number, arguments)`` only (see
:mod:`custrec.generate._common`), so output does not depend on ``chunk_rows`` and any
earlier row can be rebuilt on demand, which is how duplicates find their source row.

What good rows guarantee (the defect list is ground truth for validators):

* ``customer_id`` is ``C-{row:06d}``; e-mail addresses are unique ignoring case and
  surrounding spaces (the local part ends with the row number) and use only the
  reserved domains example.com/.org/.net; phone numbers are unique once normalised
  to E.164 (each row gets its own number, from the fictional ranges first).
* e-mails are valid after ``strip()`` (they may be mixed case or padded with spaces);
  phones are plausible numbers of the row's country, in E.164 or a local format;
  either one may be missing, never both.
* ``country`` is ISO 3166-1 alpha-2 and drives the names, phone, city and postcode;
  the postcode has the country's format or is missing.
* ``date_of_birth`` gives an age of 18 to 95 on ``today``; created_at <= updated_at,
  and every instant is before ``today`` 00:00 UTC; ``last_verified`` is between the
  creation day and yesterday, and at most :data:`VERIFIED_WITHIN_DAYS` days ago.
* Good rows pass every rule of ``schemas/customer.yaml``, warnings included: phones
  are in ranges libphonenumber counts as assigned (``phone.assigned-range``), and
  ``last_verified`` is within the schema's freshness period (``last_verified.fresh``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from datetime import date
from typing import NamedTuple

from custrec.generate._common import (
    BAD_COUNTRIES,
    COUNTRIES,
    CUSTOMER_DEFECT_KINDS,
    EIRCODE_CHARS,
    GB_INWARD_LETTERS,
    MAX_DUPLICATE_TRIES,
    NOTE_TEMPLATES,
    SECONDS_PER_DAY,
    TEST_CARDS,
    Chunk,
    City,
    Country,
    Defect,
    PhonePlan,
    RowSeeder,
    Shuffle,
    Value,
    Weighted,
    ascii_fold,
    check_arguments,
    day_text,
    derived_int,
    instant_text,
    iter_chunks,
    years_before,
)
from custrec.schema.postcodes import POSTCODE_PATTERNS

CUSTOMER_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "country",
    "postcode",
    "city",
    "date_of_birth",
    "created_at",
    "updated_at",
    "last_contact_at",
    "last_verified",
    "consent_marketing",
    "preferred_channel",
    "notes",
)

# Phone formats: str.format templates over the calling code, trunk prefix and digit
# groups. Every country has E.164 first; the others are what people type.
_PHONE_TEMPLATES = {
    "e164": "+{cc}{number}",
    "intl": "+{cc} {spaced}",
    "national": "{trunk}{spaced}",
    "national_dash": "{trunk}{dashed}",
    "intl_trunk": "+{cc} ({trunk}) {spaced}",
    "paren_trunk": "({trunk}){fine_dashed}",
    "intl_00": "00{cc} {spaced}",
    "us_paren": "({g[0]}) {g[1]}-{g[2]}",
    "us_dash": "{dashed}",
    "us_paren_space": "({g[0]}) {g[1]} {g[2]}",
    "us_dot": "{g[0]}.{g[1]}.{g[2]}",
    "us_plus1": "+1 {dashed}",
    "us_1dash": "1-{dashed}",
    "br_paren": "({g[0]}) {g[1]}-{g[2]}",
    "br_intl": "+{cc} {spaced}",
    "br_intl_paren": "+{cc} ({g[0]}) {g[1]}-{g[2]}",
    "br_plain": "{g[0]} {g[1]}-{g[2]}",
}
_TRUNK_STYLES = ("e164", "intl", "national", "national_dash", "intl_trunk", "paren_trunk")
_PLAIN_STYLES = ("e164", "intl", "national", "national_dash", "intl_00")
_US_STYLES = ("e164", "us_paren", "us_dash", "us_paren_space", "us_dot", "us_plus1", "us_1dash")
_BR_STYLES = ("e164", "br_paren", "br_intl", "br_intl_paren", "br_plain")

_CURRENCY = {
    "GB": "£{}",
    "US": "${}",
    "IN": "₹{}",
    "PL": "{} zł",
    "SE": "{} kr",
    "BR": "R$ {}",
    "JP": "¥{}",
}
"""Amount formats in notes; the euro (``{} €``) elsewhere."""

_EMAIL_DOMAINS = Weighted([("example.com", 50.0), ("example.org", 25.0), ("example.net", 25.0)])
_PREFERRED = Weighted(
    [("email", 40.0), ("phone", 25.0), ("sms", 15.0), ("chat", 15.0), ("post", 5.0)]
)
_NOTE_KINDS = Weighted(
    [("plain", 50.0), ("phone", 16.0), ("email", 13.0), ("card", 12.0), ("phone_email", 9.0)]
)
_COUNTRY = Weighted([(country, country.weight) for country in COUNTRIES])
_CITY = {c.code: Weighted([(city, city.weight) for city in c.cities]) for c in COUNTRIES}
_AREA_CITY = {
    c.code: {area: city for city in c.cities for area in city.areas}
    for c in COUNTRIES
    if c.phone.area_digits
}
_POSTCODE_RE = {code: re.compile(pattern) for code, pattern in POSTCODE_PATTERNS.items()}

_DUPLICATE_KINDS = ("duplicate_id", "duplicate_contact")
_FALLBACK_KINDS = tuple(k for k in CUSTOMER_DEFECT_KINDS if k not in _DUPLICATE_KINDS)
# A duplicate's source row must still show what is duplicated: its own id for
# duplicate_id; for duplicate_contact, genuine contact details and a valid country (a
# local-format phone means nothing without it). Sources are never duplicates
# themselves, so rebuilding one never recurses further.
_NOT_ID_SOURCE = frozenset({"duplicate_id", "duplicate_contact", "missing_required"})
_NOT_CONTACT_SOURCE = frozenset(
    {
        "duplicate_id",
        "duplicate_contact",
        "missing_required",
        "bad_email",
        "bad_phone",
        "bad_country",
    }
)

VERIFIED_WITHIN_DAYS = 365
"""The oldest ``last_verified`` of a good row, in days before ``today``: well within
the 730-day freshness period of ``schemas/customer.yaml`` (rule
``last_verified.fresh``), so that data anchored to a fixed ``today`` still passes when
validated up to a year later."""


def phone_styles(plan: PhonePlan) -> tuple[str, ...]:
    """The formats a phone number of this plan is written in."""
    if plan.calling_code == "1":
        return _US_STYLES
    if plan.calling_code == "55":
        return _BR_STYLES
    return _TRUNK_STYLES if plan.trunk else _PLAIN_STYLES


def format_phone(plan: PhonePlan, number: str, style: str) -> str:
    """Write the national significant ``number`` in one of :func:`phone_styles`."""
    if style == "e164":
        return f"+{plan.calling_code}{number}"
    groups = _split(number, plan.groups)
    return _PHONE_TEMPLATES[style].format(
        cc=plan.calling_code,
        trunk=plan.trunk,
        number=number,
        g=groups,
        spaced=" ".join(groups),
        dashed="-".join(groups),
        fine_dashed="-".join(_split(number, plan.fine_groups)),
    )


def _split(digits: str, sizes: tuple[int, ...]) -> list[str]:
    parts, start = [], 0
    for size in sizes:
        parts.append(digits[start : start + size])
        start += size
    return parts


def _style_weights(styles: tuple[str, ...]) -> Weighted[str]:
    # E.164 a quarter, the two commonest local forms next, the messy rest share the tail.
    head = {0: 25.0, 1: 20.0, 2: 30.0}
    tail = 25.0 / (len(styles) - 3)
    return Weighted([(style, head.get(i, tail)) for i, style in enumerate(styles)])


_STYLE = {c.code: _style_weights(phone_styles(c.phone)) for c in COUNTRIES}


class _Person(NamedTuple):
    country: Country
    city: City
    first_name: str
    last_name: str
    postcode: str | None


class _Draft(NamedTuple):
    """A built row plus what a later duplicate of it needs to know."""

    row: dict[str, Value]
    defect: Defect | None
    person: _Person
    phone_number: str
    phone_style: str


class _PhoneNumbers:
    """Deals out one country's national significant numbers: row n gets number n - 1
    of the fictional block while it lasts, then of the overflow block, each block in a
    seed-dependent order. Rows never share a number (until the overflow block wraps,
    after 45 million rows at the least)."""

    def __init__(self, plan: PhonePlan, salt: int) -> None:
        blocks = [block for block in (plan.fictional, plan.overflow) if block is not None]
        self._blocks = [(block, Shuffle(block.capacity, salt)) for block in blocks]

    def number(self, row: int) -> str:
        index = row - 1
        *earlier, (last, last_shuffle) = self._blocks
        for block, shuffle in earlier:
            if index < block.capacity:
                return block.number(shuffle(index))
            index -= block.capacity
        return last.number(last_shuffle(index))


class _CustomerFactory:
    def __init__(self, seed: int, bad_share: float, today: date) -> None:
        self._bad_share = bad_share
        self._seeder = RowSeeder(seed, "customers")
        # One generator per role so that rebuilding a source row or peeking at another
        # row's planned defect never disturbs the row being built.
        self._rng = random.Random()
        self._source_rng = random.Random()
        self._plan_rng = random.Random()
        self._today = today.toordinal()
        self._now = self._today * SECONDS_PER_DAY  # snapshot instant: today 00:00 UTC
        self._oldest_birth = years_before(today, 96).toordinal() + 1
        self._youngest_birth = years_before(today, 18).toordinal()
        self._first_created = years_before(today, 8).toordinal() * SECONDS_PER_DAY
        self._verified_since = self._today - VERIFIED_WITHIN_DAYS
        self._phone_numbers = {
            c.code: _PhoneNumbers(c.phone, derived_int(seed, f"phone:{c.code}")) for c in COUNTRIES
        }

    def make_row(self, n: int) -> tuple[dict[str, Value], Defect | None]:
        draft = self._draft(n, self._rng)
        return draft.row, draft.defect

    # -- planning -------------------------------------------------------------------

    def _planned_kind(self, rng: random.Random) -> str | None:
        """The defect kind drawn first by a row's generator (duplicates may later fall
        back to another kind). Always two draws, so the rest of the row does not depend
        on bad_share."""
        bad = rng.random() < self._bad_share
        kind = CUSTOMER_DEFECT_KINDS[int(rng.random() * len(CUSTOMER_DEFECT_KINDS))]
        return kind if bad else None

    def _kind_of(self, n: int) -> str | None:
        return self._planned_kind(self._seeder.seed(self._plan_rng, n))

    def _find_source(self, rng: random.Random, n: int, excluded: frozenset[str]) -> int | None:
        """An earlier row whose planned defect is not in ``excluded``, if one is found."""
        if n < 2:
            return None
        for _ in range(MAX_DUPLICATE_TRIES):
            candidate = 1 + int(rng.random() * (n - 1))
            if self._kind_of(candidate) not in excluded:
                return candidate
        return None

    # -- building -------------------------------------------------------------------

    def _draft(self, n: int, rng: random.Random) -> _Draft:
        kind = self._planned_kind(self._seeder.seed(rng, n))
        source: _Draft | None = None
        source_row: int | None = None
        if kind == "duplicate_id":
            source_row = self._find_source(rng, n, _NOT_ID_SOURCE)
        elif kind == "duplicate_contact":
            source_row = self._find_source(rng, n, _NOT_CONTACT_SOURCE)
            if source_row is not None:
                source = self._draft(source_row, self._source_rng)
        if kind in _DUPLICATE_KINDS and source_row is None:
            kind = _FALLBACK_KINDS[int(rng.random() * len(_FALLBACK_KINDS))]

        # A duplicate contact is the same person registered again.
        person = source.person if source is not None else self._person(rng, n)
        country = person.country
        number = self._phone_number(country, n)  # the row's own, even for a duplicate
        phone_style = _STYLE[country.code].pick(rng)
        phone: str | None = format_phone(country.phone, number, phone_style)
        email: str | None = self._email(rng, person, n)
        missing = rng.random()
        if missing < 0.04:
            email = None
        elif missing < 0.10:
            phone = None

        birth = self._birth_day(rng)
        created = self._created(rng, birth)
        since_created = self._now - created
        updated = created if rng.random() < 0.25 else created + int(rng.random() * since_created)
        last_contact = None
        if rng.random() >= 0.12:
            last_contact = created + int(rng.random() * since_created)
        preferred = _PREFERRED.pick(rng)
        if email is None and preferred == "email":
            preferred = "phone"
        if phone is None and preferred in ("phone", "sms"):
            preferred = "email"

        row: dict[str, Value] = {
            "customer_id": f"C-{n:06d}",
            "first_name": person.first_name,
            "last_name": person.last_name,
            "email": email,
            "phone": phone,
            "country": country.code,
            "postcode": person.postcode,
            "city": person.city.name,
            "date_of_birth": day_text(birth),
            "created_at": instant_text(created),
            "updated_at": instant_text(updated),
            "last_contact_at": None if last_contact is None else instant_text(last_contact),
            "last_verified": day_text(self._last_verified(rng, created)),
            "consent_marketing": rng.random() < 0.45,
            "preferred_channel": preferred,
            "notes": self._notes(rng, person, number),
        }
        defect = None
        if kind is not None:
            field = self._spoil(rng, kind, row, n, person, number, created, source_row, source)
            customer_id = row["customer_id"]
            record_id = customer_id if isinstance(customer_id, str) and customer_id else None
            defect = Defect(n, record_id, kind, field)
        return _Draft(row, defect, person, number, phone_style)

    def _person(self, rng: random.Random, n: int) -> _Person:
        country = _COUNTRY.pick(rng)
        if country.phone.area_digits:
            # Geographic numbers: the city follows the area code the row's number got.
            area = self._phone_number(country, n)[: country.phone.area_digits]
            city = _AREA_CITY[country.code][area]
        else:
            city = _CITY[country.code].pick(rng)
        female = rng.random() < 0.5
        firsts = country.female if female else country.male
        first = firsts[int(rng.random() * len(firsts))]
        last = self._surname(rng, country, female)
        if rng.random() < country.compound_surname:
            other = self._surname(rng, country, female)
            if other != last:
                last = f"{last}{country.compound_joiner}{other}"
        postcode = None
        if rng.random() >= country.postcode_missing:
            postcode = self._postcode(rng, country, city)
        return _Person(country, city, first, last, postcode)

    @staticmethod
    def _surname(rng: random.Random, country: Country, female: bool) -> str:
        name = country.surnames[int(rng.random() * len(country.surnames))]
        if "|" in name:
            masculine, feminine = name.split("|")
            return feminine if female else masculine
        return name

    def _phone_number(self, country: Country, n: int) -> str:
        return self._phone_numbers[country.code].number(n)

    @staticmethod
    def _email(rng: random.Random, person: _Person, n: int) -> str:
        first = ascii_fold(person.first_name)
        last = ascii_fold(person.last_name)
        # The row number ends every local part, so no two rows share an address.
        pattern = int(rng.random() * 5)
        if pattern == 0:
            local = f"{first}.{last}{n}"
        elif pattern == 1:
            local = f"{first[0]}{last}{n}"
        elif pattern == 2:
            local = f"{first}_{last}{n}"
        elif pattern == 3:
            local = f"{last}.{first}{n}"
        else:
            local = f"{first}{n}"
        email = f"{local}@{_EMAIL_DOMAINS.pick(rng)}"
        style = rng.random()
        if style < 0.85:
            return email
        if style < 0.93:
            return email.title()
        if style < 0.96:
            return email.upper()
        return f" {email}" if style < 0.98 else f"{email} "

    @staticmethod
    def _postcode(rng: random.Random, country: Country, city: City) -> str:
        fmt = country.postcode
        if fmt == "GB":
            district = city.districts[int(rng.random() * len(city.districts))]
            letters = GB_INWARD_LETTERS
            return (
                f"{district} {int(rng.random() * 10)}"
                f"{letters[int(rng.random() * len(letters))]}"
                f"{letters[int(rng.random() * len(letters))]}"
            )
        if fmt == "IE":
            district = city.districts[int(rng.random() * len(city.districts))]
            unique = "".join(EIRCODE_CHARS[int(rng.random() * len(EIRCODE_CHARS))] for _ in "1234")
            return f"{district} {unique}"
        value = city.low + int(rng.random() * (city.high - city.low + 1))
        if fmt == "US":
            plus4 = f"-{int(rng.random() * 10_000):04d}" if rng.random() < 0.2 else ""
            return f"{value:05d}{plus4}"
        if fmt == "NL":
            pair = "".join(chr(65 + int(rng.random() * 26)) for _ in "12")
            if pair in ("SA", "SD", "SS"):  # not issued in the Netherlands
                pair = "ST"
            return f"{value} {pair}"
        if fmt == "PL":
            return f"{value // 1000:02d}-{value % 1000:03d}"
        if fmt == "SE":
            return f"{value // 100:03d} {value % 100:02d}"
        if fmt == "BR":
            return f"{value // 1000:05d}-{value % 1000:03d}"
        if fmt == "JP":
            return f"{value // 10_000:03d}-{value % 10_000:04d}"
        if fmt == "IN":
            return f"{value:06d}"
        return f"{value:05d}"  # DE, FR, ES

    def _birth_day(self, rng: random.Random) -> int:
        # Ages 18-95, most customers in their thirties to fifties.
        age_days = int((rng.triangular(18.0, 96.0, 38.0) - 18.0) * 365.2425)
        return max(self._oldest_birth, self._youngest_birth - age_days)

    def _created(self, rng: random.Random, birth: int) -> int:
        # Accounts are at most 8 years old and opened by adults (18 years ~ 6,575 days).
        adult = (birth + 6575) * SECONDS_PER_DAY
        first = max(self._first_created, adult)
        return min(first + int(rng.random() * (self._now - first)), self._now - 1)

    def _last_verified(self, rng: random.Random, created: int) -> int:
        low = max(created // SECONDS_PER_DAY, self._verified_since)
        high = self._today - 1
        return low + int(rng.random() * (high - low + 1))

    def _notes(self, rng: random.Random, person: _Person, number: str) -> str | None:
        roll = rng.random()
        if roll < 0.42:
            return None
        if roll < 0.50:
            return ""
        country = person.country
        language = country.language if rng.random() < 0.65 else "en"
        kind = _NOTE_KINDS.pick(rng)
        templates = NOTE_TEMPLATES[language][kind]
        template = templates[int(rng.random() * len(templates))]
        values = {"phone": "", "email": "", "card": "", "last4": "", "amount": ""}
        if "{phone}" in template:
            style = _STYLE[country.code].pick(rng)
            values["phone"] = format_phone(country.phone, number, style)
        if "{email}" in template:
            local = f"{ascii_fold(person.first_name)}.{ascii_fold(person.last_name)}"
            values["email"] = f"{local}@{_EMAIL_DOMAINS.pick(rng)}"
        if "{card}" in template:
            values["card"] = _card_text(rng)
        if "{last4}" in template:
            values["last4"] = f"{int(rng.random() * 10_000):04d}"
        if "{amount}" in template:
            amount = f"{5 + int(rng.random() * 120)}.{int(rng.random() * 100):02d}"
            values["amount"] = _CURRENCY.get(country.code, "{} €").format(amount)
        return template.format(**values)

    # -- defects --------------------------------------------------------------------

    def _spoil(
        self,
        rng: random.Random,
        kind: str,
        row: dict[str, Value],
        row_number: int,
        person: _Person,
        number: str,
        created: int,
        source_row: int | None,
        source: _Draft | None,
    ) -> str:
        """Give ``row`` its one defect of ``kind``; return the defect's field."""
        country = person.country
        if kind == "bad_email":
            email = row["email"]
            if not isinstance(email, str):
                email = self._email(rng, person, row_number)
            row["email"] = _bad_email(rng, email.strip().lower())
            return "email"
        if kind == "bad_phone":
            row["phone"] = _bad_phone(rng, country.phone, number)
            return "phone"
        if kind == "impossible_date":
            variant = int(rng.random() * 3)
            if variant == 2:
                # Updated before created: move updated_at up to a year before created_at.
                earlier = created - 3600 - int(rng.random() * 365 * SECONDS_PER_DAY)
                row["updated_at"] = instant_text(earlier)
                return "created_at|updated_at"
            if variant == 1:
                row["date_of_birth"] = day_text(self._today + 1 + int(rng.random() * 3650))
            else:
                year = 1940 + int(rng.random() * 60)
                month_day = ("02-30", "02-31", "13-01", "04-31", "00-12", "06-31", "11-31")
                row["date_of_birth"] = f"{year}-{month_day[int(rng.random() * 7)]}"
            return "date_of_birth"
        if kind == "missing_required":
            if rng.random() < 0.5:
                row["customer_id"] = "" if rng.random() < 0.5 else None
                return "customer_id"
            row["email"] = "" if rng.random() < 0.5 else None
            row["phone"] = "" if rng.random() < 0.5 else None
            return "email|phone"
        if kind == "bad_country":
            row["country"] = BAD_COUNTRIES[int(rng.random() * len(BAD_COUNTRIES))]
            return "country"
        if kind == "bad_postcode":
            good = person.postcode or self._postcode(rng, country, person.city)
            row["postcode"] = _bad_postcode(rng, country.postcode, good)
            return "postcode"
        # Duplicates: the planner found an earlier source row, or chose another kind.
        assert source_row is not None
        if kind == "duplicate_id":
            row["customer_id"] = f"C-{source_row:06d}"
            return ""
        assert source is not None  # duplicate_contact
        source_email = source.row["email"]
        has_phone = isinstance(source.row["phone"], str)
        if isinstance(source_email, str) and (not has_phone or rng.random() < 0.6):
            row["email"] = _recased(rng, source_email)
        else:  # the source has a phone: eligible sources have at least one contact
            styles = [s for s in phone_styles(country.phone) if s != source.phone_style]
            style = styles[int(rng.random() * len(styles))]
            row["phone"] = format_phone(country.phone, source.phone_number, style)
        return ""


def _card_text(rng: random.Random) -> str:
    card = TEST_CARDS[int(rng.random() * len(TEST_CARDS))]
    layout = rng.random()
    if layout < 0.4:
        return card
    sizes = (4, 6, 5) if len(card) == 15 else (4, 4, 4, 4)
    return (" " if layout < 0.75 else "-").join(_split(card, sizes))


def _bad_email(rng: random.Random, email: str) -> str:
    local, domain = email.split("@")
    variants = (
        f"{local}.{domain}",  # no @
        f"{local}@@{domain}",
        f"{local}@",
        f"{local}@{domain}.",
        f"{local[:2]} {local[2:]}@{domain}",
        f"@{domain}",
        f"{local[0]}..{local[1:]}@{domain}",
    )
    return variants[int(rng.random() * len(variants))]


def _bad_phone(rng: random.Random, plan: PhonePlan, number: str) -> str:
    variant = int(rng.random() * 3)
    if variant == 0:  # too short to be a number (in Germany, 0 and 4 digits can be one)
        return f"{plan.trunk}{number[:2]}"
    if variant == 1:  # letters typed for digits
        text = list(format_phone(plan, number, "e164"))
        for position in (3, len(text) - 2):
            text[position] = "OIlSB"[int(rng.random() * 5)]
        return "".join(text)
    return ("call back", "TBC", "ask at branch", "mobile")[int(rng.random() * 4)]


def _bad_postcode(rng: random.Random, country_code: str, good: str) -> str:
    variant = int(rng.random() * 4)
    if variant == 0:
        candidate = good[:-1]
    elif variant == 1:
        candidate = f"{good}7"
    elif variant == 2:
        # Swap the last digit for a look-alike letter.
        last_digit = max(i for i, c in enumerate(good) if c.isdigit())
        candidate = f"{good[:last_digit]}O{good[last_digit + 1 :]}"
    else:
        candidate = "75008" if country_code == "GB" else "SW1A 2AA"  # another country's
    if _POSTCODE_RE[country_code].fullmatch(candidate):
        candidate = good[:-1]
    return candidate


def _recased(rng: random.Random, email: str) -> str:
    """The same address, cased differently (and sometimes padded with spaces)."""
    bare = email.strip()
    recasings = [text for text in (bare.upper(), bare.title(), bare.lower()) if text != bare]
    recased = recasings[int(rng.random() * len(recasings))]
    return f" {recased}" if rng.random() < 0.2 else recased


def generate_customers(
    rows: int,
    *,
    seed: int = 2026,
    bad_share: float = 0.05,
    chunk_rows: int = 10_000,
    today: date = date(2026, 11, 1),
) -> Iterator[Chunk]:
    """Generate ``rows`` customer records in chunks of ``chunk_rows`` rows.

    A share ``bad_share`` of the rows (decided per row) carries exactly one defect of
    :data:`CUSTOMER_DEFECT_KINDS`, listed in ``Chunk.defects``. Output is identical for
    the same arguments whatever ``chunk_rows`` is, and nothing but the current chunk is
    held in memory. ``today`` anchors all dates instead of the wall clock.

    Arguments are checked at once (ValueError); rows are made lazily while iterating.
    """
    check_arguments(rows, bad_share, chunk_rows)
    factory = _CustomerFactory(seed, bad_share, today)
    return iter_chunks(rows, chunk_rows, factory.make_row)
