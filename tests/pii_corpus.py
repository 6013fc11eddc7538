"""A deterministic generator of labelled short texts for the personal-data detector.

``corpus(n, seed)`` returns ``n`` customer-service notes and transcript lines, each
with the spans of the personal data written in it: ``(text, [(start, end, TYPE)])``.
Entities of every detected type appear in many written formats; distractors (order and
invoice numbers, dates, times, prices, versions, tracking numbers, Luhn-invalid card
numbers, IBANs with a wrong check digit, never-issued SSNs, ...) carry no label.

Entity values are built here, independently of the detector: card and IBAN check
digits are computed by this module, phone numbers start from
``phonenumbers.example_number_for_type`` and are varied and formatted here.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable
from datetime import date, timedelta

import phonenumbers

Label = tuple[int, int, str]
Case = tuple[str, list[Label]]

DEFAULT_SEED = 20261122

# --------------------------------------------------------------------------------------
# Names and fillers (unicode on purpose: entities sit next to non-ASCII text)

FIRST_NAMES = (
    "Ann", "James", "Zoë", "José", "Søren", "Łukasz", "Ngozi", "Aoife", "Siobhán",
    "Mohammed", "Priya", "Chloé", "Björn", "Ana", "Grzegorz", "Yuki", "Olumide", "Renée",
    "Dmitri", "Mei", "Fatima", "Hélène", "Jürgen", "Noémie", "Carlos", "Ingrid", "Tomás",
)  # fmt: skip
LAST_NAMES = (
    "O'Neil", "Smith", "Müller", "García", "Kowalski", "Nguyễn", "Okafor", "Ní Bhriain",
    "Patel", "Dubois", "Johansson", "Fernández", "Sato", "Adeyemi", "Ivanov", "李",
    "Haddad", "Lefèvre", "Schröder", "Murphy", "van der Berg", "Rossi", "Øvergaard",
)  # fmt: skip
AGENTS = ("Agent", "Rep", "Support", "CS", "Tier 2", "Team lead")
OPENERS = (
    "{name} called back about the delivery.",
    "Spoke to {name} today.",
    "{agent}: {name} is unhappy with the refund delay.",
    "Customer {name} wants the account updated.",
    "Note from {agent} – {name} asked for a callback.",
    "{name} (VIP) escalated again.",
    "Chat transcript with {name}:",
    "Résumé: {name} confirmed details.",
    "",
    "",
)  # fmt: skip
CLOSERS = (
    "Thanks!",
    "Closed the ticket.",
    "Will follow up tomorrow.",
    "Customer satisfied.",
    "Escalated to billing.",
    "Merci, à bientôt.",
    "Danke.",
    "",
    "",
    "",
)  # fmt: skip

# --------------------------------------------------------------------------------------
# Entity values


def luhn_check_digit(payload: str) -> str:
    """The digit that makes ``payload + digit`` pass the Luhn checksum."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:  # doubled once the check digit is appended
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


# (issuer, prefix ranges as (low, high) of equal width, lengths)
CARD_RANGES: tuple[tuple[str, tuple[tuple[int, int], ...], tuple[int, ...]], ...] = (
    ("visa", ((4, 4),), (13, 16, 19)),
    ("mastercard", ((51, 55), (2221, 2720)), (16,)),
    ("amex", ((34, 34), (37, 37)), (15,)),
    ("discover", ((6011, 6011), (644, 649), (65, 65), (622126, 622925)), (16, 19)),
    ("jcb", ((3528, 3589),), (16, 19)),
    ("diners", ((300, 305), (36, 36), (38, 39)), (14, 16)),
    ("maestro", ((50, 50), (56, 59), (67, 67)), (13, 16, 19)),
    ("unionpay", ((62, 62),), (16, 17, 18, 19)),
)


def card_number(rng: random.Random, issuer: str | None = None, valid: bool = True) -> str:
    """Digits of a card number in an issuer range; Luhn valid unless ``valid`` is False."""
    spec = rng.choice(CARD_RANGES) if issuer is None else _card_spec(issuer)
    _, ranges, lengths = spec
    low, high = rng.choice(ranges)
    prefix = str(rng.randint(low, high))
    length = rng.choice(lengths)
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - 1 - len(prefix)))
    check = luhn_check_digit(body)
    if not valid:
        check = str((int(check) + rng.randint(1, 9)) % 10)
    return body + check


