"""Reading key files for ``key import``: PEM, DER, PKCS#8 (encrypted or not), PKCS#12
with its chain, and raw AES keys, into one KeyBundle — or a one-line error naming the file.

Everything is parsed before the token is touched, so a bad file changes nothing. Errors
never quote file contents (a key file is a secret) nor the password.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NoReturn

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from . import common as C

_HEX_DIGITS = set(b"0123456789abcdefABCDEF")
AES_KEY_SIZES = (16, 24, 32)


@dataclass
class KeyBundle:
    """What one key file holds: a private key (pyca) and its certificates, or a secret."""

    private_key: Any = None
    secret: bytes | None = None
    certificate: x509.Certificate | None = None          # the key's own (leaf) certificate
    ca_certificates: list[x509.Certificate] = field(default_factory=list)
    friendly_name: str | None = None                       # PKCS#12 friendlyName of the key's bag


def _bad(source: str, why: str) -> NoReturn:
    C.fail(f"{source}: {why}", C.EXIT_USAGE)


def read_aes(data: bytes, source: str) -> bytes:
    """A raw AES key: exactly 16/24/32 bytes, or that many as hex digits (whitespace ignored)."""
    stripped = b"".join(data.split())
    if stripped and all(c in _HEX_DIGITS for c in stripped) and len(stripped) // 2 in AES_KEY_SIZES \
            and len(stripped) % 2 == 0:
        return bytes.fromhex(stripped.decode())
    if len(data) in AES_KEY_SIZES:
        return data
    _bad(source, f"not an AES key: expected 16, 24 or 32 raw bytes or as many in hex, got {len(data)} bytes")
    raise AssertionError  # unreachable


def _is_pkcs12_der(data: bytes) -> bool:
    """PFX starts SEQUENCE { INTEGER 3, ... }; no PKCS#8/SEC1/PKCS#1 key does."""
    if len(data) < 8 or data[0] != 0x30:
        return False
    n = data[1]
    offset = 2 if n < 0x80 else 2 + (n & 0x7F)
    return data[offset:offset + 3] == b"\x02\x01\x03"


def _load_key(loader: Any, data: bytes, password: bytes | None, source: str) -> Any:
    try:
        return loader(data, password)
    except TypeError as exc:
        text = str(exc)
        if "not encrypted" in text:            # a password given for a plain key: fine
            return _load_key(loader, data, None, source)
        if "not given" in text or "encrypted" in text:
            _bad(source, "the private key is encrypted: give --password-source file:PATH|env:NAME "
                         "or --password")
        _bad(source, "cannot read the private key")
    except UnsupportedAlgorithm:
        _bad(source, "unsupported key algorithm or encryption")
    except ValueError:
        if password is not None:
            _bad(source, "wrong password for the encrypted private key, or a damaged key")
        _bad(source, "not a readable private key (malformed PEM/DER, or an unsupported format)")


def _split_chain(key: Any, certs: list[x509.Certificate]) -> tuple[x509.Certificate | None,
                                                                    list[x509.Certificate]]:
    """(the certificate of `key`, the others)."""
    if key is None:
        return None, certs
    wanted = spki(key.public_key())
    leaf = next((c for c in certs if spki(c.public_key()) == wanted), None)
    return leaf, [c for c in certs if c is not leaf]


def spki(public_key: Any) -> bytes:
    der: bytes = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return der


def default_id(public_key: Any) -> bytes:
    """CKA_ID for a key imported without --id: SHA-1 of its SubjectPublicKeyInfo (stable,
    so the same key imported twice, and its certificate, get the same id)."""
    digest = hashes.Hash(hashes.SHA1())
    digest.update(spki(public_key))
    return digest.finalize()


def read_key_file(data: bytes, source: str, password: bytes | None) -> KeyBundle:
    """Parse a PEM / DER / PKCS#8 / PKCS#12 file holding one private key."""
    if not data.strip():
        _bad(source, "the file is empty")
    if b"-----BEGIN" in data:
        return _read_pem(data, source, password)
    if _is_pkcs12_der(data):
        return _read_pkcs12(data, source, password)
    key = _load_key(serialization.load_der_private_key, data, password, source)
    return KeyBundle(private_key=key)


def _read_pem(data: bytes, source: str, password: bytes | None) -> KeyBundle:
    if b"PRIVATE KEY-----" not in data:
        if b"CERTIFICATE-----" in data:
            _bad(source, "holds certificates but no private key (use 'strongroom cert import')")
        _bad(source, "no PRIVATE KEY block in the PEM file")
    key = _load_key(serialization.load_pem_private_key, data, password, source)
    certs: list[x509.Certificate] = []
    if b"-----BEGIN CERTIFICATE-----" in data:
        try:
            certs = x509.load_pem_x509_certificates(data)
        except ValueError:
            _bad(source, "a CERTIFICATE block in the PEM file is malformed")
    leaf, others = _split_chain(key, certs)
    return KeyBundle(private_key=key, certificate=leaf, ca_certificates=others)


def _read_pkcs12(data: bytes, source: str, password: bytes | None) -> KeyBundle:
    try:
        p12 = pkcs12.load_pkcs12(data, password)
    except ValueError:
        if password is None:
            _bad(source, "cannot open the PKCS#12: it needs a password (--password-source or "
                         "--password), or the file is damaged")
        _bad(source, "wrong password for the PKCS#12, or a damaged file")
    except UnsupportedAlgorithm:
        _bad(source, "the PKCS#12 uses an unsupported algorithm")
    if p12.key is None:
        _bad(source, "the PKCS#12 holds no private key")
    certs = [c.certificate for c in p12.additional_certs]
    leaf = p12.cert.certificate if p12.cert is not None else None
    if leaf is None:
        leaf, certs = _split_chain(p12.key, certs)
    elif spki(leaf.public_key()) != spki(p12.key.public_key()):
        _bad(source, "the PKCS#12's certificate is not for its private key")
    name = p12.cert.friendly_name if p12.cert is not None else None
    friendly = name.decode("utf-8", "replace") if name else None
    return KeyBundle(private_key=p12.key, certificate=leaf, ca_certificates=certs, friendly_name=friendly)


def read_certificate(data: bytes, source: str) -> x509.Certificate:
    """One certificate from PEM or DER (the first of a PEM bundle)."""
    try:
        if b"-----BEGIN" in data:
            if b"-----BEGIN CERTIFICATE-----" not in data:
                _bad(source, "no CERTIFICATE block in the PEM file")
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        _bad(source, "not a readable X.509 certificate (malformed PEM or DER)")
    raise AssertionError  # unreachable


def certificate_label(cert: x509.Certificate, fallback: str) -> str:
    """The subject's commonName, else `fallback`."""
    try:
        names = cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
    except ValueError:
        names = []
    value = names[0].value if names else ""
    return str(value) if value else fallback
