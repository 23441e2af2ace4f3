"""``python -m strongroom.server --socket PATH``: the token service in the foreground
(the `strongroom serve` command, its config file and systemd units come next, PLAN.md).
Prints ``READY <path>`` once it accepts connections; SIGTERM stops it cleanly."""
from __future__ import annotations

import argparse
import signal
import sys
import threading

from ..config import load_config, setup_logging
from .service import TokenService


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m strongroom.server", description=__doc__)
    ap.add_argument("--socket", required=True, help="Unix socket path to listen on")
    args = ap.parse_args(argv)
    config = load_config()
    setup_logging(config)
    service = TokenService(args.socket, config)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=service.shutdown).start())
    print(f"READY {args.socket}", flush=True)
    try:
        service.serve_forever()
    finally:
        service.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
