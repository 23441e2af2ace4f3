"""The general, slot, token, session and login calls (PKCS#11 v3.0 §5.4-§5.6) and the
random-number calls (§5.17) on the wire: each handler reads its request in signature order
(server/protocol_table.py), calls the connection's application and writes the answer."""
from __future__ import annotations

from .._records import TYPE_CHECKING
from ..pkcs11 import limits as L
from ..pkcs11.constants import CKR, CKU
from ..pkcs11.errors import CKRError
from ..wipe import zero
from . import identity
from .access import check_slot, require_so_session, require_so_slot, visible_slots
from .call_io import ANY_LENGTH, label, read_pin, ulong_list

if TYPE_CHECKING:
    from .calls import Handler
    from .context import Context
    from .message import MessageReader, MessageWriter

#: C_Initialize's first argument from p11-kit clients (rpc-message.h: the handshake string).
HANDSHAKE = b"PRIVATE-GNOME-KEYRING-PKCS11-PROTOCOL-V-1"


def _initialize(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    if r.byte_array(len(HANDSHAKE)) != HANDSHAKE:
        raise CKRError(CKR.GENERAL_ERROR, "invalid handshake")
    r.byte()                                   # pReserved given: not used by the service
    r.byte_array(L.MAX_RAW_PARAM_LEN)
    r.finish()
    ctx.app.initialize(None)


def _finalize(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    r.finish()
    ctx.app.finalize()
    if ctx.registry is not None:           # its other connections may not join it again
        ctx.registry.forget(ctx.app)


def _get_info(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    r.finish()
    info = ctx.app.get_info()
    (w.version(*info.cryptoki_version).space_string(info.manufacturer_id, 32).ulong(info.flags)
     .space_string(info.library_description, 32).version(*info.library_version))


def _get_slot_list(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    present, capacity = r.byte(), r.ulong_buffer()
    r.finish()
    ulong_list(w, visible_slots(ctx, ctx.app.slots.get_slot_list(bool(present))), capacity)


def _get_slot_info(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    slot = r.ulong()
    r.finish()
    check_slot(ctx, slot, "C_GetSlotInfo")
    i = ctx.app.slots.get_slot_info(slot)
    (w.space_string(i.slot_description, 64).space_string(i.manufacturer_id, 32).ulong(i.flags)
     .version(*i.hardware_version).version(*i.firmware_version))


def _get_token_info(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    slot = r.ulong()
    r.finish()
    check_slot(ctx, slot, "C_GetTokenInfo")
    t = ctx.app.slots.get_token_info(slot)
    w.space_string(t.label, 32).space_string(t.manufacturer_id, 32).space_string(t.model, 16)
    w.space_string(t.serial_number, 16)
    flags = t.flags | identity.slot_flags(ctx, slot)
    for value in (flags, t.max_session_count, t.session_count, t.max_rw_session_count, t.rw_session_count,
                  t.max_pin_len, t.min_pin_len, t.total_public_memory, t.free_public_memory,
                  t.total_private_memory, t.free_private_memory):
        w.ulong(value)
    w.version(*t.hardware_version).version(*t.firmware_version).space_string(t.utc_time, 16)


def _get_mechanism_list(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    slot, capacity = r.ulong(), r.ulong_buffer()
    r.finish()
    check_slot(ctx, slot, "C_GetMechanismList")
    ulong_list(w, ctx.app.slots.get_mechanism_list(slot), capacity)


def _get_mechanism_info(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    slot, mech = r.ulong(), r.ulong()
    r.finish()
    check_slot(ctx, slot, "C_GetMechanismInfo")
    i = ctx.app.slots.get_mechanism_info(slot, mech)
    w.ulong(i.min_key_size).ulong(i.max_key_size).ulong(i.flags)


def _init_token(ctx: Context, r: MessageReader, w: MessageWriter, padded: bool = False) -> None:
    """C_InitToken (label as ``z``) and C_InitToken2 (p11-kit protocol 1+: as ``s``)."""
    slot, so_pin = r.ulong(), _needed(r)
    try:
        text = label(r.space_string(32) if padded else r.string(32))
        r.finish()
        require_so_slot(ctx, slot, text, "C_InitToken")     # before the SO PIN is looked at
        ctx.app.slots.init_token(slot, so_pin, text)
    finally:
        zero(so_pin)


def _init_token2(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    _init_token(ctx, r, w, padded=True)


def _needed(r: MessageReader) -> bytearray:
    pin = read_pin(r)
    assert pin is not None
    return pin


def _init_pin(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    h = r.ulong()
    given = read_pin(r, needed=False)
    pin = None
    try:
        r.finish()
        require_so_session(ctx, h, "C_InitPIN")
        pin = identity.user_pin(ctx, h, CKU.USER, given)      # OS-identity token: derived
        if pin is None:
            raise CKRError(CKR.ARGUMENTS_BAD, "NULL PIN (no protected authentication path)")
        ctx.app.sessions.init_pin(h, pin)
    finally:
        zero(given)
        zero(pin)


def _set_pin(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    h, old = r.ulong(), _needed(r)
    try:
        new = _needed(r)
        try:
            r.finish()
            ctx.app.sessions.set_pin(h, old, new)
        finally:
            zero(new)
    finally:
        zero(old)


def _open_session(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    slot, flags = r.ulong(), r.ulong()
    r.finish()
    check_slot(ctx, slot, "C_OpenSession")
    w.ulong(ctx.app.sessions.open_session(slot, flags))


def _close_session(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    h = r.ulong()
    r.finish()
    ctx.app.sessions.close_session(h)


def _close_all_sessions(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    slot = r.ulong()
    r.finish()
    check_slot(ctx, slot, "C_CloseAllSessions")
    ctx.app.sessions.close_all_sessions(slot)


def _get_session_info(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    h = r.ulong()
    r.finish()
    i = ctx.app.sessions.get_session_info(h)
    w.ulong(i.slot_id).ulong(i.state).ulong(i.flags).ulong(i.device_error)


def _login(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    h, user = r.ulong(), r.ulong()
    pin = read_pin(r, too_long=CKR.ARGUMENTS_BAD, needed=False)     # NULL: protected path
    try:
        r.finish()
        if user == CKU.SO:
            require_so_session(ctx, h, "C_Login")           # before the SO PIN is looked at
        used = identity.user_pin(ctx, h, user, pin)         # OS-identity token: derived
        try:
            ctx.app.sessions.login(h, user, used)
        finally:
            if used is not pin:
                zero(used)
    finally:
        zero(pin)


def _logout(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    h = r.ulong()
    r.finish()
    ctx.app.sessions.logout(h)


def _generate_random(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    h, length = r.ulong(), r.byte_buffer()
    r.finish()
    if length == 0xFFFFFFFF:                   # a real buffer of length 0 (p11-kit 0.25+)
        length = 0
    if length > L.MAX_RANDOM_LEN:
        raise CKRError(CKR.ARGUMENTS_BAD, f"more than {L.MAX_RANDOM_LEN} random bytes")
    w.byte_array(ctx.app.generate_random(h, length))




def _seed_random(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    h = r.ulong()
    raw = r.byte_array(ANY_LENGTH)
    r.finish()
    seed = raw if isinstance(raw, bytes) else b""
    if len(seed) > L.MAX_SEED_LEN:
        raise CKRError(CKR.ARGUMENTS_BAD, "seed longer than any seed")
    ctx.app.seed_random(h, seed)


def _get_token_usage(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    slot = r.ulong()
    r.finish()
    check_slot(ctx, slot, "SR_GetTokenUsage")
    for value in ctx.app.slots.token_usage(slot):
        w.ulong(value)


def _delete_token(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    """SR_DeleteToken needs no PIN in-process because its caller can delete the store's
    files anyway; through the service only such a peer (the service's user, root) may."""
    slot = r.ulong()
    r.finish()
    check_slot(ctx, slot, "SR_DeleteToken")
    if not ctx.peer.owns_store():
        raise CKRError(CKR.FUNCTION_REJECTED, "only the service's own user may delete a token")
    ctx.app.slots.delete_token(slot)


def _not_supported(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    raise CKRError(CKR.FUNCTION_NOT_SUPPORTED)


HANDLERS: dict[str, Handler] = {
    "C_Initialize": _initialize, "C_Finalize": _finalize, "C_GetInfo": _get_info,
    "C_GetSlotList": _get_slot_list, "C_GetSlotInfo": _get_slot_info, "C_GetTokenInfo": _get_token_info,
    "C_GetMechanismList": _get_mechanism_list, "C_GetMechanismInfo": _get_mechanism_info,
    "C_InitToken": _init_token, "C_InitToken2": _init_token2, "C_InitPIN": _init_pin, "C_SetPIN": _set_pin,
    "C_OpenSession": _open_session, "C_CloseSession": _close_session,
    "C_CloseAllSessions": _close_all_sessions, "C_GetSessionInfo": _get_session_info,
    "C_Login": _login, "C_Logout": _logout, "C_SeedRandom": _seed_random,
    "C_GenerateRandom": _generate_random,
    "SR_GetTokenUsage": _get_token_usage, "SR_DeleteToken": _delete_token,
}
