"""The Python side of libstrongroom.so: one ``@ffi.def_extern`` per ``sr_py_*`` function.

Imported by the module's embedding init code (never by ordinary Python code: it needs
the ``_strongroom_abi`` cffi module that exists only inside libstrongroom.so). The C
wrappers have already checked the C-level "initialized" flag, never-NULL output
pointers and (pointer, length) input pairs, so these functions only convert values,
call :data:`strongroom.token.library.LIBRARY`, and convert results back.

Errors: a :class:`CKRError` becomes its ``rv`` (via ``onerror``, so the success path
carries no try/except); any other exception is logged to ``strongroom.abi`` (type and
traceback only -- never the message or argument values, which may hold PINs or key
bytes) and becomes CKR_GENERAL_ERROR. No Python exception crosses the ABI.
"""
from __future__ import annotations

import os
TYPE_CHECKING = False   # typing is not imported at run time: cold start (_records.py)
if TYPE_CHECKING:
    from typing import Any, Callable

from _strongroom_abi import ffi, lib  # type: ignore[import-not-found]  # noqa: F401

from ..mechanisms import registry
from ..pkcs11 import limits as _limits
from ..pkcs11.constants import CKR
from ..pkcs11.errors import CKRError
from ..token import core as _core_module
from ..token.inprocess import APPLICATION as LIBRARY
from ..token.operations import InPlace as _InPlace
from ..token.types import InitArgs, Mechanism
from ..wipe import release_frames as _release_frames
from ..wipe import wipe_template as _wipe_template
from ..wipe import zero as _zero
from . import marshal as M



M.bind(ffi)

_OK = 0
_GENERAL_ERROR = int(CKR.GENERAL_ERROR)
_ARGUMENTS_BAD = int(CKR.ARGUMENTS_BAD)
_BUFFER_TOO_SMALL = int(CKR.BUFFER_TOO_SMALL)
_NULL = ffi.NULL
_buffer = ffi.buffer
_memmove = ffi.memmove
_pad = M.pad


def _onerror(exc_type: type, exc: BaseException, tb: Any) -> int:
    if isinstance(exc, CKRError):
        return int(exc.rv)
    try:
        import traceback   # only on this (rare) path: cold start, docs/performance.md

        from ..log import logger

        frames = "".join(traceback.format_tb(tb))
        logger("strongroom.abi").error("internal error (%s.%s) in the PKCS#11 ABI; returning CKR_GENERAL_ERROR\n%s",
                  exc_type.__module__, exc_type.__qualname__, frames)
    except BaseException:  # noqa: BLE001 -- logging must not break the ABI either
        pass
    return _GENERAL_ERROR


def _extern(func: Callable, name: str | None = None) -> Callable:
    return ffi.def_extern(name=name or func.__name__, error=_GENERAL_ERROR, onerror=_onerror)(func)


def _method(name: str) -> Callable:
    """Bound method of the core, or a stub answering FUNCTION_NOT_SUPPORTED."""
    fn = None
    for chapter in (LIBRARY, LIBRARY.slots, LIBRARY.sessions, LIBRARY.objects, LIBRARY.crypto, LIBRARY.signatures,
                    LIBRARY.keys, LIBRARY.messages):
        fn = getattr(chapter, name, None)
        if fn is not None:
            break
    if fn is None:
        def missing(*_a: Any, **_k: Any) -> Any:
            raise CKRError(CKR.FUNCTION_NOT_SUPPORTED, f"core has no {name}")
        return missing
    return fn


def _data(p: Any, n: int) -> bytes:
    return _buffer(p, n)[:] if n else b""


def _deliver(out: bytes | int, buf: Any, plen: Any) -> int:
    """Write a core result with the two-call convention (v2.40 §5.2): a plain ``int`` is
    the length needed, nothing delivered (CKR_OK for a NULL buffer, the size query;
    CKR_BUFFER_TOO_SMALL for a buffer too small); bytes are the output."""
    if out.__class__ is int:
        plen[0] = out
        return _BUFFER_TOO_SMALL if buf else _OK
    n = len(out)
    if not buf:
        plen[0] = n
        return _OK
    if plen[0] < n:
        plen[0] = n
        return _BUFFER_TOO_SMALL
    if n:
        _memmove(buf, out, n)
    plen[0] = n
    return _OK


# --- mechanism parameters --------------------------------------------------------------
_MISSING = object()
_param_types: dict[int, Any] = {}


def _param_type(mech: int) -> Any:
    pt = _param_types.get(mech, _MISSING)
    if pt is _MISSING:
        try:
            pt = registry.get(mech).param_type
        except CKRError:
            return None              # unknown mechanism: raw bytes; the core says MECHANISM_INVALID
        _param_types[mech] = pt
    return pt


_codec_tables: tuple[Any, Any] | None = None


