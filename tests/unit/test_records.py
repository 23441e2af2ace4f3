"""strongroom._records.NamedTuple builds what typing.NamedTuple builds (type checkers are
shown typing's; the C_Initialize path uses this one to keep typing out of the cold start)."""
from __future__ import annotations

import subprocess
import sys
import typing

import pytest

from strongroom import _records


def _record(base: type) -> type:
    class Rec(base):  # type: ignore[misc, valid-type]  # the base is a parameter: both builders
        """A record."""

        a: int
        b: str = "b"
        c: tuple[int, ...] = ()

        def twice(self) -> int:
            return 2 * self.a

        @property
        def label(self) -> str:
            return f"{self.a}{self.b}"

    return Rec


def test_same_record_as_typing_namedtuple():
    ours, theirs = _record(_records.NamedTuple), _record(typing.NamedTuple)
    assert ours._fields == theirs._fields == ("a", "b", "c")
    assert ours._field_defaults == theirs._field_defaults
    assert ours.__doc__ == theirs.__doc__ == "A record."
    assert ours.__qualname__ == theirs.__qualname__ and ours.__module__ == theirs.__module__
    x, y = ours(1), theirs(1)
    assert tuple(x) == tuple(y) == (1, "b", ())
    assert (x.twice(), x.label) == (y.twice(), y.label) == (2, "1b")
    assert repr(x) == repr(y)
    assert x._replace(b="z") == y._replace(b="z") == (1, "z", ())
    assert isinstance(x, tuple) and hash(x) == hash(y)
    with pytest.raises(AttributeError):
        x.a = 2  # type: ignore[misc]  # records are immutable
    with pytest.raises(TypeError):
        ours()


def test_a_field_without_default_after_one_with_a_default_is_refused():
    with pytest.raises(TypeError):
        class Bad(_records.NamedTuple):
            a: int = 0
            b: int


#: The modules of the C_Initialize path that _records serves (the foundation's part of it).
_COLD_PATH = ("strongroom.config", "strongroom.log", "strongroom.wipe", "strongroom.pinsource",
              "strongroom.pkcs11.template", "strongroom.pkcs11.limits", "strongroom.storage.sqlite")


def test_the_foundation_imports_no_typing():
    """The point of _records: these imports leave typing out of the cold start."""
    code = f"import sys, {', '.join(_COLD_PATH)}; assert 'typing' not in sys.modules, 'typing imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
