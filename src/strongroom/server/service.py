"""The token service's first cut: one process, one TokenCore, one Application per
connection, over a Unix stream socket speaking p11-kit's RPC protocol (issue 13, steps
1-3 in part; PLAN.md).

Each connection runs in its own thread and owns its application: its sessions, logins
and handles; when the peer goes (closes, is killed), the application is finalized and
nothing else is affected. Calls into the core are serialised by one lock for now -- the
worker processes of step 6 are what will give parallelism. A peer that breaks the
protocol (bad version byte, oversized or malformed frame) is logged and disconnected.
"""
from __future__ import annotations

import contextlib
import logging
import os
import socket
import socketserver
import struct
import threading

from .._records import TYPE_CHECKING
from ..pkcs11.errors import CKRError
from ..token.application import Application
from ..token.core import TokenCore
from ..token.unlock_cache import UnlockCache
from .calls import answer
from .context import Context, Peer
from .wire import FrameError, FrameReader, encode_frame, negotiate_version

if TYPE_CHECKING:
    from ..config import Config

log = logging.getLogger("strongroom.server")
_CORE_LOCK = threading.Lock()
_RECV = 256 * 1024


_UCRED = struct.Struct("3i")    # struct ucred: pid, uid, gid (socket(7) SO_PEERCRED)


def peer_credentials(sock: socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end, from the kernel (SO_PEERCRED): what
    the access rules of a token will be decided on, never anything the peer says."""
    pid, uid, gid = _UCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size))
    return pid, uid, gid


class _Connection(socketserver.BaseRequestHandler):
    server: TokenService

    def handle(self) -> None:
        sock: socket.socket = self.request
        peer = peer_credentials(sock)
        log.info("connection from pid %d uid %d gid %d", *peer)
        ctx = Context(Application(self.server.core), Peer(*peer), service_id=self.server.service_id)
        app = ctx.app
        try:
            self._serve(sock, ctx)
        except FrameError as exc:
            log.warning("closing the connection of pid %d uid %d gid %d: it broke the protocol: %s", *peer, exc)
        except OSError as exc:
            log.info("connection of pid %d uid %d gid %d lost: %s", *peer, exc)
        finally:
            # never initialised, or already finalised: CKRError, nothing to undo
            with _CORE_LOCK, contextlib.suppress(CKRError):
                app.finalize()

    def _serve(self, sock: socket.socket, ctx: Context) -> None:
        offered = sock.recv(1)
        if not offered:
            return
        ctx.version = negotiate_version(offered[0])
        sock.sendall(bytes((ctx.version,)))
        reader = FrameReader()
        while True:
            data = sock.recv(_RECV)
            if not data:
                return
            for frame in reader.feed(data):
                with _CORE_LOCK:
                    body = answer(ctx, frame.body)
                sock.sendall(encode_frame(frame.call_code, body))


class TokenService(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """``serve_forever`` answers every connection to ``path``; ``server_close`` stops."""

    daemon_threads = True

    def __init__(self, path: str, config: Config) -> None:
        self.core = TokenCore.open(config)
        self.core.unlock_cache = UnlockCache()      # fast re-login (token/unlock_cache.py)
        self.service_id = os.urandom(16)
        if os.path.exists(path):
            os.unlink(path)                     # a stale socket of an earlier run
        super().__init__(path, _Connection)
        os.chmod(path, 0o660)

    def server_close(self) -> None:
        super().server_close()
        self.core.close()
