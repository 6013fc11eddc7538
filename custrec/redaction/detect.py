"""Find personal data in short free texts (customer-service notes, transcripts).

:class:`Detector` scans a text with pattern detectors that each validate what they
match, and returns :class:`Finding` objects (Python ``str`` offsets, a type named as
Presidio names it, a score in 0..1, the rule and a readable explanation):

- ``EMAIL_ADDRESS``: local part, ``@``, a dotted domain with an alphabetic top-level
  label (also inside URLs and ``mailto:`` links);
- ``PHONE_NUMBER``: runs of digits read by ``phonenumbers.PhoneNumberMatcher``
  (``Leniency.VALID``) for a list of regions; dates, IP addresses, IBANs, card-length
  runs, prices and numbers next to words such as "order", "invoice" or "ref" are not
  phone numbers;
- ``CREDIT_CARD``: 12-19 digits in an issuer range of the right length, Luhn valid,
  not written as an international phone number (after a ``+`` or a calling code);
- ``IBAN_CODE``: a country's IBAN length and ``mod 97 == 1``;
- ``US_SSN``: ``AAA-GG-SSSS`` without the never-issued ranges (spaces or no
  separator only next to a context word);
- ``UK_NINO``: HMRC prefix letters, six digits, suffix A-D;
- ``IP_ADDRESS``: IPv4 (not inside a longer dotted run) and IPv6 (``ipaddress``);
- ``DATE_OF_BIRTH``: a date next to "born", "DOB", "date of birth", ...;
- ``UK_POSTCODE`` and ``US_ZIP``: only next to address words (or, for a ZIP code, a
  state abbreviation just before it).

Context words count only as whole words ("lic" is not found in "public"). A record's
own values (:class:`KnownValues`) are found in its text whatever their case, spacing or
written format (rule ``known_value``, score 1.0); ``PERSON`` and ``LOCATION`` findings
come only from them.

Overlapping findings are resolved deterministically: the longer span wins, then the
higher score, then the earlier start, then the type name.

The module imports only the standard library when it is loaded; ``phonenumbers`` is
imported the first time a phone number has to be read.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from functools import lru_cache
from typing import Any, NamedTuple

from custrec.redaction.national_ids import NATIONAL_ID_TYPES, find_national_ids

__all__ = [
    "DEFAULT_REGIONS",
    "ENTITY_TYPES",
    "Detector",
    "Finding",
    "KnownValues",
    "iban_valid",
    "luhn_valid",
]

ENTITY_TYPES: tuple[str, ...] = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "UK_NINO",
    "IP_ADDRESS",
    "DATE_OF_BIRTH",
    "UK_POSTCODE",
    "US_ZIP",
    "PERSON",
    "LOCATION",
    *NATIONAL_ID_TYPES,
)

DEFAULT_REGIONS: tuple[str, ...] = ("GB", "US", "DE", "FR", "IE", "NL", "ES", "IN", "AU", "CA")

_TYPE_ORDER = {name: i for i, name in enumerate(ENTITY_TYPES)}


class Finding(NamedTuple):
    """One piece of personal data: ``text[start:end]`` is the finding."""

    start: int
    end: int
    type: str
    score: float
    rule: str
    explanation: str


# --------------------------------------------------------------------------------------
# Public validators


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


def _iban_compact_valid(compact: str) -> bool:
    if not (compact.isascii() and compact.isalnum() and compact[2:4].isdigit()):
        return False
    from stdnum import iban

    # python-stdnum checks the country's length and BBAN format (SWIFT registry) and
    # mod 97.
    return bool(iban.is_valid(compact, check_country=False))


def iban_valid(text: str) -> bool:
    """True when ``text`` (spaces ignored, any case) is an IBAN of a registry country,
    in that country's length and format, with ``mod 97 == 1`` (python-stdnum)."""
    return _iban_compact_valid(text.replace(" ", "").upper())


# --------------------------------------------------------------------------------------
# Context words
#
# The words around a value are read as tokens (letters and digits, with inner dots and
# apostrophes: "d.o.b", "o'neil"; single marks: "#", "$", punctuation) and looked up in
# sets, so context words count only as whole words: "lic" is not found in "public".

_DASHES = "\u2010\u2011\u2012\u2013\u2014"  # hyphen, non-breaking hyphen, figure/en/em dash
_APOSTROPHES = "'\u2019\u2018\u02bc`\u00b4"  # ASCII, right/left quote, modifier, grave, acute
_CTX_TOKEN = re.compile(r"[^\W_]+(?:[.'\u2019][^\W_]+)*\.?|[#$£€¥]|[!?;|.,:/()\[\]\u2013\u2014]")
_SENTENCE_MARKS = frozenset("!?;|.")
_CLAUSE_MARKS = frozenset(",:/()[]!?;|.\u2013\u2014")
_SPACED_MARKS = frozenset("/\u2013\u2014")


@lru_cache(maxsize=65536)
def _norm(token: str) -> str:
    word = token.lower()
    if len(word) > 1 and word.endswith("."):
        word = word[:-1]
    return word.replace("\u2019", "'")


def _spaced(text: str, start: int, end: int) -> bool:
    """True when ``text[start:end]`` has a space on both sides (" / ", a spaced dash)."""
    return start > 0 and end < len(text) and text[start - 1] == " " and text[end] == " "


# Words written with a period that does not end the sentence.
_ABBREVIATIONS = frozenset(
    ("tel", "no", "nr", "st", "rd", "ave", "ref", "inv", "mob", "ph", "dr", "mr", "mrs",
     "ms", "approx", "ext", "vs", "co", "ltd", "inc", "dept", "acct", "est", "fig")
)  # fmt: skip
# Words that join two items: a negative word after one belongs to the next item.
_JOINING_WORDS = frozenset(("and", "or", "und", "oder", "et", "ou", "y", "o", "plus"))


def _ends_sentence(token: str) -> bool:
    """A mark, or a word of three or more characters followed by a period ("updated.",
    "EUR.", "2659."); "Tel.", "No." and "d.o.b." do not end a sentence."""
    if token in _SENTENCE_MARKS:
        return True
    if len(token) < 4 or not token.endswith("."):
        return False
    stem = token[:-1]
    if "." in stem:  # "example.com." ends a sentence, "d.o.b." and "e.g." do not
        return len(stem.rsplit(".", 1)[1]) >= 2
    return stem.lower() not in _ABBREVIATIONS


