"""``custrec validate`` of a CSV file against a ten-rule validator written with pandera
on its polars backend: the yardstick of the rule-engine issue (target: custrec within
2.0x of it; moonshot 1.5x).

In a temporary directory removed at the end: ``custrec generate customers --rows N
--bad-share 0.05`` writes the file once per size (``sizes``, default 300,000 and
1,000,000 rows); ``polars`` and ``pandera[polars]`` (the pandera version of this
interpreter) are installed from the package index into a throw-away virtual
environment. Then, taking turns, each a whole process:

- (a) ``custrec validate records.csv --schema schemas/customer.yaml --format json``
  (all 35 rules of the schema, exact counts, examples with lines);
- (b) the reference (``REFERENCE``): ``polars.read_csv`` (every column as text), then a
  ``pandera.polars.DataFrameSchema`` of eleven checks on ten columns (id pattern and
  uniqueness, email, phone shape, country list, name length, date of birth range,
  creation time, consent, channel list, postcode by country) validated with
  ``lazy=True``, catching ``SchemaErrors``.

The reference does less (no libphonenumber, no per-rule counts or examples): the
ratio says what custrec's report costs beyond the engines' speed. Two more rows, same
turns: (c) the reference with libphonenumber's validity added as one more check, made
once per distinct (number, country) pair (custrec's schema has that rule, and on
generated data nearly every number is distinct); and (a) with ``CUSTREC_WORKERS=1``,
libphonenumber's calls on one core.

Called by ``benchmarks/run.py`` (``--only validate-polars``); also runs alone::

    .venv/bin/python benchmarks/validate_polars.py --validate-polars-sizes 100000
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SECTION = "Validation against a ten-rule pandera-polars validator (rule-engine yardstick)"
SEED = 2026
BAD_SHARE = "0.05"
AS_OF = "2026-11-01"  # the day the generator anchors its dates on
SCHEMA_NAME = "customer"
TARGET = 2.0
REPEAT = 3

Row = tuple[str, float, str]

REFERENCE = r"""
import sys
import polars as pl
import pandera.polars as pa
from pandera.errors import SchemaErrors

path, as_of = sys.argv[1], sys.argv[2]
WITH_PHONE = len(sys.argv) > 3 and sys.argv[3] == "phone"
COUNTRIES = ["GB", "US", "DE", "FR", "IE", "NL", "ES", "IT", "SE", "DK", "NO", "FI", "PL",
             "PT", "BE", "AT", "CH", "CA", "AU", "IN", "BR", "JP"]
POSTCODES = {
    "GB": r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$", "US": r"^[0-9]{5}(-[0-9]{4})?$",
    "DE": r"^[0-9]{5}$", "FR": r"^[0-9]{5}$", "NL": r"^[0-9]{4} ?[A-Z]{2}$",
    "SE": r"^[0-9]{3} ?[0-9]{2}$",
}


def postcode_ok(data):
    ok = pl.lit(True)
    for cc, rx in POSTCODES.items():
        matches = pl.col("postcode").str.contains(rx)
        ok = pl.when(pl.col("country") == cc).then(matches).otherwise(ok)
    return data.lazyframe.select(ok.fill_null(True).alias("postcode"))


def born_ok(data):
    born = pl.col(data.key).str.to_date("%Y-%m-%d", strict=False)
    inside = born.is_between(pl.date(1900, 1, 1), pl.lit(as_of).str.to_date())
    return data.lazyframe.select(inside.fill_null(False) | pl.col(data.key).is_null())


def phone_valid(data):
    # libphonenumber's validity, once per distinct (number, country) pair
    import phonenumbers

    pairs = data.lazyframe.select("phone", "country").unique().collect()
    phones, countries, verdicts = [], [], []
    for number, country in pairs.iter_rows():
        if number is None:
            continue
        try:
            ok = phonenumbers.is_valid_number(phonenumbers.parse(number, country))
        except phonenumbers.NumberParseException:
            ok = False
        phones.append(number)
        countries.append(country)
        verdicts.append(ok)
    table = pl.DataFrame(
        {"phone": phones, "country": countries, "ok": verdicts},
        schema={"phone": pl.String, "country": pl.String, "ok": pl.Boolean},
    )
    joined = data.lazyframe.join(
        table.lazy(), on=["phone", "country"], how="left", nulls_equal=True,
        maintain_order="left",
    )
    return joined.select(pl.col("ok").fill_null(True))


