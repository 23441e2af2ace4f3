"""General-purpose, slot and token functions (v3.0 §5.4, §5.5): C_Initialize ..
C_GetMechanismInfo, C_InitToken.

Like every ``entry_*`` module: converts C arguments, calls the application's chapter
method, converts the result back; the C wrapper already checked the "initialized" flag
and the never-NULL pointers (build_ffi.NONNULL).
"""
from __future__ import annotations

import os

from .._records import TYPE_CHECKING
from ..config import ConfigError
from ..token import core as _core_module
from ..token.inprocess import APPLICATION
from ..token.types import InitArgs
from ..wipe import zero
from . import marshal as M
from .extern import GENERAL_ERROR, OK, exported
from .guards import max_data_len
from .native import ffi, lib
from .pins import required_pin
from .records_out import MECHANISM_INFO, fill, write_info, write_slot_info, write_token_info

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_app = APPLICATION
_slots = APPLICATION.slots


# --- C_Initialize / C_Finalize ----------------------------------------------------------
def _version_probe(path: str) -> Callable[[], int] | None:
    """The store's data_version through the shim's own SQLite connection (shim.c):
    ≈ 0.15 µs instead of ≈ 3 µs through Python's sqlite3. The shim closes it in
    C_Finalize and forgets it in a forked child."""
    if lib.sr_dv_set_path(os.fsencode(path)) != 0:
        return None
    return lib.sr_dv_read


_core_module.version_probe_factory = _version_probe

_init_reported: set[str] = set()


def _report_init_failure(line: str, log_file: str | None) -> None:
    """C_Initialize can only answer CKR_GENERAL_ERROR: say why in one line, once per
    process, on stderr and (when the config named one) in the log file -- not on stderr
    twice, which is where the log goes without a log file."""
    if line in _init_reported:
        return
    _init_reported.add(line)
    try:
        os.write(2, f"strongroom: {line}\n".encode("utf-8", "replace"))
        config = _app.config
        log_file = log_file or (config.log_file if config is not None else None)
        if log_file:
            from .. import log

            log.configure(log_file, "WARNING")
            log.logger("strongroom.abi").error("C_Initialize failed: %s", line)
    except BaseException:  # reporting must not break the ABI
        pass


def _store_problem(exc: BaseException) -> str:
    """One line for a token store that cannot be created or opened (no traceback)."""
    config = _app.config
    home = config.home if config is not None else "STRONGROOM_HOME"
    reason = getattr(exc, "strerror", None) or " ".join(str(exc).split()) or type(exc).__name__
    where = getattr(exc, "filename", None)
    return (f"cannot open the token store in {home} (STRONGROOM_HOME): "
            + (f"{where}: {reason}" if where and where != home else reason))


@exported
def sr_py_Initialize(pInitArgs: Any) -> int:
    if pInitArgs:
        a: Any = ffi.cast("CK_C_INITIALIZE_ARGS *", pInitArgs)
        args = InitArgs(flags=int(a.flags), has_mutex_callbacks=bool(a.CreateMutex))
    else:
        args = None
    try:
        _app.initialize(args)
    except ConfigError as exc:       # what to fix, in one line
        _report_init_failure(exc.line, exc.log_file)
        raise
    except Exception as exc:   # only the store's own failures are reported here
        if not (isinstance(exc, OSError) or type(exc).__module__ == "sqlite3"):
            raise                                       # a bug: extern._onerror logs the traceback
        _report_init_failure(_store_problem(exc), None)
        return GENERAL_ERROR
    config = _app.config
    if config is not None:
        max_data_len[0] = config.max_data_len     # read by every data-carrying call
    return OK


@exported
def sr_py_Finalize(pReserved: Any) -> int:
    _app.finalize()
    return OK


# --- information --------------------------------------------------------------------------
_get_info = _app.get_info           # C_GetInfo: the bench's per-call floor


@exported
def sr_py_GetInfo(pInfo: Any) -> int:
    write_info(pInfo, _get_info())
    return OK


@exported
def sr_py_GetSlotList(tokenPresent: int, pSlotList: Any, pulCount: Any) -> int:
    return M.ulong_list_out(_slots.get_slot_list(bool(tokenPresent)), pSlotList, pulCount)


@exported
def sr_py_GetSlotInfo(slotID: int, pInfo: Any) -> int:
    write_slot_info(pInfo, _slots.get_slot_info(slotID))
    return OK


@exported
def sr_py_GetTokenInfo(slotID: int, pInfo: Any) -> int:
    write_token_info(pInfo, _slots.get_token_info(slotID))
    return OK


@exported
def sr_py_GetMechanismList(slotID: int, pList: Any, pulCount: Any) -> int:
    return M.ulong_list_out(_slots.get_mechanism_list(slotID), pList, pulCount)


@exported
def sr_py_GetMechanismInfo(slotID: int, mtype: int, pInfo: Any) -> int:
    fill(pInfo, _slots.get_mechanism_info(slotID, mtype), MECHANISM_INFO)
    return OK


# PINs arrive as bytearrays (pins.required_pin) and are zeroed when the core returns (issue 10).
@exported
def sr_py_InitToken(slotID: int, pPin: Any, ulPinLen: int, pLabel: Any) -> int:
    pin = required_pin(pPin, ulPinLen)
    try:
        _slots.init_token(slotID, pin, M.unpad(ffi.buffer(pLabel, 32)[:]))
    finally:
        zero(pin)
    return OK
