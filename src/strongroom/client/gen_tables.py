"""Build-time generator of the C client's tables (run by setup.py, ``src`` on sys.path).

Writes two files for the C client (src/strongroom/client/*.c, internal header client.h):

``client_tables.h``
    the PKCS#11 types (abi/ck_types.h and the function-list structs abi/build_ffi.py
    declares), the CKR_* values, the call ids and signatures of server/protocol_table.py,
    the function lists' declarations, and -- only where ``SR_TABLES_DATA`` is defined
    (tables.c) -- the parameter layout of every mechanism (pkcs11/param_layouts.py rows
    with ``offsetof``, pkcs11/mechanism_params.PARAM_TYPE, pkcs11/params.MESSAGE_PARAM_TYPES)
    and p11-kit's attribute wire classes (server/attribute_wire.wire_class);
``client_calls.inc``
    included by calls.c: one wrapper per PKCS#11 function whose request and response
    follow from its C parameters and its signatures (the rest are written by hand in the
    api_*.c files), the CKR_FUNCTION_NOT_SUPPORTED stubs of the functions the protocol
    cannot carry, and the function lists (interfaces.c hands them out).

It imports pure-data modules only. The C function table (``FUNCTIONS``) comes from
abi/build_ffi.py, handed in by the caller (setup.py loads that file by path).
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ..pkcs11.constants import CKA, CKR
from ..pkcs11.mechanism_params import PARAM_TYPE
from ..pkcs11.param_layouts import BITS_BYTES, BOOL, BYTES, FIXED_BYTES, INLINE, LAYOUTS, ULONG, Layout
from ..pkcs11.params import MESSAGE_PARAM_TYPES
from ..server.attribute_wire import WireClass, wire_class
from ..server.protocol_table import EXTENSION_BASE, PROTOCOL

__all__ = ["HANDWRITTEN", "generate", "write"]

Params = list[tuple[str, str]]

#: Written by hand (the api_*.c files, interfaces.c): local answers, session bookkeeping, special encodings.
HANDWRITTEN = frozenset({
    "C_Initialize", "C_Finalize", "C_GetInfo", "C_GetFunctionList", "C_GetInterfaceList",
    "C_GetInterface", "C_GetSlotList", "C_InitToken", "C_OpenSession", "C_CloseSession",
    "C_CloseAllSessions", "C_GetAttributeValue", "C_WaitForSlotEvent", "C_MessageEncryptInit",
    "C_MessageDecryptInit", "C_EncryptMessage", "C_EncryptMessageBegin", "C_EncryptMessageNext",
    "C_SignMessageNext",
})
#: v2.40 §5.15: legacy functions with a fixed answer.
FIXED_RV = {"C_GetFunctionStatus": "CKR_FUNCTION_NOT_PARALLEL", "C_CancelFunction": "CKR_FUNCTION_NOT_PARALLEL"}
#: Slot calls: they reconnect a dropped connection; the answer when the service is away.
SLOT_FALLBACK = "CKR_SLOT_ID_INVALID"
#: Response decoders for one output record, by the record's pointer type.
RECORDS = {"CK_SLOT_INFO_PTR": "sr_get_slot_info", "CK_TOKEN_INFO_PTR": "sr_get_token_info",
           "CK_MECHANISM_INFO_PTR": "sr_get_mechanism_info", "CK_SESSION_INFO_PTR": "sr_get_session_info",
           "SR_TOKEN_USAGE_PTR": "sr_get_token_usage", "CK_INFO_PTR": "sr_get_info"}
#: ``aM`` kinds of the C tables.
_KIND = {ULONG: "SR_F_ULONG", BOOL: "SR_F_BOOL", BYTES: "SR_F_BYTES", INLINE: "SR_F_INLINE",
         FIXED_BYTES: "SR_F_FIXED", BITS_BYTES: "SR_F_BITS"}
_CLASS = {WireClass.BYTE: "SR_A_BYTE", WireClass.ULONG: "SR_A_ULONG", WireClass.ATTRIBUTE_ARRAY: "SR_A_TEMPLATE",
          WireClass.MECHANISM_TYPE_ARRAY: "SR_A_MECHS", WireClass.DATE: "SR_A_DATE"}
_SCALARS = frozenset({"CK_ULONG", "CK_SESSION_HANDLE", "CK_SLOT_ID", "CK_OBJECT_HANDLE", "CK_FLAGS",
                      "CK_USER_TYPE", "CK_MECHANISM_TYPE", "CK_BBOOL"})


def _proto(name: str, params: Params) -> str:
    return f"CK_RV {name}({', '.join(f'{t} {p}' for t, p in params) or 'void'})"


def _layout_tables() -> list[str]:
    """sr_fields (every struct's members) and the per-mechanism layout tables."""
    fields: list[str] = []
    first: dict[str, tuple[int, int, Layout]] = {}
    for layout in LAYOUTS.values():
        if layout.ctype in first:
            continue
        first[layout.ctype] = (len(fields), len(layout.fields), layout)
        for f in layout.fields:
            length = f"offsetof({layout.ctype}, {f.length})" if f.length else "0"
            fields.append(f"    {{{_KIND[f.kind]}, {int(f.out)}, offsetof({layout.ctype}, {f.member}), "
                          f"{length}, {f.size}}},  /* {layout.ctype}.{f.member} */")
    by_type = {ptype: first[lay.ctype] for ptype, lay in LAYOUTS.items()}

    def rows(table: dict[int, type]) -> list[str]:
        out = []
        for mech in sorted(table):
            ptype = table[mech]
            if ptype in by_type:
                start, count, lay = by_type[ptype]
                out.append(f"    {{0x{mech:x}UL, SR_P_STRUCT, sizeof({lay.ctype}), {start}, {count}}},")
            elif ptype is int:
                out.append(f"    {{0x{mech:x}UL, SR_P_ULONG, sizeof(CK_ULONG), 0, 0}},")
            else:
                out.append(f"    {{0x{mech:x}UL, SR_P_RAW, 0, 0, 0}},")
        return out
    mechs, msgs = rows(PARAM_TYPE), rows(MESSAGE_PARAM_TYPES)
    return ["static const sr_field sr_fields[] = {", *fields, "};",
            "static const sr_layout sr_mech_layouts[] = {", *mechs, "};",
            f"#define SR_N_MECH_LAYOUTS {len(mechs)}",
            "static const sr_layout sr_msg_layouts[] = {", *msgs, "};",
            f"#define SR_N_MSG_LAYOUTS {len(msgs)}"]


def _attribute_classes() -> list[str]:
    rows = sorted({int(a) for a in CKA if wire_class(int(a)) is not WireClass.BYTE_ARRAY})
    return ["static const sr_attr_class sr_attr_classes[] = {",
            *(f"    {{0x{a:x}UL, {_CLASS[wire_class(a)]}}}," for a in rows), "};",
            f"#define SR_N_ATTR_CLASSES {len(rows)}"]


def _calls() -> list[str]:
    out = []
    for cid, name, req, resp in PROTOCOL:
        out.append(f'#define SR_ID_{name} {cid}\n#define SR_REQ_{name} "{req}"\n#define SR_RSP_{name} "{resp}"')
    return out


def tables_header(types_text: str, lists_text: str, vendor_text: str, functions: list[tuple[str, Params]],
                  lists: Sequence[tuple[str, str, tuple[int, int], list[tuple[str, Params]]]] = ()) -> str:
    """client_tables.h."""
    ckr = [f"#define CKR_{m.name} 0x{int(m.value):x}UL" for m in CKR]
    parts = ["/* generated by strongroom/client/gen_tables.py -- do not edit */",
             "#ifndef SR_CLIENT_TABLES_H", "#define SR_CLIENT_TABLES_H", types_text, lists_text, vendor_text,
             *ckr, f"#define SR_EXTENSION_BASE {EXTENSION_BASE}",
             "#define SR_HAVE_3_2 1" if "CK_FUNCTION_LIST_3_2" in lists_text else "", *_calls(),
             "#ifdef SR_TABLES_DATA", *_layout_tables(), *_attribute_classes(), "#endif"]
    parts += [f"SR_EXPORT {_proto(n, p)};" for n, p in functions]
    parts += [f"extern {struct} {var};" for struct, var, _, _ in lists]
    parts.append("#endif")
    return "\n".join(parts) + "\n"


# --- generated wrappers ------------------------------------------------------------------
class _Walk:
    """Maps a request signature onto a function's C parameters, in order."""

    def __init__(self, name: str, params: Params) -> None:
        self.name, self.params, self.i = name, params, 0
        self.checks: list[str] = []
        self.puts: list[str] = []
        self.out_pair: tuple[str, str, bool] | None = None      # (buffer, length, fixed)
        self.out_array: tuple[str, str, str] | None = None      # (array, capacity, count ptr)

    def take(self, n: int = 1) -> Params:
        got = self.params[self.i:self.i + n]
        if len(got) != n:
            raise ValueError(f"{self.name}: signature longer than the C parameters")
        self.i += n
        return got

    def code(self, c: str) -> None:
        if c in ("u", "y"):
            ((t, p),) = self.take()
            if t not in _SCALARS:
                raise ValueError(f"{self.name}: {p} is not a scalar")
            if p != "hSession":
                self.puts.append(f"sr_put_{'u' if c == 'u' else 'y'}(&c, {p});")
        elif c == "ay":
            (_, p), (t, n) = self.take(2)
            assert t == "CK_ULONG", (self.name, p)
            self.checks.append(f"if ({p} == NULL && {n} != 0) return CKR_ARGUMENTS_BAD;")
            if p == "pParameter":
                kind = "SR_MSG_DECRYPT" if "Decrypt" in self.name else "SR_MSG_OTHER"
                self.puts.append(f"sr_put_msg_param(&c, {kind}, {p}, {n});")
            else:
                self.puts.append(f"sr_put_ay(&c, {p}, {n});")
        elif c == "fy":
            (_, p), (t, n) = self.take(2)
            fixed = t == "CK_ULONG"
            if fixed:
                self.checks.append(f"if ({p} == NULL && {n} != 0) return CKR_ARGUMENTS_BAD;")
                self.puts.append(f"sr_put_fy_fixed(&c, {n});")
            else:
                self.checks.append(f"if ({n} == NULL) return CKR_ARGUMENTS_BAD;")
                self.puts.append(f"sr_put_fy(&c, {p}, {n});")
            self.out_pair = (p, n, fixed)
        elif c == "fu":
            (_, p), (t, n) = self.take(2)
            if t == "CK_ULONG":                       # C_FindObjects: capacity, then count ptr
                ((_, cnt),) = self.take()
                self.puts.append(f"sr_put_fu(&c, {p}, {n});")
                self.out_array = (p, n, cnt)
            else:
                self.puts.append(f"sr_put_fu(&c, {p}, {p} ? *{n} : 0);")
                self.out_array = (p, f"*{n}", n)
                cnt = n
            self.checks.append(f"if ({cnt} == NULL) return CKR_ARGUMENTS_BAD;")
        elif c == "M":
            ((_, p),) = self.take()
            self.puts.append(f"sr_put_mech(&c, {p});")
        elif c == "aA":
            (_, p), (_, n) = self.take(2)
            self.checks.append(f"if ({p} == NULL && {n} != 0) return CKR_ARGUMENTS_BAD;")
            self.puts.append(f"sr_put_attrs(&c, {p}, {n}, 0);")
        else:
            raise ValueError(f"{self.name}: no generic rule for {c!r}")


def _codes(sig: str) -> list[str]:
    out, i = [], 0
    while i < len(sig):
        n = 2 if sig[i] in "af" else 1
        out.append(sig[i:i + n])
        i += n
    return out


def _responses(w: _Walk, resp: str) -> list[str]:
    rest = w.params[w.i:]
    gets = []
    if resp in ("vsusv", "ssuvv", "ssssuuuuuuuuuuuvvs", "uuuu", "uuu", "uuuuuuu"):
        ((t, p),) = rest
        w.checks.append(f"if ({p} == NULL) return CKR_ARGUMENTS_BAD;")
        return [f"{RECORDS[t]}(&c, {p});"]
    for c in _codes(resp):
        if c == "ay":
            assert w.out_pair is not None, w.name
            p, n, fixed = w.out_pair
            gets.append(f"sr_get_ay_fixed(&c, {p}, {n});" if fixed else f"sr_get_ay(&c, {p}, {n});")
        elif c == "au":
            assert w.out_array is not None, w.name
            p, cap, cnt = w.out_array
            gets.append(f"sr_get_au(&c, {p}, {cap}, {cnt}, {int(p == 'phObject')});")
        elif c == "u":
            (t, p), rest = rest[0], rest[1:]
            assert t.endswith("_PTR"), (w.name, p)
            w.checks.append(f"if ({p} == NULL) return CKR_ARGUMENTS_BAD;")
            gets.append(f"sr_get_u(&c, {p});")
        else:
            raise ValueError(f"{w.name}: no generic rule for response {c!r}")
    return gets


def _wrapper(name: str, params: Params, cid: int, req: str, resp: str, static: bool) -> str:
    w = _Walk(name, params)
    for c in _codes(req):
        w.code(c)
    gets = _responses(w, resp)
    first = params[0][1] if params else ""
    if first == "hSession":
        mode, handle = "SR_SESSION", "hSession"
    else:
        mode, handle = ("SR_SLOT", "0") if first == "slotID" else ("SR_PLAIN", "0")
    body = [*w.checks, "sr_call c;",
            f"CK_RV rv = sr_begin(&c, SR_ID_{name}, SR_REQ_{name}, SR_RSP_{name}, {mode}, {handle}, "
            f"{SLOT_FALLBACK if mode == 'SR_SLOT' else 'CKR_DEVICE_REMOVED'});",
            "if (rv != CKR_OK) return rv;", *w.puts, "rv = sr_run(&c);", "if (rv == CKR_OK) {",
            *("    " + g for g in gets), "    rv = sr_finish(&c);", "}", "return sr_done(&c, rv);"]
    head = f"static {_proto(name, params)}" if static else f"SR_EXPORT {_proto(name, params)}"
    return head + "\n{\n" + "".join(f"    {line}\n" for line in body) + "}\n"


def calls_include(functions: list[tuple[str, Params]], vendor: list[tuple[str, Params]],
                  lists: list[tuple[str, str, tuple[int, int], list[tuple[str, Params]]]]) -> str:
    """client_calls.inc: the generated wrappers, the stubs, the function lists."""
    by_name = {name: (cid, req, resp) for cid, name, req, resp in PROTOCOL}
    parts = ["/* generated by strongroom/client/gen_tables.py -- do not edit */",
             *(f"static {_proto(n, p)};" for n, p in vendor)]
    for name, params in functions + vendor:
        if name in HANDWRITTEN:
            continue
        if name in by_name:      # the vendor functions are not exported: only the lists reach them
            parts.append(_wrapper(name, params, *by_name[name], static=name.startswith("SR_")))
        else:
            parts.append(f"SR_EXPORT {_proto(name, params)}\n{{\n" + "".join(f"    (void){p};\n" for _, p in params)
                         + f"    return {FIXED_RV.get(name, 'CKR_FUNCTION_NOT_SUPPORTED')};\n}}\n")
    for struct, var, (major, minor), funcs in lists:
        parts.append(f"{struct} {var} = {{\n    {{{major}, {minor}}},\n"
                     + "".join(f"    {name},\n" for name, _ in funcs) + "};\n")
    return "\n".join(parts)


def generate(build_ffi: Any) -> tuple[str, str]:
    """(client_tables.h, client_calls.inc) from the loaded abi/build_ffi.py module."""
    functions: list[tuple[str, Params]] = build_ffi.FUNCTIONS
    vendor: list[tuple[str, Params]] = build_ffi.VENDOR_FUNCTIONS
    header = tables_header(build_ffi.read_text("ck_types.h"), build_ffi.function_list_cdef(),
                           build_ffi.vendor_cdef(), functions, build_ffi.FUNCTION_LISTS)
    return header, calls_include(functions, vendor, build_ffi.FUNCTION_LISTS)


def write(build_ffi: Any, out_dir: str) -> list[str]:
    """Write both files into ``out_dir``; their paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for fname, text in zip(("client_tables.h", "client_calls.inc"), generate(build_ffi), strict=True):
        path = os.path.join(out_dir, fname)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        paths.append(path)
    return paths
