"""The cryptographic operations (PKCS#11 v3.0 §5.8-§5.13) on the wire: C_EncryptInit ..
C_VerifyRecover, through the application's ``crypto`` and ``signatures`` chapters.

Handlers are made by four factories as in the in-process ABI -- ``init`` (session,
mechanism, key), ``single`` (data in, output out), ``final`` (output out), ``feed`` (data
in) -- so a look-alike call is one row. An input above max_data_len ends its operation
with the operation's length code (v2.40 §5.2).
"""
from __future__ import annotations

from .._records import TYPE_CHECKING
from ..pkcs11.constants import CKR
from .call_io import capacity, data, deliver, mechanism

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ..token.application import Application
    from .calls import Handler
    from .context import Context
    from .message import MessageReader, MessageWriter

    Pick = Callable[[Application], Callable[..., Any]]

#: The length code of an oversized input, by operation (v3.0 §5.1.6 definitions).
_TOO_LONG = {"decrypt": CKR.ENCRYPTED_DATA_LEN_RANGE, "verify_recover": CKR.SIGNATURE_LEN_RANGE}


def _init(pick: Pick, with_key: bool = True) -> Handler:
    def handle(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
        h, mech = r.ulong(), mechanism(ctx, r)
        if with_key:
            key = r.ulong()
            r.finish()
            pick(ctx.app)(h, mech, key)
        else:
            r.finish()
            pick(ctx.app)(h, mech)
    return handle


def _single(pick: Pick, slot: str) -> Handler:
    code = _TOO_LONG.get(slot, CKR.DATA_LEN_RANGE)

    def handle(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
        h = r.ulong()
        text = data(ctx, r, h, slot, code)
        cap = capacity(r)
        r.finish()
        deliver(w, pick(ctx.app)(h, text, cap), cap)
    return handle


def _final(pick: Pick) -> Handler:
    def handle(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
        h, cap = r.ulong(), capacity(r)
        r.finish()
        deliver(w, pick(ctx.app)(h, cap), cap)
    return handle


def _feed(pick: Pick, slot: str, code: int = CKR.DATA_LEN_RANGE) -> Handler:
    def handle(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
        h = r.ulong()
        text = data(ctx, r, h, slot, code)
        r.finish()
        pick(ctx.app)(h, text)
    return handle


def _digest_key(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    h, key = r.ulong(), r.ulong()
    r.finish()
    ctx.app.crypto.digest_key(h, key)


def _verify(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    h = r.ulong()
    text = data(ctx, r, h, "verify")
    signature = data(ctx, r, h, "verify", CKR.SIGNATURE_LEN_RANGE)
    r.finish()
    ctx.app.signatures.verify(h, text, signature)


HANDLERS: dict[str, Handler] = {
    "C_EncryptInit": _init(lambda a: a.crypto.encrypt_init),
    "C_Encrypt": _single(lambda a: a.crypto.encrypt, "encrypt"),
    "C_EncryptUpdate": _single(lambda a: a.crypto.encrypt_update, "encrypt"),
    "C_EncryptFinal": _final(lambda a: a.crypto.encrypt_final),
    "C_DecryptInit": _init(lambda a: a.crypto.decrypt_init),
    "C_Decrypt": _single(lambda a: a.crypto.decrypt, "decrypt"),
    "C_DecryptUpdate": _single(lambda a: a.crypto.decrypt_update, "decrypt"),
    "C_DecryptFinal": _final(lambda a: a.crypto.decrypt_final),
    "C_DigestInit": _init(lambda a: a.crypto.digest_init, with_key=False),
    "C_Digest": _single(lambda a: a.crypto.digest, "digest"),
    "C_DigestUpdate": _feed(lambda a: a.crypto.digest_update, "digest"),
    "C_DigestKey": _digest_key,
    "C_DigestFinal": _final(lambda a: a.crypto.digest_final),
    "C_SignInit": _init(lambda a: a.signatures.sign_init),
    "C_Sign": _single(lambda a: a.signatures.sign, "sign"),
    "C_SignUpdate": _feed(lambda a: a.signatures.sign_update, "sign"),
    "C_SignFinal": _final(lambda a: a.signatures.sign_final),
    "C_SignRecoverInit": _init(lambda a: a.signatures.sign_recover_init),
    "C_SignRecover": _single(lambda a: a.signatures.sign_recover, "sign_recover"),
    "C_VerifyInit": _init(lambda a: a.signatures.verify_init),
    "C_Verify": _verify,
    "C_VerifyUpdate": _feed(lambda a: a.signatures.verify_update, "verify"),
    "C_VerifyFinal": _feed(lambda a: a.signatures.verify_final, "verify", CKR.SIGNATURE_LEN_RANGE),
    "C_VerifyRecoverInit": _init(lambda a: a.signatures.verify_recover_init),
    "C_VerifyRecover": _single(lambda a: a.signatures.verify_recover, "verify_recover"),
}
