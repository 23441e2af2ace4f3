"""Worker processes: the service on every core (docs/service.md "Workers").

With ``--workers N`` above 1 the process that binds the socket becomes a supervisor: it
starts N workers (``python -m strongroom.server`` again, with the listening socket
inherited as a file descriptor), prints READY once all of them are, and restarts one that
dies. Each worker is a whole single-process service -- its own TokenCore over the shared
store, its own in-memory PIN verifier and application tickets -- and accepts from the one
listening socket; the kernel hands each new connection to one waiting worker.

Why processes: one Python process runs Python code on one core at a time (the GIL), so
two applications signing at once need two processes. The store is already made for
several processes (the in-process module has one per application): SQLite in WAL mode,
PIN attempts counted in the store, caches checked against the WAL index before each use.

A client application whose threads call at once opens more connections that must reach
*its* worker (they serve one application: server/tickets.py): each worker also listens on
its own socket, ``<socket>.w<index>``, which its SR_ApplicationTicket answers name.
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time

from .._records import TYPE_CHECKING
from .uid_limit import clear_row, make_table

if TYPE_CHECKING:
    import socket

log = logging.getLogger("strongroom.server")

__all__ = ["Supervisor", "worker_join_path"]

_RESTART_PAUSE_S = 1.0            # a worker dying at once again is restarted after a pause
_READY_TIMEOUT_S = 60.0


def worker_join_path(main_path: str, index: int) -> str:
    """The socket a worker's joining connections dial (in the main socket's directory)."""
    return f"{main_path}.w{index}"


class _Worker:
    def __init__(self, index: int, proc: subprocess.Popen[str]) -> None:
        self.index, self.proc, self.started = index, proc, time.monotonic()


class Supervisor:
    """Starts, watches and stops the workers; ``argv`` is this command's own options."""

    def __init__(self, listener: socket.socket, count: int, argv: list[str], service_id: bytes) -> None:
        self.listener, self.count, self.argv = listener, count, argv
        self.service_id = service_id
        #: the per-uid connection counts all workers share (uid_limit.py)
        self.table_fd = make_table(count)
        self._workers: dict[int, _Worker] = {}
        self._stopping = threading.Event()

    def _spawn(self, index: int) -> _Worker:
        fd = self.listener.fileno()
        env = dict(os.environ, STRONGROOM_SERVICE_ID=self.service_id.hex())
        env.pop("NOTIFY_SOCKET", None)            # only the supervisor talks to systemd
        command = [sys.executable, "-m", "strongroom.server", *self.argv,
                   "--worker-fd", str(fd), "--worker-index", str(index), "--worker-table-fd", str(self.table_fd)]
        proc = subprocess.Popen(command, pass_fds=(fd, self.table_fd), env=env, stdout=subprocess.PIPE, text=True)
        return _Worker(index, proc)

    def _await_ready(self, worker: _Worker) -> None:
        assert worker.proc.stdout is not None
        line = worker.proc.stdout.readline().strip()       # the worker's READY line
        if not line.startswith("READY"):
            code = worker.proc.wait(timeout=_READY_TIMEOUT_S)
            raise RuntimeError(f"worker {worker.index} did not start (exit {code})")

    def start(self) -> None:
        for index in range(self.count):
            self._workers[index] = self._spawn(index)
        for worker in self._workers.values():
            self._await_ready(worker)
        log.info("serving with %d worker processes", self.count)

    def watch(self) -> None:
        """Until stop(): restart a worker that died (its connections are gone; their
        clients see the connection close and reconnect)."""
        while not self._stopping.wait(0.2):
            for index, worker in list(self._workers.items()):
                code = worker.proc.poll()
                if code is None or self._stopping.is_set():
                    continue
                log.warning("worker %d (pid %d) exited with %s; starting it again", index, worker.proc.pid, code)
                if time.monotonic() - worker.started < _RESTART_PAUSE_S:
                    time.sleep(_RESTART_PAUSE_S)
                clear_row(self.table_fd, index)         # its connections died with it
                fresh = self._spawn(index)
                self._workers[index] = fresh
                with contextlib.suppress(RuntimeError):
                    self._await_ready(fresh)

    def stop(self) -> None:
        """SIGTERM to every worker (each finishes its calls and finalises its
        applications), then wait for them."""
        self._stopping.set()
        for worker in self._workers.values():
            with contextlib.suppress(ProcessLookupError):
                worker.proc.send_signal(signal.SIGTERM)
        for worker in self._workers.values():
            try:
                worker.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.proc.kill()
                worker.proc.wait()
        with contextlib.suppress(OSError):
            os.close(self.table_fd)

    def pids(self) -> list[int]:
        return [w.proc.pid for w in self._workers.values()]
