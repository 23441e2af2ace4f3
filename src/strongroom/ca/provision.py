"""The seed's device flow: key pair on the device's token → CSR → CA signs → certificate
stored beside the key (same CKA_ID), for one device or a batch.

Idempotent and resumable, because a batch can die anywhere (the seed's dropped session):
  - a device whose token already holds a certificate from this CA for its key, unexpired,
    is skipped;
  - an existing device key pair (same CKA_ID) is reused, never generated twice;
  - a certificate the CA already issued for that key (found in the audit log, which
    carries every issued certificate) is stored instead of issuing another.
So the only thing a crash can leave behind is work the next run picks up.
"""
from __future__ import annotations

import csv
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from . import profile as P
from .authority import Authority, serial_hex, spki_sha256, store_certificate
from .errors import CAError, CAInvalidInput, CANotFound, CARefused

PRIV_LABEL = "Device Priv TLS Key"
PUB_LABEL = "Device Pub TLS Key"
CERT_LABEL = "Device Cert TLS"
DEVICE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,31}$")   # a token label holds 32 bytes
CSV_COLUMNS = ("device_id", "device", "id")

TokenOpener = Callable[[str], AbstractContextManager[Any]]


def _device_failures() -> tuple[type[BaseException], ...]:
    """What means "this device failed" (recorded, and with --keep-going the run goes on):
    the token refused or is unreachable (the API's StrongroomError, a python-pkcs11 error
    it let through), the CA refused (CAError), a file could not be written (OSError)."""
    from pkcs11.exceptions import PKCS11Error

    from ..api.errors import StrongroomError

    return (StrongroomError, PKCS11Error, CAError, OSError)


@dataclass
class DeviceResult:
    """What happened to one device: issued (new key and certificate), skipped (already
    done), resumed (finished an interrupted run), failed; skipped and resumed both reuse
    an earlier run's work. ``new_certificate`` says whether the CA signed for it in this
    run; ``kept`` what a failure left for the re-run."""

    device: str
    status: str
    serial: str | None = None
    key_id: str | None = None
    token: str | None = None
    detail: str | None = None
    new_certificate: bool = False
    kept: str | None = None


@dataclass
class Summary:
    """The outcome of a run; ``planned`` is how many devices it was given, so the devices
    a stop left untouched can be counted."""

    results: list[DeviceResult] = field(default_factory=list)
    planned: int = 0
    elapsed: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    def as_dict(self) -> dict[str, Any]:
        attempted = len(self.results)
        return {"total": attempted, "planned": self.planned, "attempted": attempted,
                "issued": self.count("issued"), "reused": self.count("skipped") + self.count("resumed"),
                "failed": self.count("failed"),
                "not_attempted": self.planned - attempted, "elapsed_s": round(self.elapsed, 3),
                "skipped": self.count("skipped"), "resumed": self.count("resumed"),
                "devices": [asdict(r) for r in self.results]}


# -- which devices ---------------------------------------------------------------------
def check_device_id(device: str, where: str = "device id") -> str:
    if not isinstance(device, str) or not DEVICE_RE.match(device):
        raise CAInvalidInput(f"bad {where} {device!r}: 1-32 characters from letters, digits and ._:@- "
                             "(it becomes a token label and a CKA_ID)")
    return device


def devices_from_count(count: int, prefix: str = "dev-", start: int = 1, width: int = 4) -> list[str]:
    if count < 1:
        raise CAInvalidInput(f"--count must be at least 1, not {count}")
    return [check_device_id(f"{prefix}{n:0{width}d}") for n in range(start, start + count)]


