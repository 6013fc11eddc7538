"""Context words: the words around a value that raise or lower the score of a
finding (:mod:`custrec.redaction.detect`), read as whole words within the value's
sentence or clause."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from functools import lru_cache
from typing import NamedTuple

from custrec.redaction.patterns import ANY_DIGIT

# The words around a value are read as tokens (letters and digits, with inner dots and
# apostrophes: "d.o.b", "o'neil"; single marks: "#", "$", punctuation) and looked up in
# sets, so context words count only as whole words: "lic" is not found in "public".

DASHES = "\u2010\u2011\u2012\u2013\u2014"  # hyphen, non-breaking hyphen, figure/en/em dash
APOSTROPHES = "'\u2019\u2018\u02bc`\u00b4"  # ASCII, right/left quote, modifier, grave, acute
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


class Words:
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

PHONE_POSITIVE = Words((
    "phone", "phones", "telephone", "tel", "tél", "telefon", "telefono", "mobile", "mob",
    "cell", "cellphone", "call", "called", "calling", "calls", "ring", "rang", "text",
    "texted", "sms", "whatsapp", "fax", "landline", "contact", "reach", "reached", "dial",
    "dialled", "dialed", "callback", "call back", "ph", "voicemail", "handy",
    "desk", "office", "answering", "messages", "registered", "portable", "móvil",
    "movil", "cellulare", "celular", "telefone", "telefonnummer", "rufnummer",
    "numéro", "tel.", "tlf", "puhelin", "telefoon",
))  # fmt: skip
PHONE_NEGATIVE = Words(
    (*_NEGATIVE_COMMON, "account", "acct", "id", "version", "ver", "v", "build",
     "release", "firmware", "amount", "total", "price", "usd", "eur", "gbp", "dollars",
     "euros", "pounds", "card", "iban", "ssn", "pin", "code", "customer id", "balance",
     "employee", "staff", "score", "scores", "points", "social security", "tax id",
     "taxpayer", "nino", "national insurance", "ni number"),
    marks="#",
)  # fmt: skip
CARD_POSITIVE = Words((
    "card", "cards", "credit", "debit", "visa", "mastercard", "master card", "mc", "amex",
    "american express", "discover", "jcb", "diners", "diners club", "maestro",
    "unionpay", "union pay", "mir", "cc", "pan", "payment", "paid", "pay", "charged",
    "charge", "cardholder", "ending",
))  # fmt: skip
CARD_NEGATIVE = Words(_NEGATIVE_COMMON, marks="#")
IBAN_POSITIVE = Words((
    "iban", "bank", "account", "acct", "transfer", "sepa", "swift", "bic", "refund",
    "payment", "wire", "direct debit", "debit", "sort code", "konto",
))  # fmt: skip
SSN_POSITIVE = Words((
    "ssn", "ssns", "ss", "social", "social security", "security number", "tax id",
    "taxpayer", "taxpayer id", "tin", "itin",
))  # fmt: skip
SSN_NEGATIVE = Words((*_NEGATIVE_COMMON, "phone", "call", "tel", "mobile", "fax"))
NINO_POSITIVE = Words((
    "national insurance", "nino", "ni", "ni number", "ni no", "insurance number",
    "nat ins", "hmrc",
))  # fmt: skip
IP_POSITIVE = Words((
    "ip", "ips", "ip address", "ipv4", "ipv6", "address", "addr", "server", "host",
    "logged", "login", "log", "logs", "connected", "connection", "from", "vpn", "router",
    "gateway", "dns", "proxy", "client", "device", "network", "subnet", "origin",
    "source", "blocked", "whitelist", "allowlist", "firewall", "endpoint",
))  # fmt: skip
IP_NEGATIVE = Words((
    "version", "versions", "ver", "v", "build", "release", "firmware", "update",
    "updating", "sdk", "patch", "upgrade", "upgrading", "downgrade", "package", "library",
    "driver", "revision", "rev",
))  # fmt: skip
# Words that suggest an address only weakly: any negative word nearby wins over them.
IP_WEAK = frozenset({"from", "source", "origin", "device", "client"})
DOB_HINTS = ("born", "dob", "d.o.b", "birth", "bday", "b-day")
DOB_WORD = re.compile(
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
ADDRESS_CONTEXT = Words((
    "postcode", "post code", "postal code", "postal", "zip", "zipcode", "zip code",
    "address", "addr", "street", "st", "road", "rd", "lane", "ln", "avenue", "ave",
    "drive", "crescent", "court", "ct", "place", "square", "terrace", "way", "boulevard",
    "blvd", "highway", "hwy", "lives", "live", "living", "lived", "resides", "resident",
    "residence", "moved", "deliver", "delivered", "delivery", "ship to", "shipping",
    "shipped", "flat", "house", "apartment", "apt", "suite", "city", "town", "county",
    "village", "mailing", "home", *_US_STATE_NAMES,
))  # fmt: skip
ZIP_NEGATIVE = Words(
    (*_NEGATIVE_COMMON, "account", "acct", "id", "code", "pin", "ext", "extension",
     "room", "employee", "box", "pobox", "usd", "eur", "gbp", "dollars", "total",
     "amount", "price", "balance", "year", "years", "km", "miles", "points", "units",
     "qty", "quantity", "x"),
    marks="#$£€¥",
)  # fmt: skip
US_STATE_BEFORE = re.compile(
    r"(?<!\w)(?:A[LKZR]|C[AOT]|D[EC]|FL|GA|HI|I[DLNA]|K[SY]|LA|M[EDAINSOT]|N[EVHJMYCD]|"
    r"O[HKR]|PA|RI|S[CD]|T[NX]|UT|V[TA]|W[AVIY]|PR)\.?,?\s{1,2}$"
)


def after_end(text: str, end: int, width: int) -> int:
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


def context(
    text: str,
    start: int,
    end: int,
    positive: Words | None,
    negative: Words | None = None,
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
            token in ",)" or ANY_DIGIT.search(token) is not None or tok.word(i) in _JOINING_WORDS
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


def ctx_note(ctx: _Context) -> str:
    if ctx.sign > 0:
        return f"; context word '{ctx.word}'"
    if ctx.sign < 0:
        return f"; lowered by context '{ctx.word}'"
    return ""
