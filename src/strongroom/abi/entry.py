"""The Python side of libstrongroom.so: every ``sr_py_*`` function, one module per chapter.

Imported by the module's embedding init code (``build_ffi.embedding_init_code``), never
by ordinary Python code: it needs the ``_strongroom_abi`` cffi module that exists only
inside libstrongroom.so (:mod:`strongroom.abi.native`). The init code then calls
:func:`check_bound` with every name of ``build_ffi.PYTHON_IMPLEMENTED``: a C function
without its Python side stops C_Initialize instead of answering at random.

The C wrappers have already checked the C-level "initialized" flag, never-NULL output
pointers and (pointer, length) input pairs, so the ``entry_*`` functions only convert
values, call one method of the application (``token.inprocess.APPLICATION`` and its
chapters: ``slots``, ``sessions``, ``objects``, ``crypto``, ``signatures``, ``keys``,
``messages``) and convert results back. What they share:

    extern        binding (``exported`` / ``extern``), errors -> CKR, ``deliver`` (two-call rule)
    guards        inputs that end an operation before they are read (max_data_len, NULLs)
    marshal       templates, attribute values, PINs, lists, strings
    mechanism_in  CK_MECHANISM and per-message parameters (pkcs11.mechanism_params)
    records_out   CK_INFO, CK_TOKEN_INFO, CK_SESSION_INFO, ... out (one field table each)
    pins          PIN bounds

    entry_general   C_Initialize .. C_GetMechanismInfo, C_InitToken
    entry_sessions  C_InitPIN, C_SetPIN, sessions, C_Login, C_Logout
    entry_objects   C_CreateObject .. C_FindObjectsFinal
    entry_crypto    encrypt, decrypt, digest, sign, verify (incl. recover), random
    entry_keys      generate, derive, wrap, unwrap, encapsulate, decapsulate
    entry_message   the message-based encryption API
    entry_vendor    SR_GetTokenUsage, SR_DeleteToken
"""
from __future__ import annotations

from . import (  # each registers its sr_py_* functions when imported
    entry_crypto,
    entry_general,
    entry_keys,
    entry_message,
    entry_objects,
    entry_sessions,
    entry_vendor,
    marshal,
)
from .extern import check_bound
from .native import ffi

marshal.bind(ffi)      # before the first call

CHAPTERS = (entry_general, entry_sessions, entry_objects, entry_crypto, entry_keys, entry_message,
            entry_vendor)
__all__ = ["CHAPTERS", "check_bound"]
