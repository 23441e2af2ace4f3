"""pkcs11.constants: plain IntEnum / IntFlag class statements, CKM imported on first use."""
from __future__ import annotations

import enum
import subprocess
import sys
from enum import IntEnum, IntFlag

import pytest

from strongroom.pkcs11 import ckm, constants

_ENUMS = sorted({name for name, value in vars(constants).items()
                 if isinstance(value, enum.EnumType) and value not in (IntEnum, IntFlag)} | {"CKM"})


def test_every_enum_is_listed():
    assert {"CKA", "CKM", "CKR", "CKO", "CKK", "MechanismFlag"} <= set(_ENUMS)


@pytest.mark.parametrize("name", _ENUMS)
def test_members_live_in_the_class_dict(name):
    """``CKA.LABEL`` is a C-speed class-dict lookup, not a Python-level descriptor (hot path)."""
    cls = getattr(constants, name)
    assert issubclass(cls, IntEnum | IntFlag)
    for member_name, member in cls.__members__.items():
        assert vars(cls)[member_name] is member, member_name


def test_behaviour_spot_checks():
    CKA, CKM, CKR, F = constants.CKA, constants.CKM, constants.CKR, constants.MechanismFlag
    assert CKM is ckm.CKM
    assert CKA(0x3) is CKA.LABEL and CKA.LABEL == 3 and hash(CKA.LABEL) == hash(3)
    assert CKR(0) is CKR.OK and str(CKR.OK) == "0" and repr(CKR.OK) == "<CKR.OK: 0>"
    assert CKM["SHA256"] is CKM.SHA256 and f"{CKM.SHA256:#x}" == "0x250"
    assert isinstance(F.SIGN | F.VERIFY, F) and (F.SIGN | F.VERIFY) & F.SIGN
    with pytest.raises(ValueError):
        CKR(0x7FFFFFF1)
    with pytest.raises(AttributeError):
        constants.NO_SUCH_NAME  # noqa: B018  # the module hook answers only for CKM


def test_ckm_is_imported_on_first_use_only():
    """C_Initialize imports the constants but needs no mechanism name (cold start)."""
    code = ("import sys, strongroom.pkcs11.constants as c; "
            "assert 'CKM' not in vars(c) and 'strongroom.pkcs11.ckm' not in sys.modules; "
            "from strongroom.pkcs11.constants import CKM; assert vars(c)['CKM'] is CKM; "
            "assert CKM.ECDSA == 0x1041 and CKM(0x1041).name == 'ECDSA'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_tables_keyed_by_mechanism_numbers_name_the_right_mechanisms():
    """pkcs11.params keys its message table by number so that importing it builds no CKM."""
    from strongroom.pkcs11 import params

    CKM = constants.CKM
    named = {CKM.AES_GCM: params.GcmMessageParams, CKM.CHACHA20_POLY1305: params.ChaCha20Poly1305MessageParams}
    assert named == params.MESSAGE_PARAM_TYPES
    code = "import sys, strongroom.pkcs11.params; assert 'strongroom.pkcs11.ckm' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
