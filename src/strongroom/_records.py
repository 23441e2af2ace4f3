"""``NamedTuple`` class syntax without importing :mod:`typing`.

``typing`` (with the ``re`` it pulls in) costs about 4 ms of every process that loads
the module, and the C_Initialize path needs nothing from it at run time: annotations are
strings (``from __future__ import annotations``). Its only run-time use there was the
``NamedTuple`` base of plain records, which this replaces with the same semantics for the
features we use (annotated fields in order, defaults, methods, properties, docstrings);
type checkers keep seeing ``typing.NamedTuple`` (see the ``TYPE_CHECKING`` imports).
"""
from __future__ import annotations

from collections import namedtuple

_SKIP = frozenset({"__module__", "__qualname__", "__annotations__", "__orig_bases__"})


class _NamedTupleMeta(type):
    def __new__(mcls, name: str, bases: tuple, ns: dict):  # noqa: ANN204, N804
        if not bases:                      # the NamedTuple base itself
            return super().__new__(mcls, name, bases, ns)
        fields = list(ns.get("__annotations__", {}))
        defaults = []
        for field in fields:
            if field in ns:
                defaults.append(ns[field])
            elif defaults:
                raise TypeError(f"{name}: field {field} without a default follows one with a default")
        cls = namedtuple(name, fields, defaults=defaults, module=ns.get("__module__"))
        cls.__qualname__ = ns.get("__qualname__", name)
        for key, value in ns.items():
            if key not in _SKIP and key not in fields:
                setattr(cls, key, value)
        return cls


class NamedTuple(metaclass=_NamedTupleMeta):
    """Base for ``class Record(NamedTuple): field: type = default`` records."""
