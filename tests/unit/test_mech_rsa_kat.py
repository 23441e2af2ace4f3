"""RSA known-answer tests (NIST CAVP SigVer 15 / PSS, pyca OAEP SHA-2 vectors) through
strongroom's own operations: CKM_SHA*_RSA_PKCS, CKM_SHA*_RSA_PKCS_PSS, CKM_RSA_PKCS_PSS,
CKM_RSA_PKCS_OAEP."""
from __future__ import annotations

import hashlib
import os

import pytest

import strongroom.mechanisms  # noqa: F401
from asym_kat import ASYM, Key, rsp_records, run, rv_of
from strongroom.mechanisms.registry import OpKind
from strongroom.pkcs11.constants import CKA, CKG, CKK, CKM, CKO, CKR
from strongroom.pkcs11.params import RsaOaepParams, RsaPssParams

SHA = {"SHA1": (CKM.SHA_1, CKG.MGF1_SHA1), "SHA224": (CKM.SHA224, CKG.MGF1_SHA224),
       "SHA256": (CKM.SHA256, CKG.MGF1_SHA256), "SHA384": (CKM.SHA384, CKG.MGF1_SHA384),
       "SHA512": (CKM.SHA512, CKG.MGF1_SHA512)}
PKCS_MECH = {"SHA1": CKM.SHA1_RSA_PKCS, "SHA224": CKM.SHA224_RSA_PKCS, "SHA256": CKM.SHA256_RSA_PKCS,
             "SHA384": CKM.SHA384_RSA_PKCS, "SHA512": CKM.SHA512_RSA_PKCS}
PSS_MECH = {"SHA1": CKM.SHA1_RSA_PKCS_PSS, "SHA224": CKM.SHA224_RSA_PKCS_PSS,
            "SHA256": CKM.SHA256_RSA_PKCS_PSS, "SHA384": CKM.SHA384_RSA_PKCS_PSS,
            "SHA512": CKM.SHA512_RSA_PKCS_PSS}


def pub_key(n_hex, e_hex):
    n = int(n_hex, 16)
    return Key({CKA.CLASS: CKO.PUBLIC_KEY, CKA.KEY_TYPE: CKK.RSA,
                CKA.MODULUS: n.to_bytes((n.bit_length() + 7) // 8, "big"),
                CKA.PUBLIC_EXPONENT: int(e_hex, 16).to_bytes(8, "big").lstrip(b"\0")})


def _sigver(path):
    recs = rsp_records(path, "Result")
    return [pytest.param(r, id=f"mod{r['mod']}-{r['SHAAlg']}-{i}") for i, r in enumerate(recs)]


@pytest.mark.parametrize("v", _sigver("asymmetric/RSA/FIPS_186-2/SigVer15_186-3.rsp"))
def test_sigver_pkcs1v15(v):
    key = pub_key(v["n"], v["e"])
    msg, sig = bytes.fromhex(v["Msg"]), bytes.fromhex(v["S"])
    rv = rv_of(run, PKCS_MECH[v["SHAAlg"]], OpKind.VERIFY, key, [msg[:7], msg[7:]], signature=sig)
    assert rv == (CKR.OK if v["Result"].startswith("P") else CKR.SIGNATURE_INVALID)


@pytest.mark.parametrize("v", _sigver("asymmetric/RSA/FIPS_186-2/SigVerPSS_186-3.rsp"))
def test_sigver_pss(v):
    key = pub_key(v["n"], v["e"])
    msg, sig = bytes.fromhex(v["Msg"]), bytes.fromhex(v["S"])
    salt = bytes.fromhex(v["SaltVal"]) if v["SaltVal"] != "00" else b""
    hash_mech, mgf = SHA[v["SHAAlg"]]
    param = RsaPssParams(hash_alg=hash_mech, mgf=mgf, salt_len=len(salt))
    expected = CKR.OK if v["Result"].startswith("P") else CKR.SIGNATURE_INVALID
    assert rv_of(run, PSS_MECH[v["SHAAlg"]], OpKind.VERIFY, key, [msg], param, signature=sig) == expected
    # the same vector through CKM_RSA_PKCS_PSS on the pre-computed hash
    digest = hashlib.new(v["SHAAlg"].replace("SHA", "sha"), msg).digest()
    assert rv_of(run, CKM.RSA_PKCS_PSS, OpKind.VERIFY, key, [digest], param, signature=sig) == expected


def _oaep_vectors():
    """pyca's oaep-custom files: key blocks, then 'OAEP Example i alg=H mgf1=M' entries."""
    out = []
    folder = os.path.join(ASYM, "RSA", "oaep-custom")
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name)) as f:
            lines = [ln.strip() for ln in f]
        key, label, i = {}, None, 0
        while i < len(lines):
            ln = lines[i]
            if ln.startswith("# ") and ln[2:].rstrip(":") in (
                    "Modulus", "Exponent", "Public exponent", "Prime 1", "Prime 2",
                    "Prime exponent 1", "Prime exponent 2", "Coefficient", "Message", "Encryption"):
                field = ln[2:].rstrip(":")
                if field == "Modulus" and "Private" not in lines[i - 1]:
                    key = {}
                value = ""
                i += 1
                while i < len(lines) and not lines[i].startswith("#"):
                    value += lines[i]
                    i += 1
                if field == "Exponent" and "Public exponent" in key:
                    field = "d"
                key[field] = value
                if field == "Encryption":
                    out.append(pytest.param(dict(key), label, id=f"{name}-{len(out)}"))
                continue
            if ln.startswith("# OAEP Example"):
                label = ln.split("alg=")[1]
            i += 1
    return out


