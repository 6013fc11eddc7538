"""Pieces shared by the customer and interaction generators.

Determinism scheme: every row draws its randomness from a Mersenne Twister reseeded
with an integer derived from ``(seed, dataset, row number)`` (plus, for the few
decisions other rows look up, a keyed hash of the same); nothing is carried from one
row to the next. A row's content therefore depends only on the arguments and its
number, never on the chunk size, and an earlier row can be re-derived on demand
(duplicates and follow-ups use this instead of remembering earlier chunks).
Reseeding one ``random.Random`` per row costs about 5 microseconds, far less than
building a fresh generator from a string seed.
"""

from __future__ import annotations

import hashlib
import math
import random
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property, lru_cache
from typing import Generic, TypeVar

Value = str | int | float | bool | None
"""A cell value: what the writers in :mod:`custrec.io` accept."""

T = TypeVar("T")

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class Defect:
    """One deliberately bad row, as ground truth for validators."""

    row: int
    """1-based data row number in the dataset (a header is not counted)."""
    record_id: str | None
    """The id written in that row; None when the defect is the missing id itself."""
    kind: str
    """A key of :data:`DEFECT_KINDS`."""
    field: str
    """The wrong field, ``a|b`` when a pair is wrong together, ``""`` for duplicates."""


@dataclass(frozen=True)
class Chunk:
    """A batch of consecutive generated rows and the defects among them."""

    rows: list[dict[str, Value]]
    """Each dict has exactly the dataset's columns, in column order."""
    defects: list[Defect]
    """The defects of these rows, in row order (at most one per row)."""


DEFECT_KINDS: dict[str, str] = {
    # customers
    "bad_email": "email is syntactically invalid (no @, @@, nothing after @, trailing "
    "dot, space inside, empty local part, consecutive dots)",
    "bad_phone": "phone is too short to be a number or contains letters",
    "impossible_date": "date_of_birth is not a calendar date or lies in the future "
    "(field date_of_birth), or created_at is after updated_at (field created_at|updated_at)",
    "bad_country": "country is not an ISO 3166-1 alpha-2 code (UK, XX, USA, Deutschland...)",
    "bad_postcode": "postcode does not have the format of the row's country",
    "duplicate_contact": "a new customer_id but the email (differently cased) or the phone "
    "(differently formatted) of an earlier row",
    # interactions
    "negative_duration": "talk_seconds, hold_seconds or wrap_seconds is negative",
    "ended_before_created": "ended_at is earlier than created_at",
    "out_of_range_score": "csat outside 1-5, nps outside 0-10 or ces outside 1-7",
    "bad_timestamp": "a timestamp field is not a valid ISO 8601 instant "
    "(2026-13-40T25:00:00Z, yesterday...)",
    # both
    "missing_required": "a required field is empty (None or ''): customers: customer_id, "
    "or email and phone both (field email|phone); interactions: case_id, channel or created_at",
    "duplicate_id": "the record id (customer_id / interaction_id) of an earlier row",
}
"""Every defect kind the generators produce -> a one-line description."""

CUSTOMER_DEFECT_KINDS: tuple[str, ...] = (
    "bad_email",
    "bad_phone",
    "impossible_date",
    "missing_required",
    "bad_country",
    "bad_postcode",
    "duplicate_id",
    "duplicate_contact",
)
INTERACTION_DEFECT_KINDS: tuple[str, ...] = (
    "negative_duration",
    "ended_before_created",
    "out_of_range_score",
    "missing_required",
    "duplicate_id",
    "bad_timestamp",
)

MAX_DUPLICATE_TRIES = 6
"""Earlier rows tried as a duplicate's source before the row gets another defect."""


def check_arguments(rows: int, bad_share: float, chunk_rows: int) -> None:
    """Raise ValueError for arguments no generator accepts."""
    if rows < 0:
        raise ValueError(f"rows must be 0 or more, got {rows}")
    if not 0.0 <= bad_share <= 1.0:
        raise ValueError(f"bad_share must be between 0 and 1, got {bad_share}")
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be 1 or more, got {chunk_rows}")


def derived_int(seed: int, label: str, bits: int = 128) -> int:
    """A well-mixed integer derived from ``seed`` and ``label`` (stable across runs)."""
    digest = hashlib.sha256(f"custrec.generate:{seed}:{label}".encode()).digest()
    return int.from_bytes(digest, "big") >> (256 - bits)


class RowSeeder:
    """Per-row randomness for one stream (dataset) of one seed.

    ``seed`` reseeds a ``random.Random`` for a row's body; ``uniforms`` gives a few
    numbers from a keyed BLAKE2 hash, about five times cheaper than reseeding, for
    the few decisions other rows peek at (is this row defective, a follow-up...).
    """

    def __init__(self, seed: int, stream: str) -> None:
        # Row numbers go into the low 64 bits, the stream's key above them.
        self._base = derived_int(seed, stream) << 64
        self._key = derived_int(seed, f"{stream}:plan").to_bytes(16, "big")

    def seed(self, rng: random.Random, row: int) -> random.Random:
        rng.seed(self._base | row)
        return rng

    def uniforms(self, row: int) -> tuple[float, float, float, float, float]:
        """Five independent uniform numbers in [0, 1) for ``row``."""
        digest = hashlib.blake2b(row.to_bytes(8, "big"), digest_size=20, key=self._key).digest()
        value = int.from_bytes(digest, "big")
        scale = 2.0**-32
        return (
            (value & 0xFFFFFFFF) * scale,
            (value >> 32 & 0xFFFFFFFF) * scale,
            (value >> 64 & 0xFFFFFFFF) * scale,
            (value >> 96 & 0xFFFFFFFF) * scale,
            (value >> 128) * scale,
        )