def _codecs() -> tuple[Any, Any]:
    """(DECODERS, WRITERS) of abi.params, imported on the first mechanism parameter:
    the parameter dataclasses are not needed by C_Initialize (cold start)."""
    global _codec_tables
    if _codec_tables is None:
        from .params import DECODERS, WRITERS
        _codec_tables = (DECODERS, WRITERS)
    return _codec_tables


_bare: dict[int, Mechanism] = {}   # Mechanism(m, None) is immutable: one per CKM
_MAX_RAW_PARAM = _limits.MAX_RAW_PARAM_LEN
_PARAM_INVALID = int(CKR.MECHANISM_PARAM_INVALID)


def _raw_param(p: Any, n: int) -> bytes:
    """A parameter without a struct decoder (an IV, or an unknown mechanism's): bounded
    by MAX_RAW_PARAM_LEN before it is read (v3.0 §5.1.6: CKR_MECHANISM_PARAM_INVALID)."""
    if n > _MAX_RAW_PARAM:
        raise CKRError(_PARAM_INVALID, f"ulParameterLen above {_MAX_RAW_PARAM} (pkcs11/limits.py)")
    return _buffer(p, n)[:] if n else b""


def _mechanism(pm: Any) -> Mechanism:
    m = pm.mechanism
    p = pm.pParameter
    n = pm.ulParameterLen
    if not p:
        if n:
            raise CKRError(_ARGUMENTS_BAD, "NULL pParameter with nonzero ulParameterLen")
        mech = _bare.get(m)
        if mech is None:
            mech = Mechanism(m, None)
            if len(_bare) < 4096:
                _bare[m] = mech
        return mech
    dec = _codecs()[0].get(_param_type(m))
    if dec is None:
        return Mechanism(m, _raw_param(p, n))
    return Mechanism(m, dec(ffi, p, n))   # struct size and nested lengths checked (abi/params.py)


# --- info records (cached C images: the records are small and rarely change) -----------
_images: dict[Any, bytes] = {}


def _image(rec: Any, build: Callable[[Any], Any]) -> bytes:
    img = _images.get(rec)
    if img is None:
        img = _buffer(build(rec))[:]
        if len(_images) > 256:
            _images.clear()
        _images[rec] = img
    return img


def _ver(v: Any, t: tuple[int, int]) -> None:
    v.major, v.minor = t


def _build_info(i: Any) -> Any:
    c = ffi.new("CK_INFO *")
    _ver(c.cryptokiVersion, i.cryptoki_version)
    _memmove(c.manufacturerID, _pad(i.manufacturer_id, 32), 32)
    c.flags = i.flags
    _memmove(c.libraryDescription, _pad(i.library_description, 32), 32)
    _ver(c.libraryVersion, i.library_version)
    return c


def _build_slot_info(i: Any) -> Any:
    c = ffi.new("CK_SLOT_INFO *")
    _memmove(c.slotDescription, _pad(i.slot_description, 64), 64)
    _memmove(c.manufacturerID, _pad(i.manufacturer_id, 32), 32)
    c.flags = i.flags
    _ver(c.hardwareVersion, i.hardware_version)
    _ver(c.firmwareVersion, i.firmware_version)
    return c


def _build_token_info(i: Any) -> Any:
    c = ffi.new("CK_TOKEN_INFO *")
    _memmove(c.label, _pad(i.label, 32), 32)
    _memmove(c.manufacturerID, _pad(i.manufacturer_id, 32), 32)
    _memmove(c.model, _pad(i.model, 16), 16)
    _memmove(c.serialNumber, _pad(i.serial_number, 16), 16)
    c.flags = i.flags
    c.ulMaxSessionCount = i.max_session_count
    c.ulSessionCount = i.session_count
    c.ulMaxRwSessionCount = i.max_rw_session_count
    c.ulRwSessionCount = i.rw_session_count
    c.ulMaxPinLen = i.max_pin_len
    c.ulMinPinLen = i.min_pin_len
    c.ulTotalPublicMemory = i.total_public_memory
    c.ulFreePublicMemory = i.free_public_memory
    c.ulTotalPrivateMemory = i.total_private_memory
    c.ulFreePrivateMemory = i.free_private_memory
    _ver(c.hardwareVersion, i.hardware_version)
    _ver(c.firmwareVersion, i.firmware_version)
    _memmove(c.utcTime, _pad(i.utc_time, 16), 16)
    return c


# --- general purpose -------------------------------------------------------------------
_initialize = _method("initialize")
_finalize = _method("finalize")
_get_info = _method("get_info")
_get_slot_list = _method("get_slot_list")
_get_slot_info = _method("get_slot_info")
_get_token_info = _method("get_token_info")
_get_mechanism_list = _method("get_mechanism_list")
_get_mechanism_info = _method("get_mechanism_info")


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
        config = LIBRARY.config
        log_file = log_file or (config.log_file if config is not None else None)
        if log_file:
            from .. import log

            log.configure(log_file, "WARNING")
            log.logger("strongroom.abi").error("C_Initialize failed: %s", line)
    except BaseException:  # noqa: BLE001 -- reporting must not break the ABI
        pass


