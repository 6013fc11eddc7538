"""Field groups and roles: which fields belong together for access, and who reads what.

A schema's ``groups`` section sorts every field into exactly one **field group**
(``identity``, ``contact``, ``verification``, ``special``, ``service``, ...); a group
may also hold **derived** fields, computed from a field of another group when a record
is written (``customer_ref``: the id pseudonymised; ``birth_year``: the date of birth
generalised), so that a role can be given statistics-grade values without the values
they come from. A schema without ``groups`` has one group, :data:`WHOLE_RECORD`.

A **role** names the groups its holders read, the groups they write, the groups whose
values they may only *check* (say whether a value given to them matches, never read
it) and whether they may run the data-subject rights commands. :func:`default_roles`
are the shipped ones (``docs/schema.md``, "Field groups and roles"); a schema's
``roles`` section replaces one of them or adds its own.

Loading is strict, like the rest of the schema: a field in no group or in two, a
group or role naming what does not exist, a special-category field outside the
``special`` group: each a :class:`~custrec.yamldoc.YamlFileError` naming the line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from custrec.render import Summary, Table
from custrec.yamldoc import YamlDocument

WHOLE_RECORD = "record"
"""The one group of a schema that declares none."""
SPECIAL_GROUP = "special"
"""The group special-category fields (``category: special.*``) must be in, when a
schema declares groups: no shipped role but ``officer`` reads it."""
DERIVATIONS = ("pseudonymise", "generalise")
"""How a derived field is made from its source: the keyed pseudonym ``redact`` makes,
or the generalised form an anonymised record keeps (a year, a postcode district)."""
_GROUP_KEYS = {"description", "fields", "derived"}
_DERIVED_KEYS = {"from", "redaction", "description"}
_ROLE_KEYS = {"description", "read", "write", "check", "rights"}


@dataclass(frozen=True)
class DerivedField:
    """A field computed from ``source`` by ``derivation`` when a record is written."""

    name: str
    source: str
    derivation: str
    description: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"from": self.source, "redaction": self.derivation}
        if self.description:
            out["description"] = self.description
        return out


@dataclass(frozen=True)
class FieldGroup:
    """Fields readable together: one key per group in a store (``docs/format.md``)."""

    name: str
    fields: tuple[str, ...]
    derived: tuple[DerivedField, ...] = ()
    description: str | None = None
    line: int | None = dataclasses.field(default=None, compare=False)

    @property
    def names(self) -> tuple[str, ...]:
        """Every column of the group: its fields, then its derived fields."""
        return self.fields + tuple(d.name for d in self.derived)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.description:
            out["description"] = self.description
        out["fields"] = list(self.fields)
        if self.derived:
            out["derived"] = {d.name: d.to_dict() for d in self.derived}
        return out


@dataclass(frozen=True)
class Role:
    """What a role's holders may do: groups they ``read``, ``write`` and ``check``
    (compare a value with, without reading it), and whether they run the rights
    commands (erase, access, purge, hold)."""

    name: str
    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()
    check: tuple[str, ...] = ()
    rights: bool = False
    description: str | None = None

    def withheld(self, groups: Mapping[str, FieldGroup]) -> list[str]:
        """The columns of ``groups`` this role does not read, in group order."""
        return [n for g in groups.values() if g.name not in self.read for n in g.names]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.description:
            out["description"] = self.description
        out["read"] = list(self.read)
        out["write"] = list(self.write)
        if self.check:
            out["check"] = list(self.check)
        if self.rights:
            out["rights"] = True
        return out


# -- the shipped roles ------------------------------------------------------------------

_ROLE_TEMPLATES: tuple[tuple[str, str, Sequence[str] | None, bool], ...] = (
    # (name, description, groups read and written (None: every group), rights)
    (
        "agent",
        "Service agents: who the customer is, how to reach them, the service record; "
        "a date of birth only checked, never read.",
        ("identity", "contact", "service"),
        False,
    ),
    (
        "analyst",
        "Service analysis: pseudonymised and service data, nothing that names or "
        "reaches a customer.",
        ("pseudonymous", "service"),
        False,
    ),
    ("steward", "Data stewards: every group but special-category data.", None, False),
    (
        "officer",
        "Compliance officers: every group, and the rights commands.",
        None,
        True,
    ),
)


def default_roles(groups: Mapping[str, FieldGroup]) -> dict[str, Role]:
    """The shipped roles for a schema's groups. A group a role names but the schema
    lacks is left out; a role left with nothing to read is not offered, except
    ``writer`` (writes every group, reads none) and ``officer``."""
    declared = tuple(groups)
    roles: dict[str, Role] = {}
    for name, description, wanted, rights in _ROLE_TEMPLATES:
        if wanted is None:
            read = tuple(g for g in declared if rights or g != SPECIAL_GROUP)
        else:
            read = tuple(g for g in declared if g in wanted)
        check = tuple(g for g in declared if name == "agent" and g == "verification")
        if read or rights:
            writes = () if name == "analyst" else read
            roles[name] = Role(name, read, writes, check, rights, description)
    roles["writer"] = Role(
        "writer",
        (),
        declared,
        (),
        False,
        "Unattended ingest (cron): collects and updates records, reads nothing back.",
    )
    return roles


class AccessPlan:
    """``custrec schemas roles``: a schema's groups and what each role may do with
    them (a result object for :mod:`custrec.render`)."""

    kind = "roles"

    def __init__(
        self, schema_name: str, groups: Mapping[str, FieldGroup], roles: Mapping[str, Role]
    ) -> None:
        self.schema_name = schema_name
        self.groups = dict(groups)
        self.roles = dict(roles)

    def to_json(self) -> dict[str, object]:
        return {
            "schema": self.schema_name,
            "groups": {name: g.to_dict() for name, g in self.groups.items()},
            "roles": {
                name: {**r.to_dict(), "rights": r.rights, "withheld": r.withheld(self.groups)}
                for name, r in self.roles.items()
            },
        }

    def tables(self) -> list[Table]:
        def listed(names: Sequence[str]) -> str:
            return ", ".join(names) or "-"

        return [
            Table(
                columns=("group", "fields"),
                rows=[(g.name, listed(g.names)) for g in self.groups.values()],
                title="Field groups",
            ),
            Table(
                columns=("role", "reads", "writes", "checks", "rights", "withheld fields"),
                rows=[
                    (
                        r.name,
                        listed(r.read),
                        listed(r.write),
                        listed(r.check),
                        "yes" if r.rights else "no",
                        len(r.withheld(self.groups)),
                    )
                    for r in self.roles.values()
                ],
                title="Roles",
            ),
        ]

    def summary(self) -> Summary:
        return Summary((("schema", self.schema_name),))


# -- loading ----------------------------------------------------------------------------


def parse_groups(
    doc: YamlDocument, data: Mapping[str, Any], fields: Mapping[str, Any]
) -> dict[str, FieldGroup]:
    """The ``groups`` section: every field of ``fields`` in exactly one group, derived
    fields from fields of the schema. Without the section: one group of every field.
    ``fields`` maps names to objects with ``type`` and ``category``."""
    if "groups" not in data:
        return {WHOLE_RECORD: FieldGroup(WHOLE_RECORD, tuple(fields))}
    spec = data["groups"]
    if not isinstance(spec, dict) or not spec:
        raise doc.error("'groups' must map each group name to its fields", "groups")
    owner: dict[str, str] = {}
    groups: dict[str, FieldGroup] = {}
    entries = _entries(doc, spec, ("groups",), "group", "a mapping with 'fields'", _GROUP_KEYS)
    for name, settings, path in entries:
        members = _names(
            doc,
            settings.get("fields"),
            f"group {name!r}: 'fields' must be a list of field names",
            path,
        )
        for position, member in enumerate(members):
            where = (*path, "fields", position)
            if member not in fields:
                raise doc.error(f"group {name!r}: {member!r} is not one of the fields", *where)
            if member in owner:
                raise doc.error(
                    f"group {name!r}: field {member!r} is in group {owner[member]!r} "
                    "already (a field belongs to exactly one group)",
                    *where,
                )
            category = getattr(fields[member], "category", None) or ""
            if category.split(".")[0] == SPECIAL_GROUP and name != SPECIAL_GROUP:
                raise doc.error(
                    f"group {name!r}: field {member!r} is special-category data "
                    f"({category}); it belongs in group {SPECIAL_GROUP!r}",
                    *where,
                )
            owner[member] = name
        derived = _derived(doc, settings.get("derived"), path, fields)
        if not members and not derived:
            raise doc.error(f"group {name!r} has no fields", *path)
        description = _description(doc, settings, f"group {name!r}", path)
        groups[name] = FieldGroup(name, tuple(members), derived, description, line=doc.line(*path))
    for field_name in fields:
        if field_name not in owner:
            raise doc.error(
                f"field {field_name!r} is in no group: add it to one of 'groups' "
                f"({', '.join(groups)})",
                "fields",
                field_name,
            )
    seen: set[str] = set(fields)
    for group in groups.values():
        for item in group.derived:
            if item.name in seen:
                raise doc.error(
                    f"group {group.name!r}: derived field {item.name!r} has the name of "
                    "another field",
                    "groups",
                    group.name,
                    "derived",
                    item.name,
                )
            seen.add(item.name)
    return groups


def _derived(
    doc: YamlDocument, spec: Any, path: tuple[Any, ...], fields: Mapping[str, Any]
) -> tuple[DerivedField, ...]:
    if spec is None:
        return ()
    where = (*path, "derived")
    if not isinstance(spec, dict):
        raise doc.error("'derived' must map each derived field to 'from' and 'redaction'", *where)
    out = []
    from custrec.schema.model import GENERALISED_TYPES  # here: model imports this module

    kind = "derived field"
    for name, settings, at in _entries(
        doc, spec, where, kind, "'from' and 'redaction'", _DERIVED_KEYS, label=kind
    ):
        source = settings.get("from")
        if not isinstance(source, str) or source not in fields:
            raise doc.error(f"derived field {name!r}: 'from' must name a field", *at, "from")
        how = settings.get("redaction")
        if how not in DERIVATIONS:
            raise doc.error(
                f"derived field {name!r}: 'redaction' must be one of {', '.join(DERIVATIONS)}",
                *at,
                "redaction",
            )
        if how == "generalise" and getattr(fields[source], "type", None) not in GENERALISED_TYPES:
            raise doc.error(
                f"derived field {name!r}: only text (postcodes), dates and times are generalised",
                *at,
                "from",
            )
        description = _description(doc, settings, f"derived field {name!r}", at)
        out.append(DerivedField(name, str(source), how, description))
    return tuple(out)


def parse_roles(
    doc: YamlDocument, data: Mapping[str, Any], groups: Mapping[str, FieldGroup]
) -> dict[str, Role]:
    """The ``roles`` section (roles replacing or added to the shipped ones), each
    naming only declared groups. Without it: empty."""
    spec = data.get("roles")
    if spec is None:
        return {}
    if not isinstance(spec, dict):
        raise doc.error("'roles' must map each role name to what it reads and writes", "roles")
    roles: dict[str, Role] = {}
    entries = _entries(
        doc, spec, ("roles",), "role", "a mapping with 'read' and 'write'", _ROLE_KEYS
    )
    for name, settings, path in entries:
        lists: dict[str, tuple[str, ...]] = {}
        for key in ("read", "write", "check"):
            names = _names(
                doc,
                settings.get(key),
                f"role {name!r}: {key!r} must be a list of groups",
                (*path, key),
            )
            for position, group in enumerate(names):
                if group not in groups:
                    raise doc.error(
                        f"role {name!r}: {group!r} is not a group "
                        f"(the groups: {', '.join(groups)})",
                        *path,
                        key,
                        position,
                    )
            lists[key] = tuple(names)
        rights = settings.get("rights", False)
        if not isinstance(rights, bool):
            raise doc.error(f"role {name!r}: 'rights' must be true or false", *path, "rights")
        description = _description(doc, settings, f"role {name!r}", path)
        roles[name] = Role(name, lists["read"], lists["write"], lists["check"], rights, description)
    return roles


def _description(
    doc: YamlDocument, settings: Mapping[str, Any], what: str, path: tuple[Any, ...]
) -> str | None:
    description = settings.get("description")
    if description is not None and not isinstance(description, str):
        raise doc.error(f"{what}: 'description' must be text", *path, "description")
    return description


def _entries(
    doc: YamlDocument,
    spec: Mapping[Any, Any],
    path: tuple[Any, ...],
    kind: str,
    expected: str,
    allowed: set[str],
    *,
    label: str | None = None,
) -> Iterator[tuple[str, Mapping[str, Any], tuple[Any, ...]]]:
    """(name, settings, path) of each entry of a section of named entries (groups,
    derived fields, roles): a name of letters, digits and '_' (``label``, default
    "``kind`` name", names it in the message), settings a mapping of ``allowed`` keys."""
    for name, settings in spec.items():
        at = (*path, name)
        if not isinstance(name, str) or not name.isidentifier():
            raise doc.error(f"{label or kind + ' name'} {name!r}: use letters, digits and '_'", *at)
        if not isinstance(settings, dict):
            raise doc.error(f"{kind} {name!r}: expected {expected}", *at)
        doc.refuse_unknown_keys(settings, allowed, *at)
        yield name, settings, at


def _names(doc: YamlDocument, value: Any, message: str, path: tuple[Any, ...]) -> list[str]:
    """A list of names; absent or empty: none; anything else: ``message`` at ``path``."""
    names = value or []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise doc.error(message, *path)
    return names