def created_ok(data):
    moment = pl.col(data.key).str.to_datetime(strict=False, time_zone="UTC")
    return data.lazyframe.select(moment.is_not_null() | pl.col(data.key).is_null())


schema = pa.DataFrameSchema(
    {
        "customer_id": pa.Column(str, pa.Check.str_matches(r"^C-[0-9]{6}$"), unique=True),
        "email": pa.Column(
            str, pa.Check.str_matches(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"), nullable=True
        ),
        "phone": pa.Column(str, pa.Check.str_matches(r"^\+?[0-9 ()./-]{6,20}$"), nullable=True),
        "country": pa.Column(str, pa.Check.isin(COUNTRIES), nullable=True),
        "first_name": pa.Column(str, pa.Check.str_length(1, 50)),
        "date_of_birth": pa.Column(str, pa.Check(born_ok), nullable=True),
        "created_at": pa.Column(str, pa.Check(created_ok), nullable=True),
        "consent_marketing": pa.Column(str, pa.Check.isin(["true", "false"]), nullable=True),
        "preferred_channel": pa.Column(
            str, pa.Check.isin(["email", "phone", "sms", "post", "chat"]), nullable=True
        ),
    },
    checks=[pa.Check(postcode_ok)] + ([pa.Check(phone_valid)] if WITH_PHONE else []),
)
frame = pl.read_csv(path, infer_schema=False)
try:
    schema.validate(frame, lazy=True)
    failures = 0
except SchemaErrors as exc:
    failures = len(exc.failure_cases)
print(frame.height, failures)
"""


def progress(message: str) -> None:
    print(f"[validate-polars bench] {message}", file=sys.stderr, flush=True)


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def install(directory: Path) -> tuple[Path | None, str, float]:
    """polars and pandera[polars] in a throw-away venv: its python, the versions (or
    why not), the seconds it took."""
    venv = directory / "polars-venv"
    pandera = importlib.metadata.version("pandera")
    progress(f"installing pandera[polars]=={pandera} into a throw-away venv")
    started = time.perf_counter()
    made = subprocess.run(
        [sys.executable, "-m", "venv", str(venv)], env=env(), capture_output=True, text=True
    )
    python = venv / "bin" / "python"
    if made.returncode != 0:
        return None, f"python -m venv failed: {made.stderr.strip()[-300:]}", 0.0
    pip = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         f"pandera[polars]=={pandera}", "phonenumbers"],
        env=env(), capture_output=True, text=True,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    if pip.returncode != 0:
        return None, f"pip install pandera[polars] failed: {pip.stderr.strip()[-300:]}", seconds
    versions = subprocess.run(
        [str(python), "-c",
         "import polars, pandera; print(polars.__version__, pandera.__version__)"],
        env=env(), capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    return python, f"polars {versions[0]}, pandera {versions[1]}", seconds


def timed(
    argv: list[str], environment: dict[str, str], ok: tuple[int, ...] = (0,)
) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run(argv, env=environment, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode not in ok:
        raise RuntimeError(
            f"{' '.join(argv[:4])} failed (exit {proc.returncode}): {proc.stderr[-2000:]}"
        )
    return seconds, proc.stdout


def bench_validate_polars(
    sizes: tuple[int, ...] = (300_000, 1_000_000), repeat: int = REPEAT
) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="custrec-bench-validate-polars-") as name:
        directory = Path(name)
        python, versions, install_seconds = install(directory)
        if python is None:
            return [("pandera[polars] not available", float("nan"), versions)]
        script = directory / "reference.py"
        script.write_text(REFERENCE, encoding="utf-8")
        ours_env = {**os.environ, "PYTHONPATH": str(REPO)}
        out: list[Row] = [
            (
                f"reference environment: {versions} (throw-away venv, installed in "
                f"{install_seconds:.0f} s); custrec on {os.cpu_count()} cores, same machine",
                float("nan"),
                f"schema {SCHEMA_NAME}, as of {AS_OF}",
            )
        ]
        for rows in sizes:
            csv = directory / f"customers-{rows}.csv"
            progress(f"generating {rows:,} rows")
            timed(
                [sys.executable, "-m", "custrec", "generate", "customers", "--rows", str(rows),
                 "--seed", str(SEED), "--bad-share", BAD_SHARE, "-o", str(csv)],
                ours_env,
            )  # fmt: skip
            ours_argv = [sys.executable, "-m", "custrec", "validate", str(csv), "--schema",
                         SCHEMA_NAME, "--as-of", AS_OF, "--format", "json"]  # fmt: skip
            theirs_argv = [str(python), str(script), str(csv), AS_OF]
            ours: list[float] = []
            theirs: list[float] = []
            phoned: list[float] = []
            one_core: list[float] = []
            failures = phone_failures = ""
            for run in range(repeat):
                progress(f"{rows:,} rows, run {run + 1}/{repeat}: references, then custrec")
                seconds, stdout = timed(theirs_argv, env())
                theirs.append(seconds)
                failures = stdout.split()[-1]
                seconds, stdout = timed([*theirs_argv, "phone"], env())
                phoned.append(seconds)
                phone_failures = stdout.split()[-1]
                ours.append(timed(ours_argv, ours_env, ok=(0, 1))[0])
                single = {**ours_env, "CUSTREC_WORKERS": "1"}
                one_core.append(timed(ours_argv, single, ok=(0, 1))[0])
            mine, base = statistics.median(ours), statistics.median(theirs)
            with_phone, alone = statistics.median(phoned), statistics.median(one_core)
            ratio = mine / base
            verdict = "met" if ratio <= TARGET else "MISSED"
            phone_ratio = mine / with_phone
            phone_verdict = "met" if phone_ratio <= TARGET else "MISSED"
            out += [
                (
                    f"(a) custrec validate, {rows:,} rows, whole process, median of {repeat}",
                    mine,
                    f"{rows / mine:,.0f} rows/s; {ratio:.1f}x the reference "
                    f"(target ≤ {TARGET}x: {verdict})",
                ),
                (
                    f"(b) pandera-polars, eleven checks, lazy=True, {rows:,} rows, whole "
                    f"process, median of {repeat} (reference)",
                    base,
                    f"{rows / base:,.0f} rows/s; {failures} failure cases; 1.00x",
                ),
                (
                    f"(c) the same, plus libphonenumber's validity once per distinct number "
                    f"and country (custrec's phone rule), {rows:,} rows, median of {repeat} "
                    "(reference with the rule custrec's schema has)",
                    with_phone,
                    f"{rows / with_phone:,.0f} rows/s; {phone_failures} failure cases; "
                    f"(a) takes {phone_ratio:.2f}x its time (≤ {TARGET}x: {phone_verdict})",
                ),
                (
                    f"(a) with CUSTREC_WORKERS=1 (libphonenumber on one core), {rows:,} rows, "
                    f"median of {repeat} (information)",
                    alone,
                    f"{rows / alone:,.0f} rows/s; {alone / base:.1f}x (b)",
                ),
            ]
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--validate-polars-sizes",
        type=lambda text: tuple(int(n) for n in text.split(",")),
        default=(300_000, 1_000_000),
        help="rows of the files compared (comma-separated)",
    )


def main() -> int:
    from run import render  # type: ignore[import-not-found]

    parser = argparse.ArgumentParser(description="custrec validate against pandera-polars")
    add_arguments(parser)
    args = parser.parse_args()
    print(render({SECTION: bench_validate_polars(args.validate_polars_sizes)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