def _store_problem(exc: BaseException) -> str:
    """One line for a token store that cannot be created or opened (no traceback)."""
    config = LIBRARY.config
    home = config.home if config is not None else "STRONGROOM_HOME"
    reason = getattr(exc, "strerror", None) or " ".join(str(exc).split()) or type(exc).__name__
    where = getattr(exc, "filename", None)
    return (f"cannot open the token store in {home} (STRONGROOM_HOME): "
            + (f"{where}: {reason}" if where and where != home else reason))


@_extern
def sr_py_Initialize(pInitArgs: Any) -> int:
    if pInitArgs:
        a = ffi.cast("CK_C_INITIALIZE_ARGS *", pInitArgs)
        args = InitArgs(flags=int(a.flags), has_mutex_callbacks=bool(a.CreateMutex))
    else:
        args = None
    try:
        _initialize(args)
    except CKRError as exc:
        line = getattr(exc, "line", None)     # config.ConfigError: what to fix, in one line
        if line is not None:
            _report_init_failure(line, exc.log_file)  # type: ignore[attr-defined]
        raise
    except Exception as exc:   # only the store's own failures are reported here
        if not (isinstance(exc, OSError) or type(exc).__module__ == "sqlite3"):
            raise                                       # a bug: _onerror logs the traceback
        _report_init_failure(_store_problem(exc), None)
        return _GENERAL_ERROR
    config = LIBRARY.config
    if config is not None:
        _max_data_len[0] = config.max_data_len     # read by every data-carrying call
    return _OK


@_extern
def sr_py_Finalize(pReserved: Any) -> int:
    _finalize()
    return _OK


_SIZEOF_INFO = ffi.sizeof("CK_INFO")
_SIZEOF_SLOT_INFO = ffi.sizeof("CK_SLOT_INFO")
_SIZEOF_TOKEN_INFO = ffi.sizeof("CK_TOKEN_INFO")


@_extern
def sr_py_GetInfo(pInfo: Any) -> int:
    _memmove(pInfo, _image(_get_info(), _build_info), _SIZEOF_INFO)
    return _OK


@_extern
def sr_py_GetSlotList(tokenPresent: int, pSlotList: Any, pulCount: Any) -> int:
    return M.ulong_list_out(_get_slot_list(bool(tokenPresent)), pSlotList, pulCount)


@_extern
def sr_py_GetSlotInfo(slotID: int, pInfo: Any) -> int:
    _memmove(pInfo, _image(_get_slot_info(slotID), _build_slot_info), _SIZEOF_SLOT_INFO)
    return _OK


@_extern
def sr_py_GetTokenInfo(slotID: int, pInfo: Any) -> int:
    _memmove(pInfo, _image(_get_token_info(slotID), _build_token_info), _SIZEOF_TOKEN_INFO)
    return _OK


@_extern
def sr_py_GetMechanismList(slotID: int, pList: Any, pulCount: Any) -> int:
    return M.ulong_list_out(_get_mechanism_list(slotID), pList, pulCount)


@_extern
def sr_py_GetMechanismInfo(slotID: int, mtype: int, pInfo: Any) -> int:
    i = _get_mechanism_info(slotID, mtype)
    pInfo.ulMinKeySize = i.min_key_size
    pInfo.ulMaxKeySize = i.max_key_size
    pInfo.flags = i.flags
    return _OK


# --- tokens, PINs, sessions ----------------------------------------------------------------
_init_token = _method("init_token")
_init_pin = _method("init_pin")
_set_pin = _method("set_pin")
_open_session = _method("open_session")
_close_session = _method("close_session")
_close_all_sessions = _method("close_all_sessions")
_get_session_info = _method("get_session_info")
_login = _method("login")
_logout = _method("logout")


_PIN_LEN_RANGE = int(CKR.PIN_LEN_RANGE)


def _pin_max(new: bool) -> int:
    """Longest PIN read at the ABI: a new PIN ``pin_max_len`` (check_pin_len would refuse
    a longer one after copying it), a PIN to check also at least MAX_PIN_LEN (a PIN set
    before ``pin_max_len`` was lowered must still be checkable)."""
    config = LIBRARY.config
    configured = config.pin_max_len if config is not None else 0
    return configured if new else max(configured, _limits.MAX_PIN_LEN)


def _required_pin(p: Any, n: int, new: bool = True) -> bytes:
    if n > _pin_max(new):      # before the PIN is read: a lying ulPinLen (pkcs11/limits.py)
        raise CKRError(_PIN_LEN_RANGE, "PIN longer than the token allows")
    pin = M.pin_in(p, n)
    if pin is None:
        raise CKRError(_ARGUMENTS_BAD, "NULL PIN (no protected authentication path)")
    return pin


