"""``strongroom serve``: run the token service in the foreground (docs/service.md).

The command starts the service as ``python -m strongroom.server`` in this same process
(exec: the pid, the inherited systemd socket and ``NOTIFY_SOCKET`` stay), because the
command line reaches tokens only through a PKCS#11 module and never imports the service.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any

_EXAMPLES = (
    "  strongroom serve                                      # $XDG_RUNTIME_DIR/strongroom/service.sock\n"
    "  strongroom serve --socket /tmp/sr.sock --config ~/service.toml\n"
    "  P11_KIT_SERVER_ADDRESS=unix:path=/tmp/sr.sock \\\n"
    "    pkcs11-tool --module /usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so -L"
)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "serve", help="run the token service: applications reach the tokens over a Unix socket",
        description="Run the token service in the foreground. It prints 'READY <socket>' once it "
                    "accepts connections; SIGTERM or SIGINT stop it cleanly.",
        epilog="examples:\n" + _EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--socket", metavar="PATH",
                   help="Unix socket to listen on (default: the config's socket, else "
                        "$XDG_RUNTIME_DIR/strongroom/service.sock; /run/strongroom/service.sock for root)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="worker processes (default: the config's workers, else the number of CPUs)")
    p.add_argument("--config", metavar="FILE",
                   help="service config file (default: $STRONGROOM_HOME/service.toml when present)")
    p.set_defaults(func=_cmd_serve)


def _cmd_serve(args: argparse.Namespace) -> int:
    argv = [sys.executable, "-m", "strongroom.server"]
    for option in ("socket", "workers", "config"):
        value = getattr(args, option)
        if value is not None:
            argv += [f"--{option}", str(value)]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)     # returns only by raising OSError (one line, main.py)
    return 1
