"""The ``custrec`` command line: a thin layer that parses, calls the library, renders.

Subcommands live in modules of this package and are imported only when used (see
:data:`COMMANDS`), so ``custrec --help`` and light commands never load pandas.
"""

from __future__ import annotations

import click

from custrec import __version__
from custrec.cli.core import CustrecGroup
from custrec.cli.progress import quiet_option

COMMANDS = {
    "access": "custrec.cli.rights:access",
    "audit": "custrec.cli.audit:audit_group",
    "backup": "custrec.cli.store:backup",
    "collect": "custrec.cli.records:collect",
    "demo": "custrec.cli.demo:demo",
    "erase": "custrec.cli.rights:erase",
    "export": "custrec.cli.records:export",
    "find": "custrec.cli.lookup:find",
    "generate": "custrec.cli.generate:generate",
    "get": "custrec.cli.lookup:get",
    "hold": "custrec.cli.rights:hold",
    "init": "custrec.cli.store:init",
    "inspect": "custrec.cli.inspect:inspect_command",
    "key": "custrec.cli.key:key",
    "migrate": "custrec.cli.store:migrate",
    "purge": "custrec.cli.rights:purge",
    "reapply-erasures": "custrec.cli.rights:reapply_erasures",
    "redact": "custrec.cli.redaction:redact",
    "release": "custrec.cli.rights:release",
    "report": "custrec.cli.report:report",
    "restore": "custrec.cli.rights:restore",
    "restrict": "custrec.cli.rights:restrict",
    "scan": "custrec.cli.redaction:scan",
    "schemas": "custrec.cli.schemas:schemas",
    "unrestrict": "custrec.cli.rights:unrestrict",
    "update": "custrec.cli.lookup:update",
    "validate": "custrec.cli.validate:validate",
    "verify": "custrec.cli.store:verify",
}
"""Command name -> ``module:attribute`` of its click command."""

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(
    cls=CustrecGroup,
    lazy_commands=COMMANDS,
    context_settings=CONTEXT_SETTINGS,
)
@click.version_option(__version__, "-V", "--version", prog_name="custrec")
@click.option(
    "--debug",
    is_flag=True,
    envvar="CUSTREC_DEBUG",
    help="Show the full traceback when a command fails.",
)
@click.option(
    "--actor",
    envvar="CUSTREC_ACTOR",
    metavar="NAME",
    help="Who is acting, for the audit trail. Default: $CUSTREC_ACTOR, else your OS user.",
)
@quiet_option()
def main(debug: bool, actor: str | None) -> None:
    """Collect, validate, update, redact and purge customer records kept in encrypted
    files, and report customer-service KPIs from interaction logs.

    Data goes to stdout, messages to stderr; long commands show a progress bar on
    stderr when it is a terminal (-q hides it). Exit codes: 0 ok, 1 the data failed a
    check, 2 usage error, 3 bad input, 4 key or integrity error, 5 store busy, 6 not
    found, 7 disk full, 130 interrupted, 143 terminated (see docs/exit-codes.md).

    \b
    Examples:
      custrec demo                                  # the toolkit end to end
      custrec generate customers --rows 1000 -o customers.csv
      custrec collect customers.crec customers.csv --key-file steward.key
      custrec find customers.crec --email lena@example.com --format json
      custrec inspect customers.csv --fail-on-duplicates
      custrec key new ~/.config/custrec/officer.key
    """
