"""The token service as a subprocess (python -m strongroom.server), for the service tests."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support import subprocess_env

P11KIT_CLIENT = "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so"


class Service:
    def __init__(self, home: Path, socket_path: Path, workers: int = 1) -> None:
        self.home, self.socket = home, socket_path
        self.env = subprocess_env(home)
        self.proc = subprocess.Popen([sys.executable, "-m", "strongroom.server", "--socket", str(socket_path),
                                      "--workers", str(workers)],
                                     env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.strip() == f"READY {socket_path}", (line, self.proc.stderr.read() if self.proc.stderr else "")

    def stop(self) -> int:
        self.proc.terminate()
        return self.proc.wait(timeout=30)


def p11kit_tool(svc: Service, *args: str, check: bool = True,
                timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """pkcs11-tool through Debian's p11-kit-client.so to ``svc``; exit 0 asserted unless
    ``check`` is False."""
    env = dict(svc.env, P11_KIT_SERVER_ADDRESS=f"unix:path={svc.socket}")
    proc = subprocess.run(["pkcs11-tool", "--module", P11KIT_CLIENT, *args], env=env,
                          capture_output=True, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc
