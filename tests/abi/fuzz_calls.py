"""The C-boundary fuzzer run in a child by tests/abi/test_fuzz_abi.py.

Random calls through the real libstrongroom.so: random lengths and counts, NULL pointers
with lengths, dangling pointers with zero length, nested templates, lying
ulParameterLen and nested lengths in mechanism parameters, across object, key, crypto
and random functions. The memory rules of ``boundary`` hold for every call: a stated
length is either true (within a real buffer) or a lie above every limit of
pkcs11/limits.py over a few bytes before a PROT_NONE page, and an output capacity is
never larger than the real output buffer (the module cannot detect that lie: it would
be the *test* corrupting memory).

Each call is written to the log file before it is made (``index function what``), so the
parent can name the call that killed the child. Findings go to stdout:
``BAD <rv> <call>`` for an answer that is not a CKR code, ``GENERAL <call>`` for
CKR_GENERAL_ERROR (an exception inside the module), ``SLOW <seconds> <call>`` for a call
that took a second or more; the last line is ``DONE <calls>``.
"""
from __future__ import annotations

import json
import os
import random
import struct
import time
from collections import Counter
from functools import partial

from boundary import HUGE, P256_OID, Guard

from strongroom.pkcs11.constants import CKA, CKK, CKM, CKO, CKR

U = struct.Struct("<Q").pack
VALID = {int(c) for c in CKR}
ED25519_PARAMS = bytes.fromhex("130c656477617264733235353139")   # PrintableString "edwards25519"
OUT_CAP = 4096
VENDOR_CKA = 0x80000001
VENDOR_CKM = 0x80001234


