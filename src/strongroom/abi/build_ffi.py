"""Build description of ``libstrongroom.so`` (cffi embedding mode).

This module is loaded by ``setup.py`` at build time *by file path* (the package is not
importable yet) and by the ABI tests (to get the same cdef). It needs only the standard
library and cffi.

Layout of the generated C source (``set_source`` preamble)::

    ck_types.h                     PKCS#11 types (also the cffi cdef)
    strongroom_vendor.h            the vendor functions' types (also cdef) and prototypes
    build constants                libpython path, Python home, site dirs, X.Y
    forward declarations           of the sr_py_* functions cffi generates (embedding_api)
    shim.c                         constructor, fork handlers, Python start, C_Initialize ...
    generated wrappers             one C_* per PKCS#11 function: guards, then sr_py_* or
                                   CKR_FUNCTION_NOT_SUPPORTED
    function lists                 CK_FUNCTION_LIST (2.40), CK_FUNCTION_LIST_3_0, CK_FUNCTION_LIST_3_2,
                                   SR_FUNCTION_LIST (interface "strongroom" 1.0)
    shim_tail.c                    C_GetFunctionList, C_GetInterfaceList, C_GetInterface

Every exported ``C_*`` / ``SR_*`` symbol is plain C; Python is reached only through the
``sr_py_*`` functions declared with ``ffi.embedding_api`` and implemented with
``@ffi.def_extern`` in :mod:`strongroom.abi.entry`.
"""
from __future__ import annotations

import itertools
import os
import sys
import sysconfig
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
MODULE_NAME = "_strongroom_abi"          # the cffi module inside libstrongroom.so
LIB_FILENAME = "libstrongroom.so"

# ---------------------------------------------------------------------------------------
# The PKCS#11 v3.0 function table, in CK_FUNCTION_LIST_3_0 order. The first 68 entries
# are CK_FUNCTION_LIST (v2.40). Each entry: (name, [(c type, parameter name), ...]).
# ---------------------------------------------------------------------------------------
_S = ("CK_SESSION_HANDLE", "hSession")
_MECH = ("CK_MECHANISM_PTR", "pMechanism")


#: A template as an input: ``CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulAttributeCount``.
_TEMPLATE = (("CK_ATTRIBUTE_PTR", "pTemplate"), ("CK_ULONG", "ulAttributeCount"))


def _bytes_in(name: str) -> list[tuple[str, str]]:
    """An input byte string: ``CK_BYTE_PTR pX, CK_ULONG ulXLen``."""
    return [("CK_BYTE_PTR", f"p{name}"), ("CK_ULONG", f"ul{name}Len")]


def _bytes_out(name: str) -> list[tuple[str, str]]:
    """An output buffer under the two-call convention: ``CK_BYTE_PTR pX, CK_ULONG_PTR pulXLen``."""
    return [("CK_BYTE_PTR", f"p{name}"), ("CK_ULONG_PTR", f"pul{name}Len")]



