"""pkcs11.constants builds its enums with the stdlib's fast builder: they must be exactly
the IntEnum / IntFlag classes a class statement would give (names, values, aliases, order,
docstrings, behaviour)."""
from __future__ import annotations

import enum
import importlib.util
import re
from enum import IntEnum, IntFlag

import pytest

from strongroom.pkcs11 import constants


def _reference_module():
    """The same source with plain ``class X(IntEnum):`` statements."""
    spec = importlib.util.find_spec("strongroom.pkcs11.constants")
    src = open(spec.origin, encoding="utf-8").read()
    src = re.sub(r"^( *)@_simple_enum\((IntEnum|IntFlag)\)\n( *)class (\w+):", r"\1class \4(\2):",
                 src, flags=re.M)
    namespace: dict = {"__name__": constants.__name__}
    exec(compile(src, spec.origin, "exec"), namespace)
    namespace["CKM"] = namespace["_make_ckm"]()   # built lazily in the real module
    return namespace


_REFERENCE = _reference_module()
constants.CKM   # built on first use (module __getattr__)
_ENUMS = sorted(name for name, value in vars(constants).items()
                if isinstance(value, enum.EnumType) and value not in (IntEnum, IntFlag))


def test_every_enum_is_built_by_the_fast_builder_and_listed():
    assert {"CKA", "CKM", "CKR", "CKO", "CKK", "MechanismFlag"} <= set(_ENUMS)


@pytest.mark.parametrize("name", _ENUMS)
def test_same_enum_as_a_class_statement(name):
    fast, plain = getattr(constants, name), _REFERENCE[name]
    assert issubclass(fast, IntFlag if issubclass(plain, IntFlag) else IntEnum)
    enum._test_simple_enum(fast, plain)   # raises TypeError listing any difference
    assert [(n, int(m)) for n, m in fast.__members__.items()] == \
        [(n, int(m)) for n, m in plain.__members__.items()]
    assert fast._member_names_ == plain._member_names_
    assert fast.__doc__ == plain.__doc__
    # members live in the class dict as with a class statement (C-speed ``CKA.LABEL``),
    # not behind a Python-level descriptor
    for member_name in plain.__members__:
        assert isinstance(vars(plain)[member_name], plain)   # what a class statement does
        assert vars(fast)[member_name] is fast.__members__[member_name], member_name


def test_behaviour_spot_checks():
    CKA, CKM, CKR, F = constants.CKA, constants.CKM, constants.CKR, constants.MechanismFlag
    assert CKA(0x3) is CKA.LABEL and CKA.LABEL == 3 and hash(CKA.LABEL) == hash(3)
    assert CKR(0) is CKR.OK and str(CKR.OK) == "0" and repr(CKR.OK) == "<CKR.OK: 0>"
    assert CKM["SHA256"] is CKM.SHA256 and f"{CKM.SHA256:#x}" == "0x250"
    assert isinstance(F.SIGN | F.VERIFY, F) and (F.SIGN | F.VERIFY) & F.SIGN
    with pytest.raises(ValueError):
        CKR(0x7FFFFFF1)


def test_ckm_is_built_on_first_use_only():
    """C_Initialize imports the constants but needs no mechanism name (cold start)."""
    import subprocess
    import sys

    code = ("import strongroom.pkcs11.constants as c; assert 'CKM' not in vars(c); "
            "from strongroom.pkcs11.constants import CKM; assert vars(c)['CKM'] is CKM; "
            "assert CKM.ECDSA == 0x1041 and CKM(0x1041).name == 'ECDSA'")
    subprocess.run([sys.executable, "-c", code], check=True)