class _Words:
    """Context words and phrases, case ignored; ``marks`` are single characters."""

    def __init__(self, words: Iterable[str], marks: str = "") -> None:
        single: set[str] = set(marks)
        phrases: dict[str, list[tuple[str, ...]]] = {}
        for phrase in words:
            parts = tuple(_norm(t) for t in _CTX_TOKEN.findall(phrase))
            if len(parts) == 1:
                single.add(parts[0])
            elif parts:
                phrases.setdefault(parts[-1], []).append(parts[:-1])
        self.single = frozenset(single)
        self.phrases = {
            last: tuple(sorted(h, key=len, reverse=True)) for last, h in phrases.items()
        }

    def hit(self, tokens: _Tokens, i: int) -> str | None:
        """The word or phrase of this set ending at token ``i``, or None."""
        word = tokens.word(i)
        heads = self.phrases.get(word)
        if heads:
            for head in heads:
                k = len(head)
                if i >= k and all(tokens.word(i - k + j) == w for j, w in enumerate(head)):
                    return " ".join((*head, word))
        return word if word in self.single else None


_NEGATIVE_COMMON = (
    "order", "orders", "order no", "invoice", "invoices", "inv", "ref", "refs", "reference",
    "tracking", "track", "ticket", "tickets", "case", "booking", "confirmation",
    "conf", "serial", "sku", "parcel", "shipment", "consignment", "transaction", "txn",
    "receipt", "policy", "claim", "po", "batch", "lot", "item", "product", "part",
    "model", "membership", "loyalty", "voucher", "coupon", "promo", "imei", "isbn",
    "ean", "upc", "barcode", "waybill", "rma", "job", "quote", "quotation", "nhs",
    "passport", "licence", "license", "vat",
)  # fmt: skip

_PHONE_POSITIVE = _Words((
    "phone", "phones", "telephone", "tel", "tél", "telefon", "telefono", "mobile", "mob",
    "cell", "cellphone", "call", "called", "calling", "calls", "ring", "rang", "text",
    "texted", "sms", "whatsapp", "fax", "landline", "contact", "reach", "reached", "dial",
    "dialled", "dialed", "callback", "call back", "ph", "voicemail", "handy",
    "desk", "office", "answering", "messages", "registered", "portable", "móvil",
    "movil", "cellulare", "celular", "telefone", "telefonnummer", "rufnummer",
    "numéro", "tel.", "tlf", "puhelin", "telefoon",
))  # fmt: skip
_PHONE_NEGATIVE = _Words(
    (*_NEGATIVE_COMMON, "account", "acct", "id", "version", "ver", "v", "build",
     "release", "firmware", "amount", "total", "price", "usd", "eur", "gbp", "dollars",
     "euros", "pounds", "card", "iban", "ssn", "pin", "code", "customer id", "balance",
     "employee", "staff", "score", "scores", "points", "social security", "tax id",
     "taxpayer", "nino", "national insurance", "ni number"),
    marks="#",
)  # fmt: skip
_CARD_POSITIVE = _Words((
    "card", "cards", "credit", "debit", "visa", "mastercard", "master card", "mc", "amex",
    "american express", "discover", "jcb", "diners", "diners club", "maestro",
    "unionpay", "union pay", "mir", "cc", "pan", "payment", "paid", "pay", "charged",
    "charge", "cardholder", "ending",
))  # fmt: skip
_CARD_NEGATIVE = _Words(_NEGATIVE_COMMON, marks="#")
_IBAN_POSITIVE = _Words((
    "iban", "bank", "account", "acct", "transfer", "sepa", "swift", "bic", "refund",
    "payment", "wire", "direct debit", "debit", "sort code", "konto",
))  # fmt: skip
_SSN_POSITIVE = _Words((
    "ssn", "ssns", "ss", "social", "social security", "security number", "tax id",
    "taxpayer", "taxpayer id", "tin", "itin",
))  # fmt: skip
_SSN_NEGATIVE = _Words((*_NEGATIVE_COMMON, "phone", "call", "tel", "mobile", "fax"))
_NINO_POSITIVE = _Words((
    "national insurance", "nino", "ni", "ni number", "ni no", "insurance number",
    "nat ins", "hmrc",
))  # fmt: skip
_IP_POSITIVE = _Words((
    "ip", "ips", "ip address", "ipv4", "ipv6", "address", "addr", "server", "host",
    "logged", "login", "log", "logs", "connected", "connection", "from", "vpn", "router",
    "gateway", "dns", "proxy", "client", "device", "network", "subnet", "origin",
    "source", "blocked", "whitelist", "allowlist", "firewall", "endpoint",
))  # fmt: skip
_IP_NEGATIVE = _Words((
    "version", "versions", "ver", "v", "build", "release", "firmware", "update",
    "updating", "sdk", "patch", "upgrade", "upgrading", "downgrade", "package", "library",
    "driver", "revision", "rev",
))  # fmt: skip
# Words that suggest an address only weakly: any negative word nearby wins over them.
_IP_WEAK = frozenset({"from", "source", "origin", "device", "client"})
_DOB_HINTS = ("born", "dob", "d.o.b", "birth", "bday", "b-day")
_DOB_WORD = re.compile(
    r"(?:date\s+of\s+birth|birth\s*date|birthday|birth|born|dob|d\.o\.b\.?|b-?day)"
    r"(?![^\W_])",
    re.IGNORECASE,
)
_US_STATE_NAMES = (
    "alabama", "alaska", "arizona", "arkansas", "california", "colorado", "connecticut",
    "delaware", "florida", "georgia", "hawaii", "idaho", "illinois", "indiana", "iowa",
    "kansas", "kentucky", "louisiana", "maine", "maryland", "massachusetts", "michigan",
    "minnesota", "mississippi", "missouri", "montana", "nebraska", "nevada",
    "new hampshire", "new jersey", "new mexico", "new york", "north carolina",
    "north dakota", "ohio", "oklahoma", "oregon", "pennsylvania", "rhode island",
    "south carolina", "south dakota", "tennessee", "texas", "utah", "vermont",
    "virginia", "washington", "west virginia", "wisconsin", "wyoming", "puerto rico",
)  # fmt: skip
_ADDRESS_CONTEXT = _Words((
    "postcode", "post code", "postal code", "postal", "zip", "zipcode", "zip code",
    "address", "addr", "street", "st", "road", "rd", "lane", "ln", "avenue", "ave",
    "drive", "crescent", "court", "ct", "place", "square", "terrace", "way", "boulevard",
    "blvd", "highway", "hwy", "lives", "live", "living", "lived", "resides", "resident",
    "residence", "moved", "deliver", "delivered", "delivery", "ship to", "shipping",
    "shipped", "flat", "house", "apartment", "apt", "suite", "city", "town", "county",
    "village", "mailing", "home", *_US_STATE_NAMES,
))  # fmt: skip
_ZIP_NEGATIVE = _Words(
    (*_NEGATIVE_COMMON, "account", "acct", "id", "code", "pin", "ext", "extension",
     "room", "employee", "box", "pobox", "usd", "eur", "gbp", "dollars", "total",
     "amount", "price", "balance", "year", "years", "km", "miles", "points", "units",
     "qty", "quantity", "x"),
    marks="#$£€¥",
)  # fmt: skip
_US_STATE_BEFORE = re.compile(
    r"(?<!\w)(?:A[LKZR]|C[AOT]|D[EC]|FL|GA|HI|I[DLNA]|K[SY]|LA|M[EDAINSOT]|N[EVHJMYCD]|"
    r"O[HKR]|PA|RI|S[CD]|T[NX]|UT|V[TA]|W[AVIY]|PR)\.?,?\s{1,2}$"
)


