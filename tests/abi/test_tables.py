"""Function tables, interfaces and the C-level guards of libstrongroom.so."""
from __future__ import annotations

import os

from strongroom.abi import build_ffi
from strongroom.pkcs11.constants import CKR

V2_NAMES = [name for name, _ in build_ffi.FUNCTIONS[:build_ffi.V2_COUNT]]
V3_NAMES = [name for name, _ in build_ffi.FUNCTIONS[:build_ffi.V30_COUNT]]
V32_NAMES = [name for name, _ in build_ffi.FUNCTIONS]


def test_function_list_240(module):
    fl = module.fl2
    assert (fl.version.major, fl.version.minor) == (2, 40)
    for name in V2_NAMES:
        assert getattr(fl, name) != module.ffi.NULL, name


def test_function_list_30_via_interface(module):
    fl = module.fl
    assert (fl.version.major, fl.version.minor) == (3, 0)
    for name in V3_NAMES:
        assert getattr(fl, name) != module.ffi.NULL, name
    # the 2.40 prefix of both lists is the same functions
    for name in V2_NAMES:
        assert getattr(fl, name) == getattr(module.fl2, name), name


def test_function_list_32_layout(module):
    """CK_FUNCTION_LIST_3_2 as the v3.2 header lays it out: 104 entries, the 3.0 list as
    its prefix, then C_EncapsulateKey .. C_UnwrapKeyAuthenticated."""
    ffi, fl = module.ffi, module.fl32
    assert (fl.version.major, fl.version.minor) == (3, 2)
    assert len(V32_NAMES) == 104
    assert V32_NAMES[92:] == [
        "C_EncapsulateKey", "C_DecapsulateKey", "C_VerifySignatureInit", "C_VerifySignature",
        "C_VerifySignatureUpdate", "C_VerifySignatureFinal", "C_GetSessionValidationFlags",
        "C_AsyncComplete", "C_AsyncGetID", "C_AsyncJoin", "C_WrapKeyAuthenticated",
        "C_UnwrapKeyAuthenticated"]
    assert ffi.sizeof("CK_FUNCTION_LIST_3_2") == 8 + 104 * ffi.sizeof("void *")
    assert ffi.offsetof("CK_FUNCTION_LIST_3_2", "C_EncapsulateKey") == 8 + 92 * 8
    assert ffi.offsetof("CK_FUNCTION_LIST_3_2", "C_UnwrapKeyAuthenticated") == 8 + 103 * 8
    for name in V32_NAMES:
        assert getattr(fl, name) != ffi.NULL, name
    for name in V3_NAMES:
        assert getattr(fl, name) == getattr(module.fl, name), name


def test_32_entries_before_initialize_and_unsupported(fresh):
    ffi, fl = fresh.ffi, fresh.fl32
    n = ffi.new("CK_ULONG *")
    key = ffi.new("CK_OBJECT_HANDLE *")
    assert fl.C_EncapsulateKey(0, ffi.NULL, 0, ffi.NULL, 0, ffi.NULL, n, key) == CKR.CRYPTOKI_NOT_INITIALIZED
    assert fl.C_Initialize(ffi.NULL) == CKR.OK
    try:
        assert fl.C_EncapsulateKey(0, ffi.NULL, 0, ffi.NULL, 0, ffi.NULL, n, key) == CKR.ARGUMENTS_BAD
        assert fl.C_VerifySignatureFinal(1) == CKR.FUNCTION_NOT_SUPPORTED
        assert fl.C_AsyncJoin(1, ffi.NULL, 0, ffi.NULL, 0) == CKR.FUNCTION_NOT_SUPPORTED
        assert fl.C_WrapKeyAuthenticated(1, ffi.NULL, 0, 0, ffi.NULL, 0, ffi.NULL, n) == \
            CKR.FUNCTION_NOT_SUPPORTED
    finally:
        assert fl.C_Finalize(ffi.NULL) == CKR.OK


def test_exported_symbols_are_the_table_entries(module):
    ffi = module.ffi
    pp = ffi.new("CK_FUNCTION_LIST_PTR *")
    assert module.lib.C_GetFunctionList(pp) == CKR.OK
    assert module.lib.C_GetFunctionList(ffi.NULL) == CKR.ARGUMENTS_BAD


def test_interface_list(module):
    ffi, lib = module.ffi, module.lib
    count = ffi.new("CK_ULONG *")
    assert lib.C_GetInterfaceList(ffi.NULL, count) == CKR.OK
    assert count[0] == 4
    assert lib.C_GetInterfaceList(ffi.NULL, ffi.NULL) == CKR.ARGUMENTS_BAD
    small = ffi.new("CK_INTERFACE[1]")
    count[0] = 1
    assert lib.C_GetInterfaceList(small, count) == CKR.BUFFER_TOO_SMALL
    assert count[0] == 4
    arr = ffi.new("CK_INTERFACE[4]")
    assert lib.C_GetInterfaceList(arr, count) == CKR.OK
    found = []
    for i in range(4):
        v = ffi.cast("CK_VERSION *", arr[i].pFunctionList)
        found.append((ffi.string(ffi.cast("char *", arr[i].pInterfaceName)), (v.major, v.minor)))
    assert found == [(b"PKCS 11", (3, 0)), (b"PKCS 11", (3, 2)), (b"PKCS 11", (2, 40)),
                     (b"strongroom", (1, 0))]      # the vendor functions (strongroom_vendor.h)


