"""The service's call table: p11-kit RPC call id -> signatures -> one Application method.

Call ids and signatures are p11-kit's (p11-kit/rpc-message.h; docs/protocol.md). Each
handler reads its request in signature order, calls the application (one per connection)
and writes the response; a CKRError becomes p11-kit's error answer (call id 0, the CK_RV).
A call id the table does not hold yet is answered CKR_FUNCTION_NOT_SUPPORTED without
reading its body (the frame is complete, so the stream stays in step).

Built so far (issue 13, step 2): the general, slot, session and login calls and
C_GenerateRandom, enough for a p11-kit client to list and open the token. Objects,
operations and key management follow with the attribute and mechanism encodings.
"""
from __future__ import annotations

from .._records import TYPE_CHECKING, NamedTuple
from ..pkcs11 import limits as L
from ..pkcs11.constants import CKR
from ..pkcs11.errors import CKRError
from ..wipe import zero
from .message import MessageError, MessageReader, MessageWriter

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..token.application import Application

#: C_Initialize's first argument from p11-kit clients (rpc-message.h: the handshake string).
HANDSHAKE = b"PRIVATE-GNOME-KEYRING-PKCS11-PROTOCOL-V-1"
ERROR_CALL = 0


class Call(NamedTuple):
    name: str
    request: str
    response: str
    handler: Callable[[Application, MessageReader, MessageWriter], None]


def _initialize(app: Application, r: MessageReader, w: MessageWriter) -> None:
    if r.byte_array(len(HANDSHAKE)) != HANDSHAKE:
        raise CKRError(CKR.GENERAL_ERROR, "invalid handshake")
    r.byte()                                   # pReserved given: not used by the service
    r.byte_array(L.MAX_RAW_PARAM_LEN)
    r.finish()
    app.initialize(None)


def _finalize(app: Application, r: MessageReader, w: MessageWriter) -> None:
    r.finish()
    app.finalize()


def _get_info(app: Application, r: MessageReader, w: MessageWriter) -> None:
    r.finish()
    info = app.get_info()
    (w.version(*info.cryptoki_version).space_string(info.manufacturer_id, 32).ulong(info.flags)
     .space_string(info.library_description, 32).version(*info.library_version))


def _ulong_list(w: MessageWriter, values: list[int], capacity: int) -> None:
    """An ``au`` output under the two-call convention: the count alone for a size query or
    a buffer too small (the client answers BUFFER_TOO_SMALL itself), else the values."""
    w.ulong_array(values if capacity and capacity >= len(values) else len(values))


def _get_slot_list(app: Application, r: MessageReader, w: MessageWriter) -> None:
    present, capacity = r.byte(), r.ulong_buffer()
    r.finish()
    _ulong_list(w, app.slots.get_slot_list(bool(present)), capacity)


def _get_slot_info(app: Application, r: MessageReader, w: MessageWriter) -> None:
    slot = r.ulong()
    r.finish()
    i = app.slots.get_slot_info(slot)
    (w.space_string(i.slot_description, 64).space_string(i.manufacturer_id, 32).ulong(i.flags)
     .version(*i.hardware_version).version(*i.firmware_version))


def _get_token_info(app: Application, r: MessageReader, w: MessageWriter) -> None:
    slot = r.ulong()
    r.finish()
    t = app.slots.get_token_info(slot)
    w.space_string(t.label, 32).space_string(t.manufacturer_id, 32).space_string(t.model, 16)
    w.space_string(t.serial_number, 16)
    for value in (t.flags, t.max_session_count, t.session_count, t.max_rw_session_count,
                  t.rw_session_count, t.max_pin_len, t.min_pin_len, t.total_public_memory,
                  t.free_public_memory, t.total_private_memory, t.free_private_memory):
        w.ulong(value)
    w.version(*t.hardware_version).version(*t.firmware_version).space_string(t.utc_time, 16)


def _get_mechanism_list(app: Application, r: MessageReader, w: MessageWriter) -> None:
    slot, capacity = r.ulong(), r.ulong_buffer()
    r.finish()
    _ulong_list(w, app.slots.get_mechanism_list(slot), capacity)


def _get_mechanism_info(app: Application, r: MessageReader, w: MessageWriter) -> None:
    slot, mech = r.ulong(), r.ulong()
    r.finish()
    i = app.slots.get_mechanism_info(slot, mech)
    w.ulong(i.min_key_size).ulong(i.max_key_size).ulong(i.flags)


def _pin(r: MessageReader) -> bytearray:
    raw = r.byte_array(L.MAX_PIN_LEN)
    if not isinstance(raw, bytes):
        raise CKRError(CKR.ARGUMENTS_BAD, "a PIN is needed")
    return bytearray(raw)


def _init_token(app: Application, r: MessageReader, w: MessageWriter) -> None:
    slot, pin = r.ulong(), _pin(r)
    try:
        label = r.string(32).decode("utf-8", "replace")
        r.finish()
        app.slots.init_token(slot, pin, label)
    finally:
        zero(pin)


