"""The reads and writes every call handler shares: data inputs, output buffers under the
two-call convention, templates, mechanisms.

The two-call convention on the wire (PKCS#11 v2.40 §5.2; docs/protocol.md): an ``fy``
capacity of 0 is a NULL buffer (a size query), 0xFFFFFFFF a real buffer of length 0
(p11-kit 0.25+), N a buffer of N bytes. The answer is the bytes, or -- for a size query or
a buffer too small -- the length alone (the ``ay`` "length only" form), from which the
client returns CKR_OK or CKR_BUFFER_TOO_SMALL itself, as p11-kit's does.
"""
from __future__ import annotations

from .._records import TYPE_CHECKING
from ..pkcs11 import limits as L
from ..pkcs11.constants import CKR
from ..pkcs11.errors import CKRError
from .attribute_wire import read_attributes
from .mechanism_wire import decode_mechanism

if TYPE_CHECKING:
    from typing import Any

    from ..token.types import Mechanism
    from .context import Context
    from .message import MessageReader, MessageWriter

#: Any byte array that fits the frame (the frame limit bounds it); handlers then compare
#: the length with the bound whose breach has a spec code (max_data_len ...).
ANY_LENGTH = 0x7FFFFFFE
_REAL_EMPTY = 0xFFFFFFFF


def capacity(r: MessageReader) -> int | None:
    """An ``fy``: None for a NULL buffer (size query), else the bytes it holds."""
    n = r.byte_buffer()
    if n == _REAL_EMPTY:
        return 0
    return n or None


def deliver(w: MessageWriter, out: bytes | bytearray | int, cap: int | None) -> None:
    """An ``ay`` output: the bytes when they fit the caller's buffer, else their length."""
    if isinstance(out, int):
        w.byte_array(out)
    elif cap is None or len(out) > cap:
        w.byte_array(len(out))
    else:
        w.byte_array(bytes(out))


def data(ctx: Context, r: MessageReader, h: int = 0, slot: str = "", too_long: int = CKR.DATA_LEN_RANGE) -> bytes:
    """An ``ay`` input. Longer than max_data_len: ``too_long``, ending ``slot``'s operation
    when one is named (v2.40 §5.2: every error but BUFFER_TOO_SMALL ends it)."""
    raw = r.byte_array(ANY_LENGTH)
    rv = 0
    if isinstance(raw, int):          # p11-kit 0.24 sends a NULL pointer as its length alone
        rv, raw = (CKR.ARGUMENTS_BAD if raw else 0), b""
    value = raw or b""
    if len(value) > ctx.data_max:
        rv = too_long
    if rv:
        if slot:
            ctx.app.crypto.refuse_call(h, slot, rv)
        raise CKRError(rv, "NULL input with a length" if rv == CKR.ARGUMENTS_BAD else "input above max_data_len")
    return value


def template(r: MessageReader) -> list[tuple[int, Any]]:
    """An ``aA`` input template."""
    return read_attributes(r.cursor("aA"))


def mechanism(ctx: Context, r: MessageReader, raw: bool = False) -> Mechanism:
    return decode_mechanism(r.cursor("M"), ctx.data_max, raw, ctx.extended)


def ulong_list(w: MessageWriter, values: list[int], cap: int) -> None:
    """An ``au`` output: the count alone for a size query or too small a buffer."""
    w.ulong_array(values if cap and cap >= len(values) else len(values))


def read_pin(r: MessageReader, too_long: int = CKR.PIN_LEN_RANGE, needed: bool = True) -> bytearray | None:
    """A PIN (``ay``), refused by its length before it is kept: longer than any PIN can be
    is ``too_long`` (C_Login: ARGUMENTS_BAD, as in-process). None: a NULL PIN, which only
    C_Login takes (the protected authentication path)."""
    raw = r.byte_array(ANY_LENGTH)
    if isinstance(raw, bytes) and len(raw) > L.MAX_PIN_LEN:
        raise CKRError(too_long, "PIN longer than any PIN of this token")
    if not isinstance(raw, bytes):
        if needed:
            raise CKRError(CKR.ARGUMENTS_BAD, "NULL PIN (no protected authentication path)")
        return None
    return bytearray(raw)


def label(raw: bytes) -> str:
    """A blank-padded UTF-8 label (C_InitToken) as ``str``."""
    try:
        return raw.rstrip(b" \x00").decode("utf-8")
    except UnicodeDecodeError:
        raise CKRError(CKR.ARGUMENTS_BAD, "label is not UTF-8") from None