def _after_end(text: str, end: int, width: int) -> int:
    """End of a window of ``width`` characters after ``end``, moved to a word's end so
    that no word is cut in two."""
    hi = min(len(text), end + width)
    n = len(text)
    while hi < n and text[hi].isalnum():
        hi += 1
    return hi


class _Context(NamedTuple):
    sign: int  # 1 positive, -1 negative, 0 none
    word: str


_NO_CONTEXT = _Context(0, "")


class _Tokens:
    """The context tokens of one text; normalised words are made when first read."""

    __slots__ = ("_words", "ends", "matches", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.matches = list(_CTX_TOKEN.finditer(text))
        self.ends = [m.end() for m in self.matches]
        self._words: list[str | None] = [None] * len(self.matches)

    def word(self, i: int) -> str:
        w = self._words[i]
        if w is None:
            w = self._words[i] = _norm(self.matches[i].group())
        return w


_LAST_TOKENS: list[_Tokens] = []  # the tokens of the text read last (one entry)


def _tokens(text: str) -> _Tokens:
    """The context tokens of ``text``, kept for the text read last."""
    if _LAST_TOKENS:
        last = _LAST_TOKENS[0]
        if last.text is text:
            return last
    found = _Tokens(text)
    _LAST_TOKENS[:] = [found]
    return found


def _context(
    text: str,
    start: int,
    end: int,
    positive: _Words | None,
    negative: _Words | None = None,
    *,
    before: int = 40,
    after: int = 20,
    negative_before: int = 25,
    negative_after: int = 12,
    weak: frozenset[str] = frozenset(),
    clause: bool = False,
) -> _Context:
    """The context of ``text[start:end]`` within its sentence: the nearest positive or
    negative word before it wins (a ``weak`` positive word loses to a negative one
    before it); else a positive word shortly after; else a negative word shortly after,
    in the same clause. With ``clause``, words before the value count only up to the
    previous comma or semicolon."""
    tok = _tokens(text)
    matches, ends = tok.matches, tok.ends
    lo = start - before
    neg_lo = start - negative_before
    weak_hit = None
    negatives = negative
    last = bisect_right(ends, start) - 1
    first = last
    while first >= 0 and matches[first].start() >= lo:
        first -= 1
    for i in range(last, first, -1):
        m = matches[i]
        token = m.group()
        if _ends_sentence(token) or (token in _SPACED_MARKS and _spaced(text, m.start(), m.end())):
            break
        neg = negatives.hit(tok, i) if negatives is not None and ends[i] >= neg_lo else None
        pos = positive.hit(tok, i) if positive is not None else None
        if neg is not None and pos is not None:
            # "zip code": the longer phrase wins over its last word.
            if pos.count(" ") > neg.count(" "):
                neg = None
            else:
                pos = None
        if neg is not None:
            # "CC#", "SS#": a sign right after a positive word belongs to that word.
            if (
                neg == "#"
                and i > 0
                and positive is not None
                and ends[i - 1] >= m.start() - 1
                and (prev := positive.hit(tok, i - 1)) is not None
            ):
                return _Context(1, prev)
            return _Context(-1, neg)
        if pos is not None and weak_hit is None:
            if negatives is None or pos not in weak:
                return _Context(1, pos)
            weak_hit = pos
        if token in ",;" and clause:
            break  # positive words count only in the same clause
        if negatives is not None and (
            token in ",)" or _ANY_DIGIT.search(token) is not None or tok.word(i) in _JOINING_WORDS
        ):
            # a word before another number, a comma, a closing bracket or "and" is
            # about something else
            negatives = None
    if weak_hit is not None:
        return _Context(1, weak_hit)
    if text.startswith(".", end) and (end + 1 == len(text) or text[end + 1].isspace()):
        return _NO_CONTEXT  # the sentence ends right after the value
    first = bisect_right(ends, end)
    while first < len(matches) and matches[first].start() < end:
        first += 1  # a token running into the value is not after it
    stop = first
    hi = end + max(after if positive is not None else 0, negative_after)
    while stop < len(matches) and matches[stop].start() < hi:
        stop += 1
    if stop == first:
        return _NO_CONTEXT
    if positive is not None:
        hi = end + after
        for i in range(first, stop):
            m = matches[i]
            token = m.group()
            if m.start() >= hi or token in ",;" or tok.word(i) in _JOINING_WORDS:
                break
            if token in _SPACED_MARKS and _spaced(text, m.start(), m.end()):
                break
            hit = positive.hit(tok, i)
            if hit is not None:
                return _Context(1, hit)
            if _ends_sentence(token):
                break
    if negative is not None:
        hi = end + negative_after
        for i in range(first, stop):
            m = matches[i]
            token = m.group()
            if m.start() >= hi or token in _CLAUSE_MARKS or tok.word(i) in _JOINING_WORDS:
                break
            hit = negative.hit(tok, i)
            if hit is not None:
                return _Context(-1, hit)
            if _ends_sentence(token):
                break
    return _NO_CONTEXT


def _ctx_note(ctx: _Context) -> str:
    if ctx.sign > 0:
        return f"; context word '{ctx.word}'"
    if ctx.sign < 0:
        return f"; lowered by context '{ctx.word}'"
    return ""


# --------------------------------------------------------------------------------------
# Patterns

_ANY_DIGIT = re.compile(r"\d")

_EMAIL = re.compile(
    r"(?<![\w%+\-])[\w%+\-][\w.%+\-]*@"
    r"(?:[^\W_](?:[\w\-]{0,61}[^\W_])?\.)+[^\W\d_]{2,24}"
    r"(?![\w\-]|\.[^\W_])"
)

# 12-19 digits, single spaces or dashes allowed between them, not inside a longer run.
_CARD = re.compile(r"(?<![\w\-])(?<!\d[ \-])\d(?:[ \-]?\d){11,18}(?![\w\-]|[ ]\d)")

# A country code, two check digits, then 11-30 letters/digits, optionally in groups.
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}")

_SSN = re.compile(r"(?<![\w\-])(?<!\d[ .])(\d{3})([\- ]?)(\d{2})\2(\d{4})(?![\w\-]|[ .]\d)")
_SSN_INVALID = frozenset(
    {"078051120", "123456789", "219099999", "457555462", "987654320", "987654321",
     "987654322", "987654323", "987654324", "987654325", "987654326", "987654327",
     "987654328", "987654329"}
)  # fmt: skip

