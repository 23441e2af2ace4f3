"""SR_ApplicationTicket and SR_JoinApplication: several connections of one client serve
one application (server/tickets.py; docs/protocol.md "Extensions")."""
from __future__ import annotations

from .._records import TYPE_CHECKING
from ..pkcs11.constants import CKR
from ..pkcs11.errors import CKRError
from .tickets import TICKET_LEN

if TYPE_CHECKING:
    from .calls import Handler
    from .context import Context
    from .message import MessageReader, MessageWriter


def _application_ticket(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    r.finish()
    if ctx.registry is None:
        raise CKRError(CKR.FUNCTION_NOT_SUPPORTED)
    ctx.app.get_info()                          # CRYPTOKI_NOT_INITIALIZED before C_Initialize
    ticket = ctx.registry.ticket(ctx.app, ctx.peer.uid)
    w.byte_array(ticket).byte_array(ctx.join_path.encode())


def _join_application(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    raw = r.byte_array(TICKET_LEN)
    r.finish()
    if ctx.registry is None:
        raise CKRError(CKR.FUNCTION_NOT_SUPPORTED)
    if ctx.calls:
        raise CKRError(CKR.CRYPTOKI_ALREADY_INITIALIZED, "SR_JoinApplication must be the first call")
    if not isinstance(raw, bytes) or len(raw) != TICKET_LEN:
        raise CKRError(CKR.FUNCTION_REJECTED, "a ticket is 32 bytes")
    ctx.app = ctx.registry.join(raw, ctx.peer.uid)   # its own was never initialised: dropped


HANDLERS: dict[str, Handler] = {
    "SR_ApplicationTicket": _application_ticket, "SR_JoinApplication": _join_application,
}
