"""The fast paths of bulk writes give exactly what the plain paths give: tokens,
phone normal forms, the numbers read and their validity, and chunk layouts built from
Arrow buffers."""

from __future__ import annotations

import re

import phonenumbers
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custrec import crypto
from custrec.schema.scalar import number_of_parts, phone_valid
from custrec.store import chunkcodec
from custrec.store.normalise import normalise_phone, quick_phone_parts

REGIONS = ("GB", "US", "DE", "FR", "IT", "IN", "BR", "AR", "MX", "NL", "GG", "JP", "RU")


def parsed_phone(value: str, region: str | None) -> str:
    """The normal form by a full ``phonenumbers.parse`` (the reference)."""
    text = value.strip()
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_possible_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    digits = re.sub(r"\D", "", text)
    return ("+" + digits) if text.startswith("+") else digits


def same_phone(value: str, region: str | None) -> bool:
    """The normal form equals a full parse's, and the number the quick path reads (when
    it reads one) equals the ``PhoneNumber`` of ``phonenumbers.parse``, every field
    (the phone checks take it for validity and possibility)."""
    text = value.strip()
    parts = quick_phone_parts(text, region)
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        if parts is not None:
            return False
    else:
        if parts is not None and number_of_parts(*parts) != parsed:
            return False
        if phone_valid(parsed) != phonenumbers.is_valid_number(parsed):
            return False
    return normalise_phone(value, region) == parsed_phone(value, region)


KNOWN_NUMBERS = [
    "+44 7911 123456",
    "07911 123456",
    "+44 (0) 7594 779757",
    "+4407911123456",
    "0044 7911 123456",
    "447911123456",
    "(718) 241-0624",
    "678-877-7401",
    "+1 415 555 0134",
    "+11234567890",
    "0176 09419808",
    "+49 177 52111214",
    "01 99 00 10 92",
    "+33 6 39 98 64 27",
    "06 12 34 56 78",
    "+39 06 1234 5678",
    "06 1234 5678",
    "011 4444 5555",
    "15 4444 5555",
    "+54 9 11 4444 5555",
    "074908 89586",
    "+91 60937 66491",
    "000000",
    "123",
    "+0 1234 5678",
    "+999 1234 5678",
    "12-34",
]


@pytest.mark.parametrize("region", [*REGIONS, None])
@pytest.mark.parametrize("value", KNOWN_NUMBERS)
def test_phone_normal_form_equals_a_full_parse(value: str, region: str | None) -> None:
    assert same_phone(value, region)


@settings(max_examples=400, deadline=None)
@given(
    text=st.text(alphabet="+0123456789 ()-.", min_size=1, max_size=24),
    region=st.sampled_from([*REGIONS, None]),
)
def test_phone_normal_form_equals_a_full_parse_for_any_digits(
    text: str, region: str | None
) -> None:
    assert same_phone(text, region)


@settings(max_examples=200, deadline=None)
@given(
    code=st.sampled_from(sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)),
    national=st.text(alphabet="0123456789", min_size=4, max_size=14),
    separator=st.sampled_from(["", " ", "-"]),
    region=st.sampled_from([*REGIONS, None]),
)
def test_international_numbers_of_every_country(
    code: int, national: str, separator: str, region: str | None
) -> None:
    value = f"+{code}{separator}{national}"
    assert same_phone(value, region)
    if region is not None:
        local = national if national.startswith("0") else "0" + national
        assert same_phone(local, region)


ALL_REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
FORMATS = (
    phonenumbers.PhoneNumberFormat.NATIONAL,
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    phonenumbers.PhoneNumberFormat.E164,
)


def example_numbers() -> list[tuple[str, str]]:
    """Every region's example numbers of every type (and the non-geographic
    entities'), written in national, international and E.164 form: realistic text,
    as people write it."""
    found = []
    for code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS:
        number = phonenumbers.example_number_for_non_geo_entity(code)
        if number is not None:
            found.extend((phonenumbers.format_number(number, style), "001") for style in FORMATS)
    for region in ALL_REGIONS:
        for kind in phonenumbers.PhoneNumberType.values():
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None:
                found.extend(
                    (phonenumbers.format_number(number, style), region) for style in FORMATS
                )
    return sorted(set(found))