def _init_pin(app: Application, r: MessageReader, w: MessageWriter) -> None:
    h, pin = r.ulong(), _pin(r)
    try:
        r.finish()
        app.sessions.init_pin(h, pin)
    finally:
        zero(pin)


def _set_pin(app: Application, r: MessageReader, w: MessageWriter) -> None:
    h, old = r.ulong(), _pin(r)
    try:
        new = _pin(r)
        try:
            r.finish()
            app.sessions.set_pin(h, old, new)
        finally:
            zero(new)
    finally:
        zero(old)


def _open_session(app: Application, r: MessageReader, w: MessageWriter) -> None:
    slot, flags = r.ulong(), r.ulong()
    r.finish()
    w.ulong(app.sessions.open_session(slot, flags))


def _close_session(app: Application, r: MessageReader, w: MessageWriter) -> None:
    h = r.ulong()
    r.finish()
    app.sessions.close_session(h)


def _close_all_sessions(app: Application, r: MessageReader, w: MessageWriter) -> None:
    slot = r.ulong()
    r.finish()
    app.sessions.close_all_sessions(slot)


def _get_session_info(app: Application, r: MessageReader, w: MessageWriter) -> None:
    h = r.ulong()
    r.finish()
    i = app.sessions.get_session_info(h)
    w.ulong(i.slot_id).ulong(i.state).ulong(i.flags).ulong(i.device_error)


def _login(app: Application, r: MessageReader, w: MessageWriter) -> None:
    h, user = r.ulong(), r.ulong()
    raw = r.byte_array(L.MAX_PIN_LEN)
    r.finish()
    pin = bytearray(raw) if isinstance(raw, bytes) else None   # NULL: protected path
    try:
        app.sessions.login(h, user, pin)
    finally:
        if pin is not None:
            zero(pin)


def _logout(app: Application, r: MessageReader, w: MessageWriter) -> None:
    h = r.ulong()
    r.finish()
    app.sessions.logout(h)


def _generate_random(app: Application, r: MessageReader, w: MessageWriter) -> None:
    h, length = r.ulong(), r.byte_buffer()
    r.finish()
    if length == 0xFFFFFFFF:                   # a real buffer of length 0 (p11-kit 0.25+)
        length = 0
    if length > L.MAX_RANDOM_LEN:
        raise CKRError(CKR.ARGUMENTS_BAD, f"more than {L.MAX_RANDOM_LEN} random bytes")
    w.byte_array(app.generate_random(h, length))


CALLS: dict[int, Call] = {
    1: Call("C_Initialize", "ayyay", "", _initialize),
    2: Call("C_Finalize", "", "", _finalize),
    3: Call("C_GetInfo", "", "vsusv", _get_info),
    4: Call("C_GetSlotList", "yfu", "au", _get_slot_list),
    5: Call("C_GetSlotInfo", "u", "ssuvv", _get_slot_info),
    6: Call("C_GetTokenInfo", "u", "ssssuuuuuuuuuuuvvs", _get_token_info),
    7: Call("C_GetMechanismList", "ufu", "au", _get_mechanism_list),
    8: Call("C_GetMechanismInfo", "uu", "uuu", _get_mechanism_info),
    9: Call("C_InitToken", "uayz", "", _init_token),
    10: Call("C_OpenSession", "uu", "u", _open_session),
    11: Call("C_CloseSession", "u", "", _close_session),
    12: Call("C_CloseAllSessions", "u", "", _close_all_sessions),
    13: Call("C_GetSessionInfo", "u", "uuuu", _get_session_info),
    14: Call("C_InitPIN", "uay", "", _init_pin),
    15: Call("C_SetPIN", "uayay", "", _set_pin),
    18: Call("C_Login", "uuay", "", _login),
    19: Call("C_Logout", "u", "", _logout),
    64: Call("C_GenerateRandom", "ufy", "ay", _generate_random),
}
#: The highest call id of p11-kit's table (C_DeriveKey2): ids above it are a broken peer.
MAX_CALL_ID = 89
REQUEST_SIGNATURES = {call_id: call.request for call_id, call in CALLS.items()}


def error_body(rv: int) -> bytes:
    """p11-kit's error answer: call id 0 with one ulong, the CK_RV (cut to 32 bits, as the
    p11-kit server does)."""
    return MessageWriter(ERROR_CALL, "u").ulong(rv & 0xFFFFFFFF).body()


def answer(app: Application, body: bytes) -> bytes:
    """The response body to one request body. MessageError (a peer breaking the protocol)
    propagates: the connection must close."""
    if len(body) < 4:
        raise MessageError("message shorter than its call id")
    call_id = int.from_bytes(body[:4], "big")
    if call_id == ERROR_CALL or call_id > MAX_CALL_ID:
        raise MessageError(f"bad call id {call_id}")
    call = CALLS.get(call_id)
    if call is None:
        return error_body(CKR.FUNCTION_NOT_SUPPORTED)
    reader = MessageReader(body, REQUEST_SIGNATURES)
    writer = MessageWriter(call_id, call.response)
    try:
        call.handler(app, reader, writer)
    except CKRError as exc:
        return error_body(exc.rv)
    return writer.body()
