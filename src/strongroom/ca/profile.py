"""X.509 building for the CA: CSRs, self-signed CA certificates and issued leaves.

Everything takes pyca key objects, so a token key from ``strongroom.api`` (whose
``sign()`` runs on the token) works the same as a software key. Inputs that come from
users (subject strings, SAN strings, usage names) are parsed here with precise errors.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes as IssuerKey
from cryptography.x509.oid import ExtendedKeyUsageOID

from .errors import CAInvalidInput, CARefused

KEY_USAGES = ("digitalSignature", "contentCommitment", "keyEncipherment", "dataEncipherment",
              "keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly")
_KU_FIELDS = {
    "digitalSignature": "digital_signature", "contentCommitment": "content_commitment",
    "keyEncipherment": "key_encipherment", "dataEncipherment": "data_encipherment",
    "keyAgreement": "key_agreement", "keyCertSign": "key_cert_sign", "cRLSign": "crl_sign",
    "encipherOnly": "encipher_only", "decipherOnly": "decipher_only",
}
EKUS = {
    "serverAuth": ExtendedKeyUsageOID.SERVER_AUTH, "clientAuth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "codeSigning": ExtendedKeyUsageOID.CODE_SIGNING, "emailProtection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "timeStamping": ExtendedKeyUsageOID.TIME_STAMPING, "OCSPSigning": ExtendedKeyUsageOID.OCSP_SIGNING,
}
CLOCK_SKEW = timedelta(minutes=5)   # notBefore is back-dated so a slightly slow peer accepts a new cert


@dataclass(frozen=True)
class Profile:
    """What an issued certificate says beyond its subject and key.

    ``key_usage`` None means the default for the kind: CA → keyCertSign+cRLSign;
    leaf → digitalSignature (+ keyEncipherment for RSA keys). ``san`` entries are
    strings like "DNS:host", "IP:10.0.0.1", "URI:urn:x", "email:a@b"; with
    ``copy_csr_san`` the CSR's own SANs are kept as well.
    """

    validity_days: int = 365
    key_usage: tuple[str, ...] | None = None
    extended_key_usage: tuple[str, ...] = ()
    san: tuple[str, ...] = ()
    path_length: int | None = None
    is_ca: bool = False
    copy_csr_san: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.validity_days, int) or self.validity_days < 1:
            raise CAInvalidInput(f"validity must be a positive number of days, not {self.validity_days!r}")
        for name in self.key_usage or ():
            if name not in _KU_FIELDS:
                raise CAInvalidInput(f"unknown key usage {name!r}; known: {', '.join(KEY_USAGES)}")
        for name in self.extended_key_usage:
            if name not in EKUS:
                raise CAInvalidInput(f"unknown extended key usage {name!r}; known: {', '.join(EKUS)}")
        if self.path_length is not None:
            if not self.is_ca:
                raise CAInvalidInput("a path length only applies to a CA certificate (--ca)")
            if self.path_length < 0:
                raise CAInvalidInput(f"path length must be >= 0, not {self.path_length}")
        for entry in self.san:
            parse_san(entry)

    def with_(self, **changes: object) -> Profile:
        return replace(self, **changes)  # type: ignore[arg-type]  # __post_init__ checks every field


CA_PROFILE = Profile(validity_days=3650, is_ca=True)
DEVICE_PROFILE = Profile(validity_days=825, extended_key_usage=("clientAuth", "serverAuth"))


# -- parsing user input -------------------------------------------------------------
def parse_subject(text: str) -> x509.Name:
    """An RFC 4514 string ("CN=dev-001,O=Acme"; commas inside values escaped "\\,")."""
    if not text or not text.strip():
        raise CAInvalidInput("subject is empty; give it as 'CN=name[,O=org,...]'")
    try:
        name = x509.Name.from_rfc4514_string(text.strip())
    except ValueError as exc:
        detail = f": {exc}" if str(exc) else ""
        raise CAInvalidInput(f"bad subject {text!r}: expected NAME=value[,NAME=value...] with "
                             f"NAME one of CN, O, OU, C, ST, L, DC, UID{detail}") from None
    if not list(name):
        raise CAInvalidInput(f"bad subject {text!r}: no attributes")
    return name


def parse_san(text: str) -> x509.GeneralName:
    """One subjectAltName entry from "TYPE:value" (TYPE: DNS, IP, URI, email)."""
    kind, sep, value = text.partition(":")
    if not sep or not value:
        raise CAInvalidInput(f"bad SAN {text!r}: expected DNS:name, IP:address, URI:uri or email:address")
    kind = kind.strip().lower()
    try:
        if kind == "dns":
            if any(c.isspace() for c in value):
                raise ValueError("spaces in a DNS name")
            return x509.DNSName(value)
        if kind == "ip":
            return x509.IPAddress(ipaddress.ip_address(value))
        if kind == "uri":
            if ":" not in value:
                raise ValueError("a URI needs a scheme")
            return x509.UniformResourceIdentifier(value)
        if kind == "email":
            if "@" not in value:
                raise ValueError("an email address needs '@'")
            return x509.RFC822Name(value)
    except ValueError as exc:
        raise CAInvalidInput(f"bad SAN {text!r}: {exc}") from None
    raise CAInvalidInput(f"bad SAN {text!r}: type must be DNS, IP, URI or email")


def parse_list(text: str | None) -> tuple[str, ...]:
    """A comma-separated option value ("clientAuth,serverAuth") as a tuple."""
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


# -- building ---------------------------------------------------------------------
def hash_for(key: object) -> hashes.SHA256 | hashes.SHA384 | hashes.SHA512 | None:
    """The signature hash that matches the key's strength (None for EdDSA)."""
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        size = key.curve.key_size
        return hashes.SHA512() if size > 384 else hashes.SHA384() if size > 256 else hashes.SHA256()
    if isinstance(key, rsa.RSAPrivateKey):
        return hashes.SHA256() if key.key_size < 3072 else hashes.SHA384()
    raise CAInvalidInput(f"cannot sign certificates with a {type(key).__name__}: use an EC, RSA or Ed25519 key")


