"""The CA's audit log: one append-only JSON-lines file, each record hash-chained.

Why a chain: anyone who can write the file could quietly drop the record of a
certificate they issued. Each record carries ``prev`` (sha256 of the previous line's
bytes) and ``hash`` (sha256 of its own canonical JSON without ``hash``), so editing,
removing, reordering or inserting a record breaks the chain at that line. Removing
records from the *end* leaves a valid chain, so every append also rewrites a small
head file (``<log>.head``: the last seq and hash); ``verify()`` compares the tail of
the log to it. (Someone who rewrites the whole chain and the head is not detected:
the log is tamper-evident against edits, not a signature.)

Appends take an exclusive ``fcntl`` lock on the log, write one line in one call, then
fsync, so concurrent issuers never interleave or fork the chain.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import CAInvalidInput, CAStateBroken

GENESIS = "0" * 64
REQUIRED = ("seq", "time", "event", "prev", "hash")
_TAIL_CHUNK = 64 * 1024


def canonical(record: dict[str, Any]) -> bytes:
    """The one byte encoding of a record: sorted keys, no spaces, UTF-8."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(record: dict[str, Any]) -> str:
    """sha256 over the canonical JSON of the record without its ``hash`` field."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(canonical(body)).hexdigest()


@dataclass(frozen=True)
class AuditReport:
    """Outcome of ``verify()``: ``line`` is the 1-based first bad line (None when ok)."""

    ok: bool
    count: int
    error: str | None = None
    line: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "count": self.count, "error": self.error, "line": self.line}


class AuditLog:
    """An append-only hash-chained log at ``path`` (created on first append)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.head_path = self.path.with_name(self.path.name + ".head")

    # -- writing -------------------------------------------------------------------
    def append(self, event: dict[str, Any]) -> dict[str, Any]:
        """Append ``event`` (must hold ``"event"``, the event name) and return the full
        record as written. Refuses to extend a log whose last line is damaged."""
        if not isinstance(event.get("event"), str) or not event["event"]:
            raise CAInvalidInput("audit event needs a non-empty 'event' name")
        reserved = set(event) & {"seq", "time", "prev", "hash"}
        if reserved:
            raise CAInvalidInput(f"audit event may not set {', '.join(sorted(reserved))}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            last_line = self._last_line(fd)
            if last_line is None:
                seq, prev = 1, GENESIS
            else:
                last = self._parse_tail(last_line)
                seq, prev = last["seq"] + 1, hashlib.sha256(last_line).hexdigest()
            record: dict[str, Any] = dict(event)
            record.update(seq=seq, time=_now(), prev=prev)
            record["hash"] = record_hash(record)
            line = canonical(record) + b"\n"
            written = os.write(fd, line)
            if written != len(line):
                raise CAStateBroken(f"short write to audit log {self.path}")
            os.fsync(fd)
            self._write_head(seq, record["hash"])
            return record
        finally:
            os.close(fd)   # closing releases the lock

    def _last_line(self, fd: int) -> bytes | None:
        """The last line of the file (without its newline), or None for an empty log."""
        size = os.fstat(fd).st_size
        if size == 0:
            return None
        start = max(0, size - _TAIL_CHUNK)
        data = os.pread(fd, size - start, start)
        while True:
            if not data.endswith(b"\n"):
                raise CAStateBroken(f"audit log {self.path} ends with an incomplete record; "
                                    "run 'strongroom ca audit verify' and repair it before issuing")
            body = data[:-1]
            cut = body.rfind(b"\n")
            if cut >= 0 or start == 0:
                return body[cut + 1:]
            start = max(0, start - _TAIL_CHUNK)          # a line longer than one chunk
            data = os.pread(fd, size - start, start)

    def _parse_tail(self, line: bytes) -> dict[str, Any]:
        try:
            record = json.loads(line)
            ok = isinstance(record, dict) and isinstance(record.get("seq"), int) \
                and record.get("hash") == record_hash(record)
        except ValueError:
            ok = False
        if not ok:
            raise CAStateBroken(f"audit log {self.path}: last record is damaged; "
                                "run 'strongroom ca audit verify' before issuing")
        return dict(record)

    def _write_head(self, seq: int, digest: str) -> None:
        tmp = self.head_path.with_name(self.head_path.name + ".tmp")
        data = canonical({"seq": seq, "hash": digest}) + b"\n"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.head_path)

    # -- reading -------------------------------------------------------------------
    def records(self) -> Iterator[dict[str, Any]]:
        """Every record in order (parsed, not verified: call ``verify()`` for that)."""
        if not self.path.exists():
            return
        with self.path.open("rb") as fh:
            for raw in fh:
                if raw.strip():
                    yield json.loads(raw)

    def verify(self) -> AuditReport:
        """Walk the chain; report the first line that is not what the chain demands."""
        if not self.path.exists():
            if self.head_path.exists():
                return AuditReport(False, 0, f"audit log {self.path.name} is missing but its head "
                                             "file records appended entries", 1)
            return AuditReport(True, 0)
        prev, count, last_hash = GENESIS, 0, None
        with self.path.open("rb") as fh:
            for number, raw in enumerate(fh, start=1):
                problem = _check_line(raw, number, prev)
                if problem:
                    return AuditReport(False, count, problem, number)
                prev = hashlib.sha256(raw[:-1]).hexdigest()
                last_hash = json.loads(raw)["hash"]
                count = number
        return self._check_head(count, last_hash)

    def _check_head(self, count: int, last_hash: str | None) -> AuditReport:
        try:
            head = json.loads(self.head_path.read_bytes())
            seq, digest = int(head["seq"]), str(head["hash"])
        except FileNotFoundError:
            if count == 0:
                return AuditReport(True, 0)
            return AuditReport(False, count, f"head file {self.head_path.name} is missing", count)
        except (ValueError, KeyError, TypeError):
            return AuditReport(False, count, f"head file {self.head_path.name} is damaged", count)
        if seq > count:
            return AuditReport(False, count, f"log is truncated: it ends at record {count} but "
                                             f"{seq} were appended", count + 1)
        if seq == count - 1 and digest == self._hash_of(seq):
            # an append died between the log's fsync and the head's rename: the chain is
            # whole and the next append rewrites the head
            return AuditReport(True, count)
        if seq < count:
            return AuditReport(False, count, f"records after {seq} were appended without updating "
                                             f"the head file (head says {seq} records)", seq + 1)
        if digest != last_hash:
            return AuditReport(False, count, "last record does not match the head file", count)
        return AuditReport(True, count)

    def _hash_of(self, seq: int) -> str | None:
        for record in self.records():
            if record.get("seq") == seq:
                return record.get("hash")
        return None


def _check_line(raw: bytes, number: int, prev: str) -> str | None:
    """Why line ``number`` breaks the chain, or None when it is sound."""
    if not raw.endswith(b"\n"):
        return "incomplete record (no newline): the log was cut mid-write"
    try:
        record = json.loads(raw)
    except ValueError:
        return "not valid JSON"
    if not isinstance(record, dict):
        return "not a JSON object"
    missing = [name for name in REQUIRED if name not in record]
    if missing:
        return f"missing field(s): {', '.join(missing)}"
    if canonical(record) + b"\n" != raw:
        return "not in canonical form (the line was re-written)"
    if record["hash"] != record_hash(record):
        return "hash does not match the record's contents (edited)"
    if record["seq"] != number:
        return f"seq is {record['seq']!r}, expected {number} (record removed, inserted or reordered)"
    if record["prev"] != prev:
        return "prev does not match the previous line (record removed, inserted or reordered)"
    return None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
