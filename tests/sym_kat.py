"""Helpers for the symmetric known-answer tests: records from ``cryptography_vectors``
files and a minimal KeyMaterial, so vectors run through strongroom's own Operation
objects (the same path the core drives)."""
from __future__ import annotations

import os

import cryptography_vectors

from strongroom.mechanisms import registry
from strongroom.pkcs11.constants import CKA, CKO
from support import KeyStub

VECTORS = os.path.dirname(cryptography_vectors.__file__)


class Key(KeyStub):
    def __init__(self, value: bytes, key_type: int, cls: int = CKO.SECRET_KEY):
        super().__init__({CKA.CLASS: cls, CKA.KEY_TYPE: key_type, CKA.VALUE: value})


def records(path: str, start: str = "COUNT", limit: int | None = None) -> list[dict]:
    """``key = value`` records; a new record begins at each ``start`` key (and the
    ``[SECTION]`` headers are kept as ``section``). Bare words (``FAIL``) become True.
    Quoted values are returned as their UTF-8 bytes' hex. ``limit``: per section."""
    out, cur, section, per = [], None, None, {}
    with open(os.path.join(VECTORS, path)) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
                continue
            k, eq, v = line.partition("=")
            k, v = k.strip(), v.strip()
            if k == start and eq:
                cur = {"section": section}
                if limit is None or per.get(section, 0) < limit:
                    out.append(cur)
                per[section] = per.get(section, 0) + 1
            if cur is None:
                continue
            if not eq:
                cur[k] = True
            elif v.startswith('"') and v.endswith('"'):
                cur[k] = v[1:-1].encode().hex()
            else:
                cur[k] = v
    return out


def chunks(data: bytes, size: int) -> list[bytes]:
    """``data`` cut into ``size``-byte chunks (0: one empty chunk first, then all)."""
    if size == 0:
        return [b"", data, b""]
    return [data[i:i + size] for i in range(0, len(data), size)] or [b""]


def run(mech, kind, key, param, parts):
    op = registry.get(mech).operation(kind, key, param)
    return b"".join(op.update(p) for p in parts) + op.final()
