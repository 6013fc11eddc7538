"""The checksums and the regular expressions the detectors of
:mod:`custrec.redaction.detect` share: Luhn and IBAN (python-stdnum), and where
values holding digits are looked for."""

from __future__ import annotations

import re


def luhn_valid(digits: str) -> bool:
    """True when ``digits`` (spaces and dashes ignored) pass the Luhn checksum
    (python-stdnum's ``luhn``).

    At least two digits are needed; any other character makes the value invalid.
    """
    s = digits.replace(" ", "").replace("-", "")
    if len(s) < 2 or not (s.isascii() and s.isdigit()):
        return False
    from stdnum import luhn

    return bool(luhn.is_valid(s))


# IBAN length per country code, from the SWIFT IBAN registry: where an IBAN written in a
# text ends (python-stdnum then validates it).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
    "BH": 22, "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24,
    "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
    "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27,
    "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
    "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20,
    "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
    "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
    "YE": 30,
}  # fmt: skip


def iban_compact_valid(compact: str) -> bool:
    if not (compact.isascii() and compact.isalnum() and compact[2:4].isdigit()):
        return False
    from stdnum import iban

    # python-stdnum checks the country's length and BBAN format (SWIFT registry) and
    # mod 97.
    return bool(iban.is_valid(compact, check_country=False))


def iban_valid(text: str) -> bool:
    """True when ``text`` (spaces ignored, any case) is an IBAN of a registry country,
    in that country's length and format, with ``mod 97 == 1`` (python-stdnum)."""
    return iban_compact_valid(text.replace(" ", "").upper())


ANY_DIGIT = re.compile(r"\d")

EMAIL = re.compile(
    r"(?<![\w%+\-])[\w%+\-][\w.%+\-]*@"
    r"(?:[^\W_](?:[\w\-]{0,61}[^\W_])?\.)+[^\W\d_]{2,24}"
    r"(?![\w\-]|\.[^\W_])"
)

# 12-19 digits, single spaces or dashes allowed between them, not inside a longer run.
CARD = re.compile(r"(?<![\w\-])(?<!\d[ \-])\d(?:[ \-]?\d){11,18}(?![\w\-]|[ ]\d)")

# A country code, two check digits, then 11-30 letters/digits, optionally in groups.
IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}")

SSN = re.compile(r"(?<![\w\-])(?<!\d[ .])(\d{3})([\- ]?)(\d{2})\2(\d{4})(?![\w\-]|[ .]\d)")
SSN_INVALID = frozenset(
    {"078051120", "123456789", "219099999", "457555462", "987654320", "987654321",
     "987654322", "987654323", "987654324", "987654325", "987654326", "987654327",
     "987654328", "987654329"}
)  # fmt: skip

NINO = re.compile(
    r"(?<!\w)([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z])[ ]?(\d{2})[ ]?(\d{2})[ ]?(\d{2})[ ]?"
    r"([A-D])(?!\w)",
    re.IGNORECASE,  # written in capitals, or all in small letters (see find_ninos)
)
NINO_BAD_PREFIXES = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IPV4 = re.compile(rf"(?<![\w.])(?<!\d\.){_OCTET}(?:\.{_OCTET}){{3}}(?!\.?\d)(?!\w)")
IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{1,4})?"
    r"(?![\w:])"
)

_MONTHS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
MONTH_NUMBER = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
DATE = re.compile(
    r"(?<![\w/.\-])(?<!\d[/.\-])(?:"
    r"(?P<iy>(?:19|20)\d\d)(?P<isep>[\-/.])(?P<im>\d{1,2})(?P=isep)(?P<id>\d{1,2})"
    r"|(?P<na>\d{1,2})(?P<nsep>[\-/.])(?P<nb>\d{1,2})(?P=nsep)(?P<ny>(?:19|20)?\d\d)"
    rf"|(?P<td>\d{{1,2}})(?:st|nd|rd|th)?[ \-](?:of[ ])?(?P<tm>{_MONTHS})\.?,?[ \-]"
    r"(?P<ty>(?:19|20)\d\d)"
    rf"|(?P<mm>{_MONTHS})\.?[ ](?P<md>\d{{1,2}})(?:st|nd|rd|th)?,?[ ](?P<my>(?:19|20)\d\d)"
    r")(?!\w|[/.\-]\d)",
    re.IGNORECASE,
)

