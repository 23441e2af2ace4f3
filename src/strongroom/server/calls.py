"""The service's call table: call id -> signatures (server/protocol_table.py) -> one handler
of a chapter module, which reads its request in signature order, calls the connection's
application and writes the answer.

A CKRError becomes p11-kit's error answer (call id 0, the CK_RV). A call id of p11-kit's
table that strongroom does not implement (C_GetOperationState, the dual-function updates,
the message-based signatures ...) is answered CKR_FUNCTION_NOT_SUPPORTED without reading
its body (the frame is complete, so the stream stays in step), as the in-process module
answers it. A call id outside the table, or an extension id on a connection that did not
negotiate extensions, breaks the protocol: MessageError, and the connection closes.
"""
from __future__ import annotations

from .._records import TYPE_CHECKING, NamedTuple
from ..pkcs11.constants import CKR
from ..pkcs11.errors import CKRError
from . import calls_crypto, calls_general, calls_join, calls_keys, calls_message, calls_objects
from .message import MessageError, MessageReader, MessageWriter
from .protocol_table import EXTENSION_BASE, PROTOCOL

if TYPE_CHECKING:
    from collections.abc import Callable

    from .context import Context

    Handler = Callable[[Context, MessageReader, MessageWriter], None]

ERROR_CALL = 0


class Call(NamedTuple):
    name: str
    request: str
    response: str
    handler: Handler | None          # None: CKR_FUNCTION_NOT_SUPPORTED


def _service_info(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    r.finish()
    w.byte_array(ctx.service_id).ulong(1)


_HANDLERS: dict[str, Handler] = {
    **calls_general.HANDLERS, **calls_objects.HANDLERS, **calls_crypto.HANDLERS,
    **calls_keys.HANDLERS, **calls_message.HANDLERS, **calls_join.HANDLERS, "SR_ServiceInfo": _service_info,
}
CALLS: dict[int, Call] = {cid: Call(name, req, resp, _HANDLERS.get(name)) for cid, name, req, resp in PROTOCOL}
REQUEST_SIGNATURES = {cid: call.request for cid, call in CALLS.items()}


def error_body(rv: int) -> bytes:
    """p11-kit's error answer: call id 0 with one ulong, the CK_RV (cut to 32 bits, as the
    p11-kit server does)."""
    return MessageWriter(ERROR_CALL, "u").ulong(rv & 0xFFFFFFFF).body()


def answer(ctx: Context, body: bytes) -> bytes:
    """The response body to one request body. MessageError (a peer breaking the protocol)
    propagates: the connection must close."""
    if len(body) < 4:
        raise MessageError("message shorter than its call id")
    call_id = int.from_bytes(body[:4], "big")
    call = CALLS.get(call_id)
    if call is None or (call_id >= EXTENSION_BASE and not ctx.extended):
        raise MessageError(f"bad call id {call_id}")
    if call.handler is None:
        return error_body(CKR.FUNCTION_NOT_SUPPORTED)
    reader = MessageReader(body, REQUEST_SIGNATURES)
    writer = MessageWriter(call_id, call.response)
    try:
        call.handler(ctx, reader, writer)
    except CKRError as exc:
        return error_body(exc.rv)
    finally:
        ctx.calls += 1
    return writer.body()
