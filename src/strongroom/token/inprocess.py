"""The in-process module's one application (what one C_Initialize'd caller owns).

libstrongroom.so serves exactly one application: the process that loaded it. The token
service gives each connection its own :class:`~.application.Application` over one core.
"""
from __future__ import annotations

from .application import Application

APPLICATION = Application()

__all__ = ["APPLICATION"]