UK_POSTCODE = re.compile(
    r"(?<!\w)(?:GIR ?0AA|[A-PR-UWYZ](?:\d\d?|\d[A-HJKPSTUW]|[A-HK-Y]\d\d?|[A-HK-Y]\d[ABEHMNPRV-Y])"
    r" ?\d[ABD-HJLNP-UW-Z]{2})(?!\w)",
    re.IGNORECASE,
)
US_ZIP = re.compile(r"(?<![\w\-.,$£€])(?<!\d )(\d{5})(?:-(\d{4}))?(?!\w|[\-., ]\d)")

# Phone candidates: digit groups joined by one separator (or brackets), with an
# optional leading "+". Spans the phone reader must not look into are masked first.
PHONE_WINDOW = re.compile(
    r"(?<![\w+\-/])(?<!\d\.)(?:\(?\+[ ]?\(?|\()?"
    r"(?>\d+(?:(?:[ ]?[()][ \-.]?|[ \-./])\d+)*)"
    r"(?!(?!x\d)\w)"  # an extension ("x549") may follow
)
# Spans inside a digit run that a phone number is not read across: dates, IPv4.
PHONE_BLOCK = re.compile(
    r"(?<![\w\-/.])(?<!\d[\-/.])(?:\d{4}[\-/.]\d{1,2}[\-/.]\d{1,2}"
    r"|\d{1,2}[\-/.]\d{1,2}[\-/.](?:\d{4}|\d{2}))(?![\-/.]?\d)"
    rf"|(?<![\w.])(?<!\d\.){_OCTET}(?:\.{_OCTET}){{3}}(?!\.?\d)"
)
PHONE_MIN_DIGITS = 6
AMOUNT = re.compile(r"\d{1,3}(?:[ ,.]\d{3})+[.,]\d\d")  # "1 234 567.89", "12.345,00"
PHONE_EXTENSION = re.compile(r"[ ]?(?:x|ext\.?|extn\.?|extension)[ ]?\d{1,6}\b", re.IGNORECASE)
NANP_LAYOUT = re.compile(r"\(?[2-9]\d\d\)?[ .\-]?\d{3}[ .\-]\d{4}|[01]\d\d[.\-]\d{3}[.\-]\d{4}")
STREET_AFTER = re.compile(
    r"[ ](?:[A-Z][\w'\-]*[ ]){0,3}(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Way|"
    r"Court|Ct|Place|Pl|Square|Sq|Squares|Boulevard|Blvd|Crescent|Cres|Heights|Row|Green|"
    r"Greens|Terrace|Close|Parkway|Pkwy|Highway|Hwy|Trail|Circle|Park|Walk|Gardens|Hill|"
    r"Stream|Bridge|Mews|Rise|Vale|View|Grove|Alley|Plaza|Straße|Strasse|Str|Weg|Gasse)\b"
    r"|[ ](?i:rue|avenue|av|via|viale|vicolo|piazza|calle|avenida|rua|travessa|ul|ulica|"
    r"aleja|chemin|boulevard|bd|allée|impasse|place|plac|gatan|vägen|straat|laan|plein)\b"
)
SSN_SHAPE = re.compile(r"\d{3}-\d{2}-\d{4}")
ZIP_SHAPE = re.compile(r"\d{5}-\d{4}")
PAIRS = re.compile(r"[1-9]\d?(?:[ .\-]\d\d?){3,}")
DECIMAL = re.compile(r"(?:0|[1-9]\d*)\.\d+")
CURRENCY_SIGNS = frozenset("$£€¥₹₽₩")
NON_DIGIT = re.compile(r"\D+")
# Digit groups joined by single separators (or brackets): the places where values
# holding digits are looked for.
NUM_RUN = re.compile(r"\d+(?:(?:[ \-./]|[ ]?[()][ \-.]?)\d+)*")
IBAN_HEAD = re.compile(r"[A-Z]{2}\d\d")
ESCAPED_SEPARATOR = re.compile(r"\\[nrt]")
