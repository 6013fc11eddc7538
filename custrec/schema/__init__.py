"""Record schemas: custrec's YAML format (``docs/schema.md``), its checks, and their
compilation to pandera."""

from custrec.schema.model import (
    Field,
    Rule,
    Schema,
    SchemaFileError,
    dump_schema,
    load_schema,
    parse_schema,
    shipped_schema,
)
from custrec.schema.registry import CHECKS
from custrec.types import FIELD_TYPES

__all__ = [
    "CHECKS",
    "FIELD_TYPES",
    "Field",
    "Rule",
    "Schema",
    "SchemaFileError",
    "dump_schema",
    "load_schema",
    "parse_schema",
    "shipped_schema",
]