def _message_api(op: str, data_in: str, data_out: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """C_Message<op>Init .. C_Message<op>Final (v3.0 §5.9, §5.11): encryption and
    decryption have the same signatures, with plaintext and ciphertext swapped."""
    param = [("CK_VOID_PTR", "pParameter"), ("CK_ULONG", "ulParameterLen")]
    aad = [*_bytes_in("AssociatedData")]

    def io(suffix: str) -> list[tuple[str, str]]:
        return [("CK_BYTE_PTR", f"p{data_in}{suffix}"), ("CK_ULONG", f"ul{data_in}{suffix}Len"),
                ("CK_BYTE_PTR", f"p{data_out}{suffix}"), ("CK_ULONG_PTR", f"pul{data_out}{suffix}Len")]
    return [
        (f"C_Message{op}Init", [_S, _MECH, ("CK_OBJECT_HANDLE", "hKey")]),
        (f"C_{op}Message", [_S, *param, *aad, *io("")]),
        (f"C_{op}MessageBegin", [_S, *param, *aad]),
        (f"C_{op}MessageNext", [_S, *param, *io("Part"), ("CK_FLAGS", "flags")]),
        (f"C_Message{op}Final", [_S]),
    ]



def _message_sign_api(op: str, sig_len: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """C_Message<op>Init .. C_Message<op>Final (v3.0 §5.13, §5.15): signing writes the
    signature (a CK_ULONG_PTR length), verification reads it (a CK_ULONG length)."""
    param = [("CK_VOID_PTR", "pParameter"), ("CK_ULONG", "ulParameterLen")]
    data_sig = [*_bytes_in("Data"), ("CK_BYTE_PTR", "pSignature"),
                (sig_len, "pulSignatureLen" if sig_len == "CK_ULONG_PTR" else "ulSignatureLen")]
    return [
        (f"C_Message{op}Init", [_S, _MECH, ("CK_OBJECT_HANDLE", "hKey")]),
        (f"C_{op}Message", [_S, *param, *data_sig]),
        (f"C_{op}MessageBegin", [_S, *param]),
        (f"C_{op}MessageNext", [_S, *param, *data_sig]),
        (f"C_Message{op}Final", [_S]),
    ]


FUNCTIONS: list[tuple[str, list[tuple[str, str]]]] = [
    ("C_Initialize", [("CK_VOID_PTR", "pInitArgs")]),
    ("C_Finalize", [("CK_VOID_PTR", "pReserved")]),
    ("C_GetInfo", [("CK_INFO_PTR", "pInfo")]),
    ("C_GetFunctionList", [("CK_FUNCTION_LIST_PTR_PTR", "ppFunctionList")]),
    ("C_GetSlotList", [("CK_BBOOL", "tokenPresent"), ("CK_SLOT_ID_PTR", "pSlotList"),
                       ("CK_ULONG_PTR", "pulCount")]),
    ("C_GetSlotInfo", [("CK_SLOT_ID", "slotID"), ("CK_SLOT_INFO_PTR", "pInfo")]),
    ("C_GetTokenInfo", [("CK_SLOT_ID", "slotID"), ("CK_TOKEN_INFO_PTR", "pInfo")]),
    ("C_GetMechanismList", [("CK_SLOT_ID", "slotID"), ("CK_MECHANISM_TYPE_PTR", "pMechanismList"),
                            ("CK_ULONG_PTR", "pulCount")]),
    ("C_GetMechanismInfo", [("CK_SLOT_ID", "slotID"), ("CK_MECHANISM_TYPE", "type"),
                            ("CK_MECHANISM_INFO_PTR", "pInfo")]),
    ("C_InitToken", [("CK_SLOT_ID", "slotID"), ("CK_UTF8CHAR_PTR", "pPin"), ("CK_ULONG", "ulPinLen"),
                     ("CK_UTF8CHAR_PTR", "pLabel")]),
    ("C_InitPIN", [_S, ("CK_UTF8CHAR_PTR", "pPin"), ("CK_ULONG", "ulPinLen")]),
    ("C_SetPIN", [_S, ("CK_UTF8CHAR_PTR", "pOldPin"), ("CK_ULONG", "ulOldLen"),
                  ("CK_UTF8CHAR_PTR", "pNewPin"), ("CK_ULONG", "ulNewLen")]),
    ("C_OpenSession", [("CK_SLOT_ID", "slotID"), ("CK_FLAGS", "flags"), ("CK_VOID_PTR", "pApplication"),
                       ("CK_NOTIFY", "Notify"), ("CK_SESSION_HANDLE_PTR", "phSession")]),
    ("C_CloseSession", [_S]),
    ("C_CloseAllSessions", [("CK_SLOT_ID", "slotID")]),
    ("C_GetSessionInfo", [_S, ("CK_SESSION_INFO_PTR", "pInfo")]),
    ("C_GetOperationState", [_S, *_bytes_out("OperationState")]),
    ("C_SetOperationState", [_S, *_bytes_in("OperationState"),
                             ("CK_OBJECT_HANDLE", "hEncryptionKey"),
                             ("CK_OBJECT_HANDLE", "hAuthenticationKey")]),
    ("C_Login", [_S, ("CK_USER_TYPE", "userType"), ("CK_UTF8CHAR_PTR", "pPin"), ("CK_ULONG", "ulPinLen")]),
    ("C_Logout", [_S]),
    ("C_CreateObject", [_S, ("CK_ATTRIBUTE_PTR", "pTemplate"), ("CK_ULONG", "ulCount"),
                        ("CK_OBJECT_HANDLE_PTR", "phObject")]),
    ("C_CopyObject", [_S, ("CK_OBJECT_HANDLE", "hObject"), ("CK_ATTRIBUTE_PTR", "pTemplate"),
                      ("CK_ULONG", "ulCount"), ("CK_OBJECT_HANDLE_PTR", "phNewObject")]),
    ("C_DestroyObject", [_S, ("CK_OBJECT_HANDLE", "hObject")]),
    ("C_GetObjectSize", [_S, ("CK_OBJECT_HANDLE", "hObject"), ("CK_ULONG_PTR", "pulSize")]),
    ("C_GetAttributeValue", [_S, ("CK_OBJECT_HANDLE", "hObject"), ("CK_ATTRIBUTE_PTR", "pTemplate"),
                             ("CK_ULONG", "ulCount")]),
    ("C_SetAttributeValue", [_S, ("CK_OBJECT_HANDLE", "hObject"), ("CK_ATTRIBUTE_PTR", "pTemplate"),
                             ("CK_ULONG", "ulCount")]),
    ("C_FindObjectsInit", [_S, ("CK_ATTRIBUTE_PTR", "pTemplate"), ("CK_ULONG", "ulCount")]),
    ("C_FindObjects", [_S, ("CK_OBJECT_HANDLE_PTR", "phObject"), ("CK_ULONG", "ulMaxObjectCount"),
                       ("CK_ULONG_PTR", "pulObjectCount")]),
    ("C_FindObjectsFinal", [_S]),
    ("C_EncryptInit", [_S, _MECH, ("CK_OBJECT_HANDLE", "hKey")]),
    ("C_Encrypt", [_S, *_bytes_in("Data"), *_bytes_out("EncryptedData")]),
    ("C_EncryptUpdate", [_S, *_bytes_in("Part"), *_bytes_out("EncryptedPart")]),
    ("C_EncryptFinal", [_S, *_bytes_out("LastEncryptedPart")]),
    ("C_DecryptInit", [_S, _MECH, ("CK_OBJECT_HANDLE", "hKey")]),
    ("C_Decrypt", [_S, *_bytes_in("EncryptedData"), *_bytes_out("Data")]),
    ("C_DecryptUpdate", [_S, *_bytes_in("EncryptedPart"), *_bytes_out("Part")]),
    ("C_DecryptFinal", [_S, *_bytes_out("LastPart")]),
    ("C_DigestInit", [_S, _MECH]),
    ("C_Digest", [_S, *_bytes_in("Data"), *_bytes_out("Digest")]),
    ("C_DigestUpdate", [_S, *_bytes_in("Part")]),
    ("C_DigestKey", [_S, ("CK_OBJECT_HANDLE", "hKey")]),
    ("C_DigestFinal", [_S, *_bytes_out("Digest")]),
    ("C_SignInit", [_S, _MECH, ("CK_OBJECT_HANDLE", "hKey")]),
    ("C_Sign", [_S, *_bytes_in("Data"), *_bytes_out("Signature")]),
    ("C_SignUpdate", [_S, *_bytes_in("Part")]),
    ("C_SignFinal", [_S, *_bytes_out("Signature")]),
    ("C_SignRecoverInit", [_S, _MECH, ("CK_OBJECT_HANDLE", "hKey")]),
    ("C_SignRecover", [_S, *_bytes_in("Data"), *_bytes_out("Signature")]),
    ("C_VerifyInit", [_S, _MECH, ("CK_OBJECT_HANDLE", "hKey")]),
    ("C_Verify", [_S, *_bytes_in("Data"), *_bytes_in("Signature")]),
    ("C_VerifyUpdate", [_S, *_bytes_in("Part")]),
    ("C_VerifyFinal", [_S, *_bytes_in("Signature")]),
    ("C_VerifyRecoverInit", [_S, _MECH, ("CK_OBJECT_HANDLE", "hKey")]),
    ("C_VerifyRecover", [_S, *_bytes_in("Signature"), *_bytes_out("Data")]),
    ("C_DigestEncryptUpdate", [_S, *_bytes_in("Part"), *_bytes_out("EncryptedPart")]),
    ("C_DecryptDigestUpdate", [_S, *_bytes_in("EncryptedPart"), *_bytes_out("Part")]),
    ("C_SignEncryptUpdate", [_S, *_bytes_in("Part"), *_bytes_out("EncryptedPart")]),
    ("C_DecryptVerifyUpdate", [_S, *_bytes_in("EncryptedPart"), *_bytes_out("Part")]),
    ("C_GenerateKey", [_S, _MECH, ("CK_ATTRIBUTE_PTR", "pTemplate"), ("CK_ULONG", "ulCount"),
                       ("CK_OBJECT_HANDLE_PTR", "phKey")]),
    ("C_GenerateKeyPair", [_S, _MECH, ("CK_ATTRIBUTE_PTR", "pPublicKeyTemplate"),
                           ("CK_ULONG", "ulPublicKeyAttributeCount"),
                           ("CK_ATTRIBUTE_PTR", "pPrivateKeyTemplate"),
                           ("CK_ULONG", "ulPrivateKeyAttributeCount"),
                           ("CK_OBJECT_HANDLE_PTR", "phPublicKey"), ("CK_OBJECT_HANDLE_PTR", "phPrivateKey")]),
    ("C_WrapKey", [_S, _MECH, ("CK_OBJECT_HANDLE", "hWrappingKey"), ("CK_OBJECT_HANDLE", "hKey"),
                   *_bytes_out("WrappedKey")]),
    ("C_UnwrapKey", [_S, _MECH, ("CK_OBJECT_HANDLE", "hUnwrappingKey"), *_bytes_in("WrappedKey"), *_TEMPLATE,
                     ("CK_OBJECT_HANDLE_PTR", "phKey")]),
    ("C_DeriveKey", [_S, _MECH, ("CK_OBJECT_HANDLE", "hBaseKey"), *_TEMPLATE, ("CK_OBJECT_HANDLE_PTR", "phKey")]),
    ("C_SeedRandom", [_S, *_bytes_in("Seed")]),
    ("C_GenerateRandom", [_S, ("CK_BYTE_PTR", "pRandomData"), ("CK_ULONG", "ulRandomLen")]),
    ("C_GetFunctionStatus", [_S]),
    ("C_CancelFunction", [_S]),
    ("C_WaitForSlotEvent", [("CK_FLAGS", "flags"), ("CK_SLOT_ID_PTR", "pSlot"), ("CK_VOID_PTR", "pReserved")]),
    # ---- v3.0 additions ----
    ("C_GetInterfaceList", [("CK_INTERFACE_PTR", "pInterfacesList"), ("CK_ULONG_PTR", "pulCount")]),
    ("C_GetInterface", [("CK_UTF8CHAR_PTR", "pInterfaceName"), ("CK_VERSION_PTR", "pVersion"),
                        ("CK_INTERFACE_PTR_PTR", "ppInterface"), ("CK_FLAGS", "flags")]),
    ("C_LoginUser", [_S, ("CK_USER_TYPE", "userType"), ("CK_UTF8CHAR_PTR", "pPin"), ("CK_ULONG", "ulPinLen"),
                     ("CK_UTF8CHAR_PTR", "pUsername"), ("CK_ULONG", "ulUsernameLen")]),
    ("C_SessionCancel", [_S, ("CK_FLAGS", "flags")]),
    *_message_api("Encrypt", "Plaintext", "Ciphertext"),
    *_message_api("Decrypt", "Ciphertext", "Plaintext"),
    *_message_sign_api("Sign", "CK_ULONG_PTR"),
    *_message_sign_api("Verify", "CK_ULONG"),
]
V2_COUNT = 68
V30_COUNT = V2_COUNT + 24
assert len(FUNCTIONS) == V30_COUNT
assert FUNCTIONS[V2_COUNT - 1][0] == "C_WaitForSlotEvent"

# ---- v3.2 additions, in CK_FUNCTION_LIST_3_2 order (after C_MessageVerifyFinal) ----
FUNCTIONS += [
    ("C_EncapsulateKey", [_S, _MECH, ("CK_OBJECT_HANDLE", "hPublicKey"), *_TEMPLATE, *_bytes_out("Ciphertext"),
                          ("CK_OBJECT_HANDLE_PTR", "phKey")]),
    ("C_DecapsulateKey", [_S, _MECH, ("CK_OBJECT_HANDLE", "hPrivateKey"), *_TEMPLATE, *_bytes_in("Ciphertext"),
                          ("CK_OBJECT_HANDLE_PTR", "phKey")]),
    ("C_VerifySignatureInit", [_S, _MECH, ("CK_OBJECT_HANDLE", "hKey"), *_bytes_in("Signature")]),
    ("C_VerifySignature", [_S, *_bytes_in("Data")]),
    ("C_VerifySignatureUpdate", [_S, *_bytes_in("Part")]),
    ("C_VerifySignatureFinal", [_S]),
    ("C_GetSessionValidationFlags", [_S, ("CK_SESSION_VALIDATION_FLAGS_TYPE", "type"),
                                     ("CK_FLAGS_PTR", "pFlags")]),
    ("C_AsyncComplete", [_S, ("CK_UTF8CHAR_PTR", "pFunctionName"), ("CK_ASYNC_DATA_PTR", "pResult")]),
    ("C_AsyncGetID", [_S, ("CK_UTF8CHAR_PTR", "pFunctionName"), ("CK_ULONG_PTR", "pulID")]),
    ("C_AsyncJoin", [_S, ("CK_UTF8CHAR_PTR", "pFunctionName"), ("CK_ULONG", "ulID"),
                     ("CK_BYTE_PTR", "pData"), ("CK_ULONG", "ulData")]),
    ("C_WrapKeyAuthenticated", [_S, _MECH, ("CK_OBJECT_HANDLE", "hWrappingKey"), ("CK_OBJECT_HANDLE", "hKey"),
                                *_bytes_in("AssociatedData"), *_bytes_out("WrappedKey")]),
    ("C_UnwrapKeyAuthenticated", [_S, _MECH, ("CK_OBJECT_HANDLE", "hUnwrappingKey"),
                                  *_bytes_in("WrappedKey"),
                                  *_TEMPLATE,
                                  *_bytes_in("AssociatedData"),
                                  ("CK_OBJECT_HANDLE_PTR", "phKey")]),
]
V32_COUNT = V30_COUNT + 12
assert len(FUNCTIONS) == V32_COUNT

#: strongroom's vendor functions (strongroom_vendor.h): exported by name and as the
#: function list of the interface "strongroom" 1.0.
VENDOR_FUNCTIONS: list[tuple[str, list[tuple[str, str]]]] = [
    ("SR_GetTokenUsage", [("CK_SLOT_ID", "slotID"), ("SR_TOKEN_USAGE_PTR", "pUsage")]),
    ("SR_DeleteToken", [("CK_SLOT_ID", "slotID")]),
]
VENDOR_HEADER = "strongroom_vendor.h"

#: Written by hand in shim.c (no generated wrapper).
HANDWRITTEN = {"C_Initialize", "C_Finalize", "C_GetFunctionList", "C_GetInterfaceList", "C_GetInterface"}

#: Implemented in Python (strongroom.abi.entry defines sr_py_<name without C_>).
PYTHON_IMPLEMENTED = [
    "C_Initialize", "C_Finalize", "C_GetInfo", "C_GetSlotList", "C_GetSlotInfo", "C_GetTokenInfo",
    "C_GetMechanismList", "C_GetMechanismInfo", "C_InitToken", "C_InitPIN", "C_SetPIN",
    "C_OpenSession", "C_CloseSession", "C_CloseAllSessions", "C_GetSessionInfo", "C_Login",
    "C_Logout", "C_CreateObject", "C_CopyObject", "C_DestroyObject", "C_GetObjectSize",
    "C_GetAttributeValue", "C_SetAttributeValue", "C_FindObjectsInit", "C_FindObjects",
    "C_FindObjectsFinal", "C_EncryptInit", "C_Encrypt", "C_EncryptUpdate", "C_EncryptFinal",
    "C_DecryptInit", "C_Decrypt", "C_DecryptUpdate", "C_DecryptFinal", "C_DigestInit", "C_Digest",
    "C_DigestUpdate", "C_DigestKey", "C_DigestFinal", "C_SignInit", "C_Sign", "C_SignUpdate",
    "C_SignFinal", "C_VerifyInit", "C_Verify", "C_VerifyUpdate", "C_VerifyFinal", "C_GenerateKey",
    "C_GenerateKeyPair", "C_SeedRandom", "C_GenerateRandom",
    # issue 4
    "C_SignRecoverInit", "C_SignRecover", "C_VerifyRecoverInit", "C_VerifyRecover",
    "C_WrapKey", "C_UnwrapKey", "C_DeriveKey", "C_EncapsulateKey", "C_DecapsulateKey",
    "C_MessageEncryptInit", "C_EncryptMessage", "C_MessageEncryptFinal",
    "C_MessageDecryptInit", "C_DecryptMessage", "C_MessageDecryptFinal",
    "C_EncryptMessageBegin", "C_EncryptMessageNext", "C_DecryptMessageBegin", "C_DecryptMessageNext",
    # issue 12
    "SR_GetTokenUsage", "SR_DeleteToken",
]

#: Functions working on an active operation: a NULL length pointer or a NULL data pointer
#: with a nonzero length is refused by abi/entry.py, through the core, because the error
#: must end the operation (v2.40 §5.2; §5.8 "always terminates the active operation
#: unless it returns CKR_BUFFER_TOO_SMALL or is a successful call to determine the
#: length") -- the C wrapper returning CKR_ARGUMENTS_BAD would leave it active.
CHECKED_IN_PYTHON = frozenset({
    "C_Encrypt", "C_EncryptUpdate", "C_EncryptFinal", "C_Decrypt", "C_DecryptUpdate",
    "C_DecryptFinal", "C_Digest", "C_DigestUpdate", "C_DigestFinal", "C_Sign", "C_SignUpdate",
    "C_SignFinal", "C_SignRecover", "C_Verify", "C_VerifyUpdate", "C_VerifyFinal",
    "C_VerifyRecover",
})

#: Pointer types that always name one output record or handle (never an array).
_RECORD_OUT = frozenset({"CK_INFO_PTR", "CK_SLOT_INFO_PTR", "CK_TOKEN_INFO_PTR", "CK_MECHANISM_INFO_PTR",
                         "CK_SESSION_INFO_PTR", "SR_TOKEN_USAGE_PTR", "CK_MECHANISM_PTR"})
_HANDLE_OUT = frozenset({"CK_SESSION_HANDLE_PTR", "CK_OBJECT_HANDLE_PTR"})


def _never_null(name: str, params: list[tuple[str, str]]) -> tuple[str, ...]:
    """The pointers of ``name`` the C wrapper refuses as NULL (CKR_ARGUMENTS_BAD): the
    mechanism, info records, a single output handle (not a handle array, which has a
    count after it), every length / count pointer except those of CHECKED_IN_PYTHON,
    and C_InitToken's 32-byte label."""
    out = []
    for i, (t, p) in enumerate(params):
        array = i + 1 < len(params) and params[i + 1][0] == "CK_ULONG"
        if (t in _RECORD_OUT or (t in _HANDLE_OUT and not array) or p == "pLabel"
                or (t == "CK_ULONG_PTR" and name not in CHECKED_IN_PYTHON)):
            out.append(p)
    return tuple(out)


#: Output pointers that may never be NULL (checked in C: CKR_ARGUMENTS_BAD), by function.
NONNULL = {name: _never_null(name, params) for name, params in FUNCTIONS + VENDOR_FUNCTIONS
           if name in PYTHON_IMPLEMENTED}

#: Legacy functions with a fixed answer (v2.40 §5.15).
FIXED_RV = {"C_GetFunctionStatus": "CKR_FUNCTION_NOT_PARALLEL", "C_CancelFunction": "CKR_FUNCTION_NOT_PARALLEL"}


Params = list[tuple[str, str]]

#: Every function list the module hands out: (C struct, static variable in the generated
#: C, version, its functions). The PKCS#11 structs are declared by function_list_cdef,
#: SR_FUNCTION_LIST by strongroom_vendor.h.
FUNCTION_LISTS: list[tuple[str, str, tuple[int, int], list[tuple[str, Params]]]] = [
    ("CK_FUNCTION_LIST", "sr_list_240", (2, 40), FUNCTIONS[:V2_COUNT]),
    ("CK_FUNCTION_LIST_3_0", "sr_list_30", (3, 0), FUNCTIONS[:V30_COUNT]),
    ("CK_FUNCTION_LIST_3_2", "sr_list_32", (3, 2), FUNCTIONS),
    ("SR_FUNCTION_LIST", "sr_list_vendor", (1, 0), VENDOR_FUNCTIONS),
]
_PKCS11_LISTS = FUNCTION_LISTS[:3]


def py_name(c_name: str) -> str:
    """The Python implementation's name: C_Sign -> sr_py_Sign, SR_DeleteToken -> sr_py_DeleteToken."""
    return "sr_py_" + c_name.split("_", 1)[1]


def _proto(name: str, params: list[tuple[str, str]]) -> str:
    return f"CK_RV {name}({', '.join(f'{t} {p}' for t, p in params) or 'void'})"


def _pairs(params: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(pointer, length) input pairs: a NULL pointer with a nonzero length is ARGUMENTS_BAD."""
    out = []
    for (t1, p1), (t2, p2) in itertools.pairwise(params):
        if t1.endswith("_PTR") and t1 != "CK_ULONG_PTR" and t2 == "CK_ULONG" and p2.startswith("ul"):
            out.append((p1, p2))
    return out


def read_text(name: str) -> str:
    with open(os.path.join(HERE, name), encoding="utf-8") as fh:
        return fh.read()


def function_list_cdef() -> str:
    """CK_FUNCTION_LIST / _3_0 / _3_2 declarations (C and cffi)."""
    lines = [f"struct {s}; typedef struct {s} {s}; typedef {s} *{s}_PTR;" for s, _, _, _ in _PKCS11_LISTS]
    lines.append("typedef CK_FUNCTION_LIST_PTR *CK_FUNCTION_LIST_PTR_PTR;")
    for struct, _, _, funcs in _PKCS11_LISTS:
        lines.append(f"struct {struct} {{")
        lines.append("    CK_VERSION version;")
        for name, params in funcs:
            lines.append(f"    CK_RV (*{name})({', '.join(f'{t} {p}' for t, p in params)});")
        lines.append("};")
    return "\n".join(lines) + "\n"


def vendor_cdef() -> str:
    """The types of strongroom_vendor.h (its text between the cdef markers)."""
    text = read_text(VENDOR_HEADER)
    begin, end = "/* ---- cdef begin ---- */", "/* ---- cdef end ---- */"
    return text[text.index(begin) + len(begin):text.index(end)]


def cdef_text() -> str:
    """Everything a cffi user of libstrongroom.so needs (tests use it in ABI mode)."""
    return read_text("ck_types.h") + function_list_cdef() + vendor_cdef()


# ---------------------------------------------------------------------------------------
# Build-time facts baked into the C source
# ---------------------------------------------------------------------------------------
def _c_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def build_site_dirs() -> list[str]:
    """Where the installing environment keeps packages (pip runs the build with the target
    interpreter, so sys.prefix is the target venv). Includes the base interpreter's
    site-packages only when that venv sees system site-packages."""
    paths = sysconfig.get_paths()
    dirs = [paths["purelib"], paths["platlib"]]
    if sys.prefix != sys.base_prefix:
        system = False
        cfg = os.path.join(sys.prefix, "pyvenv.cfg")
        try:
            with open(cfg, encoding="utf-8") as fh:
                for line in fh:
                    key, _, value = line.partition("=")
                    if key.strip() == "include-system-site-packages":
                        system = value.strip().lower() == "true"
        except OSError:
            pass
        if system:
            base = sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_prefix})
            dirs += [base["purelib"], base["platlib"]]
    out: list[str] = []
    for d in dirs:
        if d not in out:
            out.append(d)
    return out


def build_defines() -> str:
    libdir = sysconfig.get_config_var("LIBDIR") or os.path.join(sys.base_prefix, "lib")
    soname = sysconfig.get_config_var("INSTSONAME") or f"libpython{sys.version_info[0]}.{sys.version_info[1]}.so.1.0"
    exe = os.path.join(sys.base_prefix, "bin", f"python{sys.version_info[0]}.{sys.version_info[1]}")
    site_dirs = build_site_dirs()
    return "\n".join([
        f"#define SR_LIBPYTHON_PATH {_c_str(os.path.join(libdir, soname))}",
        f"#define SR_LIBPYTHON_SONAME {_c_str(soname)}",
        f"#define SR_PYTHON_HOME {_c_str(sys.base_prefix)}",
        f"#define SR_PYTHON_EXE {_c_str(exe)}",
        f"#define SR_PY_VERSION {_c_str('{}.{}'.format(*sys.version_info[:2]))}",
        f"#define SR_SITE_DIRS {_c_str(os.pathsep.join(site_dirs))}",
        "",
    ])


# ---------------------------------------------------------------------------------------
# Generated C
# ---------------------------------------------------------------------------------------
def _wrapper(name: str, params: list[tuple[str, str]]) -> str:
    body = ["    SR_GUARD();"]
    if name in PYTHON_IMPLEMENTED:
        for p in NONNULL.get(name, ()):
            body.append(f"    if ({p} == NULL) return CKR_ARGUMENTS_BAD;")
        for ptr, length in ([] if name in CHECKED_IN_PYTHON else _pairs(params)):
            body.append(f"    if ({ptr} == NULL && {length} != 0) return CKR_ARGUMENTS_BAD;")
        body.append(f"    SR_CALL({py_name(name)}({', '.join(p for _, p in params)}));")
    else:
        body.append(f"    return {FIXED_RV.get(name, 'CKR_FUNCTION_NOT_SUPPORTED')};")
    return f"SR_EXPORT {_proto(name, params)}\n{{\n" + "\n".join(body) + "\n}\n"


def _python_api() -> str:
    table = dict(FUNCTIONS + VENDOR_FUNCTIONS)
    return "".join(_proto(py_name(n), table[n]) + ";\n" for n in PYTHON_IMPLEMENTED)


def generated_c() -> str:
    exported = FUNCTIONS + VENDOR_FUNCTIONS
    parts = ["/* ---- generated by strongroom/abi/build_ffi.py ---- */\n"]
    parts.append("".join(f"SR_EXPORT {_proto(n, p)};\n" for n, p in exported))
    for name, params in exported:
        if name not in HANDWRITTEN:
            parts.append(_wrapper(name, params))
    for struct, var, (major, minor), funcs in FUNCTION_LISTS:
        parts.append(f"static {struct} {var} = {{\n    {{{major}, {minor}}},\n")
        parts.append("".join(f"    {name},\n" for name, _ in funcs))
        parts.append("};\n")
    return "\n".join(parts)


def c_source() -> str:
    return "\n".join([
        "#define _GNU_SOURCE 1",
        read_text("ck_types.h"),
        function_list_cdef(),
        read_text(VENDOR_HEADER),
        build_defines(),
        "/* Python side (cffi embedding_api; implemented in strongroom.abi.entry) */",
        _python_api(),
        read_text("shim.c"),
        generated_c(),
        read_text("shim_tail.c"),
    ])


def embedding_init_code() -> str:
    """The Python the module runs at its first C_Initialize: import every ``sr_py_*``
    (strongroom.abi.entry), then fail loudly if one of PYTHON_IMPLEMENTED has none."""
    names = "".join(f"    {py_name(n)!r},\n" for n in PYTHON_IMPLEMENTED)
    return ("import strongroom.abi.entry  # registers every sr_py_* (ffi.def_extern)\n"
            f"strongroom.abi.entry.check_bound((\n{names}))\n")


def make_ffi(**source_kwargs: Any) -> FFI:
    from cffi import FFI

    ffi = FFI()
    ffi.cdef(read_text("ck_types.h"))
    ffi.cdef(vendor_cdef())
    ffi.cdef("""
        const char *sr_module_path(void);
        int sr_owns_python(void);
        int sr_dv_set_path(const char *path);
        long long sr_dv_read(void);
    """)
    ffi.embedding_api(_python_api())
    ffi.set_source(MODULE_NAME, c_source(), **source_kwargs)
    ffi.embedding_init_code(embedding_init_code())
    return ffi


def extension_kwargs(build_temp: str) -> dict[str, list[str]]:
    """Compiler/linker settings for setuptools.Extension (libpython with an rpath)."""
    libdir = sysconfig.get_config_var("LIBDIR")
    ldver = "python{}.{}".format(*sys.version_info[:2]) + (getattr(sys, "abiflags", "") or "")
    script = os.path.join(build_temp, "libstrongroom.map")
    os.makedirs(build_temp, exist_ok=True)
    with open(script, "w", encoding="utf-8") as fh:
        fh.write("{\n  global:\n    C_*;\n    SR_*;\n  local:\n    *;\n};\n")
    return {
        # the libsqlite3 that Python's _sqlite3 uses (freshness probe in shim.c)
        "libraries": [ldver, "dl", "pthread", ":libsqlite3.so.0"],
        "library_dirs": [libdir] if libdir else [],
        "runtime_library_dirs": [libdir] if libdir else [],
        "extra_compile_args": ["-fvisibility=hidden", "-O2"],
        "extra_link_args": [f"-Wl,--version-script={script}", "-Wl,-z,nodelete"],
    }


def emit(c_path: str) -> str:
    """Write the generated C file (cffi output) to ``c_path``."""
    ffi = make_ffi()
    ffi.emit_c_code(c_path)
    return c_path


if __name__ == "__main__":  # manual build for development: python build_ffi.py OUTDIR
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    ffi = make_ffi(**extension_kwargs(os.path.join(out, "tmp")))
    print(ffi.compile(tmpdir=out, target=LIB_FILENAME))
