"""python-pkcs11 exceptions → API errors; the lazy strongroom.open."""
from __future__ import annotations

import subprocess
import sys

import pytest
from pkcs11 import exceptions as p11e

from strongroom.api import errors


@pytest.mark.parametrize("exc,cls,name,code", [
    (p11e.PinIncorrect(), errors.PinIncorrect, "CKR_PIN_INCORRECT", 0xA0),
    (p11e.PinLocked(), errors.PinLocked, "CKR_PIN_LOCKED", 0xA4),
    (p11e.UserNotLoggedIn(), errors.NotLoggedIn, "CKR_USER_NOT_LOGGED_IN", 0x101),
    (p11e.KeyUnextractable(), errors.NotExtractable, "CKR_KEY_UNEXTRACTABLE", 0x6A),
    (p11e.AttributeSensitive(), errors.NotExtractable, "CKR_ATTRIBUTE_SENSITIVE", 0x11),
    (p11e.MechanismInvalid(), errors.Unsupported, "CKR_MECHANISM_INVALID", 0x70),
    (p11e.TokenNotRecognised(), errors.StrongroomError, "CKR_TOKEN_NOT_RECOGNIZED", 0xE1),
    (p11e.FunctionCancelled(), errors.StrongroomError, "CKR_FUNCTION_CANCELED", 0x50),
    (p11e.SlotIDInvalid(), errors.TokenNotFound, "CKR_SLOT_ID_INVALID", 0x3),
    (p11e.TemplateIncomplete(), errors.StrongroomError, "CKR_TEMPLATE_INCOMPLETE", 0xD0),
])
def test_translation_keeps_the_ckr(exc, cls, name, code):
    err = errors.translate(exc, "doing X")
    assert type(err) is cls
    assert err.ckr == code
    assert str(err) == f"doing X failed: {name}"


def test_every_python_pkcs11_error_has_a_ckr_name():
    import inspect

    for _, cls in inspect.getmembers(p11e, inspect.isclass):
        if issubclass(cls, p11e.PKCS11Error) and cls.__name__ not in errors._RENAMED:
            assert errors.ckr_code(errors.ckr_name(cls())) is not None, cls.__name__


def test_translated_context_manager():
    with pytest.raises(errors.PinIncorrect, match="logging in failed: CKR_PIN_INCORRECT"), \
            errors.translated("logging in"):
        raise p11e.PinIncorrect()


def test_package_import_stays_cheap():
    """strongroom/__init__ is imported by the module's embedded interpreter at every
    C_Initialize: open() must not pull in the API (python-pkcs11, pyca) until called."""
    code = ("import sys, strongroom; assert callable(strongroom.open); "
            "print(sorted(m for m in sys.modules if m.startswith(('pkcs11', 'cryptography', 'strongroom.api'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