_NINO = re.compile(
    r"(?<!\w)([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z])[ ]?(\d{2})[ ]?(\d{2})[ ]?(\d{2})[ ]?"
    r"([A-D])(?!\w)",
    re.IGNORECASE,  # written in capitals, or all in small letters (see _find_ninos)
)
_NINO_BAD_PREFIXES = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\w.])(?<!\d\.){_OCTET}(?:\.{_OCTET}){{3}}(?!\.?\d)(?!\w)")
_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{1,4})?"
    r"(?![\w:])"
)

_MONTHS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_MONTH_NUMBER = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_DATE = re.compile(
    r"(?<![\w/.\-])(?<!\d[/.\-])(?:"
    r"(?P<iy>(?:19|20)\d\d)(?P<isep>[\-/.])(?P<im>\d{1,2})(?P=isep)(?P<id>\d{1,2})"
    r"|(?P<na>\d{1,2})(?P<nsep>[\-/.])(?P<nb>\d{1,2})(?P=nsep)(?P<ny>(?:19|20)?\d\d)"
    rf"|(?P<td>\d{{1,2}})(?:st|nd|rd|th)?[ \-](?:of[ ])?(?P<tm>{_MONTHS})\.?,?[ \-]"
    r"(?P<ty>(?:19|20)\d\d)"
    rf"|(?P<mm>{_MONTHS})\.?[ ](?P<md>\d{{1,2}})(?:st|nd|rd|th)?,?[ ](?P<my>(?:19|20)\d\d)"
    r")(?!\w|[/.\-]\d)",
    re.IGNORECASE,
)

_UK_POSTCODE = re.compile(
    r"(?<!\w)(?:GIR ?0AA|[A-PR-UWYZ](?:\d\d?|\d[A-HJKPSTUW]|[A-HK-Y]\d\d?|[A-HK-Y]\d[ABEHMNPRV-Y])"
    r" ?\d[ABD-HJLNP-UW-Z]{2})(?!\w)",
    re.IGNORECASE,
)
_US_ZIP = re.compile(r"(?<![\w\-.,$£€])(?<!\d )(\d{5})(?:-(\d{4}))?(?!\w|[\-., ]\d)")

# Phone candidates: digit groups joined by one separator (or brackets), with an
# optional leading "+". Spans the phone reader must not look into are masked first.
_PHONE_WINDOW = re.compile(
    r"(?<![\w+\-/])(?<!\d\.)(?:\(?\+[ ]?\(?|\()?"
    r"(?>\d+(?:(?:[ ]?[()][ \-.]?|[ \-./])\d+)*)"
    r"(?!(?!x\d)\w)"  # an extension ("x549") may follow
)
# Spans inside a digit run that a phone number is not read across: dates, IPv4.
_PHONE_BLOCK = re.compile(
    r"(?<![\w\-/.])(?<!\d[\-/.])(?:\d{4}[\-/.]\d{1,2}[\-/.]\d{1,2}"
    r"|\d{1,2}[\-/.]\d{1,2}[\-/.](?:\d{4}|\d{2}))(?![\-/.]?\d)"
    rf"|(?<![\w.])(?<!\d\.){_OCTET}(?:\.{_OCTET}){{3}}(?!\.?\d)"
)
_PHONE_MIN_DIGITS = 6
_AMOUNT = re.compile(r"\d{1,3}(?:[ ,.]\d{3})+[.,]\d\d")  # "1 234 567.89", "12.345,00"
_PHONE_EXTENSION = re.compile(r"[ ]?(?:x|ext\.?|extn\.?|extension)[ ]?\d{1,6}\b", re.IGNORECASE)
_NANP_LAYOUT = re.compile(r"\(?[2-9]\d\d\)?[ .\-]?\d{3}[ .\-]\d{4}|[01]\d\d[.\-]\d{3}[.\-]\d{4}")
_STREET_AFTER = re.compile(
    r"[ ](?:[A-Z][\w'\-]*[ ]){0,3}(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Way|"
    r"Court|Ct|Place|Pl|Square|Sq|Squares|Boulevard|Blvd|Crescent|Cres|Heights|Row|Green|"
    r"Greens|Terrace|Close|Parkway|Pkwy|Highway|Hwy|Trail|Circle|Park|Walk|Gardens|Hill|"
    r"Stream|Bridge|Mews|Rise|Vale|View|Grove|Alley|Plaza|Straße|Strasse|Str|Weg|Gasse)\b"
    r"|[ ](?i:rue|avenue|av|via|viale|vicolo|piazza|calle|avenida|rua|travessa|ul|ulica|"
    r"aleja|chemin|boulevard|bd|allée|impasse|place|plac|gatan|vägen|straat|laan|plein)\b"
)
_SSN_SHAPE = re.compile(r"\d{3}-\d{2}-\d{4}")
_ZIP_SHAPE = re.compile(r"\d{5}-\d{4}")
_PAIRS = re.compile(r"[1-9]\d?(?:[ .\-]\d\d?){3,}")
_DECIMAL = re.compile(r"(?:0|[1-9]\d*)\.\d+")
_CURRENCY_SIGNS = frozenset("$£€¥₹₽₩")
_NON_DIGIT = re.compile(r"\D+")
# Digit groups joined by single separators (or brackets): the places where values
# holding digits are looked for.
_NUM_RUN = re.compile(r"\d+(?:(?:[ \-./]|[ ]?[()][ \-.]?)\d+)*")
_IBAN_HEAD = re.compile(r"[A-Z]{2}\d\d")
_ESCAPED_SEPARATOR = re.compile(r"\\[nrt]")


# --------------------------------------------------------------------------------------
# Detectors. Each appends candidate findings to ``out``.


def _find_emails(text: str, out: list[Finding]) -> None:
    for m in _EMAIL.finditer(text):
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
    head = _IBAN_HEAD.search(text, max(0, start - 45), start)
    while head is not None:
        m = _IBAN.match(text, head.start())
        if m is not None and m.end() >= end:
            return True
        head = _IBAN_HEAD.search(text, head.start() + 1, start)
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


def _find_cards(text: str, out: list[Finding], lo: int, hi: int) -> None:
    for m in _CARD.finditer(text, lo, hi):
        raw = m.group()
        digits = raw.replace(" ", "").replace("-", "")
        issuer = card_issuer(digits)
        if issuer is None or not luhn_valid(digits) or not _card_grouping_ok(raw):
            continue
        start, end = m.span()
        if _inside_iban_shape(text, start, end) or _written_as_phone(text, start, digits):
            continue
        ctx = _context(text, start, end, _CARD_POSITIVE, _CARD_NEGATIVE)
        score = 1.0 if ctx.sign > 0 else 0.3 if ctx.sign < 0 else 0.85
        out.append(
            Finding(
                start, end, "CREDIT_CARD", score, "credit_card",
                f"{issuer} range and length; Luhn checksum valid{_ctx_note(ctx)}",
            )
        )  # fmt: skip


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


