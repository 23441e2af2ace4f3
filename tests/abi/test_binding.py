"""The ABI's binding table: every C function the module implements in Python has exactly
one ``sr_py_*`` in the ``abi/entry_*`` modules, and every application method they call
exists. Read from the sources (the entry modules import the cffi module that exists only
inside libstrongroom.so); the module itself checks the first half at its first
C_Initialize (``extern.check_bound``, called by the embedding init code)."""
from __future__ import annotations

import ast
from pathlib import Path

from strongroom.abi import build_ffi
from strongroom.token.inprocess import APPLICATION

ABI = Path(build_ffi.HERE)
ENTRY_MODULES = sorted(p for p in ABI.glob("*.py") if p.name != "build_ffi.py")
CHAPTERS = ("slots", "sessions", "objects", "crypto", "signatures", "keys", "messages")


def _trees() -> dict[str, ast.Module]:
    return {p.name: ast.parse(p.read_text(), str(p)) for p in ENTRY_MODULES}


def _bound_names() -> list[str]:
    """``@exported def sr_py_X`` and ``extern("sr_py_X", ...)``, in every entry module."""
    names = []
    for tree in _trees().values():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and any(
                    isinstance(d, ast.Name) and d.id == "exported" for d in node.decorator_list):
                names.append(node.name)
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "extern"
                  and node.args and isinstance(node.args[0], ast.Constant)):
                names.append(node.args[0].value)
    return names


def _application_calls() -> set[tuple[str, str]]:
    """(chapter or "", method) for every attribute the entry modules read from the
    application, directly (``APPLICATION.crypto.sign``) or through a module-level alias
    (``_crypto = APPLICATION.crypto`` ... ``_crypto.sign``)."""
    found = set()
    for tree in _trees().values():
        aliases: dict[str, str] = {}
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                v = node.value
                if isinstance(v, ast.Name) and v.id == "APPLICATION":
                    aliases[node.targets[0].id] = ""
                elif isinstance(v, ast.Attribute) and isinstance(v.value, ast.Name) and v.value.id == "APPLICATION" \
                        and v.attr in CHAPTERS:
                    aliases[node.targets[0].id] = v.attr
        aliases["APPLICATION"] = ""
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            base = node.value
            if isinstance(base, ast.Name) and base.id in aliases:
                chapter = aliases[base.id]
                if chapter or node.attr not in CHAPTERS:
                    found.add((chapter, node.attr))
            elif (isinstance(base, ast.Attribute) and isinstance(base.value, ast.Name)
                  and base.value.id == "APPLICATION" and base.attr in CHAPTERS):
                found.add((base.attr, node.attr))
    return found


def test_every_implemented_function_is_bound_once():
    names = _bound_names()
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    assert set(names) == {build_ffi.py_name(n) for n in build_ffi.PYTHON_IMPLEMENTED}


def test_every_application_method_exists():
    calls = _application_calls()
    assert ("signatures", "sign") in calls and ("slots", "delete_token") in calls   # the scan sees them
    for chapter, method in sorted(calls):
        owner = getattr(APPLICATION, chapter) if chapter else APPLICATION
        assert not method.startswith("_"), f"the ABI reaches a private {chapter}.{method}"
        if method == "config":
            continue
        assert callable(getattr(owner, method, None)), f"APPLICATION.{chapter}.{method} does not exist"


def test_init_code_checks_every_binding():
    code = build_ffi.embedding_init_code()
    assert "import strongroom.abi.entry" in code and "check_bound(" in code
    for name in build_ffi.PYTHON_IMPLEMENTED:
        assert repr(build_ffi.py_name(name)) in code


def test_no_registry_lookup_in_the_abi():
    """Mechanism parameter types come from pkcs11.mechanism_params: no ABI module imports
    strongroom.mechanisms (the registry and the families, pyca)."""
    for path in ABI.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                module = ("." * node.level) + (node.module or "")
                assert not module.lstrip(".").startswith("mechanisms"), path.name
                assert not module.startswith("strongroom.mechanisms"), path.name
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("strongroom.mechanisms") for a in node.names), path.name
