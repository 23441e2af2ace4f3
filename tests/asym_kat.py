"""Helpers for the asymmetric known-answer tests: vector files from ``cryptography_vectors``
and a minimal KeyMaterial, so vectors run through strongroom's own Operation objects."""
from __future__ import annotations

import os

import cryptography_vectors

from strongroom.mechanisms import registry
from strongroom.mechanisms.registry import OpKind
from strongroom.pkcs11.errors import CKRError
from support import KeyStub

ASYM = os.path.join(os.path.dirname(cryptography_vectors.__file__), "asymmetric")
VECTORS = os.path.dirname(ASYM)


class Key(KeyStub):
    """What the core hands a mechanism, over a copy of ``attrs``."""

    def __init__(self, attrs):
        super().__init__(dict(attrs))


def rsp_records(path, emit_on):
    """CAVP .rsp/.txt: ``key = value`` lines; values persist (like ``n`` or ``[mod]``) and a
    record is emitted each time ``emit_on`` is seen. ``[name]`` headers go to ``section``,
    ``[k = v]`` headers to ``k``."""
    state, out = {}, []
    with open(os.path.join(VECTORS, path)) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("[") and line.endswith("]"):
                header = line[1:-1]
                if "=" in header:                   # [mod = 1024], [key data length = 128]
                    k, _, v = header.partition("=")
                    state[k.strip()] = v.strip()
                else:                               # [P-256,SHA-256], [SHA-1]
                    state["section"] = header
                continue
            if "=" not in line:
                continue
            k, _, v = line.partition("=")
            state[k.strip()] = v.strip()
            if k.strip() == emit_on:
                out.append(dict(state))
    return out


def run(mech, kind, key, chunks, param=None, signature=None):
    """Drive an Operation the way the core does; returns output (or None for verify)."""
    op = registry.get(mech).operation(kind, key, param)
    out = b""
    for c in chunks:
        out += op.update(c)
    if kind is OpKind.VERIFY:
        op.verify(signature)
        return None
    return out + op.final()


def rv_of(fn, *args, **kw):
    """The CKR a call raises, or 0 (CKR_OK) when it returns."""
    try:
        fn(*args, **kw)
    except CKRError as e:
        return e.rv
    return 0


def chunked(data: bytes, size: int):
    """``data`` in pieces of ``size`` (0: one empty piece before and after the whole)."""
    if size == 0:
        return [b"", data, b""]
    return [data[i:i + size] for i in range(0, len(data), size)] or [b""]
