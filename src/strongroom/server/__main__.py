"""``python -m strongroom.server``: the token service in the foreground, the same code as
``strongroom serve`` (server/run.py), which runs this module."""
from __future__ import annotations

import sys

from .run import main

if __name__ == "__main__":
    sys.exit(main())
