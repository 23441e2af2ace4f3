"""``strongroom serve`` / ``python -m strongroom.server``: the token service in the foreground,
owning ``STRONGROOM_HOME`` (docs/service.md).

It prints ``READY <socket>`` once it accepts connections (and sends ``READY=1`` to
``$NOTIFY_SOCKET`` under systemd); SIGTERM or SIGINT stop it cleanly: connections ended,
their sessions finalised, the store closed, the socket file removed. A problem it can
name -- a bad config, a socket in use, a directory it may not write -- is one line on
stderr and exit code 2 (config) or 1 (anything else); never a traceback (STRONGROOM_DEBUG=1
shows one).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import socketserver
import stat
import sys
import threading

from .. import log as logmod
from .._records import TYPE_CHECKING
from ..config import ConfigError, load_config, setup_logging
from ..pkcs11.errors import CKRError
from .identity import ServiceKeyError
from .listen import ListenError, bind_path, inherited_socket, notify
from .service import make_service, serve_joins
from .service_config import load_service_config
from .uid_limit import UidLimit
from .workers import Supervisor, worker_join_path

if TYPE_CHECKING:
    from ..config import Config
    from .service import TokenService
    from .service_config import ServiceConfig

EXIT_FAILURE, EXIT_USAGE = 1, 2


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The options of ``strongroom serve`` (cli/serve_cmd.py passes them on unchanged)."""
    ap.add_argument("--socket", metavar="PATH",
                    help="Unix socket to listen on (default: the config's socket, else "
                         "$XDG_RUNTIME_DIR/strongroom/service.sock; /run/strongroom/service.sock for root)")
    ap.add_argument("--workers", type=int, metavar="N",
                    help="worker processes (default: the config's workers, else the number of CPUs)")
    ap.add_argument("--config", metavar="FILE",
                    help="service config file (default: $STRONGROOM_HOME/service.toml when present)")
    # a worker process started by the supervisor (server/workers.py): the inherited socket
    ap.add_argument("--worker-fd", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--worker-table-fd", type=int, help=argparse.SUPPRESS)


def default_socket() -> str:
    if os.geteuid() == 0:
        return "/run/strongroom/service.sock"
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if not runtime:
        raise ListenError("XDG_RUNTIME_DIR is not set, so there is no default socket; pass --socket PATH")
    return os.path.join(runtime, "strongroom", "service.sock")


class _Fail(Exception):
    def __init__(self, line: str, code: int) -> None:
        super().__init__(line)
        self.line, self.code = line, code


def _configs(args: argparse.Namespace) -> tuple[Config, ServiceConfig]:
    try:
        config = load_config()
        settings = load_service_config(args.config, config.home)
    except ConfigError as exc:
        raise _Fail(exc.line, EXIT_USAGE) from None
    if settings.log_file is not None:
        config = config._replace(log_file=settings.log_file)
    if args.workers is not None and not 1 <= args.workers <= 4096:
        raise _Fail(f"--workers {args.workers}: must be from 1 to 4096", EXIT_USAGE)
    return config, settings


def _listen(args: argparse.Namespace, settings: ServiceConfig) -> tuple[socket.socket, str | None]:
    """The listening socket and the path this process owns (None: systemd's socket)."""
    inherited = inherited_socket()
    if inherited is not None:
        return inherited, None
    path = os.path.abspath(args.socket or settings.socket or default_socket())
    return bind_path(path, settings.socket_group), path


def _private_home(home: str) -> None:
    """The store directory belongs to the service user alone (applications reach the
    keys only through the socket): an existing home of another owner is refused, one
    that others may read or enter is made 0700 (its files are 0600 already)."""
    try:
        info = os.stat(home)
    except FileNotFoundError:
        return                                   # the store creates it, 0700
    except OSError as exc:
        raise _Fail(f"cannot use the token home {home}: {exc.strerror}", EXIT_FAILURE) from None
    if info.st_uid != os.geteuid():
        raise _Fail(f"the token home {home} belongs to uid {info.st_uid}, not to the service's uid "
                    f"{os.geteuid()}: run the service as its owner or chown it", EXIT_FAILURE)
    if info.st_mode & 0o077:
        os.chmod(home, stat.S_IMODE(info.st_mode) & 0o700)
        logmod.logger("strongroom.server").warning(
            "the token home %s was open to other users (mode %o); it is now 0700", home, stat.S_IMODE(info.st_mode))


def _setup(args: argparse.Namespace) -> tuple[Config, ServiceConfig, socket.socket, str | None]:
    config, settings = _configs(args)
    setup_logging(config)
    logmod.logger("strongroom.server")          # installs the configured handler
    if args.worker_fd is not None:              # a worker: the supervisor's socket (and checked home)
        shared = socket.socket(fileno=args.worker_fd)
        # non-blocking: every worker waits for the same socket, and one that loses the race
        # for a connection must go back to waiting, not block in accept() where SIGTERM
        # cannot end it (socketserver treats the EAGAIN as "no request")
        shared.setblocking(False)
        return config, settings, shared, None
    _private_home(config.home)
    try:
        listener, owned = _listen(args, settings)
    except ListenError as exc:
        raise _Fail(exc.line, EXIT_FAILURE) from None
    return config, settings, listener, owned


def _service(args: argparse.Namespace, config: Config, settings: ServiceConfig, listener: socket.socket,
             owned: str | None, workers: int) -> TokenService:
    try:
        shared = (UidLimit(settings.max_connections_per_uid, args.worker_table_fd, args.worker_index)
                  if args.worker_table_fd is not None else None)
        return make_service(listener, config, settings.policy, workers, settings.max_connections_per_uid, owned,
                            shared)
    except ServiceKeyError as exc:
        listener.close()
        if owned is not None:
            os.unlink(owned)
        raise _Fail(str(exc), EXIT_FAILURE) from None
    except (OSError, CKRError) as exc:
        listener.close()
        if owned is not None:
            os.unlink(owned)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
        raise _Fail(f"cannot open the token store in {config.home}: {reason}; "
                    "check STRONGROOM_HOME and that this user owns it", EXIT_FAILURE) from None


def _supervise(args: argparse.Namespace, listener: socket.socket, owned: str | None, workers: int) -> int:
    """More than one worker: this process only starts and watches them (workers.py)."""
    where = listener.getsockname()
    listener.listen(socketserver.UnixStreamServer.request_queue_size)
    argv = ["--socket", where] + (["--config", args.config] if args.config else [])
    supervisor = Supervisor(listener, workers, argv, os.urandom(16))
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    try:
        try:
            supervisor.start()
        except RuntimeError as exc:
            raise _Fail(f"{exc}; its error is above", EXIT_FAILURE) from None
        print(f"READY {where}", flush=True)
        notify(f"READY=1\nSTATUS=serving on {where} with {workers} workers\nMAINPID={os.getpid()}")
        watcher = threading.Thread(target=supervisor.watch, daemon=True)
        watcher.start()
        while not stopping.wait(0.25):          # a timed wait lets the signal handler run
            pass
        notify("STOPPING=1")
    finally:
        supervisor.stop()
        listener.close()
        if owned is not None:
            with contextlib.suppress(OSError):
                os.unlink(owned)
    return 0


def serve(args: argparse.Namespace) -> int:
    config, settings, listener, owned = _setup(args)
    workers = args.workers or settings.workers or os.cpu_count() or 1
    if workers > 1 and args.worker_fd is None:
        return _supervise(args, listener, owned, workers)
    service = _service(args, config, settings, listener, owned, workers)
    if args.worker_fd is not None:
        serve_joins(service, worker_join_path(args.socket or listener.getsockname(), args.worker_index),
                    settings.socket_group)

    def stop(*_: object) -> None:
        threading.Thread(target=service.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    where = service.socket.getsockname()
    print(f"READY {where}", flush=True)
    if args.worker_fd is None:
        notify(f"READY=1\nSTATUS=serving on {where}\nMAINPID={os.getpid()}")
    try:
        service.serve_forever()
    finally:
        if args.worker_fd is None:
            notify("STOPPING=1")
        service.server_close()
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="strongroom serve", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(ap)
    args = ap.parse_args(argv)
    try:
        return serve(args)
    except _Fail as exc:
        print(f"strongroom: error: {exc.line}", file=sys.stderr)
        return exc.code
    except Exception as exc:     # a bug: one line too, the traceback only on request
        if os.environ.get("STRONGROOM_DEBUG") == "1":
            raise
        print(f"strongroom: internal error: {type(exc).__name__}: {' '.join(str(exc).split())} "
              "(STRONGROOM_DEBUG=1 shows the traceback)", file=sys.stderr)
        return EXIT_FAILURE
