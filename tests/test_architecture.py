"""The layout the code keeps: the library never imports the command line, no module
imports another's private names, and the modules of the store and of redaction stay
small."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "custrec"
STORE_MODULE_LINES = 620


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every import in ``path``, at any depth."""
    out: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            out.extend((alias.name, []) for alias in node.names)
    return out


def test_the_library_never_imports_the_command_line() -> None:
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "cli" not in path.relative_to(PACKAGE).parts and path.name != "__main__.py"
        for module, _ in imports(path)
        if module == "custrec.cli" or module.startswith("custrec.cli.")
    ]
    assert offenders == []


def test_store_and_redaction_modules_are_small_and_import_public_names_only() -> None:
    for path in sorted([*(PACKAGE / "store").glob("*.py"), *(PACKAGE / "redaction").glob("*.py")]):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines <= STORE_MODULE_LINES, f"{path.name} has {lines} lines"
        for module, names in imports(path):
            if module.startswith("custrec"):
                private = [n for n in names if n.startswith("_")]
                assert private == [], f"{path.name} imports {private} from {module}"


def test_no_module_imports_another_modules_private_names() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)} imports {name} from {module}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for module, names in imports(path)
        if module.startswith("custrec")
        for name in names
        if name.startswith("_") and not name.startswith("__")
    ]
    assert offenders == []
