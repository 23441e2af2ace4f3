"""Key management (PKCS#11 v3.0 §5.18; v3.2 §5.19 KEM) on the wire: C_GenerateKey ..
C_DeriveKey, p11-kit's C_DeriveKey2, and C_EncapsulateKey / C_DecapsulateKey (strongroom
extension ids). Templates are wiped when the core returns, as in-process."""
from __future__ import annotations

from .._records import TYPE_CHECKING
from ..pkcs11.constants import CKR
from ..wipe import wiped
from .call_io import capacity, data, deliver, mechanism, template

if TYPE_CHECKING:
    from .calls import Handler
    from .context import Context
    from .message import MessageReader, MessageWriter


def _generate_key(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    h, mech, tpl = r.ulong(), mechanism(ctx, r), template(r)
    r.finish()
    w.ulong(wiped(ctx.app.keys.generate_key, h, mech, tpl))


def _generate_key_pair(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    h, mech, public, private = r.ulong(), mechanism(ctx, r), template(r), template(r)
    r.finish()
    pub, priv = wiped(ctx.app.keys.generate_key_pair, h, mech, public, private)
    w.ulong(pub).ulong(priv)


def _wrap_key(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    h, mech, wrapping, key, cap = r.ulong(), mechanism(ctx, r), r.ulong(), r.ulong(), capacity(r)
    r.finish()
    deliver(w, ctx.app.keys.wrap_key(h, mech, wrapping, key, cap), cap)


def _unwrap_key(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    h, mech, unwrapping = r.ulong(), mechanism(ctx, r), r.ulong()
    wrapped = data(ctx, r, too_long=CKR.WRAPPED_KEY_LEN_RANGE)
    tpl = template(r)
    r.finish()
    w.ulong(wiped(ctx.app.keys.unwrap_key, h, mech, unwrapping, wrapped, tpl))


def _derive_key(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    h, mech, base, tpl = r.ulong(), mechanism(ctx, r), r.ulong(), template(r)
    r.finish()
    w.ulong(wiped(ctx.app.keys.derive_key, h, mech, base, tpl))


def _derive_key2(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    """p11-kit protocol 2's C_DeriveKey: the CK_RV, the updated parameter (``P``: one
    presence byte; no strongroom derivation updates its parameter), the handle."""
    h, mech, base, tpl = r.ulong(), mechanism(ctx, r), r.ulong(), template(r)
    r.finish()
    handle = wiped(ctx.app.keys.derive_key, h, mech, base, tpl)
    w.ulong(CKR.OK).raw("P", b"\x01" if mech.param is not None else b"\x00").ulong(handle)


def _encapsulate_key(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    h, mech, public, tpl, cap = r.ulong(), mechanism(ctx, r), r.ulong(), template(r), capacity(r)
    r.finish()
    out = wiped(ctx.app.keys.encapsulate_key, h, mech, public, tpl, cap)
    if isinstance(out, int):            # the length needed: no key made
        w.byte_array(out).ulong(0)
        return
    ciphertext, handle = out
    w.byte_array(ciphertext).ulong(handle)


def _decapsulate_key(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    h, mech, private, tpl = r.ulong(), mechanism(ctx, r), r.ulong(), template(r)
    ciphertext = data(ctx, r, too_long=CKR.ENCRYPTED_DATA_LEN_RANGE)
    r.finish()
    w.ulong(wiped(ctx.app.keys.decapsulate_key, h, mech, private, tpl, ciphertext))


HANDLERS: dict[str, Handler] = {
    "C_GenerateKey": _generate_key, "C_GenerateKeyPair": _generate_key_pair, "C_WrapKey": _wrap_key,
    "C_UnwrapKey": _unwrap_key, "C_DeriveKey": _derive_key, "C_DeriveKey2": _derive_key2,
    "C_EncapsulateKey": _encapsulate_key, "C_DecapsulateKey": _decapsulate_key,
}
