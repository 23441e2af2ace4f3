"""Key management (v3.0 §5.18; v3.2 §5.19 KEM): C_GenerateKey .. C_DeriveKey,
C_EncapsulateKey, C_DecapsulateKey. Templates are wiped when the core returns
(``marshal.wiped``); outputs follow the two-call rule (``extern.deliver``)."""
from __future__ import annotations

from .._records import TYPE_CHECKING
from ..pkcs11.constants import CKR
from ..pkcs11.errors import CKRError
from ..token.inprocess import APPLICATION
from . import marshal as M
from .extern import OK, capacity, data, deliver, exported
from .guards import ENCRYPTED_DATA_LEN_RANGE, max_data_len
from .mechanism_in import mechanism

if TYPE_CHECKING:   # typing stays off the C_Initialize path (strongroom._records)
    from typing import Any

_keys = APPLICATION.keys
_template = M.template_arg
_wiped = M.wiped
_WRAPPED_KEY_LEN_RANGE = int(CKR.WRAPPED_KEY_LEN_RANGE)


@exported
def sr_py_GenerateKey(h: int, pMechanism: Any, pTemplate: Any, ulCount: int, phKey: Any) -> int:
    phKey[0] = _wiped(_keys.generate_key, h, mechanism(pMechanism), _template(pTemplate, ulCount))
    return OK


@exported
def sr_py_GenerateKeyPair(h: int, pMechanism: Any, pPub: Any, ulPub: int, pPriv: Any, ulPriv: int,
                          phPub: Any, phPriv: Any) -> int:
    pub, priv = _wiped(_keys.generate_key_pair, h, mechanism(pMechanism), _template(pPub, ulPub),
                       _template(pPriv, ulPriv))
    phPub[0] = pub
    phPriv[0] = priv
    return OK


@exported
def sr_py_DeriveKey(h: int, pMechanism: Any, hBaseKey: int, pTemplate: Any, ulCount: int, phKey: Any) -> int:
    phKey[0] = _wiped(_keys.derive_key, h, mechanism(pMechanism), hBaseKey, _template(pTemplate, ulCount))
    return OK


@exported
def sr_py_WrapKey(h: int, pMechanism: Any, hWrappingKey: int, hKey: int, pWrapped: Any, pulLen: Any) -> int:
    out = _keys.wrap_key(h, mechanism(pMechanism), hWrappingKey, hKey, capacity(pWrapped, pulLen))
    return deliver(out, pWrapped, pulLen)


@exported
def sr_py_UnwrapKey(h: int, pMechanism: Any, hUnwrappingKey: int, pWrapped: Any, ulWrapped: int,
                    pTemplate: Any, ulCount: int, phKey: Any) -> int:
    if ulWrapped > max_data_len[0]:     # before it is read; C_UnwrapKey's length code
        raise CKRError(_WRAPPED_KEY_LEN_RANGE, "wrapped key above max_data_len")
    phKey[0] = _wiped(_keys.unwrap_key, h, mechanism(pMechanism), hUnwrappingKey, data(pWrapped, ulWrapped),
                      _template(pTemplate, ulCount))
    return OK


@exported
def sr_py_EncapsulateKey(h: int, pMechanism: Any, hPublicKey: int, pTemplate: Any, ulCount: int,
                         pCiphertext: Any, pulCiphertextLen: Any, phKey: Any) -> int:
    out = _wiped(_keys.encapsulate_key, h, mechanism(pMechanism), hPublicKey, _template(pTemplate, ulCount),
                 capacity(pCiphertext, pulCiphertextLen))
    if isinstance(out, int):        # the length needed: no key made
        return deliver(out, pCiphertext, pulCiphertextLen)
    ciphertext, handle = out
    if deliver(ciphertext, pCiphertext, pulCiphertextLen) != OK:   # the core checked the capacity
        raise RuntimeError("ciphertext does not fit after the core accepted the buffer")
    phKey[0] = handle
    return OK


@exported
def sr_py_DecapsulateKey(h: int, pMechanism: Any, hPrivateKey: int, pTemplate: Any, ulCount: int,
                         pCiphertext: Any, ulCiphertextLen: int, phKey: Any) -> int:
    if ulCiphertextLen > max_data_len[0]:     # before it is read (as mechanisms/mlkem.py)
        raise CKRError(ENCRYPTED_DATA_LEN_RANGE, "ciphertext above max_data_len")
    phKey[0] = _wiped(_keys.decapsulate_key, h, mechanism(pMechanism), hPrivateKey,
                      _template(pTemplate, ulCount), data(pCiphertext, ulCiphertextLen))
    return OK