# PINs arrive as bytearrays (M.pin_in) and are zeroed when the core returns (issue 10).
@_extern
def sr_py_InitToken(slotID: int, pPin: Any, ulPinLen: int, pLabel: Any) -> int:
    pin = _required_pin(pPin, ulPinLen)
    try:
        _init_token(slotID, pin, M.unpad(_buffer(pLabel, 32)[:]))
    finally:
        _zero(pin)
    return _OK


@_extern
def sr_py_InitPIN(h: int, pPin: Any, ulPinLen: int) -> int:
    pin = _required_pin(pPin, ulPinLen)
    try:
        _init_pin(h, pin)
    finally:
        _zero(pin)
    return _OK


@_extern
def sr_py_SetPIN(h: int, pOld: Any, ulOld: int, pNew: Any, ulNew: int) -> int:
    old = new = None
    try:
        old = _required_pin(pOld, ulOld, new=False)
        new = _required_pin(pNew, ulNew)
        _set_pin(h, old, new)
    finally:
        _zero(old)
        _zero(new)
    return _OK


@_extern
def sr_py_OpenSession(slotID: int, flags: int, pApplication: Any, notify: Any, phSession: Any) -> int:
    phSession[0] = _open_session(slotID, flags)
    return _OK


@_extern
def sr_py_CloseSession(h: int) -> int:
    _close_session(h)
    return _OK


@_extern
def sr_py_CloseAllSessions(slotID: int) -> int:
    _close_all_sessions(slotID)
    return _OK


@_extern
def sr_py_GetSessionInfo(h: int, pInfo: Any) -> int:
    i = _get_session_info(h)
    pInfo.slotID = i.slot_id
    pInfo.state = i.state
    pInfo.flags = i.flags
    pInfo.ulDeviceError = i.device_error
    return _OK


@_extern
def sr_py_Login(h: int, userType: int, pPin: Any, ulPinLen: int) -> int:
    if ulPinLen > _pin_max(False):   # can never be right; C_Login has no PIN_LEN_RANGE (v3.0 §5.6)
        raise CKRError(_ARGUMENTS_BAD, "PIN longer than any PIN the token accepts")
    pin = M.pin_in(pPin, ulPinLen)
    try:
        _login(h, userType, pin)
    finally:
        _zero(pin)
    return _OK


@_extern
def sr_py_Logout(h: int) -> int:
    _logout(h)
    return _OK


# --- objects ---------------------------------------------------------------------------
_create_object = _method("create_object")
_copy_object = _method("copy_object")
_destroy_object = _method("destroy_object")
_get_object_size = _method("get_object_size")
_get_attribute_value = _method("get_attribute_value")
_set_attribute_value = _method("set_attribute_value")
_find_objects_init = _method("find_objects_init")
_find_objects = _method("find_objects")
_find_objects_final = _method("find_objects_final")
_template = M.template_arg


def _wiping(call: Callable) -> Callable:
    """``call`` with each template argument (a decoded template: the only ``list``
    arguments core calls take) wiped when the core returns or raises: the secret values
    the core did not keep (wipe.wipe_template) are overwritten before they are freed, the
    ones it kept are its to wipe (issue 10)."""
    def run(*args: Any) -> Any:
        try:
            return call(*args)
        except CKRError as exc:
            _release_frames(exc)       # the core's frames still hold the values
            raise
        finally:
            for a in args:
                if a.__class__ is list:
                    _wipe_template(a)
    return run


_create_object = _wiping(_create_object)
_copy_object = _wiping(_copy_object)
_set_attribute_value = _wiping(_set_attribute_value)
_find_objects_init = _wiping(_find_objects_init)


@_extern
def sr_py_CreateObject(h: int, pTemplate: Any, ulCount: int, phObject: Any) -> int:
    phObject[0] = _create_object(h, _template(pTemplate, ulCount))
    return _OK


@_extern
def sr_py_CopyObject(h: int, hObject: int, pTemplate: Any, ulCount: int, phNew: Any) -> int:
    phNew[0] = _copy_object(h, hObject, _template(pTemplate, ulCount))
    return _OK


@_extern
def sr_py_DestroyObject(h: int, hObject: int) -> int:
    _destroy_object(h, hObject)
    return _OK


@_extern
def sr_py_GetObjectSize(h: int, hObject: int, pulSize: Any) -> int:
    pulSize[0] = _get_object_size(h, hObject)
    return _OK


@_extern
def sr_py_GetAttributeValue(h: int, hObject: int, pTemplate: Any, ulCount: int) -> int:
    values = _get_attribute_value(h, hObject, M.types_in(pTemplate, ulCount))
    if len(values) != ulCount:
        raise RuntimeError("core returned a value list of the wrong length")
    return M.attribute_rv(M.fill_attributes(pTemplate, ulCount, values))


@_extern
def sr_py_SetAttributeValue(h: int, hObject: int, pTemplate: Any, ulCount: int) -> int:
    _set_attribute_value(h, hObject, _template(pTemplate, ulCount))
    return _OK