def _card_spec(issuer: str) -> tuple[str, tuple[tuple[int, int], ...], tuple[int, ...]]:
    for spec in CARD_RANGES:
        if spec[0] == issuer:
            return spec
    raise KeyError(issuer)


def format_card(rng: random.Random, digits: str) -> str:
    n = len(digits)
    sep = rng.choice((" ", " ", "-", ""))
    if n == 15:
        groups = [4, 6, 5]
    elif n == 14:
        groups = [4, 6, 4]
    else:
        groups = [4] * (n // 4) + ([n % 4] if n % 4 else [])
    out, i = [], 0
    for g in groups:
        out.append(digits[i : i + g])
        i += g
    return sep.join(out)


# IBAN: country, length, BBAN letters at the start (bank code), from the SWIFT registry.
IBAN_COUNTRIES: tuple[tuple[str, int, int], ...] = (
    ("GB", 22, 4), ("DE", 22, 0), ("FR", 27, 0), ("ES", 24, 0), ("IT", 27, 1),
    ("NL", 18, 4), ("IE", 22, 4), ("BE", 16, 0), ("AT", 20, 0), ("CH", 21, 0),
    ("PL", 28, 0), ("PT", 25, 0), ("SE", 24, 0), ("DK", 18, 0), ("FI", 18, 0),
    ("NO", 15, 0), ("LU", 20, 0), ("GR", 27, 0), ("CZ", 24, 0), ("HU", 28, 0),
    ("RO", 24, 4), ("BG", 22, 4), ("HR", 21, 0), ("SI", 19, 0), ("SK", 24, 0),
    ("LT", 20, 0), ("LV", 21, 4), ("EE", 20, 0), ("MT", 31, 4), ("CY", 28, 0),
    ("SA", 24, 0), ("AE", 23, 0), ("TR", 26, 0), ("IL", 23, 0), ("BR", 29, 0),
    ("UA", 29, 0), ("QA", 29, 4), ("KW", 30, 4), ("MU", 30, 4), ("SM", 27, 1),
)  # fmt: skip
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _mod97(text: str) -> int:
    return int("".join(str(int(c, 36)) for c in text)) % 97


IBAN_TAIL_LETTERS = {"BR": 2, "MU": 3}
"""Countries whose BBAN ends in letters (an account type; a currency code)."""


def iban(rng: random.Random, valid: bool = True) -> str:
    """A compact IBAN of a registry country, check digits computed here."""
    country, length, letters = rng.choice(IBAN_COUNTRIES)
    tail = IBAN_TAIL_LETTERS.get(country, 0)
    bban = "".join(rng.choice(_LETTERS) for _ in range(letters))
    bban += "".join(rng.choice("0123456789") for _ in range(length - 4 - letters - tail))
    bban += "".join(rng.choice(_LETTERS) for _ in range(tail))
    check = 98 - _mod97(bban + country + "00")
    if not valid:  # any other value in 02..98 leaves a remainder other than 1
        check = rng.choice([v for v in range(2, 99) if v != check])
    return f"{country}{check:02d}{bban}"


def format_iban(rng: random.Random, compact: str) -> str:
    if rng.random() < 0.5:
        return compact
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def ssn(rng: random.Random) -> tuple[str, str, str]:
    while True:
        area = rng.randint(1, 899)
        if area != 666:
            break
    return f"{area:03d}", f"{rng.randint(1, 99):02d}", f"{rng.randint(1, 9999):04d}"


_NINO_FIRST = "ABCEGHJKLMNOPRSTWXYZ"
_NINO_SECOND = "ABCEGHJKLMNPRSTWXYZ"
_NINO_BAD = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}


def nino(rng: random.Random) -> str:
    while True:
        prefix = rng.choice(_NINO_FIRST) + rng.choice(_NINO_SECOND)
        if prefix not in _NINO_BAD:
            break
    digits = "".join(rng.choice("0123456789") for _ in range(6))
    suffix = rng.choice("ABCD")
    if rng.random() < 0.5:
        return f"{prefix}{digits}{suffix}"
    return f"{prefix} {digits[:2]} {digits[2:4]} {digits[4:]} {suffix}"


def ipv4(rng: random.Random) -> str:
    first = rng.choice((10, 172, 192, 81, 203, 45, 109, 151))
    return ".".join(str(x) for x in (first, rng.randint(0, 255), rng.randint(0, 255),
                                     rng.randint(1, 254)))  # fmt: skip


