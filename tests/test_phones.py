"""Phone numbers read a column at a time (custrec.phones) give what one number at a
time gives: the parts ``phonenumbers.parse`` reads, its possibility and validity, the
rule bits and the match forms, on every region's numbers written the ways people
write them, and on generated customers (where the column program must decide nearly
all numbers, so that a program that decides nothing cannot pass)."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custrec import phones
from custrec.schema import batch, rules
from custrec.schema.scalar import number_of_parts, phone_valid
from custrec.store.normalise import normalise_phone, quick_phone_parts

ALL_REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
STYLES = (
    phonenumbers.PhoneNumberFormat.NATIONAL,
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    phonenumbers.PhoneNumberFormat.E164,
)


def written(rng: random.Random, region: str) -> str:
    """A number of ``region`` as people write it: an example number of one of its
    types, perhaps with a digit changed, added or dropped, in one of many layouts."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    assert metadata is not None
    kinds = [
        number
        for kind in phonenumbers.PhoneNumberType.values()
        if (number := phonenumbers.example_number_for_type(region, kind)) is not None
    ]
    number = rng.choice(kinds) if kinds else None
    national = (
        phonenumbers.national_significant_number(number)
        if number is not None and rng.random() < 0.7
        else "".join(rng.choice("0123456789") for _ in range(rng.randint(3, 15)))
    )
    digits = list(national)
    if rng.random() < 0.4 and digits:
        digits[rng.randrange(len(digits))] = rng.choice("0123456789")
    if rng.random() < 0.15:
        digits.insert(rng.randrange(len(digits) + 1), rng.choice("0123456789"))
    if rng.random() < 0.15 and len(digits) > 3:
        del digits[rng.randrange(len(digits))]
    national = "".join(digits)
    code = str(metadata.country_code)
    prefix = metadata.national_prefix or "0"
    idd = rng.choice(["00", "011", "010", "0011", "810", "8 10", "001", "1"])
    layouts = [
        f"+{code} {national}",
        f"+{code}{national}",
        f"+{code} (0) {national}",
        f"{idd}{code}{national}",
        f"{idd} {code} {national}",
        f"{code}{national}",
        f"{code} {prefix}{national}",
        f"{prefix}{national}",
        f"({prefix}){national}",
        f"({national[:3]}) {national[3:]}",
        national,
        f" {prefix}{national} ",
    ]
    text = rng.choice(layouts)
    if number is not None and rng.random() < 0.2:
        text = phonenumbers.format_number(number, rng.choice(STYLES))
    separator = rng.choice(["", " ", "-", ".", "  "])
    if separator and len(text) > 6:
        cut = rng.randrange(2, len(text) - 2)
        text = text[:cut] + separator + text[cut:]
    return text


def reader(rng: random.Random, region: str) -> str:
    """The region a number is read with: its own (often), another, none, or text
    that names no region."""
    return rng.choice(
        [region, region, region, region.lower(), "", "GB", "US", "DE", "??", "GBR", "é"]
    )


