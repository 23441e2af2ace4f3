"""The token service: one process, one TokenCore, one Application per connection, over a
Unix stream socket speaking p11-kit's RPC protocol (issue 13; PLAN.md).

Each connection runs in its own thread and owns its application: its sessions, logins
and handles; when the peer goes (closes, is killed), the application is finalized and
nothing else is affected. Calls into the core are serialised by one lock for now -- the
worker processes of step 6 are what will give parallelism. A connection reads its whole
frame before it takes the lock, so a peer that sends half a frame and stalls holds up
nobody. A peer that breaks the protocol (bad version byte, oversized or malformed frame)
is logged and disconnected; a uid over its connection limit is logged and closed at once.
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
from .access import AccessPolicy
from .calls import answer
from .context import Context, Peer
from .identity import IdentityLogin
from .listen import bind_path
from .service_config import DEFAULT_MAX_CONNECTIONS
from .tickets import Registry
from .uid_limit import UidLimit
from .wire import FrameError, FrameReader, encode_frame, negotiate_version

if TYPE_CHECKING:
    from ..config import Config

log = logging.getLogger("strongroom.server")
_RECV = 256 * 1024


_UCRED = struct.Struct("3i")    # struct ucred: pid, uid, gid (socket(7) SO_PEERCRED)


def peer_credentials(sock: socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end, from the kernel (SO_PEERCRED): what
    the access rules of a token will be decided on, never anything the peer says."""
    pid, uid, gid = _UCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size))
    return pid, uid, gid


_SO_PEERGROUPS = getattr(socket, "SO_PEERGROUPS", 59)     # Linux 4.13+, socket(7)


def peer_groups(sock: socket.socket) -> frozenset[int]:
    """The supplementary groups of the peer at connect time, from the kernel (at most 256
    read; a peer in more, or a kernel without SO_PEERGROUPS, counts with its primary gid
    only, which can only deny more)."""
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, _SO_PEERGROUPS, 1024)
    except OSError:
        return frozenset()
    return frozenset(int.from_bytes(raw[i:i + 4], "little") for i in range(0, len(raw) - 3, 4))


class _Connection(socketserver.BaseRequestHandler):
    server: TokenService

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.setblocking(True)          # a worker's listener is non-blocking (run.py)
        peer = Peer(*peer_credentials(sock), groups=peer_groups(sock))
        if not self.server.admit(peer.uid, sock):
            log.warning("refused %s: more than %d connections of uid %d", peer,
                        self.server.max_connections_per_uid, peer.uid)
            return
        log.info("connection from %s", peer)
        ctx = Context(Application(self.server.core), peer, service_id=self.server.service_id,
                      policy=self.server.policy)
        ctx.registry = self.server.registry
        ctx.identity = self.server.identity
        ctx.join_path = self.server.join_path
        try:
            self._serve(sock, ctx)
        except FrameError as exc:
            log.warning("closing the connection of %s: it broke the protocol: %s", peer, exc)
        except OSError as exc:
            log.info("connection of %s lost: %s", peer, exc)
        finally:
            # the application goes with its last connection (tickets.py); never
            # initialised, or already finalised: CKRError, nothing to undo
            if self.server.registry.leave(ctx.app):
                with contextlib.suppress(CKRError):
                    ctx.app.finalize()
            self.server.release(peer.uid, sock)

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
                # no service-wide lock: the core serialises what it shares itself, as for
                # the threads of an in-process application (token/application.py)
                body = answer(ctx, frame.body)
                sock.sendall(encode_frame(frame.call_code, body))


class TokenService(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """``serve_forever`` answers every connection to ``listener`` (bound, listening or
    not yet); ``server_close`` ends the connections (their applications finalised), closes
    the store, and removes the socket file when ``owned_path`` names one."""

    daemon_threads = True

    def __init__(self, listener: socket.socket, config: Config, policy: AccessPolicy | None = None,
                 workers: int = 1, max_connections_per_uid: int = DEFAULT_MAX_CONNECTIONS,
                 owned_path: str | None = None, uid_limit: UidLimit | None = None) -> None:
        super().__init__(listener.getsockname(), _Connection, bind_and_activate=False)
        self.socket.close()
        self.socket = listener
        self.server_activate()
        self.core = TokenCore.open(config)
        self.core.unlock_cache = UnlockCache()      # fast re-login (token/unlock_cache.py)
        # one identity per start of the service: the supervisor draws it for its workers
        given = os.environ.pop("STRONGROOM_SERVICE_ID", "")
        self.service_id = bytes.fromhex(given) if len(given) == 32 else os.urandom(16)
        #: a worker's own socket for joining connections (serve_joins), "" otherwise
        self.join_path = ""
        self._join_listener: socket.socket | None = None
        self.registry = Registry()
        self.policy = policy if policy is not None else AccessPolicy()
        #: the service key, when a rule logs its token's user in by OS identity (identity.py)
        self.identity = IdentityLogin.load(config.home) if self.policy.uses_identity() else None
        #: worker processes wanted (--workers); one process serves for now (step 6)
        self.workers = workers
        self.max_connections_per_uid = max_connections_per_uid
        self.owned_path = owned_path
        #: counted across the workers when the supervisor gave them its table (uid_limit.py)
        self.uid_limit = uid_limit if uid_limit is not None else UidLimit(max_connections_per_uid)
        self._open: set[socket.socket] = set()
        self._running: set[threading.Thread] = set()
        self._guard = threading.Lock()

    def admit(self, uid: int, sock: socket.socket) -> bool:
        if not self.uid_limit.admit(uid):
            return False
        with self._guard:
            self._open.add(sock)
            self._running.add(threading.current_thread())
            return True

    def release(self, uid: int, sock: socket.socket) -> None:
        self.uid_limit.release(uid)
        with self._guard:
            self._open.discard(sock)
            self._running.discard(threading.current_thread())

    def server_close(self) -> None:
        super().server_close()
        if self._join_listener is not None:
            self._join_listener.close()
            with contextlib.suppress(OSError):
                os.unlink(self.join_path)
        if self.owned_path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.owned_path)
        with self._guard:
            connections, threads = list(self._open), list(self._running)
        for sock in connections:          # each thread sees the end and finalises its application
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(timeout=10)
        self.core.close()
        self.uid_limit.close()


def make_service(listener: socket.socket, config: Config, policy: AccessPolicy, workers: int,
                 max_connections_per_uid: int, owned_path: str | None,
                 uid_limit: UidLimit | None = None) -> TokenService:
    """The one place the service object is made (a worker passes the shared uid_limit)."""
    service = TokenService(listener, config, policy, workers, max_connections_per_uid, owned_path, uid_limit)
    log.info("serving on %s (pid %d)", listener.getsockname(), os.getpid())
    return service


def serve_joins(service: TokenService, path: str, group: int | None) -> None:
    """A worker's second socket: connections that join an application this worker serves
    (SR_JoinApplication) dial it, named by the worker's tickets (server/workers.py)."""
    listener = bind_path(path, group)
    listener.listen(service.request_queue_size)
    service.join_path, service._join_listener = path, listener

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return                          # closed by server_close
            service.process_request(conn, "")

    threading.Thread(target=accept, name="joins", daemon=True).start()