def build_csr(key: IssuerKey, subject: x509.Name | str, san: Sequence[str] = ()) -> x509.CertificateSigningRequest:
    """A PKCS#10 request signed by ``key`` (a token key signs on the token)."""
    name = parse_subject(subject) if isinstance(subject, str) else subject
    builder = x509.CertificateSigningRequestBuilder().subject_name(name)
    names = _dedupe(parse_san(s) for s in san)
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(key, hash_for(key))


def load_csr(data: bytes, source: str = "CSR") -> x509.CertificateSigningRequest:
    """Parse a PEM or DER CSR and check its self-signature; errors name ``source``."""
    try:
        csr = (x509.load_pem_x509_csr(data) if b"-----BEGIN" in data else x509.load_der_x509_csr(data))
    except ValueError:
        raise CAInvalidInput(f"{source}: not a PKCS#10 certificate request (PEM or DER)") from None
    check_csr(csr, source)
    return csr


def check_csr(csr: x509.CertificateSigningRequest, source: str = "CSR") -> None:
    """The CSR must be signed by the key it carries (proof of possession)."""
    try:
        valid = csr.is_signature_valid
    except (ValueError, TypeError, UnsupportedAlgorithm):     # a key or algorithm pyca cannot check
        valid = False
    if not valid:
        raise CAInvalidInput(f"{source}: the request's signature does not verify with its own public key")


def self_signed(key: IssuerKey, subject: x509.Name | str, profile: Profile = CA_PROFILE) -> x509.Certificate:
    """A root CA certificate signed by ``key`` itself."""
    if not profile.is_ca:
        raise CAInvalidInput("a self-signed certificate here is always a CA: use a CA profile")
    name = parse_subject(subject) if isinstance(subject, str) else subject
    public = key.public_key()
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(name).issuer_name(name).public_key(public)
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - CLOCK_SKEW)
               .not_valid_after(now + timedelta(days=profile.validity_days)))
    ski = x509.SubjectKeyIdentifier.from_public_key(public)
    builder = _add_common(builder, profile, public, ski)
    builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                                    critical=False)
    sans = _dedupe(parse_san(s) for s in profile.san)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(key, hash_for(key))