@_extern
def sr_py_FindObjectsInit(h: int, pTemplate: Any, ulCount: int) -> int:
    _find_objects_init(h, _template(pTemplate, ulCount))
    return _OK


@_extern
def sr_py_FindObjects(h: int, phObject: Any, ulMax: int, pulCount: Any) -> int:
    found = _find_objects(h, ulMax)
    n = len(found)
    if n > ulMax:
        raise RuntimeError("core returned more handles than asked for")
    for i in range(n):
        phObject[i] = found[i]
    pulCount[0] = n
    return _OK


@_extern
def sr_py_FindObjectsFinal(h: int) -> int:
    _find_objects_final(h)
    return _OK


# --- cryptographic operations ----------------------------------------------------------
def _init_with_key(name: str) -> Callable:
    core = _method(name)

    def f(h: int, pMechanism: Any, hKey: int) -> int:
        core(h, _mechanism(pMechanism), hKey)
        return _OK
    return f


_VIEW_MIN = 4096   # inputs at least this long reach one-shot operations without a copy

# --- what ends an operation before its data is read ------------------------------------------
# The C wrappers of the functions that have an active operation do not refuse a NULL
# length pointer or a NULL data pointer with a length (build_ffi.NONNULL / CHECKED_IN_PYTHON):
# those errors, and data longer than max_data_len, must end the operation like every
# error but CKR_BUFFER_TOO_SMALL (v2.40 §5.2, §5.8 "always terminates the active
# operation unless ..."), so they are refused here through the core.
_max_data_len = [64 * 1024 * 1024]   # Config.max_data_len; set by sr_py_Initialize
_refuse_call = _method("refuse_call")
_DATA_LEN_RANGE = int(CKR.DATA_LEN_RANGE)
_ENCRYPTED_DATA_LEN_RANGE = int(CKR.ENCRYPTED_DATA_LEN_RANGE)
_SIGNATURE_LEN_RANGE = int(CKR.SIGNATURE_LEN_RANGE)
#: The spec's code for an input above max_data_len, by operation: ciphertext is
#: CKR_ENCRYPTED_DATA_LEN_RANGE, a signature CKR_SIGNATURE_LEN_RANGE, plaintext (data to
#: encrypt, digest, sign or verify; AAD) CKR_DATA_LEN_RANGE (v3.0 §5.1.6 definitions).
_TOO_LONG = {"decrypt": _ENCRYPTED_DATA_LEN_RANGE, "verify_recover": _SIGNATURE_LEN_RANGE,
             "message_decrypt": _ENCRYPTED_DATA_LEN_RANGE}


def _slot_of(core: str) -> str:
    """The operation a core method works on (crypto.OpSlot value): "encrypt_update" -> "encrypt"."""
    return core.removesuffix("_update").removesuffix("_final")


def _refuse(h: int, slot: str, rv: int) -> int:
    """End ``slot``'s operation with ``rv`` (raises CKRError; SESSION_HANDLE_INVALID first)."""
    _refuse_call(h, slot, rv)
    raise CKRError(rv)          # pragma: no cover - the core always raises


def _too_long(slot: str) -> int:
    """The code for a data input of ``slot``'s operation above max_data_len."""
    return _TOO_LONG.get(slot, _DATA_LEN_RANGE)


def _input_rv(p: Any, n: int, too_long: int) -> int:
    """0 when (p, n) is an input the ABI may read, else the code that refuses it
    (``too_long`` when it is longer than max_data_len)."""
    if n and not p:
        return _ARGUMENTS_BAD
    if n > _max_data_len[0]:
        return too_long
    return 0


def _single(name: str, view: bool = False, into: bool = False) -> Callable:
    """C_Encrypt / C_Decrypt / C_Digest / C_Sign and the output-producing updates:
    (h, in, inLen, out, *outLen).

    ``view``: a large input is handed over as a view of the caller's buffer (valid for
    this call only); the core gives views only to operations that finish within the
    call (crypto.single's ``oneshot``) and copies it to ``bytes`` for every other one.
    ``into``: the core may also write the output straight into the caller's buffer
    (C_Encrypt; the result is then the length written)."""
    core = _method(name)
    minimum = _VIEW_MIN if view else 1 << 62
    slot = _slot_of(name)

    def f(h: int, pIn: Any, ulIn: int, pOut: Any, pulOut: Any) -> int:
        if ulIn > _max_data_len[0] or not pulOut or (ulIn and not pIn):
            return _refuse(h, slot, _input_rv(pIn, ulIn, _too_long(slot)) or _ARGUMENTS_BAD)
        if ulIn >= minimum:
            if into and pOut:
                cap = pulOut[0]
                out = core(h, _buffer(pIn, ulIn), cap, _buffer(pOut, cap))
                if out.__class__ is _InPlace:   # written in place by the operation
                    pulOut[0] = int(out)
                    return _OK
            else:
                out = core(h, _buffer(pIn, ulIn), pulOut[0] if pOut else None)
        else:
            out = core(h, _buffer(pIn, ulIn)[:] if ulIn else b"", pulOut[0] if pOut else None)
        return _deliver(out, pOut, pulOut)
    return f