class Fuzzer:
    def __init__(self, tok, seed: int) -> None:
        self.tok, self.ffi, self.fl, self.h = tok, tok.ffi, tok.fl, tok.h
        self.r = random.Random(seed)
        self.guards = [Guard() for _ in range(8)]
        self.out = self.ffi.new("CK_BYTE[]", OUT_CAP)
        self.outlen = self.ffi.new("CK_ULONG *")
        self.handles_out = self.ffi.new("CK_OBJECT_HANDLE[]", 1 << 16)
        self.note: list[str] = []
        self.made = 0
        self.mech_name = ""
        self.stats: Counter[str] = Counter()
        self._setup_keys()

    # --- buffers -------------------------------------------------------------------------
    def guard(self) -> Guard:
        return self.r.choice(self.guards)

    def huge(self) -> int:
        r = self.r
        return r.choice(HUGE) if r.random() < 0.7 else r.randrange(1 << 31, 1 << 64)

    def keep(self, obj):
        self.tok.keep.append(obj)
        return obj

    def real(self, data: bytes, ctype: str = "CK_BYTE[]"):
        b = self.keep(self.ffi.new(ctype, max(len(data), 1)))
        self.ffi.memmove(b, data, len(data))
        return b

    def input(self, data: bytes, ctype: str = "CK_BYTE_PTR", what: str = "in"):
        """(pointer, length) for an input: true, a huge lie over a guard tail, NULL with a
        length, or dangling with zero length."""
        r = self.r.random()
        if r < 0.12:
            self.note.append(f"{what}=lie")
            return self.guard().tail(self.ffi, data or b"x", ctype), self.huge()
        if r < 0.18:
            self.note.append(f"{what}=NULL")
            return self.ffi.NULL, max(len(data), 1)
        if r < 0.24:
            self.note.append(f"{what}=dangling")
            return self.guard().dangling(self.ffi, ctype), 0
        return self.ffi.cast(ctype, self.real(data)), len(data)

    def output(self):
        """(buffer, pulLen) with an honest capacity, a size query, or a NULL pulLen."""
        r = self.r.random()
        if r < 0.05:
            self.note.append("pulLen=NULL")
            return self.out, self.ffi.NULL
        if r < 0.3:
            self.outlen[0] = self.r.randrange(OUT_CAP)
            return self.ffi.NULL, self.outlen
        self.outlen[0] = self.r.choice((0, 1, 16, 64, 256, OUT_CAP))
        return self.out, self.outlen

    # --- templates ----------------------------------------------------------------------------
    def value(self, depth: int):
        r = self.r
        t = r.choice((CKA.CLASS, CKA.KEY_TYPE, CKA.TOKEN, CKA.PRIVATE, CKA.LABEL, CKA.ID, CKA.VALUE,
                      CKA.VALUE_LEN, CKA.EC_PARAMS, CKA.ALLOWED_MECHANISMS, CKA.START_DATE,
                      CKA.ENCRYPT, CKA.DECRYPT, CKA.SIGN, CKA.VERIFY, CKA.WRAP, CKA.UNWRAP, CKA.DERIVE,
                      CKA.EXTRACTABLE, CKA.SENSITIVE, CKA.MODULUS, CKA.WRAP_TEMPLATE, CKA.UNWRAP_TEMPLATE,
                      VENDOR_CKA))
        if t in (CKA.WRAP_TEMPLATE, CKA.UNWRAP_TEMPLATE):
            return t, self.template(depth + 1, r.randrange(4))
        if t == CKA.TOKEN:
            return t, b"\x00"
        v = {CKA.CLASS: lambda: U(r.choice((CKO.DATA, CKO.SECRET_KEY, CKO.PUBLIC_KEY, CKO.PRIVATE_KEY, 77))),
             CKA.KEY_TYPE: lambda: U(r.choice((CKK.AES, CKK.GENERIC_SECRET, CKK.EC, 0x999))),
             CKA.LABEL: lambda: b"fuzz" * r.randrange(3),
             CKA.ID: lambda: os.urandom(r.randrange(9)),
             CKA.VALUE: lambda: os.urandom(r.choice((0, 16, 32, 33))),
             CKA.VALUE_LEN: lambda: U(r.choice((0, 16, 32, 1 << 40))),
             CKA.EC_PARAMS: lambda: r.choice((P256_OID, ED25519_PARAMS, b"\x06\x01")),
             CKA.ALLOWED_MECHANISMS: lambda: b"".join(
                U(m) for m in r.sample((CKM.AES_GCM, CKM.ECDSA, CKM.SHA256), r.randrange(3))),
             CKA.START_DATE: lambda: r.choice((b"", b"20260102", b"2026")),
             CKA.MODULUS: lambda: os.urandom(r.choice((0, 256))),
             VENDOR_CKA: lambda: os.urandom(4),
             }.get(t, lambda: r.choice((b"\x00", b"\x01", b"\x01\x00")))()
        return t, v

    def template(self, depth: int = 0, count: int | None = None):
        """(CK_ATTRIBUTE*, ulCount) with random entries and random lies; as a nested value
        (depth > 0) the result is (pointer, ulValueLen)."""
        r, ffi = self.r, self.ffi
        n = r.randrange(7) if count is None else count
        if depth > 5:
            n = 0
        arr = self.keep(ffi.new("CK_ATTRIBUTE[]", max(n, 1)))
        for i in range(n):
            t, v = self.value(depth)
            arr[i].type = t
            if isinstance(v, tuple):            # nested template: (pointer, byte length)
                arr[i].pValue, arr[i].ulValueLen = v
                continue
            roll = r.random()
            if roll < 0.08:
                self.note.append(f"cka{t:#x}=lie")
                arr[i].pValue, arr[i].ulValueLen = self.guard().tail(ffi, v or b"x"), self.huge()
            elif roll < 0.11:
                self.note.append(f"cka{t:#x}=NULL")
                arr[i].pValue, arr[i].ulValueLen = ffi.NULL, max(len(v), 1)
            elif roll < 0.14:
                arr[i].pValue, arr[i].ulValueLen = self.guard().dangling(ffi), 0
            elif roll < 0.17 and v:
                arr[i].pValue, arr[i].ulValueLen = self.real(v), r.randrange(len(v))   # shorter: safe
            else:
                arr[i].pValue, arr[i].ulValueLen = self.real(v), len(v)
        size = ffi.sizeof("CK_ATTRIBUTE")
        roll = r.random()
        if roll < 0.06:                         # a count (or nested length) no array backs
            self.note.append(f"count=lie@{depth}")
            tail = self.guard().tail(ffi, bytes(ffi.buffer(arr, max(n, 1) * size)), "CK_ATTRIBUTE *")
            return (tail, self.huge() // size * size) if depth else (tail, self.huge())
        if roll < 0.09:
            self.note.append(f"template=NULL@{depth}")
            return ffi.NULL, (n or 1) * (size if depth else 1)
        if roll < 0.11 and depth:
            return arr, n * size + r.randrange(1, size)    # not a multiple of sizeof: refused unread
        return (arr, n * size) if depth else (arr, n)

    # --- mechanisms -----------------------------------------------------------------------
    def _struct(self, ctype: str, fields: dict, pairs: list[tuple[str, str, bytes]]):
        """A ``ctype`` in a buffer 64 bytes larger (so a slightly wrong ulParameterLen
        stays inside it); ``pairs`` are (pointer field, length field, true bytes)."""
        ffi = self.ffi
        size = ffi.sizeof(ctype)
        raw = self.keep(ffi.new("char[]", size + 64))
        s = ffi.cast(ctype + " *", raw)
        for k, v in fields.items():
            setattr(s, k, v)
        for pf, lf, data in pairs:
            p, n = self.input(data, "CK_BYTE_PTR", what=pf)
            setattr(s, pf, ffi.cast("CK_BYTE_PTR", p) if ctype == "CK_RSA_PKCS_OAEP_PARAMS" else p)
            setattr(s, lf, n)
        return raw, size

    def mechanism(self, kind: str):
        r, ffi = self.r, self.ffi
        pools = {
            "encrypt": ("AES_GCM", "AES_CBC", "AES_CBC_PAD", "AES_ECB", "AES_CCM", "CHACHA20_POLY1305",
                        "RSA_PKCS_OAEP", "RSA_PKCS", "VENDOR"),
            "sign": ("ECDSA", "ECDSA_SHA256", "SHA256_HMAC", "RSA_PKCS_PSS", "SHA256_RSA_PKCS", "EDDSA",
                     "AES_CMAC", "VENDOR"),
            "digest": ("SHA256", "SHA384", "SHA3_256", "VENDOR"),
            "genkey": ("AES_KEY_GEN", "GENERIC_SECRET_KEY_GEN", "VENDOR"),
            "genpair": ("EC_KEY_PAIR_GEN", "EC_EDWARDS_KEY_PAIR_GEN", "VENDOR"),
            "wrap": ("AES_KEY_WRAP", "AES_KEY_WRAP_KWP", "AES_GCM", "RSA_PKCS_OAEP", "VENDOR"),
            "derive": ("ECDH1_DERIVE", "HKDF_DERIVE", "VENDOR"),
        }
        name = self.mech_name = r.choice(pools[kind])
        m = VENDOR_CKM if name == "VENDOR" else int(getattr(CKM, name))
        param, n = self._param(name)
        roll = r.random()
        if roll < 0.08:
            self.note.append("ulParameterLen=lie")
            param, n = self.guard().tail(ffi, bytes(ffi.buffer(param, n)) if n else b"p"), self.huge()
        elif roll < 0.12:
            self.note.append("pParameter=NULL")
            param, n = ffi.NULL, max(n, 1)
        elif roll < 0.15:
            param, n = self.guard().dangling(ffi), 0
        elif roll < 0.2 and param != ffi.NULL:
            n = max(0, n + r.choice((-8, -1, 1, 8)))     # wrong struct size, inside the buffer
        mech = self.keep(ffi.new("CK_MECHANISM *"))
        mech.mechanism, mech.pParameter, mech.ulParameterLen = m, param, n
        self.note.append(name)
        return mech

    def _param(self, name: str):
        r, ffi = self.r, self.ffi
        if name == "AES_GCM":
            return self._struct("CK_GCM_PARAMS", {"ulIvBits": 96, "ulTagBits": r.choice((96, 128, 200))},
                                [("pIv", "ulIvLen", os.urandom(r.choice((12, 16, 1)))),
                                 ("pAAD", "ulAADLen", os.urandom(r.randrange(20)))])
        if name == "AES_CCM":
            return self._struct("CK_CCM_PARAMS", {"ulDataLen": r.randrange(64), "ulMACLen": 16},
                                [("pNonce", "ulNonceLen", os.urandom(r.choice((7, 12, 13, 20)))),
                                 ("pAAD", "ulAADLen", os.urandom(r.randrange(20)))])
        if name == "CHACHA20_POLY1305":
            return self._struct("CK_SALSA20_CHACHA20_POLY1305_PARAMS", {},
                                [("pNonce", "ulNonceLen", os.urandom(12)),
                                 ("pAAD", "ulAADLen", os.urandom(r.randrange(20)))])
        if name == "RSA_PKCS_OAEP":
            return self._struct("CK_RSA_PKCS_OAEP_PARAMS", {"hashAlg": CKM.SHA256, "mgf": 2, "source": 1},
                                [("pSourceData", "ulSourceDataLen", os.urandom(r.randrange(9)))])
        if name == "RSA_PKCS_PSS":
            return self._struct("CK_RSA_PKCS_PSS_PARAMS", {"hashAlg": CKM.SHA256, "mgf": 2, "sLen": 32}, [])
        if name == "ECDH1_DERIVE":
            return self._struct("CK_ECDH1_DERIVE_PARAMS", {"kdf": 1},
                                [("pSharedData", "ulSharedDataLen", b""),
                                 ("pPublicData", "ulPublicDataLen", self.ec_point)])
        if name == "HKDF_DERIVE":
            return self._struct("CK_HKDF_PARAMS", {"bExtract": 1, "bExpand": 1, "prfHashMechanism": CKM.SHA256,
                                                   "ulSaltType": 2},
                                [("pSalt", "ulSaltLen", os.urandom(8)), ("pInfo", "ulInfoLen", b"info")])
        if name == "EDDSA" and r.random() < 0.5:
            return self._struct("CK_EDDSA_PARAMS", {"phFlag": 0},
                                [("pContextData", "ulContextDataLen", os.urandom(r.randrange(4)))])
        if name in ("AES_CBC", "AES_CBC_PAD"):       # 64 bytes of slack, as in _struct
            return self.real(os.urandom(16) + bytes(64)), 16
        if name == "VENDOR":
            return self.real(b"vendor" + bytes(64)), 6
        return ffi.NULL, 0

    # --- keys ------------------------------------------------------------------------------
    def _setup_keys(self) -> None:
        ffi, fl, h = self.ffi, self.fl, self.h
        tok = self.tok
        flags = [(getattr(CKA, a), b"\x01") for a in ("ENCRYPT", "DECRYPT", "WRAP", "UNWRAP", "SIGN",
                                                        "VERIFY", "DERIVE", "EXTRACTABLE")]
        keys = []
        for kt, value in ((CKK.AES, bytes(range(32))), (CKK.GENERIC_SECRET, bytes(32)),
                          (CKK.CHACHA20, bytes(32))):
            arr, n = tok.template([(CKA.CLASS, U(CKO.SECRET_KEY)), (CKA.KEY_TYPE, U(kt)),
                                   (CKA.VALUE, value), (CKA.TOKEN, b"\x00"), *flags])
            out = tok.handle_out()
            assert fl.C_CreateObject(h, arr, n, out) == 0
            keys.append(out[0])
        for mech, params, sign in ((CKM.EC_KEY_PAIR_GEN, P256_OID, (CKA.SIGN, CKA.DERIVE)),
                                   (CKM.EC_EDWARDS_KEY_PAIR_GEN, ED25519_PARAMS, (CKA.SIGN,)),
                                   (CKM.RSA_PKCS_KEY_PAIR_GEN, None, (CKA.SIGN, CKA.DECRYPT, CKA.UNWRAP))):
            m = ffi.new("CK_MECHANISM *", {"mechanism": mech})
            pub_t = [(CKA.TOKEN, b"\x00"), (CKA.VERIFY, b"\x01")]
            pub_t += [(CKA.EC_PARAMS, params)] if params else [(CKA.MODULUS_BITS, U(2048)),
                                                              (CKA.ENCRYPT, b"\x01"), (CKA.WRAP, b"\x01")]
            pub, npub = tok.template(pub_t)
            priv, npriv = tok.template([(CKA.TOKEN, b"\x00")] + [(a, b"\x01") for a in sign])
            hp, hq = tok.handle_out(), tok.handle_out()
            assert fl.C_GenerateKeyPair(h, m, pub, npub, priv, npriv, hp, hq) == 0
            keys += [hp[0], hq[0]]
            if mech == CKM.EC_KEY_PAIR_GEN:
                t = ffi.new("CK_ATTRIBUTE[1]")
                buf = self.keep(ffi.new("CK_BYTE[256]"))
                t[0].type, t[0].pValue, t[0].ulValueLen = CKA.EC_POINT, buf, 256
                assert fl.C_GetAttributeValue(h, hp[0], t, 1) == 0
                self.ec_point = bytes(ffi.buffer(buf, t[0].ulValueLen))
        self.keys = keys

    # keys: aes, generic, chacha, ec pub/priv, ed25519 pub/priv, rsa pub/priv (setup order)
    _KEYS_FOR = (("AES_CMAC", (0,)), ("AES", (0,)), ("CHACHA", (2,)), ("HMAC", (1,)), ("HKDF", (1,)),
                 ("ECDSA", (3, 4)), ("ECDH", (4,)), ("EDDSA", (5, 6)), ("RSA", (7, 8)))

    def key(self) -> int:
        """Mostly a key that fits the last mechanism (so operations get past *Init), else
        any key or an invalid handle."""
        r = self.r.random()
        if r < 0.6:
            for prefix, idx in self._KEYS_FOR:
                if prefix in self.mech_name:
                    return self.keys[self.r.choice(idx)]
        return self.r.choice(self.keys) if r < 0.95 else self.r.choice((0, 1, 99999))

    # --- calls ------------------------------------------------------------------------------
    # Each c_* builds its (random) arguments and returns the call, so the log line written
    # before the call names every lie in it, and only the C call is timed.
    def c_create(self):
        arr, n = self.template()
        return self.made_by(lambda out: self.fl.C_CreateObject(self.h, arr, n, out))

    def c_copy(self):
        arr, n = self.template()
        k = self.key()
        return self.made_by(lambda out: self.fl.C_CopyObject(self.h, k, arr, n, out))

    def c_set(self):
        arr, n = self.template()
        k = self.key()
        return lambda: self.fl.C_SetAttributeValue(self.h, k, arr, n)

    def c_get(self):
        ffi, r = self.ffi, self.r
        n = r.randrange(6)
        arr = self.keep(ffi.new("CK_ATTRIBUTE[]", max(n, 1)))
        for i in range(n):
            arr[i].type = r.choice((CKA.LABEL, CKA.VALUE, CKA.CLASS, CKA.WRAP_TEMPLATE, CKA.EC_POINT,
                                    CKA.MODULUS, CKA.ALLOWED_MECHANISMS, VENDOR_CKA))
            if r.random() < 0.4:
                arr[i].pValue, arr[i].ulValueLen = ffi.NULL, r.choice((0, 1 << 40))
            else:
                cap = r.choice((0, 1, 8, 64, 512))
                arr[i].pValue, arr[i].ulValueLen = self.real(bytes(max(cap, 1))), cap
        if r.random() < 0.1:
            self.note.append("count=lie")
            tail = self.guard().tail(ffi, bytes(ffi.buffer(arr, max(n, 1) * ffi.sizeof("CK_ATTRIBUTE"))),
                                     "CK_ATTRIBUTE *")
            k, big = self.key(), self.huge()
            return lambda: self.fl.C_GetAttributeValue(self.h, k, tail, big)
        k = self.key()
        return lambda: self.fl.C_GetAttributeValue(self.h, k, arr, n)

    def c_find(self):
        arr, n = self.template()
        count = self.ffi.new("CK_ULONG *")
        most = self.r.choice((0, 1, 1 << 16, self.huge()))
        if most > 1 << 16 and self.made > (1 << 16) - 1000:
            most = 1 << 16       # more than the buffer holds is only honest while fewer objects exist
        elif most > 1 << 16:
            self.note.append("ulMaxObjectCount=huge")

        def call():
            rv = self.fl.C_FindObjectsInit(self.h, arr, n)
            rv2 = self.fl.C_FindObjects(self.h, self.handles_out, most, count)
            self.fl.C_FindObjectsFinal(self.h)
            return rv or rv2
        return call

    def c_genkey(self):
        arr, n = self.template()
        mech = self.mechanism("genkey")
        return self.made_by(lambda out: self.fl.C_GenerateKey(self.h, mech, arr, n, out))

    def c_genpair(self):
        a, na = self.template()
        b, nb = self.template()
        mech = self.mechanism("genpair")
        return self.made_by(lambda out: self.fl.C_GenerateKeyPair(self.h, mech, a, na, b, nb, out,
                                                                  self.tok.handle_out()), 2)

    def c_derive(self):
        arr, n = self.template()
        mech, k = self.mechanism("derive"), self.key()
        return self.made_by(lambda out: self.fl.C_DeriveKey(self.h, mech, k, arr, n, out))

    def c_wrap(self):
        out, plen = self.output()
        mech, k1, k2 = self.mechanism("wrap"), self.key(), self.key()
        return lambda: self.fl.C_WrapKey(self.h, mech, k1, k2, out, plen)

    def c_unwrap(self):
        p, n = self.input(os.urandom(self.r.choice((24, 40, 256))))
        arr, count = self.template()
        mech, k = self.mechanism("wrap"), self.key()
        return self.made_by(lambda out: self.fl.C_UnwrapKey(self.h, mech, k, p, n, arr, count, out))

    def c_random(self):
        if self.r.random() < 0.3:
            self.note.append("len=lie")
            p, n = self.guard().tail(self.ffi, bytes(8), "CK_BYTE_PTR"), self.huge()
        else:
            p, n = self.out, self.r.randrange(OUT_CAP + 1)
        return lambda: self.fl.C_GenerateRandom(self.h, p, n)

    def c_seed(self):
        p, n = self.input(os.urandom(16))
        return lambda: self.fl.C_SeedRandom(self.h, p, n)

    def c_login(self):
        p, n = self.guard().tail(self.ffi, b"1234", "CK_UTF8CHAR_PTR"), self.huge()
        self.note.append("pin=lie")
        user = self.r.choice((0, 1))
        return lambda: self.fl.C_Login(self.h, user, p, n)

    def made_by(self, call, objects: int = 1):
        """``call(phKey)``, counting the objects it creates (C_FindObjects' buffer bound)."""
        def run():
            rv = call(self.tok.handle_out())
            if rv == 0:
                self.made += objects
            return rv
        return run

    def c_op(self):
        """An operation: *Init with a fuzzed mechanism, then a few data calls."""
        r, fl, h = self.r, self.fl, self.h
        op = r.choice(("Encrypt", "Decrypt", "Sign", "Verify", "Digest"))
        kind = {"Encrypt": "encrypt", "Decrypt": "encrypt", "Sign": "sign", "Verify": "sign",
                "Digest": "digest"}[op]
        mech = self.mechanism(kind)
        rv = fl.C_DigestInit(h, mech) if op == "Digest" else getattr(fl, f"C_{op}Init")(h, mech, self.key())
        self.record(f"C_{op}Init", rv)
        for _ in range(r.randrange(1, 4)):
            self.note = [op]
            step = r.choice(("one", "update", "final"))
            data, n = self.input(os.urandom(r.choice((0, 1, 16, 32, 100, 300))))
            if op == "Verify":
                sig, ns = self.input(os.urandom(r.choice((0, 64, 256))), what="sig")
                call = {"one": partial(fl.C_Verify, h, data, n, sig, ns),
                        "update": partial(fl.C_VerifyUpdate, h, data, n),
                        "final": partial(fl.C_VerifyFinal, h, sig, ns)}[step]
            elif op in ("Digest", "Sign") and step == "update":       # input only
                call = partial(getattr(fl, f"C_{op}Update"), h, data, n)
            else:
                out, plen = self.output()
                call = {"one": partial(getattr(fl, f"C_{op}"), h, data, n, out, plen),
                        "update": partial(getattr(fl, f"C_{op}Update"), h, data, n, out, plen),
                        "final": partial(getattr(fl, f"C_{op}Final"), h, out, plen)}[step]
            lied = ((step != "final" and "in=lie" in self.note)
                    or (op == "Verify" and step != "update" and "sig=lie" in self.note))
            rv = self.timed(f"C_{op}:{step}", call)
            if lied and rv not in self.TOO_LONG:
                print(f"BADLEN {CKR(rv).name if rv in VALID else hex(rv)} {self.last}", flush=True)

    #: A data or signature length above max_data_len is refused at once with its range code
    #: (or the operation's state comes first: none active; a NULL pulLen).
    TOO_LONG = frozenset({CKR.DATA_LEN_RANGE, CKR.ENCRYPTED_DATA_LEN_RANGE, CKR.SIGNATURE_LEN_RANGE,
                          CKR.OPERATION_NOT_INITIALIZED, CKR.ARGUMENTS_BAD, CKR.OPERATION_ACTIVE})

    CALLS = ("c_create", "c_copy", "c_set", "c_get", "c_find", "c_genkey", "c_genpair", "c_derive",
             "c_wrap", "c_unwrap", "c_random", "c_seed", "c_login", "c_op", "c_op", "c_op")

    # --- bookkeeping -------------------------------------------------------------------------
    def timed(self, name: str, call) -> None:
        self.count += 1
        desc = self.last = f"{self.count} {name} {' '.join(self.note)}"
        os.write(self.log, (desc + "\n").encode())
        t0 = time.perf_counter()
        rv = call()
        dt = time.perf_counter() - t0
        if dt >= 1.0:
            print(f"SLOW {dt:.3f} {desc}", flush=True)
        self.record(desc, rv)
        return rv

    def record(self, desc: str, rv) -> None:
        if rv is None:
            return
        key = desc.split(" ", 2)[1] if desc[0].isdigit() else desc
        self.stats[f"{key} {CKR(rv).name if rv in VALID else hex(rv)}"] += 1
        if rv not in VALID:
            print(f"BAD {rv:#x} {desc}", flush=True)
        elif rv == CKR.GENERAL_ERROR:
            print(f"GENERAL {desc}", flush=True)

    def run(self, seconds: float, log_path: str) -> int:
        self.log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.count = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            name = self.r.choice(self.CALLS)
            self.note = []
            if name == "c_op":
                self.c_op()
            else:
                self.timed(name, getattr(self, name)())
            if len(self.tok.keep) > 20000:      # buffers of finished calls
                del self.tok.keep[:10000]
        print("STATS " + json.dumps(dict(self.stats.most_common())), flush=True)
        print(f"DONE {self.count}", flush=True)
        return 0


def fuzz(tok, seed: int, seconds: float, log_path: str) -> int:
    return Fuzzer(tok, seed).run(seconds, log_path)