def issue(ca_key: IssuerKey, ca_cert: x509.Certificate, csr: x509.CertificateSigningRequest,
          profile: Profile = DEVICE_PROFILE, *, serial: int | None = None,
          subject: x509.Name | None = None) -> x509.Certificate:
    """Sign ``csr`` with the CA; the CSR's signature is checked first."""
    check_csr(csr)
    _check_can_issue(ca_cert, profile)
    public = csr.public_key()
    now = datetime.now(UTC)
    not_after = min(now + timedelta(days=profile.validity_days), ca_cert.not_valid_after_utc)
    builder = (x509.CertificateBuilder()
               .subject_name(subject or csr.subject).issuer_name(ca_cert.subject)
               .public_key(public)
               .serial_number(serial or x509.random_serial_number())
               .not_valid_before(now - CLOCK_SKEW).not_valid_after(not_after))
    builder = _add_common(builder, profile, public, x509.SubjectKeyIdentifier.from_public_key(public))
    builder = builder.add_extension(authority_key_identifier(ca_cert), critical=False)
    sans = list(csr_sans(csr)) if profile.copy_csr_san else []
    sans = _dedupe([*sans, *(parse_san(s) for s in profile.san)])
    if sans:
        empty_subject = not list(subject or csr.subject)
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=empty_subject)
    return builder.sign(ca_key, hash_for(ca_key))


def csr_sans(csr: x509.CertificateSigningRequest) -> list[x509.GeneralName]:
    try:
        return list(csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        return []


def _check_can_issue(ca_cert: x509.Certificate, profile: Profile) -> None:
    try:
        bc = ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        bc = None
    if bc is None or not bc.ca:
        raise CAInvalidInput(f"{ca_cert.subject.rfc4514_string()} is not a CA certificate")
    if profile.is_ca and bc.path_length is not None:
        if bc.path_length == 0:
            raise CAInvalidInput(f"{ca_cert.subject.rfc4514_string()} has path length 0: it cannot "
                                 "issue sub-CA certificates")
        if profile.path_length is None or profile.path_length >= bc.path_length:
            raise CAInvalidInput(f"a sub-CA of {ca_cert.subject.rfc4514_string()} needs a path length "
                                 f"below {bc.path_length} (--path-length)")
    now = datetime.now(UTC)
    if ca_cert.not_valid_after_utc <= now:
        raise CARefused(f"the CA certificate {ca_cert.subject.rfc4514_string()} has expired")


def _add_common(builder: x509.CertificateBuilder, profile: Profile, public: object,
                ski: x509.SubjectKeyIdentifier) -> x509.CertificateBuilder:
    builder = builder.add_extension(
        x509.BasicConstraints(ca=profile.is_ca, path_length=profile.path_length if profile.is_ca else None),
        critical=True)
    builder = builder.add_extension(_key_usage(profile, public), critical=True)
    if profile.extended_key_usage:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([EKUS[name] for name in profile.extended_key_usage]), critical=False)
    return builder.add_extension(ski, critical=False)


def _key_usage(profile: Profile, public: object) -> x509.KeyUsage:
    names = profile.key_usage
    if names is None:
        if profile.is_ca:
            names = ("keyCertSign", "cRLSign")
        elif isinstance(public, rsa.RSAPublicKey):
            names = ("digitalSignature", "keyEncipherment")
        else:
            names = ("digitalSignature",)
    flags = {f: False for f in _KU_FIELDS.values()}
    for name in names:
        flags[_KU_FIELDS[name]] = True
    if (flags["encipher_only"] or flags["decipher_only"]) and not flags["key_agreement"]:
        raise CAInvalidInput("encipherOnly/decipherOnly need keyAgreement")
    return x509.KeyUsage(**flags)


def authority_key_identifier(ca_cert: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    """The AKI of what ``ca_cert`` signs (certificates and CRLs): its SKI, else its key's."""
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    except x509.ExtensionNotFound:
        # a CA certificate's key signs, so it is one of the issuer key types pyca's stub wants
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key())  # type: ignore[arg-type]


def _dedupe(names: Iterable[x509.GeneralName]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for name in names:
        if name not in out:
            out.append(name)
    return out