def _find_iban(text: str, out: list[Finding], at: int) -> None:
    m = _IBAN.match(text, at)
    if m is None:
        return
    span = _iban_span(text, m)
    if span is None:
        return
    start, end, compact = span
    if not _iban_compact_valid(compact):
        return
    ctx = _context(text, start, end, _IBAN_POSITIVE)
    score = 1.0 if ctx.sign > 0 else 0.9
    out.append(
        Finding(
            start, end, "IBAN_CODE", score, "iban_code",
            f"{compact[:2]} IBAN length {len(compact)}; mod-97 check valid{_ctx_note(ctx)}",
        )
    )  # fmt: skip


def _ssn_issued(area: str, group: str, serial: str) -> bool:
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    whole = area + group + serial
    return whole not in _SSN_INVALID and len(set(whole)) > 1


def _find_ssns(text: str, out: list[Finding], lo: int, hi: int) -> None:
    for m in _SSN.finditer(text, lo, hi):
        area, sep, group, serial = m.groups()
        if not _ssn_issued(area, group, serial):
            continue
        start, end = m.span()
        ctx = _context(text, start, end, _SSN_POSITIVE, _SSN_NEGATIVE)
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
                f"area/group/serial in issued ranges ({written}){_ctx_note(ctx)}",
            )
        )  # fmt: skip


def _find_ninos(text: str, out: list[Finding], lo: int, hi: int) -> None:
    for m in _NINO.finditer(text, lo, hi):
        letters = m.group(1) + m.group(5)
        if not (letters.isupper() or letters.islower()):
            continue  # "Ab123456c": mixed case is a code, not a NINO as people write it
        if letters[:2].upper() in _NINO_BAD_PREFIXES:
            continue
        start, end = m.span()
        ctx = _context(text, start, end, _NINO_POSITIVE)
        score = 1.0 if ctx.sign > 0 else 0.85
        out.append(
            Finding(
                start, end, "UK_NINO", score, "uk_nino",
                f"HMRC prefix letters, six digits, suffix A-D{_ctx_note(ctx)}",
            )
        )  # fmt: skip


def _find_ipv4(text: str, out: list[Finding], lo: int, hi: int) -> None:
    for m in _IPV4.finditer(text, lo, hi):
        start, end = m.span()
        ctx = _context(text, start, end, _IP_POSITIVE, _IP_NEGATIVE, weak=_IP_WEAK)
        score = 0.95 if ctx.sign > 0 else 0.3 if ctx.sign < 0 else 0.75
        out.append(
            Finding(
                start, end, "IP_ADDRESS", score, "ip_address",
                f"IPv4 address, four octets 0-255{_ctx_note(ctx)}",
            )
        )  # fmt: skip