def iter_chunks(
    rows: int,
    chunk_rows: int,
    make_row: Callable[[int], tuple[dict[str, Value], Defect | None]],
) -> Iterator[Chunk]:
    """Yield rows 1..rows of ``make_row`` in chunks of ``chunk_rows`` rows."""
    for start in range(1, rows + 1, chunk_rows):
        chunk_rows_out: list[dict[str, Value]] = []
        defects: list[Defect] = []
        for n in range(start, min(start + chunk_rows, rows + 1)):
            row, defect = make_row(n)
            chunk_rows_out.append(row)
            if defect is not None:
                defects.append(defect)
        yield Chunk(chunk_rows_out, defects)


class Weighted(Generic[T]):
    """Weighted choice with precomputed cumulative weights (faster than rng.choices)."""

    def __init__(self, pairs: Sequence[tuple[T, float]]) -> None:
        self.items: tuple[T, ...] = tuple(item for item, _ in pairs)
        total = sum(weight for _, weight in pairs)
        cumulative: list[float] = []
        running = 0.0
        for _, weight in pairs:
            running += weight / total
            cumulative.append(running)
        cumulative[-1] = math.inf  # rounding can never push a draw past the last item
        self._cumulative = cumulative

    def pick(self, rng: random.Random) -> T:
        return self.items[bisect_right(self._cumulative, rng.random())]


class Shuffle:
    """A bijection of ``range(size)`` that looks random: ``i -> (i * a + b) % size``.

    Used to hand out unique phone numbers: distinct row numbers give distinct numbers
    without remembering which were used. ``a`` is derived from ``salt`` and made
    coprime with ``size``; indexes beyond ``size`` wrap around.
    """

    def __init__(self, size: int, salt: int) -> None:
        multiplier = (salt % size) | 1
        while math.gcd(multiplier, size) != 1:
            multiplier += 2
        self._size = size
        self._multiplier = multiplier
        self._offset = (salt >> 64) % size

    def __call__(self, index: int) -> int:
        return (index * self._multiplier + self._offset) % self._size


# -- dates and timestamps -------------------------------------------------------------
# Instants are handled as integer seconds since 0001-01-01T00:00:00 (the proleptic
# Gregorian ordinal times 86,400), which makes formatting a cached table look-up.


@lru_cache(maxsize=65_536)
def day_text(ordinal: int) -> str:
    """``YYYY-MM-DD`` for a proleptic Gregorian ordinal."""
    return date.fromordinal(ordinal).isoformat()


_CLOCK = tuple(f"{minute // 60:02d}:{minute % 60:02d}" for minute in range(1440))
"""``HH:MM`` for each minute of a day."""


def instant_text(seconds: int, offset_minutes: int = 0) -> str:
    """ISO 8601 text of an instant: ``...Z`` in UTC, else local time with ``+HH:MM``."""
    day, second_of_day = divmod(seconds + offset_minutes * 60, SECONDS_PER_DAY)
    minute, second = divmod(second_of_day, 60)
    if offset_minutes == 0:
        suffix = "Z"
    else:
        sign = "+" if offset_minutes > 0 else "-"
        suffix = f"{sign}{_CLOCK[abs(offset_minutes)]}"
    return f"{day_text(day)}T{_CLOCK[minute]}:{second:02d}{suffix}"