def sample(size: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    found = []
    for _ in range(size):
        region = rng.choice(ALL_REGIONS)
        found.append((written(rng, region), reader(rng, region)))
    for _ in range(size // 10):  # anything made of digits and separators
        text = "".join(rng.choice("+0123456789 ()-.") for _ in range(rng.randint(1, 22)))
        found.append((text, reader(rng, rng.choice(ALL_REGIONS))))
    return list(dict.fromkeys(found))


def generated_customers(rows: int) -> list[tuple[str, str]]:
    from custrec.generate import generate_customers

    found = []
    for chunk in generate_customers(rows, seed=11, bad_share=0.05):
        for row in chunk.rows:
            phone, country = row.get("phone"), row.get("country")
            if isinstance(phone, str):
                found.append((phone, country if isinstance(country, str) else ""))
    return list(dict.fromkeys(found))


def agree(pairs: list[tuple[str, str]]) -> tuple[int, int]:
    """Checks the column answers against the one-number functions; returns how many
    numbers the column program decided, of how many."""
    facts_keys = [f"{country.upper()}\x00{text}" for text, country in pairs]
    match_keys = [f"{country}\x00{text}" for text, country in pairs]
    facts = phones.phone_facts_many(facts_keys)
    forms = phones.phone_match_keys_many(match_keys)
    decided = 0
    for key, found in zip(facts_keys, facts, strict=True):
        if found is not None:
            decided += 1
            assert found == rules.phone_facts(key), key
    for key, form in zip(match_keys, forms, strict=True):
        if form is not None:
            assert form == rules.phone_match_key(key), key
    assert sum(form is not None for form in forms) == decided
    return decided, len(pairs)


def test_every_regions_numbers_read_a_column_at_a_time_as_one_at_a_time() -> None:
    decided, total = agree(sample(30_000, seed=2026))
    assert total > 30_000
    assert decided > total // 4  # the rest: text that needs the full parse, and noise


def test_generated_customers_numbers_are_nearly_all_decided_and_agree() -> None:
    decided, total = agree(generated_customers(30_000))
    assert total > 25_000
    assert decided >= 0.97 * total


def test_example_numbers_of_every_type_and_region_read_as_phonenumbers_reads_them() -> None:
    """Compared with ``phonenumbers`` itself: the parts ``parse`` reads, and its
    possibility and validity verdicts."""
    texts, regions = [], []
    for region in ALL_REGIONS:
        for kind in phonenumbers.PhoneNumberType.values():
            number = phonenumbers.example_number_for_type(region, kind)
            if number is None:
                continue
            for style in STYLES:
                for reading in (region, None, "GB", "US"):
                    texts.append(phonenumbers.format_number(number, style))
                    regions.append(reading)
    read = phones.read_numbers(texts, regions).to_dicts()
    decided = 0
    for text, region, row in zip(texts, regions, read, strict=True):
        if row["code"] is None:
            continue
        decided += 1
        parsed = phonenumbers.parse(text, region)
        assert number_of_parts(row["code"], row["national"]) == parsed, (text, region)
        reason = phonenumbers.is_possible_number_with_reason(parsed)
        assert row["possible"] == (reason == phonenumbers.ValidationResult.IS_POSSIBLE)
        assert row["matchable"] == phonenumbers.is_possible_number(parsed)
        assert row["valid"] == phonenumbers.is_valid_number(parsed), (text, region)
    assert decided > 0.8 * len(texts)  # the rest: national text read with no region, etc.


@settings(max_examples=60, deadline=None)
@given(
    numbers=st.lists(
        st.tuples(
            st.text(alphabet="+0123456789 ()-.x", min_size=1, max_size=20),
            st.sampled_from([*ALL_REGIONS[:40], "GB", "US", "BR", "AR", "JP", None]),
        ),
        min_size=1,
        max_size=80,
    )
)
def test_any_digits_read_a_column_at_a_time_as_one_at_a_time(
    numbers: list[tuple[str, str | None]],
) -> None:
    texts = [text for text, _ in numbers]
    regions = [region for _, region in numbers]
    read = phones.read_numbers(texts, regions).to_dicts()
    assert len(read) == len(numbers)
    for (text, region), row in zip(numbers, read, strict=True):
        parts = quick_phone_parts(text.strip(), region)
        if row["code"] is None:
            continue
        assert parts == (row["code"], row["national"])
        number = number_of_parts(*parts)
        assert row["valid"] == phone_valid(number)
        assert normalise_phone(text, region) == f"+{row['code']}{row['national']}"


def test_a_second_reading_of_the_same_numbers_in_another_order_gives_the_same() -> None:
    """The numbers of the last call are kept for the next (a validation asks for the
    verdicts, then the match forms): a reordered, partly new batch reads the same."""
    pairs = sample(2_000, seed=5)
    first = phones.read_numbers([t for t, _ in pairs], [r or None for _, r in pairs])
    rng = random.Random(3)
    again = pairs[1000:] + sample(500, seed=6)
    rng.shuffle(again)
    second = phones.read_numbers([t for t, _ in again], [r or None for _, r in again])
    fresh = dict(zip(pairs, first.rows(), strict=True))
    phones.forget()
    alone = phones.read_numbers([t for t, _ in again], [r or None for _, r in again])
    assert second.rows() == alone.rows()
    for pair, row in zip(again, second.rows(), strict=True):
        if pair in fresh:
            assert fresh[pair] == row


def test_few_numbers_are_left_to_the_one_number_parse() -> None:
    keys = ["GB\x0007911 123456"] * (phones.COLUMN_MIN - 1)
    assert phones.phone_facts_many(keys) == [None] * len(keys)
    assert phones.phone_facts_many([*keys, "GB\x0007911 123457"])[0] == rules.phone_facts(keys[0])


def test_a_lookup_takes_the_column_answers_and_asks_the_function_for_the_rest() -> None:
    asked: list[str] = []

    def one(key: str) -> str:
        asked.append(key)
        return f"one:{key}"

    def many(keys: list[str]) -> list[str | None]:
        return [f"many:{key}" if int(key) % 2 else None for key in keys]

    lookup = rules.Lookup("x", None, one, None, None, "String", many)
    keys = [str(n) for n in range(7)]
    assert batch.computed_many(lookup, keys) == [
        f"many:{key}" if int(key) % 2 else f"one:{key}" for key in keys
    ]
    assert asked == ["0", "2", "4", "6"]


@pytest.mark.parametrize("texts", [[], [None], ["", "   ", "+", "abc", "x" * 200]])
def test_nothing_to_read_reads_as_nothing(texts: list[str | None]) -> None:
    read = phones.read_numbers(texts, [None] * len(texts))
    assert read.height == len(texts)
    assert read.get_column("code").null_count() == len(texts)