def _find_ipv6(text: str, out: list[Finding]) -> None:
    for m in _IPV6.finditer(text):
        cand = m.group()
        if not _ANY_DIGIT.search(cand):
            continue
        try:
            ipaddress.IPv6Address(cand)
        except ValueError:
            continue
        start, end = m.span()
        ctx = _context(text, start, end, _IP_POSITIVE)
        score = 0.95 if ctx.sign > 0 else 0.85
        out.append(
            Finding(
                start, end, "IP_ADDRESS", score, "ip_address",
                f"IPv6 address (ipaddress accepts it){_ctx_note(ctx)}",
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


def _parse_date(m: re.Match[str]) -> list[date]:
    """The dates a match of ``_DATE`` can mean (day/month order is ambiguous)."""
    g = m.groupdict()
    found: list[date] = []
    if g["iy"] is not None:
        cand = [_valid_date(int(g["iy"]), int(g["im"]), int(g["id"]))]
    elif g["na"] is not None:
        y = _year(g["ny"])
        a, b = int(g["na"]), int(g["nb"])
        cand = [_valid_date(y, b, a), _valid_date(y, a, b)]
    elif g["td"] is not None:
        month = _MONTH_NUMBER[g["tm"][:3].lower()]
        cand = [_valid_date(int(g["ty"]), month, int(g["td"]))]
    else:
        month = _MONTH_NUMBER[g["mm"][:3].lower()]
        cand = [_valid_date(int(g["my"]), month, int(g["md"]))]
    for c in cand:
        if c is not None and 1900 <= c.year <= 2100 and c not in found:
            found.append(c)
    return found


def _dob_words(text: str, low: str) -> list[tuple[int, int, str]]:
    """The date-of-birth context words in ``text`` (``low`` is its lower case), as
    whole words: (start, end, word)."""
    hits: dict[int, tuple[int, int, str]] = {}
    for hint in _DOB_HINTS:
        q = low.find(hint)
        while q >= 0:
            p = q
            if hint == "birth" and low[max(0, q - 9) : q].rstrip().endswith("date of"):
                p = low.rfind("date", 0, q)  # "date of birth" starts before "birth"
            if p not in hits and (p == 0 or not text[p - 1].isalnum()):
                m = _DOB_WORD.match(text, p)
                if m is not None:
                    hits[p] = (p, m.end(), " ".join(m.group().lower().split()))
            q = low.find(hint, q + len(hint))
    return sorted(hits.values())


def _find_dobs(text: str, out: list[Finding]) -> None:
    low = text.lower()
    if not any(hint in low for hint in _DOB_HINTS):
        return
    hits = _dob_words(text, low)
    if not hits:
        return
    by_span: dict[tuple[int, int], re.Match[str]] = {}
    for s, e, _ in hits:  # dates are looked for near the context words only
        # (up to 60 characters after the word; a date is at most about 30 long: without
        # an end, a text of context words and no date was searched to its end each time)
        for m in _DATE.finditer(text, max(0, s - 45), e + 100):
            if m.start() > e + 60:
                break
            if m.span() not in by_span and _parse_date(m):
                by_span[m.span()] = m
    dates = [by_span[k] for k in sorted(by_span)]
    starts = [s for s, _, _ in hits]  # sorted: only the words near a date are looked at
    for k, m in enumerate(dates):
        start, end = m.span()
        # The context word is the nearest one, with no other date between it and this one.
        lo = max(start - 45, dates[k - 1].end() if k > 0 else 0)
        hi = _after_end(text, end, 25)
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


def _find_postcodes(text: str, out: list[Finding], lo: int, hi: int) -> None:
    for m in _UK_POSTCODE.finditer(text, lo, hi):
        start, end = m.span()
        ctx = _context(text, start, end, _ADDRESS_CONTEXT, before=60, after=25)
        if ctx.sign <= 0:
            continue
        score = 0.9 if m.group().isupper() else 0.7
        out.append(
            Finding(
                start, end, "UK_POSTCODE", score, "uk_postcode",
                f"UK postcode format{_ctx_note(ctx)}",
            )
        )  # fmt: skip


def _find_zips(text: str, out: list[Finding], lo: int, hi: int) -> None:
    for m in _US_ZIP.finditer(text, lo, hi):
        start, end = m.span()
        if m.group(1) == "00000" or (m.group(2) is not None and m.group(2) == "0000"):
            continue
        if _US_STATE_BEFORE.search(text, max(0, start - 6), start) is not None:
            ctx = _context(text, start, end, None, _ZIP_NEGATIVE, negative_after=0)
            if ctx.sign < 0:
                continue
            note = "; after a US state abbreviation"
            score = 0.9
        else:
            ctx = _context(text, start, end, _ADDRESS_CONTEXT, _ZIP_NEGATIVE, before=60)
            if ctx.sign <= 0:
                continue
            note = _ctx_note(ctx)
            score = 0.8
        form = "ZIP+4" if m.group(2) else "five-digit ZIP code"
        out.append(Finding(start, end, "US_ZIP", score, "us_zip", f"{form}{note}"))


# --------------------------------------------------------------------------------------
# Phone numbers


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
def _phone_support(regions: tuple[str, ...]) -> _PhoneSupport:
    return _PhoneSupport(regions)


def _count_digits(text: str) -> int:
    return len(_NON_DIGIT.sub("", text))


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    parts = []
    last = 0
    for start, end in spans:
        parts.append(text[last:start])
        parts.append("x" * (end - start))
        last = end
    parts.append(text[last:])
    return "".join(parts)


def _find_phones_in_run(
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
        blocked = [m.span() for m in _PHONE_BLOCK.finditer(text, run_start, min(n, run_end + 2))]
    head = _IBAN_HEAD.search(text, max(0, run_start - 45), run_end)
    if head is not None:
        for m in _IBAN.finditer(text, head.start(), min(n, run_end + 2)):
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
    for w in _PHONE_WINDOW.finditer(scanned, lo - base, hi - base):
        start, end = w.start() + base, w.end() + base
        window = text[start:end]
        digits = _NON_DIGIT.sub("", window)
        ndigits = len(digits)
        if ndigits < _PHONE_MIN_DIGITS:
            continue
        if start >= 2 and text[start - 1] == ":" and text[start - 2].isdigit():
            continue  # the seconds of a time ("13:34:05.298954")
        if _STREET_AFTER.match(text, end):
            continue  # a house number ("0305 530 Briarwood Drive")
        international = window.lstrip("(").startswith("+")
        idd = digits.startswith("00") or digits.startswith("011")
        if ndigits > (17 if idd else 15):
            continue
        if ndigits >= 13 and not (international or idd):
            continue  # card-length runs are not phone numbers
        if _SSN_SHAPE.fullmatch(window) or _DECIMAL.fullmatch(window) or _AMOUNT.fullmatch(window):
            continue  # an SSN-shaped or decimal number, an amount
        if _ZIP_SHAPE.fullmatch(window) and _US_STATE_BEFORE.search(text, max(0, start - 6), start):
            continue  # "MA 02108-9667" is a ZIP+4 code
        before = text[max(0, start - 2) : start].strip()
        if before and before[-1] in _CURRENCY_SIGNS:
            continue  # an amount
        support = _phone_support(regions)
        regions_found = [] if international else support.national_regions(digits)
        ctx = _context(text, start, end, _PHONE_POSITIVE, _PHONE_NEGATIVE, clause=True)
        if ctx.sign < 0:
            score = 0.3
        elif ctx.sign > 0:
            score = 0.9
        elif international or idd:
            score = 0.7
        elif _PAIRS.fullmatch(window):
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
        extension = _PHONE_EXTENSION.match(text, found_end)
        if extension is not None:
            found_end = extension.end()
        out.append(
            Finding(
                start + span[0], found_end, "PHONE_NUMBER", score, "phone_number",
                f"{how}{_ctx_note(ctx)}",
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
    if _NANP_LAYOUT.fullmatch(window):
        return "ten digits in the North American layout", 0.6
    return None


# --------------------------------------------------------------------------------------
# A record's own values

_TOKEN = re.compile(r"\w+")
_GAP_CHARS = frozenset(" \t\r\n\u00a0\u2009\u202f-.,/" + _DASHES + _APOSTROPHES)
_MAX_GAP = 3
_DIGIT_RUN = re.compile(r"\d(?:(?:[ \-./]|[ ]?[()][ ]?){0,2}\d)*")
_LOCATION_SPLIT = re.compile(r"[,;\n]+")
_NAME_SPLIT = re.compile(rf"[\s\-{_DASHES}]+")


@lru_cache(maxsize=65536)
def _fold(token: str) -> str:
    """``token`` in lower case without accents (for comparisons only)."""
    low = token.lower()
    if low.isascii():
        return low
    # the modifier letter apostrophe counts as a letter in words: drop it like "'"
    decomposed = unicodedata.normalize("NFKD", low.replace("\u02bc", ""))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _key(value: str) -> str:
    return "".join(_fold(t) for t in _TOKEN.findall(value))


def _lower_same_length(text: str) -> str:
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def _gap_ok(gap: str) -> bool:
    if len(gap) > _MAX_GAP:
        return False
    return all(c in _GAP_CHARS or unicodedata.combining(c) for c in gap)


class _KnownPhone(NamedTuple):
    nsn: str
    prefixes: tuple[str, ...]  # longest first; "" last
    number: tuple[int, int] | None  # (country code, national number) when it parsed


class KnownValues:
    """A record's own values, to be found in its free text.

    ``values`` maps an entity type (one of :data:`ENTITY_TYPES`) to the record's values
    of that type; ``region`` is the default region for reading phone numbers written
    without a country code. ``PERSON`` values are also matched part by part (each part
    of two or more characters, as a whole word); ``LOCATION`` values also by their
    comma-separated components.
    """

    def __init__(self, values: Mapping[str, Iterable[str]], region: str | None = None) -> None:
        self.region = region
        self._keys: dict[str, str] = {}
        self._emails: list[str] = []
        self._phones: list[_KnownPhone] = []
        self._dates: set[date] = set()
        self.types: frozenset[str] = frozenset()
        types = set()
        for etype in sorted(values, key=lambda t: _TYPE_ORDER.get(t, len(_TYPE_ORDER))):
            if etype not in _TYPE_ORDER:
                raise ValueError(f"unknown entity type {etype!r}; expected one of {ENTITY_TYPES}")
            given = values[etype]
            for value in [given] if isinstance(given, str) else given:
                if not isinstance(value, str) or not value.strip():
                    continue
                types.add(etype)
                self._add(etype, value.strip())
        self.types = frozenset(types)
        self._phone_numbers = frozenset(p.number for p in self._phones if p.number is not None)
        self._prefixes = frozenset(key[:i] for key in self._keys for i in range(1, len(key) + 1))

    def _add_key(self, key: str, etype: str, minimum: int = 2) -> None:
        if len(key) >= minimum and key not in self._keys:
            self._keys[key] = etype

    def _add(self, etype: str, value: str) -> None:
        if etype == "EMAIL_ADDRESS":
            email = _lower_same_length(value)
            if email not in self._emails:
                self._emails.append(email)
            return
        if etype == "PHONE_NUMBER":
            phone = _known_phone(value, self.region)
            if phone is not None and phone not in self._phones:
                self._phones.append(phone)
            return
        if etype == "DATE_OF_BIRTH":
            for m in _DATE.finditer(value):
                self._dates.update(_parse_date(m))
        if etype == "PERSON":
            self._add_key(_key(value), etype)
            # each part, and each run of consecutive parts ("García López" of
            # "José García López")
            parts = [k for k in (_key(p) for p in _NAME_SPLIT.split(value)) if k]
            for i in range(len(parts)):
                for j in range(i + 1, min(len(parts), i + 6) + 1):
                    self._add_key("".join(parts[i:j]), etype)
            return
        if etype == "LOCATION":
            self._add_key(_key(value), etype)
            for part in _LOCATION_SPLIT.split(value):
                key = _key(part)
                if key.isdigit() and len(key) < 4:
                    continue  # a house number alone is not the address
                self._add_key(key, etype)
            return
        self._add_key(_key(value), etype)

    def find(self, text: str, types: frozenset[str] | None = None) -> list[Finding]:
        """The record's values found in ``text`` (rule ``known_value``, score 1.0)."""
        out: list[Finding] = []
        wanted = self.types if types is None else self.types & types
        if not wanted or not text:
            return out
        if "EMAIL_ADDRESS" in wanted and self._emails and "@" in text:
            self._find_emails(text, out)
        if "PHONE_NUMBER" in wanted and self._phones:
            self._find_phones(text, out)
        if "DATE_OF_BIRTH" in wanted and self._dates:
            for m in _DATE.finditer(text):
                if self._dates.intersection(_parse_date(m)):
                    out.append(
                        Finding(
                            m.start(), m.end(), "DATE_OF_BIRTH", 1.0, "known_value",
                            "the same date as the record's DATE_OF_BIRTH value",
                        )
                    )  # fmt: skip
        if self._keys:
            self._find_keys(text, out, wanted)
        return out

    def _find_emails(self, text: str, out: list[Finding]) -> None:
        low = _lower_same_length(text)
        for email in self._emails:
            i = low.find(email)
            while i >= 0:
                end = i + len(email)
                before = low[i - 1] if i > 0 else " "
                after = low[end] if end < len(low) else " "
                if not (before.isalnum() or before in "._%+-") and not (
                    after.isalnum() or after in "_-"
                ):
                    out.append(
                        Finding(
                            i, end, "EMAIL_ADDRESS", 1.0, "known_value",
                            "the record's EMAIL_ADDRESS value (case ignored)",
                        )
                    )  # fmt: skip
                i = low.find(email, i + 1)

    def _find_phones(self, text: str, out: list[Finding]) -> None:
        for run in _DIGIT_RUN.finditer(text):
            raw = run.group()
            base = run.start()
            positions = [base + i for i, c in enumerate(raw) if c.isdigit()]
            digits = "".join(text[p] for p in positions)
            found_here = False
            for phone in self._phones:
                nsn = phone.nsn
                i = digits.find(nsn)
                while i >= 0:
                    last = i + len(nsn) - 1
                    glued_after = (
                        last + 1 < len(digits) and positions[last + 1] == positions[last] + 1
                    )
                    if not glued_after:
                        span = _phone_prefix(text, digits, positions, i, phone.prefixes)
                        if span is not None:
                            found_here = True
                            out.append(
                                Finding(
                                    span, positions[last] + 1, "PHONE_NUMBER", 1.0,
                                    "known_value",
                                    "the same number as the record's PHONE_NUMBER value",
                                )
                            )  # fmt: skip
                    i = digits.find(nsn, i + 1)
            if not found_here and len(digits) >= 6 and self._phone_numbers:
                self._parse_run(text, run.start(), run.end(), out)

    def _parse_run(self, text: str, start: int, end: int, out: list[Finding]) -> None:
        """A run of digits read as one phone number of the record's region: national
        formats that do not hold the national number as it is ("011 15-2345-6789" in
        Argentina) are found so."""
        import phonenumbers

        if start > 0 and text[start - 1] == "+":
            start -= 1
        try:
            number = phonenumbers.parse(text[start:end], self.region)
        except phonenumbers.NumberParseException:
            return
        if (number.country_code, number.national_number) in self._phone_numbers:
            out.append(
                Finding(
                    start, end, "PHONE_NUMBER", 1.0, "known_value",
                    "the same number as the record's PHONE_NUMBER value (read as a whole)",
                )
            )  # fmt: skip

    def _find_keys(self, text: str, out: list[Finding], wanted: frozenset[str]) -> None:
        tokens = [(m.start(), m.end(), _fold(m.group())) for m in _TOKEN.finditer(text)]
        keys = self._keys
        prefixes = self._prefixes
        n = len(tokens)
        for i in range(n):
            acc = tokens[i][2]
            if acc not in prefixes:
                continue
            best: tuple[int, str] | None = None
            j = i
            while True:
                etype = keys.get(acc)
                if etype is not None:
                    best = (j, etype)
                j += 1
                if j >= n or not _gap_ok(text[tokens[j - 1][1] : tokens[j][0]]):
                    break
                acc += tokens[j][2]
                if acc not in prefixes:
                    break
            if best is not None and best[1] in wanted:
                out.append(
                    Finding(
                        tokens[i][0], tokens[best[0]][1], best[1], 1.0, "known_value",
                        f"the record's {best[1]} value (case, accents and spacing ignored)",
                    )
                )  # fmt: skip


def _phone_prefix(
    text: str, digits: str, positions: list[int], i: int, prefixes: tuple[str, ...]
) -> int | None:
    """Start offset of a known number whose national digits begin at digit ``i``: the
    longest allowed prefix (country code, trunk prefix, ...) written just before them,
    with a leading ``+`` or ``(`` included; None when digits are glued to it."""
    for prefix in prefixes:
        k = i - len(prefix)
        if k < 0 or digits[k:i] != prefix:
            continue
        if k > 0 and positions[k - 1] == positions[k] - 1:
            continue  # more digits directly before: another number
        start = positions[k]
        if start > 0 and text[start - 1] == "+":
            start -= 1
        if start > 0 and text[start - 1] == "(":
            start -= 1
        return start
    return None


_KNOWN_PHONE_DIGITS = 6
"""The fewest digits of a record's phone value looked for in its text: no numbering
plan has shorter subscriber numbers, and a masked number keeps only 4."""


def _known_phone(value: str, region: str | None) -> _KnownPhone | None:
    import phonenumbers  # slow to import: only when a record has phone numbers

    digits = _NON_DIGIT.sub("", value)
    if len(digits) < _KNOWN_PHONE_DIGITS:
        return None  # not a phone number (e.g. a masked one): nothing to look for
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and number.national_number:
        nsn = phonenumbers.national_significant_number(number)
        cc = str(number.country_code)
        prefixes = {"", "0", cc, cc + "0", "00" + cc, "00" + cc + "0", "011" + cc, "+" + cc}
        own = phonenumbers.region_code_for_number(number) or region
        if own:
            ndd = phonenumbers.ndd_prefix_for_region(own, True)
            if ndd:
                prefixes.add(ndd)
        prefixes = {p for p in prefixes if p.isdigit() or p == ""}
        return _KnownPhone(
            nsn,
            tuple(sorted(prefixes, key=lambda p: (-len(p), p))),
            (number.country_code or 0, number.national_number),
        )
    if len(digits) < 4:
        return None
    if digits.startswith("00"):
        digits = digits[2:]
    elif digits.startswith("0"):
        digits = digits[1:]
    return _KnownPhone(digits, ("0", "00", ""), None)


# --------------------------------------------------------------------------------------
# The detector


def _resolve(found: list[Finding]) -> list[Finding]:
    """Non-overlapping findings, sorted by start: the longer span wins, then the higher
    score, then the earlier start, then the type name."""
    if len(found) <= 1:
        return found
    found.sort(key=lambda f: (f.start - f.end, -f.score, f.start, f.type, f.rule, f.explanation))
    # The spans chosen so far, sorted: they do not overlap, so their ends are sorted
    # too, and a new span overlaps one of them exactly when the last one starting
    # before it ends ends after it starts. (Comparing with each chosen span was
    # quadratic: a line of 20,000 email addresses took 20 seconds.)
    spans: list[tuple[int, int]] = []
    chosen: list[Finding] = []
    for f in found:
        before = bisect_left(spans, (f.end, -1))  # the spans starting before f ends
        if before and spans[before - 1][1] > f.start:
            continue
        insort(spans, (f.start, f.end))
        chosen.append(f)
    chosen.sort(key=lambda f: (f.start, f.end))
    return chosen


class Detector:
    """Scan short texts for personal data.

    ``types`` limits the entity types reported (default: all of :data:`ENTITY_TYPES`);
    ``regions`` are the regions whose national phone formats are read; only findings
    scoring at least ``threshold`` are reported.
    """

    def __init__(
        self,
        *,
        types: Iterable[str] | None = None,
        regions: Sequence[str] = DEFAULT_REGIONS,
        threshold: float = 0.5,
    ) -> None:
        chosen = ENTITY_TYPES if types is None else tuple(types)
        unknown = [t for t in chosen if t not in _TYPE_ORDER]
        if unknown:
            raise ValueError(f"unknown entity types {unknown}; expected some of {ENTITY_TYPES}")
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be within 0..1, not {threshold}")
        if isinstance(regions, str):
            raise TypeError("regions must be a sequence of region codes, not one string")
        self.types: frozenset[str] = frozenset(chosen)
        self.regions: tuple[str, ...] = tuple(r.upper() for r in regions)
        self.threshold = float(threshold)
        t = self.types
        self._email = "EMAIL_ADDRESS" in t
        self._phone = "PHONE_NUMBER" in t
        self._card = "CREDIT_CARD" in t
        self._iban = "IBAN_CODE" in t
        self._ssn = "US_SSN" in t
        self._nino = "UK_NINO" in t
        self._ipv4 = self._ipv6 = "IP_ADDRESS" in t
        self._dob = "DATE_OF_BIRTH" in t
        self._postcode = "UK_POSTCODE" in t
        self._zip = "US_ZIP" in t
        self._national = not self.types.isdisjoint(NATIONAL_ID_TYPES)
        self._runs = any(
            (self._phone, self._card, self._iban, self._ssn, self._nino, self._ipv4,
             self._postcode, self._zip)
        )  # fmt: skip

    def find(self, text: str, known: KnownValues | None = None) -> list[Finding]:
        """Findings in ``text``: sorted by start, non-overlapping, of the detector's
        types, each scoring at least the threshold."""
        found: list[Finding] = []
        if "\\" in text:
            # Escaped exports write a line break as the two characters "\n": read them
            # as the separators they stand for (two spaces keep every offset).
            text = _ESCAPED_SEPARATOR.sub("  ", text)
        if text:
            if self._email and "@" in text:
                _find_emails(text, found)
            if self._ipv6 and ("::" in text or text.count(":") >= 6):
                _find_ipv6(text, found)
            if self._dob:
                _find_dobs(text, found)
            if self._runs:
                self._find_in_runs(text, found)
            if self._national:
                found.extend(
                    Finding(c.start, c.end, c.type, c.score, "national_id", c.explanation)
                    for c in find_national_ids(text, self.types)
                )
        if known is not None:
            found.extend(known.find(text, self.types))
        threshold = self.threshold
        if any(f.score < threshold for f in found):
            found = [f for f in found if f.score >= threshold]
        return _resolve(found)

    def _find_in_runs(self, text: str, found: list[Finding]) -> None:
        """The detectors of values holding digits, each run on the few characters around
        one run of digits (groups joined by single separators)."""
        n = len(text)
        for run in _NUM_RUN.finditer(text):
            start, end = run.span()
            letter_before = start > 0 and text[start - 1].isalpha()
            if end - start < 4 and not letter_before:
                continue  # too short for any of them but a postcode or IBAN
            raw = run.group()
            nd = len(raw) if raw.isdigit() else len(_NON_DIGIT.sub("", raw))
            after = min(n, end + 2)
            if (
                self._iban
                and start >= 2
                and letter_before
                and text[start - 2].isalpha()
                and text[start - 2 : start].isupper()
                and text[start - 2 : start].isascii()
            ):
                _find_iban(text, found, start - 2)
            if nd >= 12:
                if self._card:
                    _find_cards(text, found, start, after)
            elif nd >= 9 and self._ssn and raw[:3].isdigit() and (len(raw) == 9 or raw[3] in " -"):
                _find_ssns(text, found, start, after)
            if (
                self._zip
                and nd >= 5
                and raw[:5].isdigit()
                and (len(raw) == 5 or not raw[5].isdigit())
            ):
                _find_zips(text, found, start, after)
            if self._ipv4 and nd >= 4 and raw.count(".") >= 3:
                _find_ipv4(text, found, start, after)
            if self._nino and nd == 6 and len(raw) in (6, 8) and start >= 2:
                _find_ninos(text, found, max(0, start - 3), min(n, end + 3))
            if self._postcode and letter_before and nd <= 3:
                _find_postcodes(text, found, max(0, start - 2), min(n, start + 9))
            if self._phone and nd >= _PHONE_MIN_DIGITS:
                _find_phones_in_run(text, found, start, end, self.regions, self.threshold)
