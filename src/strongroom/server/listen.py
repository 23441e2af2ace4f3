"""The service's listening socket and its talk with systemd: a socket bound at a path (the
directory made 0755, a stale socket of a dead service replaced, a live one refused), or
the one systemd passes (socket activation: ``LISTEN_PID`` / ``LISTEN_FDS``, fd 3), and
the readiness datagram (``sd_notify("READY=1")`` to ``NOTIFY_SOCKET``).

The socket is 0666: who may use which token is decided per connection by the kernel's
SO_PEERCRED (server/access.py), not by the socket's mode. A config that names a
``socket_group`` makes it 0660 with that group instead.
"""
from __future__ import annotations

import errno
import logging
import os
import socket
import stat

__all__ = ["ListenError", "bind_path", "inherited_socket", "notify"]

log = logging.getLogger("strongroom.server")
SD_LISTEN_FDS_START = 3


class ListenError(Exception):
    """The one line that says why the service cannot listen, and what to do."""

    def __init__(self, line: str) -> None:
        super().__init__(line)
        self.line = line


def _refuse_live(path: str) -> None:
    """A socket file whose listener answers belongs to a running service; one that refuses
    the connection is left over from one that died, and is removed."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(2)
        probe.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):
        log.info("removing the stale socket %s", path)
        os.unlink(path)
        return
    except OSError as exc:
        raise ListenError(f"cannot check {path}: {exc.strerror or exc}; remove it or pick --socket") from None
    finally:
        probe.close()
    raise ListenError(f"another service is listening on {path}; stop it or pick --socket")


def _make_directory(directory: str) -> None:
    if os.path.isdir(directory):
        return
    try:
        os.makedirs(directory, exist_ok=True)
        os.chmod(directory, 0o755)
    except OSError as exc:
        raise ListenError(f"cannot create the socket directory {directory}: {exc.strerror or exc}; "
                          "create it or pick --socket in a directory you may write") from None


def bind_path(path: str, group: int | None = None) -> socket.socket:
    """A listening socket at ``path``, mode 0666 (0660 and ``group`` when given)."""
    if len(os.fsencode(path)) >= 108:
        raise ListenError(f"socket path {path} is longer than a Unix socket address may be; pick a shorter --socket")
    _make_directory(os.path.dirname(path) or ".")
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISSOCK(mode):
            raise ListenError(f"{path} exists and is not a socket; remove it or pick --socket")
        _refuse_live(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        if group is not None:
            os.chown(path, -1, group)
        os.chmod(path, 0o660 if group is not None else 0o666)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ListenError(f"another service is listening on {path}; stop it or pick --socket") from None
        raise ListenError(f"cannot create the socket {path}: {exc.strerror or exc}; "
                          "pick --socket in a directory you may write") from None
    return sock


def inherited_socket() -> socket.socket | None:
    """The listening socket systemd passed (fd 3), or None when not socket-activated. The
    variables are removed so that no child process believes they are meant for it."""
    pid, fds = os.environ.get("LISTEN_PID"), os.environ.get("LISTEN_FDS")
    if pid is None or fds is None or pid != str(os.getpid()):
        return None
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(name, None)
    if fds != "1":
        raise ListenError(f"LISTEN_FDS={fds}: expected one socket from systemd; "
                          "give strongroom.socket one ListenStream")
    try:
        sock = socket.socket(fileno=SD_LISTEN_FDS_START)
    except OSError as exc:
        raise ListenError(f"the socket systemd passed (fd 3) is unusable: {exc.strerror or exc}") from None
    if sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM:
        sock.detach()
        raise ListenError("the socket systemd passed is not a Unix stream socket; use ListenStream=/path")
    os.set_inheritable(sock.fileno(), False)
    return sock


def notify(state: str) -> bool:
    """One datagram to ``$NOTIFY_SOCKET`` (systemd's sd_notify protocol); False when the
    variable is unset or the datagram could not be sent (logged, never fatal)."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]            # an abstract socket address
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(state.encode(), address)
    except OSError as exc:
        log.warning("cannot notify systemd at %s: %s", os.environ.get("NOTIFY_SOCKET"), exc)
        return False
    return True