def _final(name: str) -> Callable:
    """C_*Final with output: (h, out, *outLen)."""
    core = _method(name)
    slot = _slot_of(name)

    def f(h: int, pOut: Any, pulOut: Any) -> int:
        if not pulOut:
            return _refuse(h, slot, _ARGUMENTS_BAD)
        return _deliver(core(h, pulOut[0] if pOut else None), pOut, pulOut)
    return f


def _feed(name: str) -> Callable:
    """Input-only calls: (h, data, len) -> core(h, data)."""
    core = _method(name)
    slot = _slot_of(name)
    too_long = _too_long(slot)

    def f(h: int, p: Any, n: int) -> int:
        rv = _input_rv(p, n, too_long)
        if rv:
            return _refuse(h, slot, rv)
        core(h, _buffer(p, n)[:] if n else b"")
        return _OK
    return f


for _c, _factory, _core in (
    ("EncryptInit", _init_with_key, "encrypt_init"),
    ("DecryptInit", _init_with_key, "decrypt_init"),
    ("SignInit", _init_with_key, "sign_init"),
    ("VerifyInit", _init_with_key, "verify_init"),
    ("Encrypt", lambda n: _single(n, view=True, into=True), "encrypt"),
    ("EncryptUpdate", _single, "encrypt_update"),
    ("Decrypt", lambda n: _single(n, view=True), "decrypt"),
    ("DecryptUpdate", _single, "decrypt_update"),
    ("Digest", lambda n: _single(n, view=True), "digest"),
    ("Sign", _single, "sign"),
    ("EncryptFinal", _final, "encrypt_final"),
    ("DecryptFinal", _final, "decrypt_final"),
    ("DigestFinal", _final, "digest_final"),
    ("SignFinal", _final, "sign_final"),
    ("DigestUpdate", _feed, "digest_update"),
    ("SignUpdate", _feed, "sign_update"),
    ("VerifyUpdate", _feed, "verify_update"),
    ("SignRecoverInit", _init_with_key, "sign_recover_init"),
    ("VerifyRecoverInit", _init_with_key, "verify_recover_init"),
    ("SignRecover", _single, "sign_recover"),
    ("VerifyRecover", _single, "verify_recover"),
    ("MessageEncryptInit", _init_with_key, "message_encrypt_init"),
    ("MessageDecryptInit", _init_with_key, "message_decrypt_init"),
):
    _extern(_factory(_core), "sr_py_" + _c)

_digest_init = _method("digest_init")
_digest_key = _method("digest_key")
_verify = _method("verify")
_verify_final = _method("verify_final")
_generate_key = _wiping(_method("generate_key"))
_generate_key_pair = _wiping(_method("generate_key_pair"))
_generate_random = _method("generate_random")


@_extern
def sr_py_DigestInit(h: int, pMechanism: Any) -> int:
    _digest_init(h, _mechanism(pMechanism))
    return _OK


@_extern
def sr_py_DigestKey(h: int, hKey: int) -> int:
    _digest_key(h, hKey)
    return _OK


@_extern
def sr_py_Verify(h: int, pData: Any, ulDataLen: int, pSig: Any, ulSigLen: int) -> int:
    rv = _input_rv(pData, ulDataLen, _DATA_LEN_RANGE) or _input_rv(pSig, ulSigLen, _SIGNATURE_LEN_RANGE)
    if rv:
        return _refuse(h, "verify", rv)
    _verify(h, _data(pData, ulDataLen), _data(pSig, ulSigLen))
    return _OK


@_extern
def sr_py_VerifyFinal(h: int, pSig: Any, ulSigLen: int) -> int:
    rv = _input_rv(pSig, ulSigLen, _SIGNATURE_LEN_RANGE)
    if rv:
        return _refuse(h, "verify", rv)
    _verify_final(h, _data(pSig, ulSigLen))
    return _OK


@_extern
def sr_py_GenerateKey(h: int, pMechanism: Any, pTemplate: Any, ulCount: int, phKey: Any) -> int:
    phKey[0] = _generate_key(h, _mechanism(pMechanism), _template(pTemplate, ulCount))
    return _OK


@_extern
def sr_py_GenerateKeyPair(h: int, pMechanism: Any, pPub: Any, ulPub: int, pPriv: Any, ulPriv: int,
                          phPub: Any, phPriv: Any) -> int:
    pub, priv = _generate_key_pair(h, _mechanism(pMechanism), _template(pPub, ulPub),
                                   _template(pPriv, ulPriv))
    phPub[0] = pub
    phPriv[0] = priv
    return _OK


_seed_random = _method("seed_random")
_MAX_RANDOM_LEN = _limits.MAX_RANDOM_LEN
_MAX_SEED_LEN = _limits.MAX_SEED_LEN


