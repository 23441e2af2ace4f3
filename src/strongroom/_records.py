"""``typing`` names the C_Initialize path uses, without importing :mod:`typing` at run time.

``typing`` (with the ``re`` it pulls in) is the largest single import it would add to the
module's cold start (measured in issue 12: about +9 ms on a busy bench host, p11-kit loads
every module in every GnuTLS process), and nothing on that path needs it at run time:
annotations are strings (``from __future__ import annotations``). Two names stand in:

* ``TYPE_CHECKING``: False at run time. Type checkers treat any name ``TYPE_CHECKING`` as
  true (mypy, pyright and ruff match it by name), so ``if TYPE_CHECKING:`` imports work
  as with ``typing.TYPE_CHECKING``.
* ``NamedTuple``: type checkers see ``typing.NamedTuple`` itself (the import below); at
  run time a class statement ``class Record(NamedTuple): field: type = default`` builds
  the same ``collections.namedtuple`` subclass typing would, for the features records
  here use: annotated fields in order, defaults, methods, properties, docstrings
  (tests/unit/test_records.py compares the two).
"""
from __future__ import annotations

from collections import namedtuple

TYPE_CHECKING = False

_SKIP = frozenset({"__module__", "__qualname__", "__annotations__", "__orig_bases__"})
_make_namedtuple = namedtuple   # called with computed names: not the literal form checkers model


class _NamedTupleMeta(type):
    """Turns a ``NamedTuple`` class statement into a namedtuple class (as typing's does)."""

    def __new__(mcls, name: str, bases: tuple[type, ...], ns: dict[str, object]) -> type:
        if not bases:                      # the NamedTuple base itself
            return super().__new__(mcls, name, bases, ns)
        annotations = ns.get("__annotations__", {})
        assert isinstance(annotations, dict)
        fields = list(annotations)
        defaults = []
        for field in fields:
            if field in ns:
                defaults.append(ns[field])
            elif defaults:
                raise TypeError(f"{name}: field {field} without a default follows one with a default")
        cls: type = _make_namedtuple(name, fields, defaults=defaults, module=str(ns.get("__module__")))
        cls.__qualname__ = str(ns.get("__qualname__", name))
        for key, value in ns.items():
            if key not in _SKIP and key not in fields:
                setattr(cls, key, value)
        return cls


if TYPE_CHECKING:
    from typing import NamedTuple as NamedTuple
else:
    class NamedTuple(metaclass=_NamedTupleMeta):
        """Base for ``class Record(NamedTuple): field: type = default`` records."""
