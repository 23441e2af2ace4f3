"""Logging that costs nothing until a record is written.

Importing the standard ``logging`` package takes about 5 ms, a tenth of the module's cold
start (docs/performance.md), and a healthy module writes no record at all. So the core
records the configured destination at C_Initialize (:func:`configure`) and the handler is
built on the first :func:`logger` call. Callers log only exception types, handles and
CKR names, never secrets.
"""
from __future__ import annotations

TYPE_CHECKING = False

if TYPE_CHECKING:
    import logging

_ROOT = "strongroom"
_wanted: tuple[str | None, str] = (None, "WARNING")   # (log file or None: stderr, level)
_applied: tuple[str | None, str] | None = None


def configure(log_file: str | None, log_level: str) -> None:
    """Remember where records go; applied on the next :func:`logger` call."""
    global _wanted
    _wanted = (log_file, str(log_level))


def logger(name: str = _ROOT) -> "logging.Logger":
    """The named logger (a child of ``strongroom``), with the configured handler installed."""
    import logging

    global _applied
    if _applied != _wanted:
        _install(logging, *_wanted)
        _applied = _wanted
    return logging.getLogger(name)


def _install(logging, log_file: str | None, log_level: str) -> None:  # noqa: ANN001
    root = logging.getLogger(_ROOT)
    level = getattr(logging, log_level.upper(), logging.WARNING)
    root.setLevel(level)
    for handler in list(root.handlers):
        if getattr(handler, "_strongroom", False):
            root.removeHandler(handler)
            handler.close()
    if log_file:
        handler = logging.FileHandler(log_file)
    else:
        handler = logging.StreamHandler()
        handler.setLevel(max(level, logging.WARNING))
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"))
    handler._strongroom = True
    root.addHandler(handler)
    root.propagate = False