def ipv6(rng: random.Random) -> str:
    groups = [0x2001, 0x0DB8, rng.randint(0, 0xFFFF)] + [
        rng.choice((0, 0, rng.randint(0, 0xFFFF))) for _ in range(5)
    ]
    addr = ipaddress.IPv6Address(":".join(f"{g:x}" for g in groups))
    return addr.compressed if rng.random() < 0.7 else addr.exploded


DOMAINS = (
    "example.com", "mail.example.co.uk", "post.example.de", "correo.example.es",
    "example.fr", "example.ie", "uni.example.edu", "example.nl", "example.org",
    "example.com.au",
)  # fmt: skip
_ASCII_FIRST = ("ann", "james", "zoe", "jose", "soren", "lukasz", "ngozi", "aoife", "priya",
                "bjorn", "mei", "fatima", "helene", "carlos")  # fmt: skip
_ASCII_LAST = ("oneil", "smith", "mueller", "garcia", "kowalski", "nguyen", "okafor",
               "patel", "dubois", "sato", "ivanov", "murphy", "rossi")  # fmt: skip


def email(rng: random.Random) -> str:
    first, last = rng.choice(_ASCII_FIRST), rng.choice(_ASCII_LAST)
    local = rng.choice(
        (f"{first}.{last}", f"{first[0]}{last}", f"{first}_{last}{rng.randint(1, 99)}",
         f"{first}+orders", f"{last}.{first}", f"{first}{rng.randint(1970, 2005)}")
    )  # fmt: skip
    if rng.random() < 0.25:
        local = local.capitalize()
    return f"{local}@{rng.choice(DOMAINS)}"


# Phone numbers: national formats only for the detector's default regions; international
# ones for many more.
NATIONAL_REGIONS = ("GB", "US", "DE", "FR", "IE", "NL", "ES", "IN", "AU", "CA")
INTERNATIONAL_REGIONS = (
    *NATIONAL_REGIONS, "IT", "BR", "JP", "MX", "SE", "CH", "PL", "ZA", "SG", "NZ", "BE",
    "AT", "PT", "DK", "NO", "FI", "AR", "KR", "NG", "KE", "PH", "AE", "IL", "TR",
)  # fmt: skip
_PHONE_TYPES = (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE)


def phone_number(rng: random.Random, region: str) -> phonenumbers.PhoneNumber:
    """A valid number of ``region``: an example number with its last digits varied."""
    base = phonenumbers.example_number_for_type(region, rng.choice(_PHONE_TYPES))
    if base is None:
        base = phonenumbers.example_number(region)
    nsn = phonenumbers.national_significant_number(base)
    for _ in range(20):
        k = min(4, len(nsn) - 3)
        cand = nsn[:-k] + "".join(rng.choice("0123456789") for _ in range(k))
        num = phonenumbers.parse("+" + str(base.country_code) + cand)
        if phonenumbers.is_valid_number(num):
            return num
    return base


def format_phone(rng: random.Random, num: phonenumbers.PhoneNumber, national: bool) -> str:
    fmt = phonenumbers.PhoneNumberFormat
    if national:
        text = phonenumbers.format_number(num, fmt.NATIONAL)
        style = rng.random()
        if style < 0.2:
            text = text.replace(" ", "-")
        elif style < 0.3 and "(" not in text and text.count(" ") >= 2:
            text = text.replace(" ", ".")
        elif style < 0.4:
            text = phonenumbers.normalize_digits_only(text)
        return text
    text = phonenumbers.format_number(num, fmt.INTERNATIONAL)
    style = rng.random()
    if style < 0.2:
        text = phonenumbers.format_number(num, fmt.E164)
    elif style < 0.35:
        text = "00" + text[1:]
    elif style < 0.45:
        text = text.replace(" ", "-")
    elif style < 0.5 and num.country_code == 44:
        cc, rest = text.split(" ", 1)
        text = f"{cc} (0){rest}"
    return text


UK_POSTCODES = (
    "SW1A 2AA", "EC1A 1BB", "W1A 0AX", "M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT",
    "LS1 4AP", "G2 3WT", "EH1 1YZ", "CF10 1EP", "BT1 5GS", "NE1 4ST", "OX1 2JD",
)  # fmt: skip
US_PLACES = (
    ("Springfield", "IL", "62704"), ("Austin", "TX", "78701"), ("Denver", "CO", "80202"),
    ("Portland", "OR", "97205"), ("Boston", "MA", "02108"), ("Miami", "FL", "33131"),
    ("Seattle", "WA", "98101"), ("Madison", "WI", "53703"), ("Phoenix", "AZ", "85004"),
)  # fmt: skip
STREETS = ("High Street", "Station Road", "Main St", "Elm Road", "Church Lane",
           "Park Avenue", "Mill Road", "Oak Drive")  # fmt: skip

