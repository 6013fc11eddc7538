"""Build the name lists that ``custrec scan`` reads to find person names in free text
(``custrec/resources/names/``). Run again only to refresh them::

    pip install 'Faker==40.*'
    pip download --no-deps --no-binary :all: names==0.3.0 && tar xzf names-0.3.0.tar.gz
    apt-get download wamerican-small && dpkg -x wamerican-small_*.deb wamerican-small
    python tools/build_name_lists.py --census names-0.3.0/names \\
        --words wamerican-small/usr/share/dict/american-english-small

Sources (see ``custrec/resources/names/SOURCES.md`` for their licences):

- given names and surnames of Faker's person providers for every locale but ``en``
  and ``en_US`` (MIT licence). presidio-evaluator, the generator our figures are
  measured on, fills a template's second and later names from Faker's ``en_US``
  lists, so those are left out; American names come from the next source;
- the US Census Bureau's 1990 name files (public domain): 5,163 given names and the
  88,799 surnames of 90% of the population, as shipped by the ``names`` package;
- SCOWL's small American English word list (Debian ``wamerican-small``, permissive
  licence): its words in lower case are the common words. A name that is also one
  (*Will*, *Rose*, *Page*, *Can*) does not make a name alone, nor does a common word
  ending like a surname (*lesson*, *impress*), and a common word that is no name
  (*Producer*, *Unlike*) does not start or end one;
- pycountry's country and language names, which are in the surname lists (*Jordan*,
  *English*) but name no person.

Only names in a script with upper and lower case are kept (a capital letter is what
marks a name in running text), one word each.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

TARGET = REPO / "custrec" / "resources" / "names"
LEFT_OUT = frozenset({"en", "en_US"})


def _usable(name: str) -> bool:
    return (
        bool(name)
        and " " not in name
        and name[0].isupper()
        and name[1:] != name[1:].upper()  # not all capitals, and has a lower-case letter
        and not any(ch.isdigit() for ch in name)
    )


def faker_names() -> tuple[set[str], set[str]]:
    import faker.providers.person as person  # type: ignore[import-not-found]

    given: set[str] = set()
    surnames: set[str] = set()
    for module in pkgutil.iter_modules(person.__path__):
        if module.name in LEFT_OUT:
            continue
        provider = importlib.import_module(f"{person.__name__}.{module.name}").Provider
        for attr in dir(provider):
            if "name" not in attr or attr.startswith("language"):
                continue
            into = surnames if "last" in attr else given
            values = getattr(provider, attr, None)
            if isinstance(values, (list, tuple, dict, set)):
                for value in values:
                    # ja_JP's pairs hold (kanji, kana, romanised)
                    parts = value if isinstance(value, tuple) else (value,)
                    into.update(v for v in parts if isinstance(v, str))
    return given, surnames


def census_names(directory: Path) -> tuple[set[str], set[str]]:
    def read(name: str) -> set[str]:
        lines = (directory / name).read_text(encoding="ascii").splitlines()
        return {line.split()[0].title() for line in lines if line.strip()}

    return read("dist.female.first") | read("dist.male.first"), read("dist.all.last")


def country_and_language_names() -> set[str]:
    """One-word names of countries and of the languages with a two-letter code: they
    are in the surname lists (*Jordan*, *Poland*, *English*) but name no person."""
    import pycountry

    names: set[str] = set()
    for country in pycountry.countries:
        names.update(getattr(country, a, "") for a in ("name", "common_name"))
    names.update(lang.name for lang in pycountry.languages if hasattr(lang, "alpha_2"))
    return {n for n in names if n and " " not in n}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--census", type=Path, required=True, help="the names package's data")
    parser.add_argument("--words", type=Path, required=True, help="american-english-small")
    args = parser.parse_args()
    given, surnames = faker_names()
    census_given, census_surnames = census_names(args.census)
    given = {n for n in given | census_given if _usable(n)}
    surnames = {n for n in surnames | census_surnames if _usable(n)}
    words = args.words.read_text(encoding="utf-8").split()
    lower = {w for w in words if w.islower() and w.isalpha()}
    common = lower
    places = country_and_language_names()
    TARGET.mkdir(parents=True, exist_ok=True)
    for name, values in (
        ("places.txt", places),
        ("given-names.txt", given),
        ("surnames.txt", surnames),
        ("common-words.txt", common),
    ):
        (TARGET / name).write_text("\n".join(sorted(values)) + "\n", encoding="utf-8")
        print(f"{name}: {len(values):,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