def test_get_interface_by_name_and_version(module):
    ffi, lib = module.ffi, module.lib
    out = ffi.new("CK_INTERFACE_PTR *")
    name = ffi.new("char[]", b"PKCS 11")
    ver = ffi.new("CK_VERSION *", {"major": 2, "minor": 40})
    assert lib.C_GetInterface(ffi.cast("CK_UTF8CHAR_PTR", name), ver, out, 0) == CKR.OK
    assert ffi.cast("CK_VERSION *", out[0].pFunctionList).minor == 40
    assert out[0].pFunctionList == module.fl2
    ver.major, ver.minor = 3, 0
    assert lib.C_GetInterface(ffi.cast("CK_UTF8CHAR_PTR", name), ver, out, 0) == CKR.OK
    assert ffi.cast("CK_VERSION *", out[0].pFunctionList).major == 3
    ver.major, ver.minor = 3, 2
    assert lib.C_GetInterface(ffi.cast("CK_UTF8CHAR_PTR", name), ver, out, 0) == CKR.OK
    assert out[0].pFunctionList == module.fl32
    assert lib.C_GetInterface(ffi.NULL, ffi.NULL, out, 0) == CKR.OK   # default: the 3.0 list
    assert out[0].pFunctionList == module.fl
    ver.major, ver.minor = 9, 9
    assert lib.C_GetInterface(ffi.NULL, ver, out, 0) == CKR.ARGUMENTS_BAD
    ver.major, ver.minor = 1, 0      # a NULL name is "PKCS 11", never the vendor interface
    assert lib.C_GetInterface(ffi.NULL, ver, out, 0) == CKR.ARGUMENTS_BAD
    other = ffi.new("char[]", b"Vendor thing")
    assert lib.C_GetInterface(ffi.cast("CK_UTF8CHAR_PTR", other), ffi.NULL, out, 0) == CKR.ARGUMENTS_BAD
    assert lib.C_GetInterface(ffi.NULL, ffi.NULL, ffi.NULL, 0) == CKR.ARGUMENTS_BAD
    # we do not claim CKF_INTERFACE_FORK_SAFE (a child must C_Initialize again)
    assert lib.C_GetInterface(ffi.NULL, ffi.NULL, out, 1) == CKR.ARGUMENTS_BAD


def test_calls_before_initialize(fresh):
    ffi, fl = fresh.ffi, fresh.fl
    info = ffi.new("CK_INFO *")
    count = ffi.new("CK_ULONG *")
    assert fl.C_GetInfo(info) == CKR.CRYPTOKI_NOT_INITIALIZED
    assert fl.C_GetSlotList(0, ffi.NULL, count) == CKR.CRYPTOKI_NOT_INITIALIZED
    assert fl.C_Finalize(ffi.NULL) == CKR.CRYPTOKI_NOT_INITIALIZED
    assert fl.C_CloseSession(1) == CKR.CRYPTOKI_NOT_INITIALIZED
    assert fl.C_WrapKey(1, ffi.NULL, 0, 0, ffi.NULL, count) == CKR.CRYPTOKI_NOT_INITIALIZED
    # NOT_INITIALIZED wins over a NULL argument
    assert fl.C_GetInfo(ffi.NULL) == CKR.CRYPTOKI_NOT_INITIALIZED


def test_double_initialize(ck):
    assert ck.fl.C_Initialize(ck.ffi.NULL) == CKR.CRYPTOKI_ALREADY_INITIALIZED


def test_finalize_then_not_initialized(ck):
    ffi, fl = ck.ffi, ck.fl
    assert fl.C_Finalize(ffi.NULL) == CKR.OK
    assert fl.C_GetInfo(ffi.new("CK_INFO *")) == CKR.CRYPTOKI_NOT_INITIALIZED
    assert fl.C_Initialize(ffi.NULL) == CKR.OK


def test_finalize_reserved_must_be_null(ck):
    assert ck.fl.C_Finalize(ck.ffi.new("char[1]")) == CKR.ARGUMENTS_BAD


def test_initialize_args(fresh):
    ffi, fl = fresh.ffi, fresh.fl
    args = ffi.new("CK_C_INITIALIZE_ARGS *")
    args.pReserved = ffi.new("char[1]")
    assert fl.C_Initialize(args) == CKR.ARGUMENTS_BAD
    args.pReserved = ffi.NULL

    @ffi.callback("CK_RV(CK_VOID_PTR_PTR)")
    def create(pp):
        return 0

    args.CreateMutex = create                    # some but not all callbacks
    assert fl.C_Initialize(args) == CKR.ARGUMENTS_BAD
    args.CreateMutex = ffi.NULL
    args.flags = 0x2                             # CKF_OS_LOCKING_OK, no callbacks
    assert fl.C_Initialize(args) == CKR.OK
    assert fl.C_Finalize(ffi.NULL) == CKR.OK