def test_every_regions_example_numbers_normalise_as_a_full_parse() -> None:
    """Each example read in its own region, with no region, and in GB and US."""
    checked = 0
    for text, region in example_numbers():
        for reader in (region, None, "GB", "US"):
            assert same_phone(text, reader), (text, reader)
            checked += 1
    assert checked > 5000


@st.composite
def written_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """A number of some region written the ways people write them: with ``+`` or an
    international prefix and the calling code, with the calling code but no ``+``,
    with a national prefix (or ``(0)``), with a bracketed area code, or bare."""
    region = draw(st.sampled_from(ALL_REGIONS))
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    assert metadata is not None
    code = str(metadata.country_code)
    national = draw(st.text(alphabet="0123456789", min_size=3, max_size=15))
    prefix = metadata.national_prefix or "0"
    idd = draw(st.sampled_from(["00", "011", "010", "0011", "810", "8~10"]))
    shape = draw(st.integers(min_value=0, max_value=8))
    text = [
        f"+{code} {national}",
        f"+{code} (0) {national}",
        f"{idd}{code}{national}".replace("~", ""),
        f"{code}{national}",
        f"{code} {prefix}{national}",
        f"{prefix}{national}",
        f"({prefix}){national}",
        f"({national[:3]}) {national[3:]}",
        national,
    ][shape]
    separator = draw(st.sampled_from(["", " ", "-", "."]))
    if separator and len(text) > 6:
        cut = draw(st.integers(min_value=2, max_value=len(text) - 2))
        text = text[:cut] + separator + text[cut:]
    reader = draw(st.sampled_from([region, region, None, "GB", "US", "DE"]))
    return text, reader


@settings(max_examples=1500, deadline=None)
@given(written=written_numbers())
def test_written_numbers_of_every_region_normalise_as_a_full_parse(
    written: tuple[str, str | None],
) -> None:
    text, region = written
    assert same_phone(text, region)


@settings(max_examples=50, deadline=None)
@given(
    key=st.binary(min_size=1, max_size=100),
    prefix=st.lists(st.binary(max_size=10), max_size=3),
    values=st.lists(st.binary(max_size=40), max_size=20),
)
def test_batched_tokens_equal_single_tokens(
    key: bytes, prefix: list[bytes], values: list[bytes]
) -> None:
    assert crypto.tokens(key, prefix, values) == [crypto.token(key, *prefix, v) for v in values]


COLUMNS = [("id", "string"), ("n", "int64"), ("x", "float64"), ("b", "bool"), ("t", "string")]
ARROW = pa.schema([("id", pa.string()), ("n", pa.int64()), ("x", pa.float64()), ("b", pa.bool_())])


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {
                "id": st.text(max_size=6),
                "n": st.none() | st.integers(-(2**63), 2**63 - 1),
                "x": st.none() | st.floats(allow_nan=False),
                "b": st.none() | st.booleans(),
            }
        ),
        max_size=40,
    ),
    start=st.integers(0, 40),
    length=st.integers(0, 40),
)
def test_chunk_layout_from_arrow_equals_the_row_layout(
    rows: list[dict[str, object]], start: int, length: int
) -> None:
    # Slices start mid-buffer (bit offsets in validity bitmaps, offsets not at 0);
    # column "t" is absent from the batch and must come out as all-null text.
    batch = pa.RecordBatch.from_pylist(rows, schema=ARROW).slice(start, length)
    expected = chunkcodec.encode(batch.to_pylist(), COLUMNS)
    assert chunkcodec.encode_arrow(batch, COLUMNS) == expected
    decoded = chunkcodec.Chunk(chunkcodec.encode_arrow(batch, COLUMNS))
    assert decoded.records([c for c, _ in COLUMNS]) == [
        {**row, "t": None} for row in batch.to_pylist()
    ]


def test_generated_customers_phones_read_as_a_full_parse() -> None:
    """20,000 generated customers' numbers (national, international, bracketed and
    broken forms of twelve countries, 5% with defects), read with their country."""
    from custrec.generate import generate_customers

    checked = 0
    for chunk in generate_customers(20_000, seed=7, bad_share=0.05):
        for row in chunk.rows:
            phone, country = row.get("phone"), row.get("country")
            if isinstance(phone, str) and (country is None or isinstance(country, str)):
                region = country.strip().upper() if country and len(country.strip()) == 2 else None
                assert same_phone(phone, region), (phone, region)
                checked += 1
    assert checked > 15_000
