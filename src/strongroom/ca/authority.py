"""A CA's state on disk and its two acts: creating itself and issuing certificates.

State lives in ``$STRONGROOM_HOME/ca/<name>/``:
  ca.json        which token holds the key (URI, label, module), the key's CKA_ID and label
  ca.pem         the CA certificate (also stored on the token beside the key)
  issued/        one ``<serial hex>.pem`` per issued certificate
  audit.jsonl    the hash-chained audit log (audit.py); every issue record carries the
                 certificate itself, so the log alone can complete an interrupted run
The CA private key never leaves its token: it is only used as a token key object whose
``sign()`` runs on the token.
"""
from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes as IssuerKey

from . import profile as P
from .audit import AuditLog
from .errors import CAAlreadyExists, CAInvalidInput, CANotFound, CARefused, CAStateBroken

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
DEFAULT_KIND = "ec:p384"
CA_KINDS = ("ec:p256", "ec:p384", "ec:p521", "rsa:2048", "rsa:3072", "rsa:4096", "ed25519")


def ca_root(home: Path | None = None) -> Path:
    """``$STRONGROOM_HOME/ca`` (the config module decides where the home is)."""
    from ..config import default_home

    return Path(home or default_home()) / "ca"


def spki_sha256(public_key: Any) -> str:
    """A key's identity across tokens and files: sha256 of its SubjectPublicKeyInfo."""
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def cert_sha256(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def serial_hex(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "x")


def _write_atomic(path: Path, data: bytes) -> None:
    """Write-then-rename with fsync so a crash leaves the old file or the new, never half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@dataclass
class Authority:
    """One CA: its directory, configuration and certificate."""

    name: str
    directory: Path
    config: dict[str, Any]
    certificate: x509.Certificate

    # -- loading ---------------------------------------------------------------------
    @classmethod
    def load(cls, name: str, home: Path | None = None) -> Authority:
        check_name(name)
        directory = ca_root(home) / name
        try:
            config = json.loads((directory / "ca.json").read_text())
            cert = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
        except FileNotFoundError:
            raise CANotFound(f"no CA named {name!r} (looked in {directory})") from None
        except ValueError as exc:
            raise CAStateBroken(f"CA {name!r}: damaged state in {directory}: {type(exc).__name__}") from None
        return cls(name, directory, config, cert)

    @staticmethod
    def names(home: Path | None = None) -> list[str]:
        root = ca_root(home)
        if not root.is_dir():
            return []
        return sorted(p.name for p in root.iterdir()
                      if not p.name.startswith(".") and (p / "ca.json").is_file())   # .NAME.PID.new: an init

    @property
    def audit(self) -> AuditLog:
        return AuditLog(self.directory / "audit.jsonl")

    @property
    def issued_dir(self) -> Path:
        return self.directory / "issued"

    @property
    def key_id(self) -> bytes:
        return bytes.fromhex(self.config["key_id"])

    @property
    def token_target(self) -> str:
        """What ``strongroom.open()`` takes to reach the CA's token."""
        return str(self.config["token_uri"])

    @property
    def module(self) -> str | None:
        return self.config.get("module")

    def summary(self) -> dict[str, Any]:
        cert = self.certificate
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        return {
            "name": self.name, "subject": cert.subject.rfc4514_string(),
            "issuer": cert.issuer.rfc4514_string(), "serial": serial_hex(cert),
            "not_before": cert.not_valid_before_utc.isoformat(),
            "not_after": cert.not_valid_after_utc.isoformat(), "path_length": bc.path_length,
            "key_kind": self.config.get("key_kind"), "key_id": self.config["key_id"],
            "key_label": self.config.get("key_label"), "token": self.config.get("token_label"),
            "token_uri": self.token_target, "module": self.module, "parent": self.config.get("parent"),
            "directory": str(self.directory), "cert_sha256": cert_sha256(cert),
            "issued": sum(1 for _ in self.issued_dir.glob("*.pem")) if self.issued_dir.is_dir() else 0,
        }

    @contextmanager
    def exclusive(self, what: str) -> Iterator[None]:
        """Hold the CA's run lock: two provisioning runs over the same devices at once
        could each find a device unfinished and both issue for it."""
        fd = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise CARefused(f"CA {self.name!r} is busy: another {what} run holds it") from None
            yield
        finally:
            os.close(fd)

    def require_sound_audit(self) -> None:
        """Refuse to issue on top of a broken log: the break must be looked at first."""
        report = self.audit.verify()
        if not report.ok:
            raise CAStateBroken(f"audit log of CA {self.name!r} is broken at line {report.line}: {report.error}; "
                                f"see 'strongroom ca audit verify {self.name}' before issuing")

    # -- using the key -----------------------------------------------------------------
    def key(self, token: Any) -> IssuerKey:
        """The CA private key as a token key object (signs on the token); checks that it
        is the key the CA certificate names, so a wrong token fails before signing."""
        from ..api.errors import ObjectNotFound

        try:
            key: IssuerKey = token.private_key(id=self.key_id)
        except ObjectNotFound:
            raise CANotFound(f"CA {self.name!r}: its key (id {self.config['key_id']}) is not on "
                             f"token {token.info.get('label')!r}") from None
        if spki_sha256(key.public_key()) != spki_sha256(self.certificate.public_key()):
            raise CARefused(f"CA {self.name!r}: the key with id {self.config['key_id']} on this token "
                            "does not match the CA certificate")
        return key

    def issue(self, token: Any, csr: x509.CertificateSigningRequest, profile: P.Profile, *,
              key_id: bytes | None = None, source: str = "csr", device: str | None = None,
              ca_key: Any = None, subject: x509.Name | None = None) -> x509.Certificate:
        """Sign ``csr``, record it in the audit log (with the certificate), then write
        ``issued/<serial>.pem``. The log comes first so a crash never leaves an issued
        certificate the log does not know. ``subject`` overrides the CSR's (the subject is
        the CA's decision; the CSR proves possession of the key)."""
        ca_key = ca_key or self.key(token)
        cert = P.issue(ca_key, self.certificate, csr, profile, subject=subject)
        der = cert.public_bytes(serialization.Encoding.DER)
        record: dict[str, Any] = {
            "event": "issue", "serial": serial_hex(cert), "subject": cert.subject.rfc4514_string(),
            "key_id": key_id.hex() if key_id is not None else None,
            "spki_sha256": spki_sha256(cert.public_key()),
            "csr_sha256": hashlib.sha256(csr.public_bytes(serialization.Encoding.DER)).hexdigest(),
            "cert_sha256": hashlib.sha256(der).hexdigest(),
            "not_after": cert.not_valid_after_utc.isoformat(), "is_ca": profile.is_ca,
            "source": source, "cert": base64.b64encode(der).decode(),
        }
        if device is not None:
            record["device"] = device
        self.audit.append(record)
        self.write_issued(cert)
        return cert

    def write_issued(self, cert: x509.Certificate) -> Path:
        self.issued_dir.mkdir(parents=True, exist_ok=True)
        path = self.issued_dir / f"{serial_hex(cert)}.pem"
        if not path.exists():
            _write_atomic(path, cert.public_bytes(serialization.Encoding.PEM))
        return path

    def issued_records(self) -> Iterator[tuple[dict[str, Any], x509.Certificate]]:
        """Every certificate this CA issued, from the audit log."""
        for record in self.audit.records():
            if record.get("event") == "issue" and record.get("cert"):
                yield record, x509.load_der_x509_certificate(base64.b64decode(record["cert"]))

    def issued_by_key(self) -> dict[str, list[x509.Certificate]]:
        """spki sha256 → certificates issued for that key (oldest first)."""
        index: dict[str, list[x509.Certificate]] = {}
        for record, cert in self.issued_records():
            index.setdefault(record["spki_sha256"], []).append(cert)
        return index

    def is_valid_for(self, cert: x509.Certificate, public_key: Any) -> bool:
        """Issued by this CA (signature checks), unexpired, and for ``public_key``."""
        if cert.issuer != self.certificate.subject:
            return False
        try:
            cert.verify_directly_issued_by(self.certificate)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            return False
        now = datetime.now(UTC)
        if not cert.not_valid_before_utc <= now < cert.not_valid_after_utc:
            return False
        return spki_sha256(cert.public_key()) == spki_sha256(public_key)

    def verify_state(self) -> dict[str, Any]:
        """The audit chain, plus: every issued/*.pem is in the log and matches it, and every
        certificate the log records is in issued/ (a deleted file is a lost record of what
        the CA signed, whatever the chain says)."""
        report = self.audit.verify()
        result = report.as_dict()
        if not report.ok:
            return result
        logged = {r["serial"]: (line, r["cert_sha256"]) for line, r in self._issue_lines()}
        files = sorted(self.issued_dir.glob("*.pem")) if self.issued_dir.is_dir() else []
        for path in files:
            try:
                cert = x509.load_pem_x509_certificate(path.read_bytes())
            except ValueError:
                return {**result, "ok": False, "error": f"issued/{path.name} is not a certificate"}
            serial = serial_hex(cert)
            entry = logged.get(path.stem)
            if entry is not None and (serial != path.stem or entry[1] != cert_sha256(cert)):
                return {**result, "ok": False, "line": entry[0],
                        "error": f"issued/{path.name} differs from the certificate the audit log records"}
            if entry is None:
                return {**result, "ok": False,
                        "error": f"issued/{path.name} is not recorded in the audit log"}
        present = {p.stem for p in files}
        for serial, (line, _) in logged.items():
            if serial not in present:
                return {**result, "ok": False, "line": line,
                        "error": f"issued/{serial}.pem, recorded in the audit log, is missing "
                                 f"(--restore rewrites it from the log)"}
        result["issued_files"] = len(files)
        return result

    def restore_missing(self) -> list[str]:
        """Rewrite every issued/<serial>.pem the log records but the directory lacks, from
        the certificate the log carries (a run that died between the log and the file
        leaves one missing too); returns the serials restored. A file that is there but
        differs is left alone: it is evidence, not a gap. Only on a sound chain."""
        self.require_sound_audit()
        restored = []
        for _, record in self._issue_lines():
            path = self.issued_dir / f"{record['serial']}.pem"
            if not path.exists():
                self.write_issued(x509.load_der_x509_certificate(base64.b64decode(record["cert"])))
                restored.append(record["serial"])
        return restored

    def _issue_lines(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """(line number, record) of every issue record carrying a certificate."""
        for record in self.audit.records():
            if record.get("event") == "issue" and record.get("cert"):
                yield record["seq"], record

    # -- revocation --------------------------------------------------------------------
    def revocations(self) -> dict[str, dict[str, Any]]:
        """serial hex -> the audit record that revoked it (the log is the CA's only
        memory of revocations, so they share its hash chain)."""
        return {r["serial"]: r for r in self.audit.records() if r.get("event") == "revoke"}

    def revoke(self, serial: str, reason: str | None = None) -> dict[str, Any]:
        """Record that certificate ``serial`` (hex, as ``ca issue`` prints it) is revoked.
        Only a certificate this CA's log records can be revoked; a second revocation of
        the same serial is refused (the first one's date and reason stand)."""
        wanted = normalise_serial(serial)
        if reason is not None and reason not in REVOCATION_REASONS:
            raise CAInvalidInput(f"unknown revocation reason {reason!r}; known: {', '.join(REVOCATION_REASONS)}")
        self.require_sound_audit()
        records = {r["serial"]: r for _, r in self._issue_lines()}
        if wanted not in records:
            raise CANotFound(f"CA {self.name!r} has not issued a certificate with serial {wanted} "
                             f"(see {self.issued_dir})")
        earlier = self.revocations().get(wanted)
        if earlier is not None:
            raise CARefused(f"serial {wanted} was already revoked at {earlier['revoked_at']}"
                            f" ({earlier.get('reason') or 'no reason given'})")
        return self.audit.append({
            "event": "revoke", "serial": wanted, "reason": reason,
            "subject": records[wanted].get("subject"), "cert_sha256": records[wanted]["cert_sha256"],
            "revoked_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        })

    def crl(self, token: Any, *, days: int = 7) -> x509.CertificateRevocationList:
        """A CRL of every revocation in the log, signed on the token by the CA key; its
        CRL number is one more than the last CRL's, and the CRL is itself logged."""
        if not isinstance(days, int) or days < 1:
            raise CAInvalidInput(f"--days must be a positive number of days, not {days!r}")
        self.require_sound_audit()
        key = self.key(token)
        number = 1 + sum(1 for r in self.audit.records() if r.get("event") == "crl")
        now = datetime.now(UTC).replace(microsecond=0)
        builder = (x509.CertificateRevocationListBuilder()
                   .issuer_name(self.certificate.subject)
                   .last_update(now).next_update(now + timedelta(days=days))
                   .add_extension(x509.CRLNumber(number), critical=False)
                   .add_extension(P.authority_key_identifier(self.certificate), critical=False))
        revoked = self.revocations()
        for serial, record in revoked.items():
            entry = (x509.RevokedCertificateBuilder().serial_number(int(serial, 16))
                     .revocation_date(datetime.fromisoformat(record["revoked_at"])))
            if record.get("reason"):
                entry = entry.add_extension(x509.CRLReason(REVOCATION_REASONS[record["reason"]]),
                                            critical=False)
            builder = builder.add_revoked_certificate(entry.build())
        crl = builder.sign(key, P.hash_for(key))
        self.audit.append({
            "event": "crl", "crl_number": number, "revoked": len(revoked),
            "this_update": now.isoformat(), "next_update": (now + timedelta(days=days)).isoformat(),
            "crl_sha256": hashlib.sha256(crl.public_bytes(serialization.Encoding.DER)).hexdigest(),
        })
        return crl

    # -- the key's presence ------------------------------------------------------------
    def key_problem(self, token: Any | None) -> str | None:
        """Why this CA cannot sign, judged from ``token`` (opened with or without a PIN),
        or None when its key is there. Without a login only the public half and the CA
        certificate are visible; their absence is what `key delete` leaves."""
        where = f"token {self.config.get('token_label')!r}"
        if token is None:
            return f"its token {self.config.get('token_label')!r} is not present"
        gone = [kind for kind in (("private", "public") if token.logged_in else ("public",))
                if not token.objects(id=self.key_id, type=kind)]
        if not gone:
            return None
        half = "" if len(gone) == 2 or not token.logged_in else f" ({gone[0]} half)"
        return f"its key (id {self.config['key_id']}) is gone from {where}{half}"


REVOCATION_REASONS: dict[str, x509.ReasonFlags] = {
    "unspecified": x509.ReasonFlags.unspecified, "keyCompromise": x509.ReasonFlags.key_compromise,
    "cACompromise": x509.ReasonFlags.ca_compromise,
    "affiliationChanged": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessationOfOperation": x509.ReasonFlags.cessation_of_operation,
    "certificateHold": x509.ReasonFlags.certificate_hold,
    "privilegeWithdrawn": x509.ReasonFlags.privilege_withdrawn,
    "aACompromise": x509.ReasonFlags.aa_compromise,
}


def normalise_serial(text: str) -> str:
    """A serial as the CA writes it (lower-case hex, no leading zeros); accepts 0x and colons."""
    cleaned = text.strip().lower().replace(":", "")
    cleaned = cleaned.removeprefix("0x")
    try:
        return format(int(cleaned, 16), "x")
    except ValueError:
        raise CAInvalidInput(f"bad serial {text!r}: give it in hex, as 'ca issue' prints it") from None


def ca_key_refusal(token_info: dict[str, Any], refs: Any, home: Path | None = None) -> str | None:
    """The one-line refusal `key delete` prints when one of ``refs`` (objects with ``.id``
    and ``.label``) is a CA's key, or None. Deleting it would leave the CA unable to sign
    anything again, including the CRL that revokes what it issued."""
    for ref in refs:
        names = cas_using(token_info, getattr(ref, "id", None), home)
        if names:
            which = ", ".join(repr(n) for n in names)
            return (f"key {ref.label!r} (id {ref.id.hex()}) is the key of CA {which}: deleting it ends "
                    f"that CA (no more certificates or CRLs); give --force to delete it anyway")
    return None


def cas_using(token_info: dict[str, Any], key_id: bytes | None, home: Path | None = None) -> list[str]:
    """Names of the CAs whose key is ``key_id`` on the token ``token_info`` describes
    (label and serial, as ca.json records them): deleting that key ends those CAs."""
    if not key_id:
        return []
    names = []
    for name in Authority.names(home):
        try:
            config = json.loads((ca_root(home) / name / "ca.json").read_text())
        except (OSError, ValueError):
            continue
        if (config.get("key_id") == key_id.hex() and config.get("token_label") == token_info.get("label")
                and config.get("token_serial") == token_info.get("serial")):
            names.append(name)
    return names


def check_name(name: str) -> None:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise CAInvalidInput(f"bad CA name {name!r}: use letters, digits, '.', '_' or '-' (up to 64)")


def store_certificate(token: Any, cert: x509.Certificate, *, key_id: bytes, label: str) -> bool:
    """Put ``cert`` on ``token`` with ``key_id`` unless that exact certificate is there;
    True when it was stored now."""
    der = cert.public_bytes(serialization.Encoding.DER)
    for existing in token.certificates(id=key_id):
        if existing.public_bytes(serialization.Encoding.DER) == der:
            return False
    token.import_certificate(cert, label=label, id=key_id)
    return True


def init_ca(name: str, token: Any, *, subject: str, kind: str = DEFAULT_KIND, validity_days: int = 3650,
            path_length: int | None = None, parent: Authority | None = None, parent_token: Any = None,
            home: Path | None = None, module: str | None = None, key_label: str | None = None) -> Authority:
    """Generate the CA key on ``token`` (non-extractable, sensitive), certify it (self-signed,
    or by ``parent``), store the certificate on the token beside the key, write the state
    directory. On failure nothing is left behind: the key is destroyed, the directory removed."""
    check_name(name)
    if kind not in CA_KINDS:
        raise CAInvalidInput(f"CA key type {kind!r} not supported; use one of {', '.join(CA_KINDS)}")
    name_obj = P.parse_subject(subject)
    profile = P.Profile(validity_days=validity_days, is_ca=True, path_length=path_length)
    root = ca_root(home)
    final = root / name
    if final.exists():
        raise CAAlreadyExists(f"a CA named {name!r} already exists in {final}")
    if parent is not None:
        parent_key = parent.key(parent_token or token)     # fail before generating anything
    label = key_label or f"CA {name}"
    key_id = secrets.token_bytes(16)
    staging = root / f".{name}.{os.getpid()}.new"
    from ..api.errors import StrongroomError

    priv_ref, pub_ref = token.generate_key_pair(kind, label=label, id=key_id, extractable=False)
    stored_cert = None
    try:
        key = token.private_key(id=key_id)
        if parent is None:
            cert = P.self_signed(key, name_obj, profile)
        else:
            csr = P.build_csr(key, name_obj)
            cert = parent.issue(parent_token or token, csr, profile, key_id=key_id,
                                source=f"ca init {name}", ca_key=parent_key)
        stored_cert = token.import_certificate(cert, label=label, id=key_id)
        info = token.info
        from ..uri import build

        config = {
            "name": name, "subject": cert.subject.rfc4514_string(), "key_kind": kind,
            "key_id": key_id.hex(), "key_label": label, "token_label": info.get("label"),
            "token_serial": info.get("serial"),
            "token_uri": build(token=info.get("label"), serial=info.get("serial")).format(),
            "module": module, "parent": parent.name if parent else None,
            "created": datetime.now(UTC).isoformat(),
        }
        staging.mkdir(parents=True)
        (staging / "issued").mkdir()
        _write_atomic(staging / "ca.json", (json.dumps(config, indent=2) + "\n").encode())
        _write_atomic(staging / "ca.pem", cert.public_bytes(serialization.Encoding.PEM))
        AuditLog(staging / "audit.jsonl").append({
            "event": "ca-init", "serial": serial_hex(cert), "subject": config["subject"],
            "key_id": key_id.hex(), "spki_sha256": spki_sha256(cert.public_key()),
            "cert_sha256": cert_sha256(cert), "parent": config["parent"], "key_kind": kind,
        })
        os.rename(staging, final)
    except BaseException:
        for ref in (stored_cert, priv_ref, pub_ref):
            if ref is not None:
                with contextlib.suppress(StrongroomError):     # the original error is the one to report
                    token.destroy(ref)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Authority.load(name, home)
