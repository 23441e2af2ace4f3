"""The token service's transport: p11-kit's RPC framing over a stream socket.

Facts from p11-kit's implementation (p11-kit/rpc-transport.c, rpc-server.c; the protocol
is written up as draft-ueno-pkcs11-rpc), described in docs/protocol.md:

* Version handshake, before any frame: the client sends one byte, the highest protocol
  version it speaks; the server answers one byte, the version both will use (the lower
  of the two), or closes the connection if the client's is below what it accepts.
* Then each message, either way, is a 12-byte header of three big-endian uint32 -- the
  call code, the length of an "options" area, the length of the message buffer -- and
  those two areas. The server answers each request with one frame of the same call code.

This module only frames: it never interprets a buffer (server/message.py does). A peer
may send anything, so :class:`FrameReader` refuses a header whose lengths exceed the
service's limit *before* buffering the body (a 4 GiB length costs nothing), and a
``FrameError`` means: log it, close this connection, serve everyone else.
"""
from __future__ import annotations

import struct

from .._records import NamedTuple

__all__ = ["EXTENSION_LEVEL_1", "HEADER_LEN", "MAX_VERSION", "MIN_VERSION", "Frame", "FrameError", "FrameReader",
           "encode_frame", "negotiate_version"]

HEADER_LEN = 12
#: Protocol versions this service answers. p11-kit's client offers 0 (0.24), 1 (0.25.0 to
#: 0.25.5) or 2 (0.25.6 on): the versions only select the call ids of C_InitToken2 (1) and
#: C_DeriveKey2 (2), both in the call table. 0x80 + n is strongroom's extension level n
#: (docs/protocol.md "Extensions"); level 1 is answered to an offer of exactly 0x81.
MIN_VERSION = 0
MAX_VERSION = 2
EXTENSION_LEVEL_1 = 0x81
#: Default ceiling for options + buffer of one frame: the largest data a call may carry
#: (pkcs11/limits.DEFAULT_DATA_MAX, 64 MiB) plus room for the call's other fields.
DEFAULT_MAX_FRAME = 64 * 1024 * 1024 + 64 * 1024

_HEADER = struct.Struct(">III")


class FrameError(Exception):
    """The peer broke the framing: the connection must be closed (and the reason logged)."""


class Frame(NamedTuple):
    call_code: int
    options: bytes
    body: bytes


def negotiate_version(offered: int) -> int:
    """The version to answer a client that offered ``offered`` (its highest)."""
    if offered < MIN_VERSION:
        raise FrameError(f"protocol version {offered} is below {MIN_VERSION}")
    if offered == EXTENSION_LEVEL_1:
        return EXTENSION_LEVEL_1
    return min(offered, MAX_VERSION)


def encode_frame(call_code: int, body: bytes, options: bytes = b"") -> bytes:
    """One frame: header, options, buffer."""
    return _HEADER.pack(call_code, len(options), len(body)) + options + body


class FrameReader:
    """Reassembles frames from whatever pieces the socket delivers (``feed``), for one
    connection. Nothing of a frame is kept beyond ``max_frame`` bytes."""

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self._max = max_frame
        self._buf = bytearray()
        self._need: tuple[int, int, int] | None = None   # header of the frame being read

    def feed(self, data: bytes) -> list[Frame]:
        """The frames completed by ``data`` (possibly none); FrameError on a bad header."""
        self._buf += data
        frames: list[Frame] = []
        while True:
            if self._need is None:
                if len(self._buf) < HEADER_LEN:
                    return frames
                code, olen, blen = _HEADER.unpack_from(self._buf)
                if olen + blen > self._max:
                    raise FrameError(f"frame of {olen + blen} bytes exceeds the limit of {self._max}")
                del self._buf[:HEADER_LEN]
                self._need = (code, olen, blen)
            code, olen, blen = self._need
            if len(self._buf) < olen + blen:
                return frames
            options = bytes(self._buf[:olen])
            body = bytes(self._buf[olen:olen + blen])
            del self._buf[:olen + blen]
            self._need = None
            frames.append(Frame(code, options, body))

    @property
    def pending(self) -> int:
        """Bytes received and not yet part of a complete frame (0: at a frame boundary)."""
        return len(self._buf) + (HEADER_LEN if self._need is not None else 0)