HASH_BY_NAME = {"sha1": (CKM.SHA_1, CKG.MGF1_SHA1), "sha224": (CKM.SHA224, CKG.MGF1_SHA224),
                "sha256": (CKM.SHA256, CKG.MGF1_SHA256), "sha384": (CKM.SHA384, CKG.MGF1_SHA384),
                "sha512": (CKM.SHA512, CKG.MGF1_SHA512)}


def b(hexstr):
    return bytes.fromhex(hexstr if len(hexstr) % 2 == 0 else "0" + hexstr)


@pytest.mark.parametrize("k,algs", _oaep_vectors())
def test_oaep_decrypt(k, algs):
    alg, mgf = algs.split(" mgf1=")
    param = RsaOaepParams(hash_alg=HASH_BY_NAME[alg][0], mgf=HASH_BY_NAME[mgf][1])
    priv = Key({CKA.CLASS: CKO.PRIVATE_KEY, CKA.KEY_TYPE: CKK.RSA, CKA.MODULUS: b(k["Modulus"]),
                CKA.PUBLIC_EXPONENT: b(k["Public exponent"]), CKA.PRIVATE_EXPONENT: b(k["d"]),
                CKA.PRIME_1: b(k["Prime 1"]), CKA.PRIME_2: b(k["Prime 2"]),
                CKA.EXPONENT_1: b(k["Prime exponent 1"]), CKA.EXPONENT_2: b(k["Prime exponent 2"]),
                CKA.COEFFICIENT: b(k["Coefficient"])})
    ct, msg = b(k["Encryption"]), b(k["Message"])
    assert run(CKM.RSA_PKCS_OAEP, OpKind.DECRYPT, priv, [ct], param) == msg
    # and the token's own encryption round-trips with the same parameters
    pub = Key({CKA.CLASS: CKO.PUBLIC_KEY, CKA.KEY_TYPE: CKK.RSA, CKA.MODULUS: b(k["Modulus"]),
               CKA.PUBLIC_EXPONENT: b(k["Public exponent"])})
    again = run(CKM.RSA_PKCS_OAEP, OpKind.ENCRYPT, pub, [msg], param)
    assert run(CKM.RSA_PKCS_OAEP, OpKind.DECRYPT, priv, [again], param) == msg
