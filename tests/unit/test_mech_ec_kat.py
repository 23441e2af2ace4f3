"""ECDSA known-answer tests (NIST CAVP FIPS 186-3 SigVer for P-256/384/521, the
secp256k1 SigGen file) through strongroom's CKM_ECDSA_SHA* and CKM_ECDSA operations."""
from __future__ import annotations

import hashlib

import pytest

import strongroom.mechanisms  # noqa: F401
from asym_kat import Key, rsp_records, run, rv_of
from strongroom.mechanisms import ecparams
from strongroom.mechanisms.keys import load_public
from strongroom.mechanisms.registry import OpKind
from strongroom.pkcs11.constants import CKA, CKK, CKM, CKO, CKR

CURVES = {"P-256": "secp256r1", "P-384": "secp384r1", "P-521": "secp521r1", "K-256": "secp256k1"}
MECH = {"SHA-1": (CKM.ECDSA_SHA1, "sha1"), "SHA-224": (CKM.ECDSA_SHA224, "sha224"),
        "SHA-256": (CKM.ECDSA_SHA256, "sha256"), "SHA-384": (CKM.ECDSA_SHA384, "sha384"),
        "SHA-512": (CKM.ECDSA_SHA512, "sha512")}


def curve(name):
    return next(c for c in ecparams.CURVES if c.name == CURVES[name])


def point(c, qx, qy):
    w = c.field_bytes
    return ecparams.encode_point(b"\x04" + int(qx, 16).to_bytes(w, "big") + int(qy, 16).to_bytes(w, "big"))


def sig(c, r, s):
    return int(r, 16).to_bytes(c.field_bytes, "big") + int(s, 16).to_bytes(c.field_bytes, "big")


def _vectors(path, emit):
    out = []
    for i, r in enumerate(rsp_records(path, emit)):
        cname, _, hname = r["section"].partition(",")
        if cname in CURVES:
            out.append(pytest.param(r, cname, hname, id=f"{cname}-{hname}-{i}"))
    return out


@pytest.mark.parametrize("v,cname,hname", _vectors("asymmetric/ECDSA/FIPS_186-3/SigVer.rsp", "Result"))
def test_sigver(v, cname, hname):
    c = curve(cname)
    key = Key({CKA.CLASS: CKO.PUBLIC_KEY, CKA.KEY_TYPE: CKK.EC, CKA.EC_PARAMS: c.oid_der,
               CKA.EC_POINT: point(c, v["Qx"], v["Qy"])})
    ok = v["Result"].startswith("P")
    mech, hname_py = MECH[hname]
    msg, signature = bytes.fromhex(v["Msg"]), sig(c, v["R"], v["S"])
    if not ok and rv_of(key.parsed, load_public) == CKR.ATTRIBUTE_VALUE_INVALID:
        return   # "Q changed" to a point off the curve: the key itself is refused
    expected = CKR.OK if ok else CKR.SIGNATURE_INVALID
    assert rv_of(run, mech, OpKind.VERIFY, key, [msg[:1], msg[1:]], signature=signature) == expected
    digest = hashlib.new(hname_py, msg).digest()
    assert rv_of(run, CKM.ECDSA, OpKind.VERIFY, key, [digest], signature=signature) == expected


@pytest.mark.parametrize("v,cname,hname", _vectors("asymmetric/ECDSA/SECP256K1/SigGen.txt", "S")
                         + _vectors("asymmetric/ECDSA/FIPS_186-3/SigGen.txt", "S")[::3])
def test_siggen_verify_and_resign(v, cname, hname):
    """The file's signature verifies; a token signature with the imported d verifies too."""
    c = curve(cname)
    d = int(v["d"], 16).to_bytes(c.field_bytes, "big")
    priv = Key({CKA.CLASS: CKO.PRIVATE_KEY, CKA.KEY_TYPE: CKK.EC, CKA.EC_PARAMS: c.oid_der, CKA.VALUE: d})
    pub = Key({CKA.CLASS: CKO.PUBLIC_KEY, CKA.KEY_TYPE: CKK.EC, CKA.EC_PARAMS: c.oid_der,
               CKA.EC_POINT: point(c, v["Qx"], v["Qy"])})
    mech, _ = MECH[hname]
    msg = bytes.fromhex(v["Msg"])
    run(mech, OpKind.VERIFY, pub, [msg], signature=sig(c, v["R"], v["S"]))
    mine = run(mech, OpKind.SIGN, priv, [msg])
    assert len(mine) == 2 * c.field_bytes
    run(mech, OpKind.VERIFY, pub, [msg], signature=mine)
