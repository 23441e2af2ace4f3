"""The audit log's chain catches every kind of tampering and names the first bad line."""
from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from strongroom.ca.audit import AuditLog, canonical, record_hash
from strongroom.ca.errors import CAError


def _log(tmp_path: Path, n: int = 5) -> AuditLog:
    log = AuditLog(tmp_path / "audit.jsonl")
    for i in range(n):
        log.append({"event": "issue", "serial": f"{i:x}", "subject": f"CN=dev-{i}"})
    return log


def _lines(log: AuditLog) -> list[bytes]:
    return log.path.read_bytes().splitlines(keepends=True)


def _write(log: AuditLog, lines: list[bytes]) -> None:
    log.path.write_bytes(b"".join(lines))


def test_fresh_log_verifies_and_chains(tmp_path):
    log = _log(tmp_path)
    report = log.verify()
    assert (report.ok, report.count, report.line) == (True, 5, None)
    records = list(log.records())
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5]
    assert records[0]["prev"] == "0" * 64
    assert all(r["hash"] == record_hash(r) for r in records)
    assert {"seq", "time", "event", "serial", "subject", "prev", "hash"} <= set(records[2])


def test_missing_log_is_empty_and_ok(tmp_path):
    assert AuditLog(tmp_path / "none.jsonl").verify().ok


def test_edited_record(tmp_path):
    log = _log(tmp_path)
    lines = _lines(log)
    lines[2] = lines[2].replace(b"CN=dev-2", b"CN=dev-X")
    _write(log, lines)
    report = log.verify()
    assert not report.ok and report.line == 3 and "edited" in report.error


def test_edited_record_with_recomputed_hash(tmp_path):
    """Recomputing the edited record's own hash still breaks the next line's prev."""
    log = _log(tmp_path)
    lines = _lines(log)
    record = json.loads(lines[1])
    record["subject"] = "CN=evil"
    record["hash"] = record_hash(record)
    lines[1] = canonical(record) + b"\n"
    _write(log, lines)
    report = log.verify()
    assert not report.ok and report.line == 3 and "prev" in report.error


def test_removed_record(tmp_path):
    log = _log(tmp_path)
    lines = _lines(log)
    del lines[1]
    _write(log, lines)
    report = log.verify()
    assert not report.ok and report.line == 2


def test_reordered_records(tmp_path):
    log = _log(tmp_path)
    lines = _lines(log)
    lines[1], lines[2] = lines[2], lines[1]
    _write(log, lines)
    report = log.verify()
    assert not report.ok and report.line == 2


def test_inserted_record(tmp_path):
    log = _log(tmp_path)
    lines = _lines(log)
    forged = json.loads(lines[3])      # a well-formed record that fits after line 3
    forged["serial"] = "forged"
    forged["hash"] = record_hash(forged)
    lines.insert(3, canonical(forged) + b"\n")
    _write(log, lines)
    report = log.verify()
    assert not report.ok and report.line == 5     # the original 4th record no longer fits


def test_truncated_tail_detected_by_head(tmp_path):
    log = _log(tmp_path)
    _write(log, _lines(log)[:3])
    report = log.verify()
    assert not report.ok and report.line == 4 and "truncated" in report.error


def test_cut_mid_write(tmp_path):
    log = _log(tmp_path)
    data = log.path.read_bytes()
    log.path.write_bytes(data[:-10])
    report = log.verify()
    assert not report.ok and report.line == 5 and "incomplete" in report.error
    with pytest.raises(CAError, match="incomplete"):
        log.append({"event": "issue"})


def test_whitespace_rewrite(tmp_path):
    log = _log(tmp_path)
    lines = _lines(log)
    lines[0] = json.dumps(json.loads(lines[0]), indent=None).encode() + b"\n"   # ", " separators
    _write(log, lines)
    report = log.verify()
    assert not report.ok and report.line == 1


def test_deleted_head_file(tmp_path):
    log = _log(tmp_path)
    log.head_path.unlink()
    report = log.verify()
    assert not report.ok and "head" in report.error


def test_reserved_fields_refused(tmp_path):
    log = AuditLog(tmp_path / "a.jsonl")
    with pytest.raises(CAError):
        log.append({"event": "x", "seq": 7})
    with pytest.raises(CAError):
        log.append({"serial": "1"})
    assert not log.path.exists() or log.path.read_bytes() == b""


def _append_many(path: str, tag: int) -> None:
    log = AuditLog(path)
    for i in range(25):
        log.append({"event": "issue", "serial": f"{tag}-{i}"})


def test_concurrent_appenders_keep_one_chain(tmp_path):
    path = str(tmp_path / "audit.jsonl")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(path, tag)) for tag in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    report = AuditLog(path).verify()
    assert report.ok and report.count == 100


def test_head_one_behind_is_an_interrupted_append(tmp_path):
    """A kill between the log's fsync and the head's rename leaves the head one record
    behind: the chain is whole, so that is not tampering; two behind is."""
    log = _log(tmp_path, 3)
    head = log.head_path.read_bytes()
    log.append({"event": "issue", "serial": "ff"})
    log.head_path.write_bytes(head)
    assert log.verify().ok
    log.append({"event": "issue", "serial": "fe"})     # rewrites the head
    assert json.loads(log.head_path.read_bytes())["seq"] == 5
    log.head_path.write_bytes(head)
    report = log.verify()
    assert not report.ok and report.line == 4
