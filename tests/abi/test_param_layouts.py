"""pkcs11/param_layouts.py is the one description of every parameter struct: its rows must
name the dataclass's fields in order and real members of the C declaration, and the ABI
must read a struct built by those rows back to the same value."""
from __future__ import annotations

import dataclasses

import pytest
from cffi import FFI

from strongroom.abi import build_ffi
from strongroom.abi.params import DECODERS, WRITERS
from strongroom.pkcs11 import param_layouts as PL
from strongroom.pkcs11.mechanism_params import PARAM_TYPE
from strongroom.pkcs11.params import MESSAGE_PARAM_TYPES

ffi = FFI()
ffi.cdef(build_ffi.read_text("ck_types.h"))


def test_every_struct_parameter_has_a_layout():
    types = {t for t in [*PARAM_TYPE.values(), *MESSAGE_PARAM_TYPES.values()] if t not in (int, bytes)}
    assert types and types - set(PL.LAYOUTS) == set()


@pytest.mark.parametrize("cls", list(PL.LAYOUTS), ids=lambda c: c.__name__)
def test_layout_rows_match_dataclass_and_c_struct(cls: type) -> None:
    layout = PL.LAYOUTS[cls]
    names = [f.name for f in dataclasses.fields(cls)]
    assert sorted(f.name for f in layout.fields) == sorted(names)
    members = {m for m, _ in ffi.typeof(layout.ctype).fields}
    for f in layout.fields:
        assert f.member in members, (layout.ctype, f.member)
        if f.kind in (PL.BYTES, PL.BITS_BYTES):
            assert f.length in members, (layout.ctype, f.length)
        if f.kind in (PL.INLINE, PL.FIXED_BYTES):
            assert f.size > 0


def _sample(f: PL.Field, i: int) -> object:
    if f.kind == PL.ULONG:
        return 1000 + i
    if f.kind == PL.BOOL:
        return True
    if f.kind in (PL.INLINE, PL.FIXED_BYTES):
        return bytes(range(i, i + f.size))
    return bytes([0x40 + i]) * (i + 1)


@pytest.mark.parametrize("cls", list(PL.LAYOUTS), ids=lambda c: c.__name__)
def test_abi_reads_a_struct_built_from_the_rows(cls: type) -> None:
    """Build the C struct member by member from the rows; the ABI decoder must return the
    values put in (pointer fields through their length members)."""
    native = ffi
    layout = PL.LAYOUTS[cls]
    s = native.new(layout.ctype + " *")
    keep = []
    values: dict[str, object] = {}
    for i, f in enumerate(layout.fields):
        v = _sample(f, i)
        if f.kind == PL.BITS_BYTES:
            v = b"\x55" * 16
        values[f.name] = v
        if f.kind in (PL.ULONG, PL.BOOL):
            if f.kind == PL.ULONG and any(g.length == f.member and g.kind == PL.BITS_BYTES for g in layout.fields):
                v = values[f.name] = 128
            setattr(s, f.member, v)
        elif f.kind == PL.INLINE:
            getattr(s, f.member)[0:f.size] = v
        else:
            buf = native.new("CK_BYTE[]", v)
            keep.append(buf)
            setattr(s, f.member, buf)
            if f.kind == PL.BYTES:
                setattr(s, f.length, len(v))
    got = DECODERS[cls](native, s, native.sizeof(layout.ctype))
    assert got == cls(**values)
    if cls in WRITERS:
        WRITERS[cls](native, s, native.sizeof(layout.ctype), got)
