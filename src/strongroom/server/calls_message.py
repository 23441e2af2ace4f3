"""Message-based encryption and decryption (PKCS#11 v3.0 §5.9, §5.11) on the wire.

The per-message parameter travels in an ``ay``, flattened by the rows of
``pkcs11/param_layouts.py`` (server/mechanism_wire.py). p11-kit's own client sends the raw
C struct there, whose pointers mean nothing in this process: it does not decode, and is
CKR_MECHANISM_PARAM_INVALID. strongroom's client uses the SR_EncryptMessage* extension
ids, whose answers carry the parameter back with the token's tag and generated IV.
"""
from __future__ import annotations

from .._records import TYPE_CHECKING
from ..pkcs11.constants import CKR
from ..pkcs11.errors import CKRError
from .call_io import ANY_LENGTH, capacity, data, deliver, mechanism
from .mechanism_wire import decode_param, encode_param
from .message import Cursor, MessageError

if TYPE_CHECKING:
    from typing import Any

    from .calls import Handler
    from .context import Context
    from .message import MessageReader, MessageWriter

_END_OF_MESSAGE = 0x1          # CKF_END_OF_MESSAGE
_SLOT = {True: "message_encrypt", False: "message_decrypt"}


def _param(ctx: Context, r: MessageReader, h: int, encrypt: bool) -> tuple[type | None, Any]:
    """The per-message parameter (its type, its value) of the session's message operation."""
    raw = r.byte_array(ANY_LENGTH)
    ptype = ctx.app.messages.message_param_type(h, encrypt)
    image = raw if isinstance(raw, bytes) else None
    if ptype is None or ptype is bytes:
        return ptype, image
    if image is None:
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "this mechanism needs a per-message parameter")
    cur = Cursor(image)
    try:
        value = decode_param(ptype, cur, ctx.data_max)
    except MessageError:
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "per-message parameter not in its wire layout") from None
    if cur.pos != len(image):
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "bytes after the per-message parameter")
    return ptype, value


def _init(encrypt: bool) -> Handler:
    def handle(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
        h, mech, key = r.ulong(), mechanism(ctx, r, raw=True), r.ulong()
        r.finish()
        m = ctx.app.messages
        (m.message_encrypt_init if encrypt else m.message_decrypt_init)(h, mech, key)
    return handle


def _one(encrypt: bool, param_back: bool = False) -> Handler:
    """C_EncryptMessage / C_DecryptMessage; SR_EncryptMessage answers the parameter too."""
    slot = _SLOT[encrypt]
    code = CKR.DATA_LEN_RANGE if encrypt else CKR.ENCRYPTED_DATA_LEN_RANGE

    def handle(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
        h = r.ulong()
        ptype, param = _param(ctx, r, h, encrypt)
        aad, text = data(ctx, r, h, slot), data(ctx, r, h, slot, code)
        cap = capacity(r)
        r.finish()
        m = ctx.app.messages
        if not encrypt:
            deliver(w, m.decrypt_message(h, param, aad, text, cap), cap)
            return
        out = m.encrypt_message(h, param, aad, text, cap)
        result: bytes | int
        if isinstance(out, int):
            param_out, result = param, out
        else:
            result, param_out = out
        if param_back:
            w.byte_array(encode_param(ptype, param_out if param_out is not None else param))
        deliver(w, result, cap)
    return handle


def _begin(encrypt: bool, param_back: bool = False) -> Handler:
    slot = _SLOT[encrypt]

    def handle(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
        h = r.ulong()
        ptype, param = _param(ctx, r, h, encrypt)
        aad = data(ctx, r, h, slot)
        r.finish()
        ctx.app.messages.message_begin(h, encrypt, param, aad)
        if param_back:
            w.byte_array(encode_param(ptype, param))
    return handle


def _next(encrypt: bool, param_back: bool = False) -> Handler:
    slot = _SLOT[encrypt]
    code = CKR.DATA_LEN_RANGE if encrypt else CKR.ENCRYPTED_DATA_LEN_RANGE

    def handle(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
        h = r.ulong()
        ptype, param = _param(ctx, r, h, encrypt)
        text = data(ctx, r, h, slot, code)
        cap, flags = capacity(r), r.ulong()
        r.finish()
        end = bool(flags & _END_OF_MESSAGE)
        out = ctx.app.messages.message_next(h, encrypt, param, text, end, cap)
        param_out = param
        if encrypt and not isinstance(out, int):
            out, produced = out
            if end and produced is not None:
                param_out = produced
        if param_back:
            w.byte_array(encode_param(ptype, param_out))
        deliver(w, out, cap)
    return handle


def _final(encrypt: bool) -> Handler:
    def handle(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
        h = r.ulong()
        r.finish()
        m = ctx.app.messages
        (m.message_encrypt_final if encrypt else m.message_decrypt_final)(h)
    return handle


HANDLERS: dict[str, Handler] = {
    "C_MessageEncryptInit": _init(True), "C_EncryptMessage": _one(True),
    "C_EncryptMessageBegin": _begin(True), "C_EncryptMessageNext": _next(True),
    "C_MessageEncryptFinal": _final(True),
    "C_MessageDecryptInit": _init(False), "C_DecryptMessage": _one(False),
    "C_DecryptMessageBegin": _begin(False), "C_DecryptMessageNext": _next(False),
    "C_MessageDecryptFinal": _final(False),
    "SR_EncryptMessage": _one(True, param_back=True),
    "SR_EncryptMessageBegin": _begin(True, param_back=True),
    "SR_EncryptMessageNext": _next(True, param_back=True),
}
