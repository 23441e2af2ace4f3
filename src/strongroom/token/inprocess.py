"""The in-process module's one application (what one C_Initialize'd caller owns).

libstrongroom.so serves exactly one application: the process that loaded it. The token
service gives each connection its own application over the same tokens.
"""
from __future__ import annotations

from .library import LIBRARY as APPLICATION

__all__ = ["APPLICATION"]
