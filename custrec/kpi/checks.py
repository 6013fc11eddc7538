"""The schema interaction logs are checked against (:func:`interaction_schema`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from custrec.errors import UsageError

if TYPE_CHECKING:
    from pathlib import Path

    from custrec.schema import Schema


def interaction_schema(value: str | Path) -> Schema:
    """The schema logs are checked against, by shipped name or file (see
    :func:`custrec.resources.locate`): the shipped ``interaction`` schema or one that
    extends it, i.e. has each of its fields with the same type (and may add fields,
    checks and rules). Anything else is a :class:`~custrec.errors.UsageError`."""
    from custrec.schema import load_schema, shipped_schema

    chosen = load_schema(value)
    for name, base in shipped_schema("interaction").fields.items():
        own = chosen.fields.get(name)
        if own is None or own.type != base.type:
            problem = "is missing" if own is None else f"is {own.type}, not {base.type}"
            raise UsageError(
                f"{value}: not an extension of the interaction schema: the field {name!r} {problem}"
            )
    return chosen