@_extern
def sr_py_SeedRandom(h: int, pSeed: Any, ulSeedLen: int) -> int:
    """C_SeedRandom: a seed above MAX_SEED_LEN is CKR_ARGUMENTS_BAD before it is read
    (C_SeedRandom has no length code, v3.0 §5.17)."""
    if ulSeedLen > _MAX_SEED_LEN:
        raise CKRError(_ARGUMENTS_BAD, f"ulSeedLen above {_MAX_SEED_LEN} (pkcs11/limits.py)")
    _seed_random(h, _data(pSeed, ulSeedLen))
    return _OK


@_extern
def sr_py_GenerateRandom(h: int, pRandom: Any, ulLen: int) -> int:
    """C_GenerateRandom: above MAX_RANDOM_LEN CKR_ARGUMENTS_BAD at once (the function has
    no range code, v3.0 §5.17), never an allocation of ulRandomLen bytes."""
    if ulLen > _MAX_RANDOM_LEN:
        raise CKRError(_ARGUMENTS_BAD, f"ulRandomLen above {_MAX_RANDOM_LEN} (pkcs11/limits.py)")
    out = _generate_random(h, ulLen)
    if len(out) != ulLen:
        raise RuntimeError("core returned the wrong number of random bytes")
    if ulLen:
        _memmove(pRandom, out, ulLen)
    return _OK


# --- key management, KEM, message API (issue 4) ----------------------------------------------
_derive_key = _wiping(_method("derive_key"))
_wrap_key = _method("wrap_key")
_unwrap_key = _wiping(_method("unwrap_key"))
_encapsulate_key = _wiping(_method("encapsulate_key"))
_decapsulate_key = _wiping(_method("decapsulate_key"))
_message_param_type = _method("message_param_type")
_encrypt_message = _method("encrypt_message")
_decrypt_message = _method("decrypt_message")
_message_encrypt_final = _method("message_encrypt_final")
_message_decrypt_final = _method("message_decrypt_final")


def _sized(call: Callable[[int | None], Any], pOut: Any, pulOut: Any) -> Any:
    """Run ``call(capacity)``; a length answer (a plain int: size query or buffer too
    small) sets ``*pulOut`` and becomes the return value (the CKR), anything else is the
    call's result."""
    out = call(pulOut[0] if pOut else None)
    if out.__class__ is int:
        return _deliver(out, pOut, pulOut)
    return out


@_extern
def sr_py_DeriveKey(h: int, pMechanism: Any, hBaseKey: int, pTemplate: Any, ulCount: int, phKey: Any) -> int:
    phKey[0] = _derive_key(h, _mechanism(pMechanism), hBaseKey, _template(pTemplate, ulCount))
    return _OK


@_extern
def sr_py_WrapKey(h: int, pMechanism: Any, hWrappingKey: int, hKey: int, pWrapped: Any, pulLen: Any) -> int:
    mech = _mechanism(pMechanism)
    out = _sized(lambda cap: _wrap_key(h, mech, hWrappingKey, hKey, cap), pWrapped, pulLen)
    if isinstance(out, int):
        return out
    return _deliver(out, pWrapped, pulLen)


@_extern
def sr_py_UnwrapKey(h: int, pMechanism: Any, hUnwrappingKey: int, pWrapped: Any, ulWrapped: int,
                    pTemplate: Any, ulCount: int, phKey: Any) -> int:
    if ulWrapped > _max_data_len[0]:     # before it is read; C_UnwrapKey's length code
        raise CKRError(CKR.WRAPPED_KEY_LEN_RANGE, "wrapped key above max_data_len")
    phKey[0] = _unwrap_key(h, _mechanism(pMechanism), hUnwrappingKey, _data(pWrapped, ulWrapped),
                           _template(pTemplate, ulCount))
    return _OK


@_extern
def sr_py_EncapsulateKey(h: int, pMechanism: Any, hPublicKey: int, pTemplate: Any, ulCount: int,
                         pCiphertext: Any, pulCiphertextLen: Any, phKey: Any) -> int:
    mech = _mechanism(pMechanism)
    template = _template(pTemplate, ulCount)
    out = _sized(lambda cap: _encapsulate_key(h, mech, hPublicKey, template, cap),
                 pCiphertext, pulCiphertextLen)
    if isinstance(out, int):
        return out
    ciphertext, handle = out
    rv = _deliver(ciphertext, pCiphertext, pulCiphertextLen)
    if rv != _OK:                   # the core checked the capacity: cannot happen
        raise RuntimeError("ciphertext does not fit after the core accepted the buffer")
    phKey[0] = handle
    return _OK


@_extern
def sr_py_DecapsulateKey(h: int, pMechanism: Any, hPrivateKey: int, pTemplate: Any, ulCount: int,
                         pCiphertext: Any, ulCiphertextLen: int, phKey: Any) -> int:
    if ulCiphertextLen > _max_data_len[0]:     # before it is read (as mechanisms/mlkem.py)
        raise CKRError(_ENCRYPTED_DATA_LEN_RANGE, "ciphertext above max_data_len")
    phKey[0] = _decapsulate_key(h, _mechanism(pMechanism), hPrivateKey, _template(pTemplate, ulCount),
                                _data(pCiphertext, ulCiphertextLen))
    return _OK