def devices_from_csv(path: Path, column: str | None = None) -> list[str]:
    """Device ids from a CSV file with a header row; the column is ``column`` or the first
    of device_id/device/id present. Duplicates and bad ids are errors naming the line."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CANotFound(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CAInvalidInput(f"{path}: cannot read ({type(exc).__name__})") from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in reader.fieldnames or []]
    wanted = [column] if column else [c for c in CSV_COLUMNS if c in header]
    if not wanted or wanted[0] not in header:
        raise CAInvalidInput(f"{path}: no device id column (header has {', '.join(header) or 'nothing'}; "
                             f"expected {column or ' or '.join(CSV_COLUMNS)})")
    col = wanted[0]
    seen: dict[str, int] = {}
    out: list[str] = []
    for row in reader:
        line = reader.line_num
        raw = {(k or "").strip(): v for k, v in row.items()}
        value = (raw.get(col) or "").strip()
        if not value:
            continue
        check_device_id(value, f"device id on line {line} of {path}")
        if value in seen:
            raise CAInvalidInput(f"{path}: device {value!r} on line {line} repeats line {seen[value]}")
        seen[value] = line
        out.append(value)
    if not out:
        raise CAInvalidInput(f"{path}: no device ids in column {col!r}")
    return out


# -- progress --------------------------------------------------------------------------
class Progress:
    """A bar with rate and ETA on a terminal; plain periodic lines otherwise (logs, CI, pipes)."""

    def __init__(self, total: int, stream: TextIO | None = None, quiet: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total, self.stream, self.quiet = total, stream or sys.stderr, quiet
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.step = max(1, total // 20)
        self.counts: dict[str, int] = {}
        self.clock = clock
        self.started = clock()

    def rate_and_eta(self, done: int) -> str:
        """"12.3/s, ETA 0:41" from the devices done so far (ETA unknown before one is done)."""
        spent = max(self.clock() - self.started, 1e-6)
        rate = done / spent
        left = (self.total - done) / rate if rate > 0 else 0.0
        minutes, seconds = divmod(round(left), 60)
        return f"{rate:.1f}/s, ETA {minutes}:{seconds:02d}"

    def __call__(self, done: int, result: DeviceResult) -> None:
        self.counts[result.status] = self.counts.get(result.status, 0) + 1
        if self.quiet or self.total < 2:
            return
        if self.tty:
            width = 30
            filled = width * done // self.total
            self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} "
                              f"{self.rate_and_eta(done)} {result.device} {result.status}\033[K")
            if done == self.total:
                self.stream.write("\n")
        elif done % self.step == 0 or done == self.total:
            tally = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
            self.stream.write(f"provision: {done}/{self.total} ({tally})\n")
        self.stream.flush()

    def stopped(self) -> None:
        """End a bar cut short by a failure, so the summary starts on its own line."""
        if self.tty and not self.quiet and self.total >= 2 and sum(self.counts.values()) < self.total:
            self.stream.write("\n")
            self.stream.flush()


# -- the flow ------------------------------------------------------------------------
def render(template: str, device: str) -> str:
    try:
        return template.format(device=device)
    except (KeyError, IndexError, ValueError) as exc:
        raise CAInvalidInput(f"bad template {template!r}: only {{device}} may be used ({exc})") from None


def device_san(templates: Iterable[str], device: str) -> tuple[str, ...]:
    """The SANs of one device: each template with {device} expanded (once, here; the CSR
    and the certificate profile both get the expanded values, never the template)."""
    out: list[str] = []
    for entry in templates:
        value = render(entry, device)
        P.parse_san(value)
        if value not in out:
            out.append(value)
    return tuple(out)


def provision(ca: Authority, ca_token: Any, devices: Sequence[str], token_for_device: TokenOpener, *,
              kind: str = "ec:p256", profile: P.Profile = P.DEVICE_PROFILE,
              subject: str = "CN={device}", san: Iterable[str] = (),
              progress: Callable[[int, DeviceResult], None] | None = None,
              keep_going: bool = False) -> Summary:
    """Provision every device in order. Stops at the first failure unless ``keep_going``
    (a re-run resumes either way). ``san`` and ``profile.san`` are templates: {device}
    is expanded per device."""
    templates = (*profile.san, *san)
    for device in devices:
        check_device_id(device)
        P.parse_subject(render(subject, device))
        device_san(templates, device)
    ca_key = ca.key(ca_token)
    device_failures = _device_failures()
    summary = Summary(planned=len(devices))
    started = time.monotonic()
    with ca.exclusive("provision"):
        ca.require_sound_audit()
        issued = ca.issued_by_key()
        for done, device in enumerate(devices, start=1):
            sans = device_san(templates, device)
            kept: list[str] = []
            try:
                with token_for_device(device) as token:
                    result = provision_one(ca, ca_token, ca_key, token, device, issued, kind=kind,
                                           profile=profile.with_(san=sans), subject=render(subject, device),
                                           san=sans, kept=kept)
            except device_failures as exc:        # anything else is a bug: it propagates
                result = DeviceResult(device, "failed", detail=" ".join((str(exc) or type(exc).__name__).split()),
                                      kept="; ".join(kept) or None)
            summary.results.append(result)
            if progress:
                progress(done, result)
            if result.status == "failed" and not keep_going:
                break
    summary.elapsed = time.monotonic() - started
    return summary


def provision_one(ca: Authority, ca_token: Any, ca_key: Any, token: Any, device: str,
                  issued: dict[str, list[Any]], *, kind: str, profile: P.Profile, subject: str,
                  san: Sequence[str], kept: list[str] | None = None) -> DeviceResult:
    """One device, start to finish; ``kept`` collects what is already done, so a failure
    can say what stays for the re-run."""
    kept = [] if kept is None else kept
    key_id = device.encode()
    label = token.info.get("label")
    base = {"key_id": key_id.hex(), "token": label}
    key, resumed = _device_key(token, key_id, kind)
    kept.append(f"its key pair (id {key_id.hex()}) on token {label!r}")
    public = key.public_key()
    for cert in token.certificates(id=key_id):
        if ca.is_valid_for(cert, public):
            return DeviceResult(device, "skipped", serial=serial_hex(cert), **base)
    spki = spki_sha256(public)
    for cert in reversed(issued.get(spki, [])):          # issued before the last run died
        if ca.is_valid_for(cert, public):
            kept.append(f"certificate {serial_hex(cert)} in the audit log")
            ca.write_issued(cert)
            store_certificate(token, cert, key_id=key_id, label=CERT_LABEL)
            return DeviceResult(device, "resumed", serial=serial_hex(cert),
                                detail="stored a certificate issued by an interrupted run", **base)
    csr = P.build_csr(key, subject, san)
    cert = ca.issue(ca_token, csr, profile, key_id=key_id, source="provision", device=device, ca_key=ca_key)
    kept.append(f"certificate {serial_hex(cert)} in the audit log")
    issued.setdefault(spki, []).append(cert)
    store_certificate(token, cert, key_id=key_id, label=CERT_LABEL)
    status = "resumed" if resumed else "issued"
    return DeviceResult(device, status, serial=serial_hex(cert), new_certificate=True,
                        detail="reused the key pair of an interrupted run" if resumed else None, **base)


def _device_key(token: Any, key_id: bytes, kind: str) -> tuple[Any, bool]:
    """The device's private key: the existing one with this CKA_ID, else a new pair.
    A lone device public key (our label, no private half; a token whose key generation is
    not atomic can leave one) is not a usable pair: it is replaced. Other objects that
    happen to share the CKA_ID are left alone."""
    privates = token.objects(id=key_id, type="private")
    if len(privates) > 1:
        raise CARefused(f"{len(privates)} private keys with CKA_ID {key_id.hex()} on token "
                        f"{token.info.get('label')!r}: resolve by hand")
    if privates:
        return token.private_key(id=key_id), True
    for stray in token.objects(id=key_id, type="public", label=PUB_LABEL):
        token.destroy(stray)
    token.generate_key_pair(kind, label=PRIV_LABEL, id=key_id, extractable=False,
                            public_label=PUB_LABEL)
    return token.private_key(id=key_id), False
