"""Mechanism families. :func:`load_all` imports every family so it registers.

Adding a family: write ``mechanisms/<family>.py`` calling ``registry.register`` at import
time and add its name to ``FAMILIES`` below. The core uses ``registry.get`` /
``all_mechanisms``, which call :func:`load_all` on first use: the families (and
pyca/cryptography's heavy modules they pull in) are not imported by C_Initialize, only
by the first call that needs a mechanism (docs/performance.md, cold start).
"""
from __future__ import annotations

import threading

from . import registry

FAMILIES = (
    "aes", "digest", "ec", "random", "rsa",
    "ecdh", "eddsa",                                 # ECDH derive; Edwards / Montgomery
    "mldsa", "mlkem",                                # PKCS#11 v3.2 post-quantum
    "aes_mac", "aes_wrap", "chacha", "hmac", "kdf",  # symmetric families of issue 4
)

_loaded = False
_lock = threading.RLock()


def load_all() -> None:
    """Import every family once (thread-safe; re-entrant for imports during loading)."""
    global _loaded
    if _loaded:
        return
    with _lock:
        if _loaded:
            return
        for name in FAMILIES:
            __import__(f"{__name__}.{name}")   # not importlib: it (and warnings) stays off the cold start
        _loaded = True


registry.set_loader(load_all)