# --------------------------------------------------------------------------------------
# Building texts


class _Text:
    """Text under construction with the spans of its labelled parts."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.labels: list[Label] = []

    def add(self, text: str, label: str | None = None) -> None:
        if label is not None:
            self.labels.append((self.length, self.length + len(text), label))
        self.parts.append(text)
        self.length += len(text)

    def template(self, template: str, value: str, label: str | None) -> None:
        """``template`` with ``{}`` replaced by ``value`` (labelled ``label``)."""
        before, after = template.split("{}", 1)
        self.add(before)
        self.add(value, label)
        self.add(after)

    def text(self) -> str:
        return "".join(self.parts)


Segment = Callable[[random.Random, _Text], None]


def _seg_email(rng: random.Random, t: _Text) -> None:
    e = email(rng)
    template = rng.choice((
        "Email: {}", "reach me at {} please", "new address <{}>", "sent the invoice to {}.",
        "reset link: https://portal.example.com/reset?user={}&t=1", "mailto:{}",
        "({}) is her work mail", "E-Mail-Adresse {} – bestätigt", "courriel : {}",
        "contact → {}", "https://x.example.com/?u={}",
    ))  # fmt: skip
    t.template(template, e, "EMAIL_ADDRESS")


def _seg_phone(rng: random.Random, t: _Text) -> None:
    national = rng.random() < 0.5
    region = rng.choice(NATIONAL_REGIONS if national else INTERNATIONAL_REGIONS)
    text = format_phone(rng, phone_number(rng, region), national)
    template = rng.choice((
        "call me on {}", "my mobile is {}", "Tel: {}", "{} (mobile)",
        "reach her at {} after 5pm", "phone number {}", "new number: {}",
        "please ring {} tomorrow", "customer gave {} for contact", "WhatsApp {}",
        "landline {}, mornings only", "Rückruf unter {} erbeten", "numéro {}",
        "updated to {} per customer",
    ))  # fmt: skip
    t.template(template, text, "PHONE_NUMBER")


def _seg_card(rng: random.Random, t: _Text) -> None:
    text = format_card(rng, card_number(rng))
    template = rng.choice((
        "card {}", "paid with card number {}", "Visa/MC {} was declined",
        "card: {} exp 09/28", "charged {} twice", "credit card {}", "{} is the card on file",
        "new debit card {}", "CC# {}",
    ))  # fmt: skip
    t.template(template, text, "CREDIT_CARD")


def _seg_iban(rng: random.Random, t: _Text) -> None:
    text = format_iban(rng, iban(rng))
    template = rng.choice((
        "IBAN: {}", "refund to {}", "bank account {} (joint)", "IBAN {}.",
        "wire it to {} please", "{} is the account for the direct debit", "Konto {}",
        "new IBAN → {}",
    ))  # fmt: skip
    t.template(template, text, "IBAN_CODE")


def _seg_ssn(rng: random.Random, t: _Text) -> None:
    area, group, serial = ssn(rng)
    style = rng.random()
    if style < 0.6:
        text = f"{area}-{group}-{serial}"
        template = rng.choice(("SSN {}", "social security number {}", "{} (SSN)",
                               "ss# {}", "taxpayer id {}", "verified {}"))  # fmt: skip
    else:
        text = f"{area} {group} {serial}" if style < 0.8 else f"{area}{group}{serial}"
        template = rng.choice(("SSN {}", "social security number: {}", "SSN is {}"))
    t.template(template, text, "US_SSN")


def _seg_nino(rng: random.Random, t: _Text) -> None:
    template = rng.choice(("NI number {}", "national insurance no. {}", "NINO: {}",
                           "{} (NI)", "checked {} with HMRC"))  # fmt: skip
    t.template(template, nino(rng), "UK_NINO")


def _seg_ip(rng: random.Random, t: _Text) -> None:
    value = ipv4(rng) if rng.random() < 0.6 else ipv6(rng)
    template = rng.choice((
        "logged in from {}", "IP address {}", "blocked IP {} after 5 attempts",
        "session origin {}", "VPN endpoint {}.", "request came from {} at 10:42",
        "{} hit the rate limit",
    ))  # fmt: skip
    t.template(template, value, "IP_ADDRESS")


_DOB_FORMATS = ("%d/%m/%Y", "%Y-%m-%d", "%d %B %Y", "%B %d, %Y", "%d.%m.%Y", "%m/%d/%Y",
                "%d %b %Y", "%d-%b-%Y")  # fmt: skip


def _seg_dob(rng: random.Random, t: _Text) -> None:
    born = date(1940, 1, 1) + timedelta(days=rng.randint(0, 65 * 365))
    text = born.strftime(rng.choice(_DOB_FORMATS))
    template = rng.choice((
        "born {}", "DOB: {}", "date of birth {}", "her birthday is {}", "d.o.b. {}",
        "DOB {} verified", "born on {} in Cork",
    ))  # fmt: skip
    t.template(template, text, "DATE_OF_BIRTH")


def _seg_uk_postcode(rng: random.Random, t: _Text) -> None:
    pc = rng.choice(UK_POSTCODES)
    if rng.random() < 0.2:
        pc = pc.replace(" ", "")
    street = rng.choice(STREETS)
    template = rng.choice((
        "postcode {}", f"lives at {rng.randint(1, 200)} {street}, Leeds {{}}",
        "new address: Flat 2, {} (UK)", "delivery address postcode {}",
        f"moved to {rng.randint(1, 99)} {street}, {{}}",
    ))  # fmt: skip
    t.template(template, pc, "UK_POSTCODE")


def _seg_us_zip(rng: random.Random, t: _Text) -> None:
    city, state, zipcode = rng.choice(US_PLACES)
    if rng.random() < 0.3:
        zipcode += f"-{rng.randint(1, 9999):04d}"
    street = rng.choice(STREETS)
    template = rng.choice((
        f"{rng.randint(1, 999)} {street}, {city}, {state} {{}}", "zip code {}",
        f"ship to {city}, {state} {{}}", "mailing address zip {}",
        f"lives in {city} {state}, {{}}",
    ))  # fmt: skip
    t.template(template, zipcode, "US_ZIP")


# Distractors: nothing in them is personal data.
def _seg_distractor(rng: random.Random, t: _Text) -> None:
    kind = rng.randrange(17)
    r = rng.randint
    if kind == 0:
        t.add(rng.choice((f"Order #{r(1000, 9999)}-{r(1000, 9999)}",
                          f"order {r(10_000_000, 99_999_999)}",
                          f"Order ID {r(100_000_000, 999_999_999)} shipped",
                          f"order no. {r(1_000_000, 9_999_999)}")))  # fmt: skip
    elif kind == 1:
        t.add(rng.choice((f"Invoice INV-2026-{r(1, 99999):05d}",
                          f"invoice {r(2019, 2026)}{r(10000000, 99999999)}",
                          f"invoice # {r(1000000, 9999999)} paid")))  # fmt: skip
    elif kind == 2:
        d = date(2024, 1, 1) + timedelta(days=r(0, 900))
        t.add("on " + d.strftime(rng.choice(("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y",
                                              "%m/%d/%Y", "%d %B %Y"))))  # fmt: skip
    elif kind == 3:
        t.add(rng.choice((f"at {r(0, 23):02d}:{r(0, 59):02d}",
                          f"{r(0, 23):02d}:{r(0, 59):02d}:{r(0, 59):02d} UTC",
                          f"between {r(8, 11)}:00 and {r(12, 18)}:30")))  # fmt: skip
    elif kind == 4:
        t.add(rng.choice((f"£{r(1, 9)},{r(100, 999)}.{r(0, 99):02d}",
                          f"${r(10, 999)}.{r(0, 99):02d}",
                          f"€{r(1000, 99999)}.{r(0, 99):02d} refunded",
                          f"total {r(1000000, 9999999)}.00 EUR")))  # fmt: skip
    elif kind == 5:
        t.add(rng.choice((f"app version {r(1, 20)}.{r(0, 9)}.{r(0, 30)}",
                          f"v{r(1, 9)}.{r(0, 20)}.{r(0, 99)}",
                          f"firmware {r(1, 9)}.{r(0, 9)}.{r(0, 9)}.{r(0, 9)}.{r(0, 9)}",
                          f"build 10.0.{r(10000, 29999)}.{r(1000, 9999)}",
                          f"version {r(1, 9)}.{r(0, 9)}.{r(0, 99)}.{r(100, 999)}")))  # fmt: skip
    elif kind == 6:
        t.add(rng.choice((f"tracking 1Z{r(100, 999)}AA1{r(10**13, 10**14 - 1)}",
                          "tracking " + " ".join(f"{r(1000, 9999)}" for _ in range(5)) + " 00",
                          f"tracking number {r(10**11, 10**12 - 1)}",
                          f"parcel JD{r(10**15, 10**16 - 1)}")))  # fmt: skip
    elif kind == 7:
        t.add("card " + format_card(rng, card_number(rng, valid=False)) + " was rejected")
    elif kind == 8:
        t.add("IBAN " + format_iban(rng, iban(rng, valid=False)) + " bounced (typo)")
    elif kind == 9:
        bad = rng.choice(("000", "666", f"9{r(0, 99):02d}"))
        t.add(rng.choice((f"SSN {bad}-{r(10, 99)}-{r(1000, 9999)} looks wrong",
                          "test SSN 123-45-6789",
                          f"SSN {r(100, 665)}-00-{r(1000, 9999)}?")))  # fmt: skip
    elif kind == 10:
        t.add(rng.choice(("user@localhost", "admin@intranet", "@support_team",
                          "ann at example dot com")))  # fmt: skip
    elif kind == 11:
        t.add(rng.choice((f"ticket {r(10_000_000, 99_999_999)}",
                          f"case {r(2024, 2026)}{r(1000, 9999)}",
                          f"ref {r(100, 999)} {r(1000, 9999)} {r(1000, 9999)}",
                          f"booking ref {r(1_000_000_000, 9_999_999_999)}")))  # fmt: skip
    elif kind == 12:
        t.add(rng.choice((f"{r(1, 9)},{r(100, 999)},{r(100, 999)} points",
                          f"{r(10, 99)} items, {r(100, 999)} km", "page 3 of 12",
                          f"room {r(100, 999)}")))  # fmt: skip
    elif kind == 13:
        t.add(rng.choice(("NI number QQ 12 34 56 C (test)", "ref GB 12 34 56 A",
                          "code AB 12 34 56 E")))  # fmt: skip
    elif kind == 14:
        t.add(rng.choice((f"serial {r(10**9, 10**10 - 1)}", f"IMEI {r(10**14, 10**15 - 1)}",
                          f"SKU {r(1000000, 9999999)}-{r(10, 99)}")))  # fmt: skip
    elif kind == 15:
        t.add(rng.choice((f"update from {r(1, 9)}.{r(0, 9)}.{r(0, 9)}.{r(0, 9)} to "
                          f"{r(1, 9)}.{r(0, 9)}.{r(0, 9)}.{r(0, 9)}.{r(1, 9)}",
                          f"pi is {r(3, 3)}.{r(1000000, 9999999)}",
                          f"ratio {r(0, 9)}.{r(10000000, 99999999)}")))  # fmt: skip
    else:
        t.add(rng.choice((f"account {r(10_000_000, 99_999_999)}",
                          f"membership {r(1000, 9999)} {r(1000, 9999)}",
                          f"PO box {r(10000, 99999)}",
                          f"order {r(10000, 99999)} shipped to the address on file")))  # fmt: skip


ENTITY_SEGMENTS: tuple[Segment, ...] = (
    _seg_email, _seg_phone, _seg_card, _seg_iban, _seg_ssn, _seg_nino, _seg_ip, _seg_dob,
    _seg_uk_postcode, _seg_us_zip,
)  # fmt: skip
_JOINERS = ("; ", ", ", ". ", " – ", " and ", " | ", " / ", ". Also ", " — ")


def case(rng: random.Random) -> Case:
    """One labelled text: an opener, one to three segments (entities and distractors),
    a closer."""
    t = _Text()
    name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    opener = rng.choice(OPENERS).format(name=name, agent=rng.choice(AGENTS))
    if opener:
        t.add(opener + " ")
    count = rng.choice((1, 1, 2, 2, 3))
    for k in range(count):
        if k:
            t.add(rng.choice(_JOINERS))
        if rng.random() < 0.3:
            _seg_distractor(rng, t)
        else:
            rng.choice(ENTITY_SEGMENTS)(rng, t)
    closer = rng.choice(CLOSERS)
    if closer:
        t.add(". " + closer)
    return t.text(), t.labels


def corpus(n: int = 2000, seed: int = DEFAULT_SEED) -> list[tuple[str, list[tuple[int, int, str]]]]:
    """``n`` labelled texts, the same for the same ``seed``."""
    rng = random.Random(seed)
    return [case(rng) for _ in range(n)]