def years_before(day: date, years: int) -> date:
    """The same calendar day ``years`` earlier (29 February becomes the 28th)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


# -- ASCII folding for e-mail addresses -----------------------------------------------

_FOLD_SPECIAL = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "Æ": "AE",
        "ø": "o",
        "Ø": "O",
        "œ": "oe",
        "Œ": "OE",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "ı": "i",
        "þ": "th",
        "Þ": "TH",
    }
)


@lru_cache(maxsize=4096)
def ascii_fold(name: str) -> str:
    """``Zoë`` -> ``zoe``, ``Müller-Lüdenscheidt`` -> ``muller-ludenscheidt``,
    ``O'Brien`` -> ``obrien``, ``van 't Hof`` -> ``vanthof``: lowercase ASCII letters
    and inner hyphens only, usable in an e-mail local part."""
    decomposed = unicodedata.normalize("NFKD", name.translate(_FOLD_SPECIAL))
    kept = "".join(c for c in decomposed.lower() if c.isascii() and (c.isalpha() or c == "-"))
    return kept.strip("-")


# -- reference data: countries, names, cities, number plans ---------------------------


@dataclass(frozen=True)
class PhoneBlock:
    """National significant numbers ``prefix + lead digit + digits free digits``.

    ``number(i)`` is a bijection from ``range(capacity)``, so distinct indexes give
    distinct numbers; all prefixes of a block have the same length.
    """

    prefixes: tuple[str, ...]
    lead: str
    digits: int

    @cached_property
    def capacity(self) -> int:
        return len(self.prefixes) * len(self.lead) * self._tails

    @cached_property
    def _tails(self) -> int:
        return int(10**self.digits)

    def number(self, index: int) -> str:
        prefix, rest = divmod(index, len(self.lead) * self._tails)
        lead, tail = divmod(rest, self._tails)
        return f"{self.prefixes[prefix]}{self.lead[lead]}{tail:0{self.digits}d}"


@dataclass(frozen=True)
class PhonePlan:
    """How one country's phone numbers look.

    Row n gets number ``n - 1`` of the ``fictional`` block (numbers reserved for
    drama and documentation) while those last, then a number of the ``overflow``
    block (realistic mobile ranges, disjoint from the fictional ones), so the phones
    of different rows never collide (up to ``overflow.capacity`` rows, tens of
    millions at least).
    """

    calling_code: str
    trunk: str
    """National trunk prefix ("0"), "" where numbers are dialled without one."""
    groups: tuple[int, ...]
    """Digit groups of the national significant number as usually printed."""
    fine_groups: tuple[int, ...]
    overflow: PhoneBlock
    fictional: PhoneBlock | None = None
    area_digits: int = 0
    """When > 0, the first digits of a number are a geographic area code (US, BR)."""


@dataclass(frozen=True)
class City:
    name: str
    weight: float = 1.0
    low: int = 0
    """Numeric postcodes: the range low..high (inclusive)."""
    high: int = 0
    districts: tuple[str, ...] = ()
    """GB outward codes or Irish Eircode routing keys."""
    areas: tuple[str, ...] = ()
    """Phone area codes, where numbers are geographic."""


@dataclass(frozen=True)
class Country:
    code: str
    weight: float
    female: tuple[str, ...]
    male: tuple[str, ...]
    surnames: tuple[str, ...]
    """``masculine|feminine`` where a surname has two forms (Kowalski|Kowalska)."""
    cities: tuple[City, ...]
    phone: PhonePlan
    postcode: str
    """A key of :data:`POSTCODE_PATTERNS`."""
    language: str
    compound_surname: float = 0.04
    """Share of double-barrelled surnames built from two of the pool."""
    compound_joiner: str = "-"
    postcode_missing: float = 0.03


# Letters used in the inward part of GB postcodes and in Eircode unique identifiers.
GB_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
EIRCODE_CHARS = "0123456789ACDEFHKNPRTVWXY"


def _us_cities() -> tuple[City, ...]:
    spec = (
        ("New York", 10001, 10292, ("212", "646", "718", "917", "347")),
        ("Los Angeles", 90001, 90089, ("213", "310", "323", "818")),
        ("Chicago", 60601, 60661, ("312", "773", "872")),
        ("Houston", 77001, 77099, ("713", "281", "832")),
        ("Phoenix", 85001, 85054, ("602", "480")),
        ("Seattle", 98101, 98199, ("206",)),
        ("Boston", 2108, 2137, ("617", "857")),
        ("Miami", 33101, 33199, ("305", "786")),
        ("Denver", 80201, 80299, ("303", "720")),
        ("Atlanta", 30301, 30399, ("404", "678", "470")),
        ("Washington", 20001, 20099, ("202",)),
        ("San Francisco", 94102, 94188, ("415", "628")),
    )
    return tuple(City(name, low=lo, high=hi, areas=areas) for name, lo, hi, areas in spec)


def _br_cities() -> tuple[City, ...]:
    spec = (
        ("São Paulo", 1000000, 5999999, "11"),
        ("Rio de Janeiro", 20000000, 23799999, "21"),
        ("Belo Horizonte", 30000000, 31999999, "31"),
        ("Brasília", 70000000, 72799999, "61"),
        ("Salvador", 40000000, 42599999, "71"),
        ("Curitiba", 80000000, 82999999, "41"),
        ("Porto Alegre", 90000000, 91999999, "51"),
        ("Recife", 50000000, 52999999, "81"),
    )
    return tuple(City(name, low=lo, high=hi, areas=(ddd,)) for name, lo, hi, ddd in spec)


def _names(text: str) -> tuple[str, ...]:
    return tuple(text.split(", "))


def _codes(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _numeric(*spec: tuple[str, float, int, int]) -> tuple[City, ...]:
    return tuple(City(name, weight, low, high) for name, weight, low, high in spec)


_US_CITIES = _us_cities()
_US_AREAS = tuple(area for city in _US_CITIES for area in city.areas)
_BR_CITIES = _br_cities()
_BR_AREAS = tuple(area for city in _BR_CITIES for area in city.areas)
_ALL_DIGITS = "0123456789"

COUNTRIES: tuple[Country, ...] = (
    Country(
        code="GB",
        weight=20,
        female=_names(
            "Amelia, Zoë, Chloë, Siân, Eilidh, Niamh, Aisha, Isla, Renée, Ffion, Priya, Emily, "
            "Olivia, Sophie"
        ),
        male=_names(
            "Oliver, Harry, Rhys, Mohammed, Jack, Noël, Dafydd, Hamish, Thomas, George, "
            "Callum, Ravi, Seán, James"
        ),
        surnames=_names(
            "Smith, Jones, Taylor, O'Brien, Brown, Williams, Wilson, Patel, Khan, Evans, "
            "Davies, MacDonald, McAllister, Smith-Jones, Bowes-Lyon, Ahmed, Robinson, Wright, "
            "Hughes, Lloyd-Webber, Nowak, Ødegaard"
        ),
        cities=(
            City(
                "London",
                8,
                districts=_codes(
                    "SW1A SW3 SE1 SE10 E1 E14 N1 N7 NW1 NW3 W1D W2 EC1A EC2M WC1E WC2H"
                ),
            ),
            City("Manchester", 2, districts=_codes("M1 M2 M4 M14 M20")),
            City("Birmingham", 2, districts=_codes("B1 B5 B15 B29")),
            City("Leeds", 1.5, districts=_codes("LS1 LS2 LS6 LS11")),
            City("Glasgow", 1.5, districts=_codes("G1 G2 G12 G41")),
            City("Edinburgh", 1, districts=_codes("EH1 EH3 EH6 EH10")),
            City("Bristol", 1, districts=_codes("BS1 BS6 BS8")),
            City("Liverpool", 1, districts=_codes("L1 L3 L8 L17")),
            City("Cardiff", 1, districts=_codes("CF10 CF11 CF24")),
            City("Belfast", 1, districts=_codes("BT1 BT7 BT9")),
            City("Newcastle upon Tyne", 1, districts=_codes("NE1 NE2 NE6")),
            City("Brighton", 0.8, districts=_codes("BN1 BN2")),
        ),
        phone=PhonePlan(
            calling_code="44",
            trunk="0",
            groups=(4, 6),
            fine_groups=(4, 3, 3),
            # Ofcom's drama ranges that libphonenumber counts as assigned (geographic
            # numbers: 020 7946 0xxx, 0113 496 0xxx, ...); its mobile drama range
            # 07700 900xxx, and 0115 496 0xxx, are not, and fail phone.assigned-range.
            fictional=PhoneBlock(
                _codes(
                    "2079460 1134960 1144960 1164960 1174960 1184960 1214960 1314960 "
                    "1414960 1514960 1614960 1914980"
                ),
                _ALL_DIGITS,
                2,
            ),
            # Mobile ranges 074-075 and 078-079 without 0791 (partly unassigned).
            overflow=PhoneBlock(
                tuple(f"7{n}" for n in (*range(40, 60), *range(80, 91), *range(92, 100))),
                _ALL_DIGITS,
                6,
            ),
        ),
        postcode="GB",
        language="en",
    ),
    Country(
        code="US",
        weight=18,
        female=_names(
            "Mary, Jennifer, María, Sofía, Zoë, Aaliyah, Chloé, Renée, Emily, Olivia, "
            "Kimberly, Ashley, Nguyệt"
        ),
        male=_names(
            "James, Michael, José, Andrés, DeShawn, Liam, Noah, Mateo, Ethan, Tyrone, Connor, "
            "Jesús, John-Paul"
        ),
        surnames=_names(
            "Smith, Johnson, Williams, García, Rodríguez, Martínez, Núñez, Nguyễn, O'Connor, "
            "Dvořák, Kowalski, Brown, Miller, Davis, Lee, Peña, Washington, Anderson, Jackson, "
            "D'Angelo, Schäfer"
        ),
        cities=_US_CITIES,
        phone=PhonePlan(
            calling_code="1",
            trunk="",
            groups=(3, 3, 4),
            fine_groups=(3, 3, 4),
            # 555-0100..555-0199 is reserved for fiction in every area code.
            fictional=PhoneBlock(tuple(f"{area}55501" for area in _US_AREAS), _ALL_DIGITS, 1),
            # Exchange codes never start with 5 here, so 555 is left to the block above.
            overflow=PhoneBlock(_US_AREAS, "2346789", 6),
            area_digits=3,
        ),
        postcode="US",
        language="en",
    ),
    Country(
        code="DE",
        weight=10,
        female=_names(
            "Anna, Lena, Mia, Emma, Leonie, Käthe, Jördis, Ayşe, Marie-Luise, Hannelore, Sünje"
        ),
        male=_names(
            "Jürgen, Lukas, Jörg, Günter, Sören, Björn, Jonas, Ömer, Hans-Peter, Karl-Heinz, "
            "Maximilian, Fynn"
        ),
        surnames=_names(
            "Müller, Schmidt, Schneider, Fischer, Weber, Meyer, Wagner, Becker, Schäfer, "
            "Köhler, Groß, Weiß, Şahin, Yılmaz, Öztürk, Krüger, Hoffmann, Müller-Lüdenscheidt, "
            "Böhm, Dvořák, von Stößel"
        ),
        cities=_numeric(
            ("Berlin", 5, 10115, 14199),
            ("Hamburg", 3, 20095, 22769),
            ("München", 3, 80331, 81929),
            ("Köln", 2, 50667, 51149),
            ("Frankfurt am Main", 1.5, 60306, 60599),
            ("Stuttgart", 1.2, 70173, 70629),
            ("Düsseldorf", 1.2, 40210, 40629),
            ("Leipzig", 1, 4103, 4357),
            ("Dresden", 1, 1067, 1328),
            ("Nürnberg", 1, 90402, 90491),
        ),
        phone=PhonePlan(
            calling_code="49",
            trunk="0",
            groups=(3, 8),
            fine_groups=(3, 4, 4),
            overflow=PhoneBlock(_codes("151 152 157 159 176 177 178 179"), _ALL_DIGITS, 7),
        ),
        postcode="DE",
        language="de",
    ),
    Country(
        code="FR",
        weight=9,
        female=_names(
            "Zoë, Hélène, Gaëlle, Marie-Thérèse, Léa, Chloé, Inès, Anaïs, Maëlys, Camille, "
            "Amélie, Noémie"
        ),
        male=_names(
            "François, Jean-Luc, Noé, Mathéo, Loïc, Jérôme, Côme, Raphaël, Benoît, Hervé, "
            "Jean-Baptiste, Thibault"
        ),
        surnames=_names(
            "Martin, Bernard, Dubois, Lefèvre, Leroy, Moreau, Lambert, Girard, Bonnet, Faure, "
            "Rousseau, Lemaître, Bénard, Le Gall, Da Silva, Mercier, Fontaine, Chevalier, "
            "N'Diaye, Saint-Exupéry, Benoît"
        ),
        cities=_numeric(
            ("Paris", 6, 75001, 75020),
            ("Marseille", 2, 13001, 13016),
            ("Lyon", 2, 69001, 69009),
            ("Toulouse", 1.5, 31000, 31500),
            ("Nice", 1, 6000, 6300),
            ("Nantes", 1, 44000, 44300),
            ("Strasbourg", 1, 67000, 67200),
            ("Montpellier", 1, 34000, 34090),
            ("Bordeaux", 1, 33000, 33800),
            ("Lille", 1, 59000, 59800),
            ("Saint-Étienne", 0.6, 42000, 42100),
            ("Besançon", 0.5, 25000, 25079),
        ),
        phone=PhonePlan(
            calling_code="33",
            trunk="0",
            groups=(1, 2, 2, 2, 2),
            fine_groups=(1, 2, 2, 2, 2),
            # ARCEP's numbers for fiction that libphonenumber counts as assigned:
            # 01 99 00, 02 61 91, 03 53 01, 04 65 71, 05 36 49 xx xx (not 06 39 98).
            fictional=PhoneBlock(_codes("19900 26191 35301 46571 53649"), _ALL_DIGITS, 3),
            overflow=PhoneBlock(_codes("6 7"), "45678", 7),
        ),
        postcode="FR",
        language="fr",
    ),
    Country(
        code="IE",
        weight=5,
        female=_names(
            "Siobhán, Niamh, Aoife, Róisín, Caoimhe, Saoirse, Aoibhinn, Éabha, Clodagh, Méabh, "
            "Fionnuala, Sinéad"
        ),
        male=_names(
            "Seán, Ciarán, Oisín, Pádraig, Eoin, Liam, Conor, Darragh, Tadhg, Colm, Dónal, Cathal"
        ),
        surnames=_names(
            "Murphy, Kelly, O'Brien, O'Sullivan, Walsh, Byrne, Ryan, O'Connor, McCarthy, "
            "Doyle, Kennedy, Lynch, Brennan, Fitzgerald, Ó Súilleabháin|Ní Shúilleabháin, "
            "Ó Briain|Ní Bhriain, Mac Giolla|Nic Giolla, Ó Ceallaigh|Ní Cheallaigh, "
            "Ó Murchú|Ní Mhurchú, Ó Dónaill|Ní Dhónaill"
        ),
        cities=(
            City("Dublin", 6, districts=_codes("D01 D02 D04 D06 D08 D6W D15 D24")),
            City("Cork", 2, districts=_codes("T12 T23")),
            City("Galway", 1, districts=_codes("H91")),
            City("Limerick", 1, districts=_codes("V94")),
            City("Waterford", 0.7, districts=_codes("X91")),
            City("Kilkenny", 0.5, districts=_codes("R95")),
        ),
        phone=PhonePlan(
            calling_code="353",
            trunk="0",
            groups=(2, 3, 4),
            fine_groups=(2, 3, 4),
            overflow=PhoneBlock(_codes("83 85 86 87 89"), "123456789", 6),
        ),
        postcode="IE",
        language="en",
        postcode_missing=0.15,
    ),
    Country(
        code="ES",
        weight=7,
        female=_names(
            "María, Lucía, Sofía, Martina, Paula, Inés, Begoña, Nuria, Ainhoa, Ana Belén, "
            "María José, Itziar"
        ),
        male=_names(
            "José, Jesús, Íñigo, Álvaro, Adrián, Hugo, Martín, Rubén, Sebastián, Juan Carlos, "
            "Raúl, Joaquín"
        ),
        surnames=_names(
            "García, Fernández, González, Rodríguez, López, Martínez, Sánchez, Pérez, Gómez, "
            "Martín, Jiménez, Ruiz, Hernández, Díaz, Muñoz, Núñez, Peña, Ibáñez, Castaño, "
            "Álvarez"
        ),
        cities=_numeric(
            ("Madrid", 5, 28001, 28055),
            ("Barcelona", 4, 8001, 8042),
            ("València", 2, 46001, 46026),
            ("Sevilla", 1.5, 41001, 41020),
            ("Zaragoza", 1, 50001, 50021),
            ("Málaga", 1, 29001, 29018),
            ("Bilbao", 1, 48001, 48015),
            ("A Coruña", 0.7, 15001, 15011),
            ("Córdoba", 0.7, 14001, 14014),
        ),
        phone=PhonePlan(
            calling_code="34",
            trunk="",
            groups=(3, 3, 3),
            fine_groups=(3, 2, 2, 2),
            overflow=PhoneBlock(
                _codes("60 61 62 63 64 65 66 67 68 69 71 72 73 74"), _ALL_DIGITS, 6
            ),
        ),
        postcode="ES",
        language="es",
        compound_surname=0.6,
        compound_joiner=" ",
    ),
    Country(
        code="PL",
        weight=6,
        female=_names(
            "Małgorzata, Zofia, Agnieszka, Katarzyna, Anna, Żaneta, Joanna, Łucja, Gabriela, "
            "Weronika, Urszula"
        ),
        male=_names(
            "Łukasz, Krzysztof, Paweł, Piotr, Michał, Wojciech, Jędrzej, Mikołaj, Tomasz, "
            "Grzegorz, Zbigniew"
        ),
        surnames=_names(
            "Kowalski|Kowalska, Wiśniewski|Wiśniewska, Wójcik, Kamiński|Kamińska, "
            "Lewandowski|Lewandowska, Zieliński|Zielińska, Szymański|Szymańska, Woźniak, "
            "Dąbrowski|Dąbrowska, Kozłowski|Kozłowska, Jankowski|Jankowska, Mazur, Krawczyk, "
            "Piotrowski|Piotrowska, Grabowski|Grabowska, Nowak, Pawłowski|Pawłowska, "
            "Michalski|Michalska, Król, Wróbel"
        ),
        cities=_numeric(
            ("Warszawa", 5, 1, 4999),
            ("Kraków", 2.5, 30001, 31999),
            ("Łódź", 2, 90001, 94999),
            ("Wrocław", 2, 50001, 54999),
            ("Poznań", 1.5, 60001, 61999),
            ("Gdańsk", 1.2, 80001, 80999),
            ("Szczecin", 1, 70001, 71999),
            ("Lublin", 1, 20001, 20999),
            ("Białystok", 0.8, 15001, 15999),
        ),
        phone=PhonePlan(
            calling_code="48",
            trunk="",
            groups=(3, 3, 3),
            fine_groups=(3, 3, 3),
            overflow=PhoneBlock(_codes("50 51 53 57 60 66 69 72 73 78 79 88"), _ALL_DIGITS, 6),
        ),
        postcode="PL",
        language="pl",
    ),
    Country(
        code="NL",
        weight=5,
        female=_names(
            "Anouk, Saskia, Femke, Eline, Sanne, Noor, Fenna, Lotte, Joëlle, Maaike, Ineke"
        ),
        male=_names("Daan, Sem, Bram, Thijs, Teun, Ruud, Sjoerd, Wouter, Pieter-Jan, Gijs, Joost"),
        surnames=_names(
            "de Jong, Jansen, de Vries, van den Berg, van Dijk, Bakker, Janssen, Visser, Smit, "
            "Meijer, de Boer, Mulder, de Groot, Bos, Vos, Hendriks, van Leeuwen, Dekker, "
            "Brouwer, van 't Hof, Çelik"
        ),
        cities=_numeric(
            ("Amsterdam", 4, 1011, 1109),
            ("Rotterdam", 3, 3011, 3089),
            ("Den Haag", 2, 2491, 2599),
            ("Utrecht", 2, 3511, 3585),
            ("Eindhoven", 1, 5611, 5658),
            ("Groningen", 1, 9711, 9747),
            ("Tilburg", 1, 5011, 5049),
            ("Nijmegen", 0.8, 6511, 6546),
        ),
        phone=PhonePlan(
            calling_code="31",
            trunk="0",
            groups=(1, 8),
            fine_groups=(1, 2, 2, 2, 2),
            overflow=PhoneBlock(_codes("6"), "12345", 7),
        ),
        postcode="NL",
        language="nl",
    ),
    Country(
        code="SE",
        weight=4,
        female=_names(
            "Åsa, Märta, Linnéa, Maja, Elsa, Ingrid, Saga, Agnes, Ebba, Astrid, Britt-Marie"
        ),
        male=_names("Björn, Östen, Anders, Erik, Lars, Måns, Nils, Oskar, Gösta, Kjell, Per-Olof"),
        surnames=_names(
            "Andersson, Johansson, Karlsson, Nilsson, Eriksson, Larsson, Öberg, Lindström, "
            "Åberg, Sjöberg, Ødegaard, Bergström, Lindqvist, Strömberg, Ekström, Håkansson, "
            "Löfgren, Nordström, Hägg, Sandström"
        ),
        cities=_numeric(
            ("Stockholm", 5, 11120, 12999),
            ("Göteborg", 3, 41101, 41879),
            ("Malmö", 2, 21110, 21779),
            ("Uppsala", 1, 75220, 75759),
            ("Västerås", 0.8, 72210, 72591),
            ("Örebro", 0.8, 70210, 70385),
            ("Linköping", 0.8, 58183, 58946),
            ("Umeå", 0.6, 90325, 90799),
        ),
        phone=PhonePlan(
            calling_code="46",
            trunk="0",
            groups=(2, 3, 2, 2),
            fine_groups=(2, 3, 2, 2),
            overflow=PhoneBlock(_codes("70 72 73 76 79"), _ALL_DIGITS, 6),
        ),
        postcode="SE",
        language="sv",
    ),
    Country(
        code="IN",
        weight=7,
        female=_names(
            "Priya, Ananya, Aishwarya, Lakshmi, Sneha, Divya, Kavya, Meera, Pooja, Fatima, Harpreet"
        ),
        male=_names(
            "Arjun, Rahul, Vikram, Rohan, Aditya, Sanjay, Karthik, Mohammed, Gurpreet, "
            "Siddharth, Venkatesh"
        ),
        surnames=_names(
            "Sharma, Patel, Singh, Kumar, Gupta, Iyer, Reddy, Nair, Chatterjee, Banerjee, "
            "Mukherjee, Rao, Desai, Joshi, Khan, Menon, Pillai, Agarwal, Das, Bose"
        ),
        cities=_numeric(
            ("Mumbai", 4, 400001, 400104),
            ("New Delhi", 4, 110001, 110096),
            ("Bengaluru", 3, 560001, 560103),
            ("Chennai", 2, 600001, 600119),
            ("Kolkata", 2, 700001, 700157),
            ("Hyderabad", 2, 500001, 500096),
            ("Pune", 1.5, 411001, 411062),
            ("Ahmedabad", 1.5, 380001, 380061),
        ),
        phone=PhonePlan(
            calling_code="91",
            trunk="0",
            groups=(5, 5),
            fine_groups=(5, 5),
            overflow=PhoneBlock(_codes("6 7 8 9"), _ALL_DIGITS, 8),
        ),
        postcode="IN",
        language="en",
    ),
    Country(
        code="BR",
        weight=5,
        female=_names(
            "Ana Clara, Maria Eduarda, Beatriz, Júlia, Letícia, Conceição, Lívia, Luíza, "
            "Vitória, Taís, Gabriela"
        ),
        male=_names(
            "João, José, Antônio, Luís, Caio, Otávio, Vinícius, Mateus, Tomé, Sebastião, João Pedro"
        ),
        surnames=_names(
            "Silva, Santos, Oliveira, Souza, Rodrigues, Ferreira, Alves, Pereira, Lima, Gomes, "
            "Araújo, Gonçalves, Conceição, Magalhães, Simões, Brandão, Falcão, Assunção, "
            "Guimarães, da Silva, dos Santos"
        ),
        cities=_BR_CITIES,
        phone=PhonePlan(
            calling_code="55",
            trunk="",
            groups=(2, 5, 4),
            fine_groups=(2, 5, 4),
            overflow=PhoneBlock(tuple(f"{area}9" for area in _BR_AREAS), "6789", 7),
            area_digits=2,
        ),
        postcode="BR",
        language="pt",
        compound_surname=0.35,
        compound_joiner=" ",
    ),
    Country(
        code="JP",
        weight=4,
        female=_names("Yūko, Aoi, Hana, Sakura, Yui, Mei, Kyōko, Ayaka, Haruka, Rin"),
        male=_names("Haruto, Yūki, Sōta, Kenta, Takumi, Ren, Shōhei, Daiki, Kōji, Ryō"),
        surnames=_names(
            "Satō, Suzuki, Takahashi, Tanaka, Itō, Watanabe, Yamamoto, Nakamura, Kobayashi, "
            "Katō, Yoshida, Yamada, Sasaki, Yamaguchi, Matsumoto, Inoue, Kimura, Hayashi, "
            "Saitō, Shimizu"
        ),
        cities=_numeric(
            ("Tokyo", 6, 1000001, 1790000),
            ("Osaka", 3, 5300001, 5599999),
            ("Yokohama", 2, 2200001, 2479999),
            ("Nagoya", 1.5, 4500001, 4689999),
            ("Sapporo", 1, 600001, 640999),
            ("Fukuoka", 1, 8100001, 8199999),
            ("Kyoto", 1, 6008001, 6169999),
            ("Kobe", 0.8, 6500001, 6589999),
        ),
        phone=PhonePlan(
            calling_code="81",
            trunk="0",
            groups=(2, 4, 4),
            fine_groups=(2, 4, 4),
            overflow=PhoneBlock(_codes("70 80 90"), "123456789", 7),
        ),
        postcode="JP",
        language="ja",
    ),
)
"""The countries customers live in, with their share of customers."""

BAD_COUNTRIES = _codes("UK XX EU ZZ USA GER England Deutschland España Holland U.K.")
"""Values a careless form puts in an ISO 3166-1 alpha-2 column; none is a code."""

# Well-known test card numbers (all pass the Luhn check; none is a real account).
TEST_CARDS: tuple[str, ...] = (
    "4111111111111111",  # Visa
    "4012888888881881",  # Visa
    "5555555555554444",  # Mastercard
    "5105105105105100",  # Mastercard
    "2223003122003222",  # Mastercard 2-series
    "378282246310005",  # American Express
    "371449635398431",  # American Express
    "6011111111111117",  # Discover
)

# Agents' free-text notes per language. Placeholders: {phone}, {email}, {card},
# {last4}, {amount}. The keys say which personal data a template mentions.
NOTE_TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "plain": (
            "Asked for a copy of the last invoice.",
            "Complained about late delivery; offered a 10% voucher.",
            "Prefers to be contacted after 5pm.",
            "Address change pending proof of residence.",
            "VIP customer - handle with care.",
            "Do not call before 10am.",
            "Moved house, new address confirmed on the phone.",
            "Refund of {amount} issued to card ending {last4}.",
            "Customer is hard of hearing, please speak slowly.",
            "Wants paper bills by post.",
        ),
        "phone": (
            "Customer called from {phone}, asked for a callback.",
            "Left voicemail on {phone}.",
            "Callback requested on {phone} after 6pm.",
            "New mobile number {phone} - please update the record.",
        ),
        "email": (
            "Asked to update email to {email}.",
            "Sent the contract to {email} again.",
            "Customer says emails to {email} bounce.",
        ),
        "phone_email": (
            "Customer called from {phone}, asked to update email to {email}.",
            "Contact details changed: {phone} / {email}.",
        ),
        "card": (
            "Customer read out full card number {card} on the call - advised not to "
            "share card details.",
            "Payment with {card} failed twice, asked customer to check with the bank.",
            "Card {card} exp 09/28 to be charged for renewal.",
            "cc: {card} (customer insisted we keep it on file)",
        ),
    },
    "de": {
        "plain": (
            "Kunde wünscht Rückruf am Vormittag.",
            "Rechnung doppelt abgebucht, Erstattung veranlasst.",
            "Lieferung verspätet, Gutschrift über {amount} angeboten.",
            "Umzug gemeldet, neue Adresse bestätigt.",
        ),
        "phone": ("Kunde rief von {phone} an, bittet um Rückruf.", "Neue Handynummer: {phone}."),
        "email": (
            "Bitte E-Mail-Adresse ändern auf {email}.",
            "Vertrag erneut an {email} geschickt.",
        ),
        "phone_email": ("Kontaktdaten geändert: Tel. {phone}, E-Mail {email}.",),
        "card": (
            "Kunde hat die Kartennummer {card} am Telefon genannt.",
            "Zahlung mit Karte {card} abgelehnt.",
        ),
    },
    "fr": {
        "plain": (
            "Le client souhaite être rappelé après 18 h.",
            "Réclamation concernant la livraison, geste commercial de {amount}.",
            "Changement d'adresse en attente de justificatif.",
        ),
        "phone": (
            "Client a appelé depuis le {phone}, demande un rappel.",
            "Nouveau numéro : {phone}.",
        ),
        "email": ("Souhaite changer son adresse e-mail pour {email}.",),
        "phone_email": ("Coordonnées mises à jour : {phone} / {email}.",),
        "card": (
            "Le client a donné son numéro de carte {card} au téléphone.",
            "Paiement refusé avec la carte {card}.",
        ),
    },
    "es": {
        "plain": (
            "La clienta pide factura en papel.",
            "Queja por retraso en la entrega; se ofrece un descuento del 10 %.",
            "Prefiere que la llamen por la tarde.",
        ),
        "phone": (
            "Llamó desde el {phone}; quiere darse de baja del boletín.",
            "Nuevo móvil: {phone}.",
        ),
        "email": ("Pide cambiar el correo a {email}.",),
        "phone_email": ("Datos de contacto actualizados: {phone}, {email}.",),
        "card": (
            "Dictó el número de tarjeta {card} por teléfono.",
            "Pago con la tarjeta {card} rechazado.",
        ),
    },
    "pl": {
        "plain": (
            "Klient prosi o fakturę korygującą.",
            "Reklamacja dotycząca opóźnionej dostawy.",
            "Preferuje kontakt po godzinie 16.",
        ),
        "phone": ("Klient prosi o kontakt telefoniczny: {phone}.", "Nowy numer komórki: {phone}."),
        "email": ("Prośba o zmianę adresu e-mail na {email}.",),
        "phone_email": ("Zmiana danych kontaktowych: {phone}, {email}.",),
        "card": (
            "Klient podał numer karty {card} przez telefon.",
            "Płatność kartą {card} odrzucona.",
        ),
    },
    "nl": {
        "plain": (
            "Klant belde over een dubbele afschrijving.",
            "Klacht over late levering, tegoedbon van {amount} aangeboden.",
            "Wil liever per post gefactureerd worden.",
        ),
        "phone": (
            "Klant belde vanaf {phone}, wil teruggebeld worden.",
            "Nieuw mobiel nummer: {phone}.",
        ),
        "email": ("E-mailadres wijzigen naar {email}.",),
        "phone_email": ("Contactgegevens gewijzigd: {phone} / {email}.",),
        "card": (
            "Klant noemde kaartnummer {card} aan de telefoon.",
            "Betaling met kaart {card} geweigerd.",
        ),
    },
    "sv": {
        "plain": (
            "Kunden ringde angående fakturan, återkommer nästa vecka.",
            "Klagomål på försenad leverans.",
            "Vill ha pappersfaktura.",
        ),
        "phone": ("Kunden ringde från {phone}, vill bli uppringd.", "Nytt mobilnummer: {phone}."),
        "email": ("Vill byta e-postadress till {email}.",),
        "phone_email": ("Nya kontaktuppgifter: {phone}, {email}.",),
        "card": (
            "Kunden läste upp kortnummer {card} i telefon.",
            "Betalning med kort {card} nekades.",
        ),
    },
    "pt": {
        "plain": (
            "Cliente ligou reclamando da entrega atrasada.",
            "Solicitou segunda via do boleto.",
            "Prefere contato à tarde.",
        ),
        "phone": ("Cliente ligou do número {phone}, pediu retorno.", "Novo celular: {phone}."),
        "email": ("Pediu para alterar o e-mail para {email}.",),
        "phone_email": ("Contato atualizado: {phone} / {email}.",),
        "card": (
            "Cliente informou o cartão {card} por telefone.",
            "Pagamento com o cartão {card} recusado.",
        ),
    },
    "ja": {
        "plain": (
            "お客様から電話あり。請求書の再送を希望。",
            "配送遅延についての苦情。",
            "午後の連絡を希望。",
        ),
        "phone": ("{phone} から着信、折り返し希望。", "新しい携帯番号: {phone}"),
        "email": ("メールアドレスを {email} に変更希望。",),
        "phone_email": ("連絡先変更: {phone} / {email}",),
        "card": (
            "お客様が電話でカード番号 {card} を伝えた。",
            "カード {card} での支払いが拒否された。",
        ),
    },
}
