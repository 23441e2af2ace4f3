"""Message-based encryption and decryption (v3.0 §5.9, §5.11): C_MessageEncryptInit ..
C_MessageDecryptFinal. Encryption and decryption differ only in the direction flag the
core takes and in the parameter fields encryption writes back (GCM / ChaCha20 IVs, tags).
"""
from __future__ import annotations

from .._records import TYPE_CHECKING
from ..token.inprocess import APPLICATION
from .entry_crypto import init_with_key
from .extern import OK, capacity, data, deliver, extern, plain
from .guards import message_inputs
from .mechanism_in import message_param, writer
from .native import ffi

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_messages = APPLICATION.messages
_END_OF_MESSAGE = 0x1          # CKF_END_OF_MESSAGE
_ENCRYPT, _DECRYPT = "message_encrypt", "message_decrypt"     # OpSlot values


def _write_back(ptype: type | None, param_out: Any, pParameter: Any, ulParameterLen: int) -> None:
    """Copy what the mechanism produced (a generated IV, the tag) into the caller's struct."""
    put = writer(ptype)
    if put is not None and param_out is not None:
        put(ffi, pParameter, ulParameterLen, param_out)


def _one_message(encrypt: bool) -> Callable[[int, Any, int, Any, int, Any, int, Any, Any], int]:
    """C_EncryptMessage / C_DecryptMessage: (h, pParameter, len, pAAD, len, pIn, len,
    pOut, *outLen)."""
    slot = _ENCRYPT if encrypt else _DECRYPT

    def f(h: int, pParameter: Any, ulParameterLen: int, pAAD: Any, ulAAD: int, pIn: Any, ulIn: int,
          pOut: Any, pulOut: Any) -> int:
        message_inputs(h, slot, ulAAD, ulIn)
        ptype, param = message_param(h, encrypt, pParameter, ulParameterLen)
        aad, text, cap = data(pAAD, ulAAD), data(pIn, ulIn), capacity(pOut, pulOut)
        if not encrypt:
            return deliver(_messages.decrypt_message(h, param, aad, text, cap), pOut, pulOut)
        out = _messages.encrypt_message(h, param, aad, text, cap)
        if isinstance(out, int):
            return deliver(out, pOut, pulOut)
        ciphertext, param_out = out
        _write_back(ptype, param_out, pParameter, ulParameterLen)
        return deliver(ciphertext, pOut, pulOut)
    return f


def _begin_message(encrypt: bool) -> Callable[[int, Any, int, Any, int], int]:
    """C_EncryptMessageBegin / C_DecryptMessageBegin: (h, pParameter, len, pAAD, len)."""
    slot = _ENCRYPT if encrypt else _DECRYPT

    def f(h: int, pParameter: Any, ulParameterLen: int, pAAD: Any, ulAAD: int) -> int:
        message_inputs(h, slot, ulAAD, 0)
        _, param = message_param(h, encrypt, pParameter, ulParameterLen)
        _messages.message_begin(h, encrypt, param, data(pAAD, ulAAD))
        return OK
    return f


def _next_message(encrypt: bool) -> Callable[[int, Any, int, Any, int, Any, Any, int], int]:
    """C_EncryptMessageNext / C_DecryptMessageNext: one part of a multi-part message."""
    slot = _ENCRYPT if encrypt else _DECRYPT

    def f(h: int, pParameter: Any, ulParameterLen: int, pIn: Any, ulIn: int, pOut: Any, pulOut: Any,
          flags: int) -> int:
        message_inputs(h, slot, 0, ulIn)
        ptype, param = message_param(h, encrypt, pParameter, ulParameterLen)
        end = bool(flags & _END_OF_MESSAGE)
        out = _messages.message_next(h, encrypt, param, data(pIn, ulIn), end, capacity(pOut, pulOut))
        if isinstance(out, int):
            return deliver(out, pOut, pulOut)
        if encrypt:
            out, param_out = out
            if end:
                _write_back(ptype, param_out, pParameter, ulParameterLen)
        return deliver(out, pOut, pulOut)
    return f


extern("sr_py_MessageEncryptInit", init_with_key(_messages.message_encrypt_init))
extern("sr_py_EncryptMessage", _one_message(True))
extern("sr_py_EncryptMessageBegin", _begin_message(True))
extern("sr_py_EncryptMessageNext", _next_message(True))
extern("sr_py_MessageEncryptFinal", plain(_messages.message_encrypt_final))
extern("sr_py_MessageDecryptInit", init_with_key(_messages.message_decrypt_init))
extern("sr_py_DecryptMessage", _one_message(False))
extern("sr_py_DecryptMessageBegin", _begin_message(False))
extern("sr_py_DecryptMessageNext", _next_message(False))
extern("sr_py_MessageDecryptFinal", plain(_messages.message_decrypt_final))
