"""The house rules of the source tree, checked: layers depend downwards only, files and
functions stay small, no class of the core grows into a god object (docs/design.md).

Read from the source text with ``ast`` (nothing is imported), so a violation names the
file and line.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "strongroom"
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80
MAX_CORE_CLASS_METHODS = 25
LONG_MODULES_ALLOWED = {"pkcs11/constants.py"}     # the spec's numbers

#: layer -> the strongroom layers it may import (itself always). Top-level helper
#: modules (config, log, wipe, pinsource, modules, _records, the package) count as
#: "base" and may be imported by every layer.
BASE = {"base"}
ALLOWED: dict[str, set[str]] = {
    "base": {"pkcs11"},
    "pkcs11": BASE,
    "storage": BASE | {"pkcs11"},
    "mechanisms": BASE | {"pkcs11"},
    "token": BASE | {"pkcs11", "mechanisms", "storage"},
    "abi": BASE | {"pkcs11", "token"},
    "server": BASE | {"pkcs11", "token", "storage", "mechanisms"},
    # the C client's build-time table generator reads the pure-data tables of both
    "client": BASE | {"pkcs11", "server"},
    # the tools reach tokens only through a PKCS#11 module (pure DER / parameter helpers
    # of pkcs11/ and mechanisms/ are not token access)
    "uri": BASE,
    "api": BASE | {"pkcs11", "mechanisms", "uri"},
    "ca": BASE | {"pkcs11", "api", "uri"},
    "cli": BASE | {"pkcs11", "api", "ca", "uri"},
}


def _sources() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)


def _rel(path: Path) -> str:
    return path.relative_to(SRC).as_posix()


#: top-level modules that belong to the tools, not the base
TOOL_MODULES = {"uri", "pinsource"}
#: the package's lazy facade: ``strongroom.open`` is ``strongroom.api.open``, imported on use
FACADE = ("__init__.py", "api")


def _layer(rel: str) -> str:
    head = rel.split("/", 1)[0]
    if head.endswith(".py"):
        return "uri" if head[:-3] in TOOL_MODULES else "base"
    return head


def _imported_layers(path: Path) -> list[tuple[int, str]]:
    """(line, layer) of every strongroom module ``path`` imports, relative imports resolved."""
    rel_parts = path.relative_to(SRC).with_suffix("").parts
    package = ["strongroom", *rel_parts[:-1]]     # the package a relative import starts from
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
                names = [module] if node.module else [f"{module}.{a.name}" for a in node.names]
            elif node.module:
                names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] != "strongroom":
                continue
            if len(parts) == 1:
                out.append((node.lineno, "base"))
                continue
            target = parts[1]
            sub = SRC / target
            layer = target if sub.is_dir() else ("uri" if target in TOOL_MODULES else "base")
            out.append((node.lineno, layer))
    return out


def test_layers_depend_downwards_only() -> None:
    wrong = []
    for path in _sources():
        rel = _rel(path)
        layer = _layer(rel)
        allowed = ALLOWED.get(layer, set()) | {layer}
        for line, used in _imported_layers(path):
            if used not in allowed and (rel, used) != FACADE:
                wrong.append(f"{rel}:{line} ({layer}) imports {used}")
    assert wrong == []


def test_the_abi_never_asks_the_mechanism_registry() -> None:
    for path in (SRC / "abi").glob("*.py"):
        assert "registry" not in path.read_text(), _rel(path)


@pytest.mark.parametrize("path", _sources(), ids=_rel)
def test_small_modules_and_functions(path: Path) -> None:
    rel = _rel(path)
    text = path.read_text()
    if rel not in LONG_MODULES_ALLOWED:
        assert text.count("\n") <= MAX_MODULE_LINES, f"{rel} has more than {MAX_MODULE_LINES} lines"
    long = []
    for node in ast.walk(ast.parse(text, rel)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                long.append(f"{rel}:{node.lineno} {node.name} ({length} lines)")
    assert long == []


def test_no_god_class_in_the_core() -> None:
    big = []
    for path in sorted((SRC / "token").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                methods = [n for n in node.body if isinstance(n, ast.FunctionDef)]
                if len(methods) > MAX_CORE_CLASS_METHODS:
                    big.append(f"{_rel(path)} {node.name}: {len(methods)} methods")
    assert big == []
