"""Asymmetric interop with the `openssl` CLI through the real module (python-pkcs11 and
pkcs11-tool): token signatures verify with openssl (RSA PKCS#1 v1.5 and PSS, ECDSA on
several curves, Ed25519), openssl's RSA-OAEP ciphertext decrypts in the token, and ECDH
shared secrets agree with `openssl pkeyutl -derive`."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pkcs11
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, utils
from pkcs11 import KDF, MGF, Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.util.ec import encode_named_curve_parameters

from support import USER_PIN, Tool

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI missing")
DATA = b"strongroom interop message\n" * 7


def openssl(*args: str, input: bytes | None = None) -> bytes:
    proc = subprocess.run(["openssl", *args], input=input, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout


def write_pem(path: Path, public) -> str:
    path.write_bytes(public.public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo))
    return str(path)


def rsa_public(pub):
    return rsa.RSAPublicNumbers(int.from_bytes(pub[Attribute.PUBLIC_EXPONENT], "big"),
                                int.from_bytes(pub[Attribute.MODULUS], "big")).public_key()


@pytest.mark.parametrize("bits", [2048, 3072])
def test_rsa_pkcs1_and_pss_verify_with_openssl(token, tmp_path, bits):
    (tmp_path / "data").write_bytes(DATA)
    with token.open(user_pin=USER_PIN, rw=True) as s:
        pub, priv = s.generate_keypair(KeyType.RSA, bits, store=False)
        pem = write_pem(tmp_path / "pub.pem", rsa_public(pub))
        sig = priv.sign(DATA, mechanism=Mechanism.SHA256_RSA_PKCS)
        (tmp_path / "sig").write_bytes(sig)
        openssl("dgst", "-sha256", "-verify", pem, "-signature", str(tmp_path / "sig"), str(tmp_path / "data"))
        for mech, md, hash_mech, mgf, salt in (
                (Mechanism.SHA256_RSA_PKCS_PSS, "sha256", Mechanism.SHA256, MGF.SHA256, 32),
                (Mechanism.SHA384_RSA_PKCS_PSS, "sha384", Mechanism.SHA384, MGF.SHA384, 48),
                (Mechanism.SHA512_RSA_PKCS_PSS, "sha512", Mechanism.SHA512, MGF.SHA512, 0)):
            sig = priv.sign(DATA, mechanism=mech, mechanism_param=(hash_mech, mgf, salt))
            (tmp_path / "sig").write_bytes(sig)
            openssl("dgst", f"-{md}", "-sigopt", "rsa_padding_mode:pss", "-sigopt", f"rsa_pss_saltlen:{salt}",
                    "-verify", pem, "-signature", str(tmp_path / "sig"), str(tmp_path / "data"))


@pytest.mark.parametrize("md,hash_mech,mgf,label", [
    ("sha1", Mechanism.SHA_1, MGF.SHA1, b""),
    ("sha256", Mechanism.SHA256, MGF.SHA256, b""),
    ("sha256", Mechanism.SHA256, MGF.SHA256, b"label!"),
    ("sha512", Mechanism.SHA512, MGF.SHA512, b"x"),
])
def test_openssl_oaep_ciphertext_decrypts_in_token(token, tmp_path, md, hash_mech, mgf, label):
    with token.open(user_pin=USER_PIN, rw=True) as s:
        pub, priv = s.generate_keypair(KeyType.RSA, 2048, store=False)
        pem = write_pem(tmp_path / "pub.pem", rsa_public(pub))
        secret = b"a wrapped key, 32 bytes long!!!!"
        opts = ["-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", f"rsa_oaep_md:{md}",
                "-pkeyopt", f"rsa_mgf1_md:{md}"]
        if label:
            opts += ["-pkeyopt", f"rsa_oaep_label:{label.hex()}"]
        ct = openssl("pkeyutl", "-encrypt", "-pubin", "-inkey", pem, *opts, input=secret)
        assert priv.decrypt(ct, mechanism=Mechanism.RSA_PKCS_OAEP,
                            mechanism_param=(hash_mech, mgf, label or None)) == secret


def ec_pair(session, curve):
    params = session.create_domain_parameters(
        KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters(curve)}, local=True)
    return params.generate_keypair(store=False)


def ec_public(pub, pyca_curve):
    der = pub[Attribute.EC_POINT]
    assert der[0] == 0x04                                       # DER OCTET STRING per spec
    return ec.EllipticCurvePublicKey.from_encoded_point(pyca_curve, der[2:] if der[1] < 0x80 else der[3:])


@pytest.mark.parametrize("curve,pyca_curve", [
    ("secp256r1", ec.SECP256R1()), ("secp384r1", ec.SECP384R1()), ("secp521r1", ec.SECP521R1()),
    ("secp256k1", ec.SECP256K1()), ("1.3.36.3.3.2.8.1.1.7", ec.BrainpoolP256R1()),   # brainpoolP256r1
    ("1.3.36.3.3.2.8.1.1.13", ec.BrainpoolP512R1()),                                    # brainpoolP512r1
])
def test_ecdsa_verifies_with_openssl(token, tmp_path, curve, pyca_curve):
    (tmp_path / "data").write_bytes(DATA)
    with token.open(user_pin=USER_PIN, rw=True) as s:
        pub, priv = ec_pair(s, curve)
        pem = write_pem(tmp_path / "pub.pem", ec_public(pub, pyca_curve))
        width = (pyca_curve.key_size + 7) // 8
        for mech, md in ((Mechanism.ECDSA_SHA256, "sha256"), (Mechanism.ECDSA_SHA384, "sha384")):
            sig = priv.sign(DATA, mechanism=mech)
            der = utils.encode_dss_signature(int.from_bytes(sig[:width], "big"), int.from_bytes(sig[width:], "big"))
            (tmp_path / "sig").write_bytes(der)
            openssl("dgst", f"-{md}", "-verify", pem, "-signature", str(tmp_path / "sig"), str(tmp_path / "data"))


def test_ed25519_with_pkcs11_tool_and_openssl(tool: Tool, tmp_path):
    """pkcs11-tool 0.23 generates (EC:edwards25519, a PrintableString CKA_EC_PARAMS) and signs;
    openssl verifies the raw Ed25519 signature."""
    tool.init_token("t")
    login = ["--login", "--pin", USER_PIN]
    tool.run(*login, "--keypairgen", "--key-type", "EC:edwards25519", "--id", "25", "--label", "ed")
    (tmp_path / "data").write_bytes(DATA)
    tool.run(*login, "--sign", "--mechanism", "EDDSA", "--id", "25", "--input-file", str(tmp_path / "data"),
             "--output-file", str(tmp_path / "sig"))
    sig = (tmp_path / "sig").read_bytes()
    assert len(sig) == 64
    tool.run("--read-object", "--type", "pubkey", "--id", "25", "--output-file", str(tmp_path / "pub.der"))
    der = (tmp_path / "pub.der").read_bytes()
    if der.startswith(b"-----BEGIN"):      # pkcs11-tool 0.23 writes Ed25519 public keys as PEM
        public = serialization.load_pem_public_key(der)
    else:
        public = serialization.load_der_public_key(der)
    assert isinstance(public, ed25519.Ed25519PublicKey)
    pem = write_pem(tmp_path / "pub.pem", public)
    openssl("pkeyutl", "-verify", "-pubin", "-inkey", pem, "-rawin", "-in", str(tmp_path / "data"),
            "-sigfile", str(tmp_path / "sig"))
    out = tool.run("--list-objects", "--type", "pubkey").stdout
    assert "EC_EDWARDS" in out or "EDDSA" in out or "edwards" in out.lower(), out


@pytest.mark.parametrize("curve,pyca_curve", [("secp256r1", ec.SECP256R1()), ("secp384r1", ec.SECP384R1())])
def test_ecdh_agrees_with_openssl(token, tmp_path, curve, pyca_curve):
    peer = ec.generate_private_key(pyca_curve)
    (tmp_path / "peer.pem").write_bytes(peer.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    peer_point = peer.public_key().public_bytes(serialization.Encoding.X962,
                                                serialization.PublicFormat.UncompressedPoint)
    with token.open(user_pin=USER_PIN, rw=True) as s:
        pub, priv = ec_pair(s, curve)
        token_pem = write_pem(tmp_path / "tok.pem", ec_public(pub, pyca_curve))
        try:
            secret = priv.derive_key(KeyType.GENERIC_SECRET, (pyca_curve.key_size + 7) // 8 * 8,  # bits
                                     mechanism=Mechanism.ECDH1_DERIVE,
                                     mechanism_param=(KDF.NULL, None, peer_point),
                                     template={Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True})
        except pkcs11.exceptions.FunctionNotSupported:
            pytest.skip("C_DeriveKey not wired in the core yet")
        z = openssl("pkeyutl", "-derive", "-inkey", str(tmp_path / "peer.pem"), "-peerkey", token_pem)
        assert secret[Attribute.VALUE] == z
        assert secret[Attribute.CLASS] == ObjectClass.SECRET_KEY
