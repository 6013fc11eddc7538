"""The schemas and policies shipped with custrec, and the one place where a
``--schema`` or ``--policy`` value becomes something to read.

The YAML files live in this package and are installed with it (package data, read
with :mod:`importlib.resources`), so an installed custrec finds them from any
directory. ``schemas/`` at the top of the source tree holds copies to read and link
to; ``tests/test_resources.py`` keeps them identical to these.

A value given for a schema or a policy (:func:`locate`) is, in this order:

1. a file, when one exists at that path (a file named ``customer`` in the current
   directory wins over the shipped schema of that name), or when the value is
   written as a path (with a ``/`` or a ``.yaml`` extension);
2. the name of a shipped file of the kind asked for (``customer``, ``retention``...,
   without ``.yaml``; ``custrec schemas list`` shows them);
3. else a :class:`~custrec.yamldoc.YamlFileError` (exit 2) that lists the shipped
   names of that kind.

This module imports only the standard library, so light commands stay fast.
"""

from __future__ import annotations

import os
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import NamedTuple

from custrec.errors import UsageError
from custrec.render import Summary, Table
from custrec.yamldoc import YamlFileError, read_yaml_file

SCHEMA = "schema"
RETENTION_POLICY = "retention policy"
REDACTION_POLICY = "redaction policy"
KINDS = (SCHEMA, RETENTION_POLICY, REDACTION_POLICY)


class ShippedFile(NamedTuple):
    """One shipped schema or policy: its name (what ``--schema``/``--policy`` take),
    kind (one of :data:`KINDS`), file name in this package and a one-line summary."""

    name: str
    kind: str
    filename: str
    description: str

    @property
    def resource(self) -> Traversable:
        """The file inside the installed package."""
        return files(__name__) / self.filename

    def read_text(self) -> str:
        """The file's text, exactly as shipped."""
        return self.resource.read_text(encoding="utf-8")


SHIPPED: tuple[ShippedFile, ...] = (
    ShippedFile(
        "customer",
        SCHEMA,
        "customer.yaml",
        "Customer records: fields, validation rules, purposes and retention classes.",
    ),
    ShippedFile(
        "interaction",
        SCHEMA,
        "interaction.yaml",
        "Interaction logs (one row per contact), the input of `custrec report kpi`.",
    ),
    ShippedFile(
        "retention",
        RETENTION_POLICY,
        "retention.yaml",
        "When customer records are anonymised or deleted (`custrec purge --policy`).",
    ),
    ShippedFile(
        "vendor-redaction",
        REDACTION_POLICY,
        "vendor-redaction.yaml",
        "Customer records for a vendor: pseudonymous ids, no contact details, "
        "coarsened places and dates.",
    ),
)
"""Every shipped file, in the order ``custrec schemas list`` shows them."""


def names(kind: str | None = None) -> list[str]:
    """The names of the shipped files (of ``kind``, if given)."""
    return [item.name for item in SHIPPED if kind is None or item.kind == kind]


def shipped(name: str, kind: str | None = None) -> ShippedFile:
    """The shipped file called ``name`` (of ``kind``, if given); an unknown name is a
    :class:`~custrec.errors.UsageError` (exit 2) listing the names there are."""
    for item in SHIPPED:
        if item.name == name and (kind is None or item.kind == kind):
            return item
    raise UsageError(f"{name!r}: {_not_shipped(name, kind)}")


def locate(
    value: str | os.PathLike[str],
    kind: str,
    error_class: type[YamlFileError] = YamlFileError,
) -> str | os.PathLike[str] | Traversable:
    """What to read for a ``--schema`` or ``--policy`` value: the file at ``value``
    if there is one, else the shipped file of ``kind`` named ``value``. Neither is an
    ``error_class`` (exit 2) listing the shipped names of ``kind``."""
    if not isinstance(value, str) or os.path.lexists(value) or _looks_like_a_path(value):
        return value  # reading it says what is wrong with the file
    for item in SHIPPED:
        if item.name == value and item.kind == kind:
            return item.resource
    raise error_class(value, f"no such file, and {_not_shipped(value, kind)}")


def read_named_yaml(
    value: str | os.PathLike[str], kind: str, what: str, error_class: type[YamlFileError]
) -> tuple[str, str]:
    """``(text, source)`` of a schema or policy given by file or shipped name (see
    :func:`locate`; ``what``, e.g. "schema file", for messages about a file);
    ``source`` names it in messages."""
    found = locate(value, kind, error_class)
    if isinstance(found, str | os.PathLike):
        return read_yaml_file(found, what, error_class), os.fspath(found)
    source = f"{value} (shipped {kind})"
    return read_yaml_file(found, what, error_class, source=source), source


class ShippedList(NamedTuple):
    """``custrec schemas list``: every shipped file (a result object for
    :mod:`custrec.render`)."""

    items: tuple[ShippedFile, ...] = SHIPPED

    @property
    def kind(self) -> str:
        return "schemas"

    def to_json(self) -> dict[str, object]:
        return {
            "shipped": [
                {"name": i.name, "kind": i.kind, "file": i.filename, "description": i.description}
                for i in self.items
            ]
        }

    def tables(self) -> list[Table]:
        return [
            Table(
                columns=("name", "kind", "description"),
                rows=[(i.name, i.kind, i.description) for i in self.items],
            )
        ]

    def summary(self) -> Summary:
        return Summary()


def copy_shipped(name: str, destination: str | os.PathLike[str], *, force: bool = False) -> str:
    """Write the shipped file ``name`` to ``destination`` (into it, under the file's
    own name, when it is a directory), atomically; the path written is returned. An
    existing file is replaced only with ``force`` (else a
    :class:`~custrec.errors.UsageError`)."""
    from custrec.atomic import atomic_file

    item = shipped(name)
    target = os.fspath(destination)
    if os.path.isdir(target):
        target = os.path.join(target, item.filename)
    if not force and os.path.lexists(target):
        raise UsageError(f"{target} already exists; refusing to overwrite it (--force replaces it)")
    with atomic_file(target, overwrite=force) as handle:
        handle.write(item.read_text().encode("utf-8"))
    return target


def _looks_like_a_path(value: str) -> bool:
    """A value no shipped name can be: with a directory or a YAML extension."""
    return os.sep in value or "/" in value or value.endswith((".yaml", ".yml"))


def _not_shipped(name: str, kind: str | None) -> str:
    wanted = kind or "schema or policy"
    other = [item.kind for item in SHIPPED if item.name == name]
    hint = f"{name!r} is a shipped {other[0]}, not a {wanted}; " if other else ""
    return (
        f"not a shipped {wanted} ({hint}shipped: {', '.join(names(kind))}; "
        "see custrec schemas list)"
    )