def test_null_out_pointers(ck):
    ffi, fl = ck.ffi, ck.fl
    assert fl.C_GetInfo(ffi.NULL) == CKR.ARGUMENTS_BAD
    assert fl.C_GetSlotList(0, ffi.NULL, ffi.NULL) == CKR.ARGUMENTS_BAD
    assert fl.C_GetSlotInfo(0, ffi.NULL) == CKR.ARGUMENTS_BAD
    assert fl.C_GetTokenInfo(0, ffi.NULL) == CKR.ARGUMENTS_BAD
    assert fl.C_OpenSession(0, 4, ffi.NULL, ffi.NULL, ffi.NULL) == CKR.ARGUMENTS_BAD
    assert fl.C_DigestInit(1, ffi.NULL) == CKR.ARGUMENTS_BAD
    assert fl.C_Digest(1, ffi.NULL, 5, ffi.NULL, ffi.new("CK_ULONG *")) == CKR.ARGUMENTS_BAD


def test_unsupported_functions(ck):
    ffi, fl = ck.ffi, ck.fl
    n = ffi.new("CK_ULONG *")
    assert fl.C_WrapKey(1, ffi.NULL, 0, 0, ffi.NULL, n) == CKR.ARGUMENTS_BAD   # implemented: NULL mechanism
    assert fl.C_SignMessageBegin(1, ffi.NULL, 0) == CKR.FUNCTION_NOT_SUPPORTED
    assert fl.C_GetOperationState(1, ffi.NULL, n) == CKR.FUNCTION_NOT_SUPPORTED
    assert fl.C_WaitForSlotEvent(0, ffi.NULL, ffi.NULL) == CKR.FUNCTION_NOT_SUPPORTED
    assert fl.C_MessageEncryptInit(1, ffi.NULL, 0) == CKR.ARGUMENTS_BAD   # implemented: NULL mechanism
    assert fl.C_MessageSignInit(1, ffi.NULL, 0) == CKR.FUNCTION_NOT_SUPPORTED
    assert fl.C_GetFunctionStatus(1) == CKR.FUNCTION_NOT_PARALLEL


def test_get_info_blank_padded(ck):
    ffi, fl = ck.ffi, ck.fl
    info = ffi.new("CK_INFO *")
    ffi.memmove(info, b"\xAA" * ffi.sizeof("CK_INFO"), ffi.sizeof("CK_INFO"))
    assert fl.C_GetInfo(info) == CKR.OK
    assert (info.cryptokiVersion.major, info.cryptokiVersion.minor) == (3, 0)
    man = bytes(ffi.buffer(info.manufacturerID))
    desc = bytes(ffi.buffer(info.libraryDescription))
    assert len(man) == 32 and len(desc) == 32
    assert man.startswith(b"strongroom") and man.rstrip(b" ") == b"strongroom"
    assert b"\x00" not in man and b"\x00" not in desc and b"\xaa" not in desc
    assert desc.rstrip(b" ")                     # non-empty, padded with blanks only
    assert info.flags == 0


def test_pad_utf8_boundary():
    from strongroom.abi.marshal import pad

    assert pad("abc", 5) == b"abc  "
    assert pad("é" * 20, 5) == "éé".encode() + b" "    # never split a character
    assert pad("", 4) == b"    "


def test_fork_child_must_initialize_again(ck):
    ffi, fl = ck.ffi, ck.fl
    info = ffi.new("CK_INFO *")
    assert fl.C_GetInfo(info) == CKR.OK
    pid = os.fork()
    if pid == 0:                                  # child: report through the exit code
        code = 0
        try:
            if fl.C_GetInfo(info) != CKR.CRYPTOKI_NOT_INITIALIZED:
                code = 10
            elif fl.C_Initialize(ffi.NULL) != CKR.OK:
                code = 11
            elif fl.C_GetInfo(info) != CKR.OK:
                code = 12
            elif fl.C_Finalize(ffi.NULL) != CKR.OK:
                code = 13
        except BaseException:
            code = 20
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # the parent is unaffected
    assert fl.C_GetInfo(info) == CKR.OK


def test_every_parameter_struct_has_a_decoder():
    """A parameter struct is one row per layer: PARAM_TYPE names its dataclass, abi/params
    decodes it (int / bytes parameters are read by mechanism_in itself)."""
    from strongroom.abi.params import DECODERS
    from strongroom.pkcs11.mechanism_params import PARAM_TYPE

    structs = {t for t in PARAM_TYPE.values() if t not in (int, bytes)}
    assert structs and structs - set(DECODERS) == set()
