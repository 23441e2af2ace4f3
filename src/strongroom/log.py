"""Logging that costs nothing until a record is written.

Importing the standard ``logging`` package takes about 5 ms, a tenth of the module's cold
start (docs/performance.md), and a healthy module writes no record at all. So the core
records the configured destination at C_Initialize (:func:`configure`) and the handler is
built on the first :func:`logger` call. Callers log only exception types, handles and
CKR names, never secrets.
"""
from __future__ import annotations

from ._records import TYPE_CHECKING

if TYPE_CHECKING:
    import logging

_ROOT = "strongroom"
_wanted: tuple[str | None, str] = (None, "WARNING")   # (log file or None: stderr, level)
_applied: tuple[str | None, str] | None = None
_handler: logging.Handler | None = None   # the one this module installed on the root


def configure(log_file: str | None, log_level: str) -> None:
    """Remember where records go; applied on the next :func:`logger` call."""
    global _wanted
    _wanted = (log_file, str(log_level))


def logger(name: str = _ROOT) -> logging.Logger:
    """The named logger (a child of ``strongroom``), with the configured handler installed."""
    import logging

    global _applied
    if _applied != _wanted:
        _install(*_wanted)
        _applied = _wanted
    return logging.getLogger(name)


def _install(log_file: str | None, log_level: str) -> None:
    """Replace the handler this module installed (if any) by one for the wanted destination."""
    import logging  # already imported by logger()

    global _handler
    root = logging.getLogger(_ROOT)
    level = getattr(logging, log_level.upper(), logging.WARNING)
    root.setLevel(level)
    if _handler is not None:
        root.removeHandler(_handler)
        _handler.close()
    handler: logging.Handler
    if log_file:
        handler = logging.FileHandler(log_file)
    else:
        handler = logging.StreamHandler()
        handler.setLevel(max(level, logging.WARNING))
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"))
    _handler = handler
    root.addHandler(handler)
    root.propagate = False
