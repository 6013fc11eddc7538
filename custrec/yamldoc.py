"""The YAML reader of schemas and policies: small, hand-written files, read strictly.

:class:`YamlDocument` parses one document and keeps the line of every node, so that
every mistake can be reported at its line. It refuses what a hand-written schema or
policy never needs and a hostile file uses to exhaust memory or time:

- **anchors and aliases** (``&name``, ``*name``): a few lines of aliases expand to
  billions of values ("billion laughs"), and an alias inside its own anchor makes a
  cycle. Bounding the expansion would still let a reviewer misread what a policy
  says; refusing them costs a hand-written file nothing (write the value out);
- nesting deeper than :data:`MAX_DEPTH` levels (schemas need five);
- files over :data:`MAX_BYTES` (the shipped customer schema is 8 KB);
- a key given twice in one mapping (YAML would keep the last one silently);
- text that is not UTF-8, and values Python cannot hold (a date in year 0, an integer
  of thousands of digits).

Each is a :class:`YamlFileError` (a usage error, exit 2) naming the file and the line,
raised as the subclass the caller chooses (``error_class``).
"""

from __future__ import annotations

import os
from importlib.resources.abc import Traversable
from typing import Any

from custrec.errors import UsageError

MAX_BYTES = 1 << 20
"""The largest schema or policy file read (1 MiB)."""
MAX_DEPTH = 32
"""The deepest nesting of mappings and lists accepted."""


class YamlFileError(UsageError):
    """A schema or policy file that cannot be used; the message names the file and
    the line (exit 2)."""

    def __init__(self, source: str, message: str, line: int | None = None) -> None:
        self.source = source
        self.line = line
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {message}")


def read_yaml_file(
    path: str | os.PathLike[str] | Traversable,
    what: str,
    error_class: type[YamlFileError],
    source: str | None = None,
) -> str:
    """The text of a YAML file (``what``: e.g. "schema file"); a missing, unreadable,
    too large or non-UTF-8 file is an ``error_class`` naming it (``source``, else the
    path). ``path`` may be a file inside the installed package
    (:mod:`custrec.resources`)."""
    name = source or str(path)
    try:
        with open(path, "rb") if isinstance(path, str | os.PathLike) else path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise error_class(name, f"no such {what}") from None
    except IsADirectoryError:
        raise error_class(name, f"is a directory; expected a {what}") from None
    except OSError as exc:
        raise error_class(name, f"cannot read the {what} ({exc.strerror})") from None
    if len(raw) > MAX_BYTES:
        raise error_class(
            name, f"larger than {MAX_BYTES >> 20} MiB; expected a small hand-written {what}"
        )
    return decode_yaml_bytes(raw, name, error_class)


def decode_yaml_bytes(raw: bytes, source: str, error_class: type[YamlFileError]) -> str:
    """``raw`` as UTF-8 text; a byte that is not is reported at its line and column."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise error_class(
            source, f"column {column}: invalid UTF-8 byte; expected UTF-8 text", line
        ) from None


class YamlDocument:
    """A YAML document with the line of every node, by path of keys and indexes.
    Errors are of :attr:`error_class`. ``data`` is the document as Python values."""

    error_class: type[YamlFileError] = YamlFileError

    def __init__(self, text: str, source: str) -> None:
        import yaml

        self.source = source
        if len(text) > MAX_BYTES:
            raise self.error_class(
                source, f"larger than {MAX_BYTES >> 20} MiB; expected a small hand-written file"
            )
        loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 8x faster
        try:
            self._check_events(yaml.parse(text, Loader=loader_class))
            loader = loader_class(text)
            try:
                node = loader.get_single_node()
                self.data = self._construct(loader, node)
            finally:
                loader.dispose()
        except yaml.YAMLError as exc:
            raise self.error_class(source, _yaml_problem(exc), _yaml_line(exc, text)) from None
        self.lines: dict[tuple[Any, ...], int] = {}
        if node is not None:
            self._walk(node, ())

    def _check_events(self, events: Any) -> None:
        """One pass over the parser's events, before anything is built: no anchors or
        aliases, no nesting deeper than :data:`MAX_DEPTH`."""
        import yaml

        depth = 0
        for event in events:
            line = event.start_mark.line + 1
            if isinstance(event, yaml.AliasEvent):
                raise self.error_class(
                    self.source,
                    "an alias (*name) is not allowed; write the value out in full",
                    line,
                )
            if getattr(event, "anchor", None) is not None:
                raise self.error_class(
                    self.source,
                    "an anchor (&name) is not allowed; write each value out in full",
                    line,
                )
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise self.error_class(
                        self.source,
                        f"nested more than {MAX_DEPTH} levels deep; expected a schema or "
                        "policy (a few levels)",
                        line,
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1

    def _construct(self, loader: Any, node: Any) -> Any:
        """The Python values of ``node``; a scalar Python cannot hold (a date in year
        0, an integer of more than 4,300 digits) is an error at its line."""
        if node is None:
            return None
        try:
            return loader.construct_document(node)
        except (ValueError, OverflowError, TypeError):
            pass
        line = self._unreadable_scalar(node)
        raise self.error_class(
            self.source, "a value that cannot be read (a date or number out of range?)", line
        )

    @staticmethod
    def _unreadable_scalar(node: Any) -> int | None:
        """The line of the first scalar under ``node`` that cannot be constructed (by a
        constructor of its own: the failed one holds half-built state)."""
        import yaml

        loader = yaml.SafeLoader("")
        pending = [node]
        while pending:
            item = pending.pop()
            if isinstance(item, yaml.ScalarNode):
                try:
                    loader.construct_object(item, deep=True)
                except (ValueError, OverflowError, TypeError):
                    return int(item.start_mark.line) + 1
            elif isinstance(item, yaml.MappingNode):
                pending.extend(part for pair in item.value for part in pair)
            elif isinstance(item, yaml.SequenceNode):
                pending.extend(item.value)
        return int(node.start_mark.line) + 1

    def _walk(self, node: Any, path: tuple[Any, ...]) -> None:
        import yaml

        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key, _ in node.value:
                if not isinstance(key, yaml.ScalarNode):
                    continue
                line = key.start_mark.line + 1
                if key.value in seen:
                    raise self.error_class(
                        self.source,
                        f"{key.value!r} is given twice (first on line {seen[key.value]}); "
                        "give each key once",
                        line,
                    )
                seen[key.value] = line
            for key, value in node.value:
                self.lines[(*path, key.value)] = key.start_mark.line + 1
                self._walk(value, (*path, key.value))
                self.lines[(*path, key.value)] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self._walk(item, (*path, index))

    def line(self, *path: Any) -> int | None:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path)

    def error(self, message: str, *path: Any) -> YamlFileError:
        return self.error_class(self.source, message, self.line(*path))

    def refuse_unknown_keys(self, data: Any, allowed: set[str], *path: Any) -> None:
        """An error at the first key of mapping ``data`` (at ``path``) not in ``allowed``."""
        for key in data:
            if key not in allowed:
                raise self.error(
                    f"unknown key {key!r} (expected one of: {', '.join(sorted(allowed))})",
                    *path,
                    key,
                )


def _yaml_problem(exc: Exception) -> str:
    problem = getattr(exc, "problem", None) or getattr(exc, "reason", None)
    return f"not valid YAML ({problem or 'unreadable'})"


def _yaml_line(exc: Exception, text: str) -> int | None:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        return int(mark.line) + 1
    position = getattr(exc, "position", None)  # a ReaderError: a character YAML refuses
    if isinstance(position, int):
        return text.count("\n", 0, position) + 1
    return None