def _message_inputs(h: int, slot: str, ul_aad: int, ul_data: int) -> None:
    """AAD and data above max_data_len: refused before they are read (the message in
    progress ends; the message-based operation survives, as on any message error)."""
    limit = _max_data_len[0]
    if ul_aad > limit:
        _refuse(h, slot, _DATA_LEN_RANGE)
    if ul_data > limit:
        _refuse(h, slot, _too_long(slot))


def _message_param(h: int, encrypt: bool, p: Any, n: int) -> tuple[Any, Any]:
    """Decode a per-message parameter for the session's active message operation."""
    ptype = _message_param_type(h, encrypt)
    dec = _codecs()[0].get(ptype)
    if dec is None:
        return ptype, (_raw_param(p, n) if (p and n) else None)
    if not p:
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "this mechanism needs a per-message parameter")
    return ptype, dec(ffi, p, n)


@_extern
def sr_py_EncryptMessage(h: int, pParameter: Any, ulParameterLen: int, pAAD: Any, ulAAD: int,
                         pPlaintext: Any, ulPlaintext: int, pCiphertext: Any, pulCiphertextLen: Any) -> int:
    _message_inputs(h, "message_encrypt", ulAAD, ulPlaintext)
    ptype, param = _message_param(h, True, pParameter, ulParameterLen)
    aad, data = _data(pAAD, ulAAD), _data(pPlaintext, ulPlaintext)
    out = _sized(lambda cap: _encrypt_message(h, param, aad, data, cap), pCiphertext, pulCiphertextLen)
    if isinstance(out, int):
        return out
    ciphertext, param_out = out
    writer = _codecs()[1].get(ptype)
    if writer is not None and param_out is not None:
        writer(ffi, pParameter, ulParameterLen, param_out)
    return _deliver(ciphertext, pCiphertext, pulCiphertextLen)


@_extern
def sr_py_DecryptMessage(h: int, pParameter: Any, ulParameterLen: int, pAAD: Any, ulAAD: int,
                         pCiphertext: Any, ulCiphertext: int, pPlaintext: Any, pulPlaintextLen: Any) -> int:
    _message_inputs(h, "message_decrypt", ulAAD, ulCiphertext)
    _, param = _message_param(h, False, pParameter, ulParameterLen)
    aad, data = _data(pAAD, ulAAD), _data(pCiphertext, ulCiphertext)
    out = _sized(lambda cap: _decrypt_message(h, param, aad, data, cap), pPlaintext, pulPlaintextLen)
    if isinstance(out, int):
        return out
    return _deliver(out, pPlaintext, pulPlaintextLen)


@_extern
def sr_py_MessageEncryptFinal(h: int) -> int:
    _message_encrypt_final(h)
    return _OK


@_extern
def sr_py_MessageDecryptFinal(h: int) -> int:
    _message_decrypt_final(h)
    return _OK


_message_begin = _method("message_begin")
_message_next = _method("message_next")
_END_OF_MESSAGE = 0x1          # CKF_END_OF_MESSAGE


def _begin_message(encrypt: bool) -> Callable:
    def f(h: int, pParameter: Any, ulParameterLen: int, pAAD: Any, ulAAD: int) -> int:
        _message_inputs(h, "message_encrypt" if encrypt else "message_decrypt", ulAAD, 0)
        _, param = _message_param(h, encrypt, pParameter, ulParameterLen)
        _message_begin(h, encrypt, param, _data(pAAD, ulAAD))
        return _OK
    return f


def _next_message(encrypt: bool) -> Callable:
    def f(h: int, pParameter: Any, ulParameterLen: int, pIn: Any, ulIn: int, pOut: Any, pulOut: Any,
          flags: int) -> int:
        _message_inputs(h, "message_encrypt" if encrypt else "message_decrypt", 0, ulIn)
        ptype, param = _message_param(h, encrypt, pParameter, ulParameterLen)
        end = bool(flags & _END_OF_MESSAGE)
        data = _data(pIn, ulIn)
        out = _sized(lambda cap: _message_next(h, encrypt, param, data, end, cap), pOut, pulOut)
        if isinstance(out, int):
            return out
        if encrypt:
            out, param_out = out
            writer = _codecs()[1].get(ptype)
            if end and writer is not None and param_out is not None:
                writer(ffi, pParameter, ulParameterLen, param_out)
        return _deliver(out, pOut, pulOut)
    return f


_extern(_begin_message(True), "sr_py_EncryptMessageBegin")
_extern(_begin_message(False), "sr_py_DecryptMessageBegin")
_extern(_next_message(True), "sr_py_EncryptMessageNext")
_extern(_next_message(False), "sr_py_DecryptMessageNext")
