"""`strongroom provision`: a batch of 100 devices, idempotence, resuming after a SIGKILL and
after each interruption point, per-device tokens, and bad input."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from ca_support import PINS, SO_PINS, STRONGROOM

from support import USER_PIN

CA_PIN = ("--ca-pin", USER_PIN)


def _objects(p11tool, token: str) -> dict[str, int]:
    listing = p11tool.run("-O", "--login", "--pin", USER_PIN, token=token).stdout
    return {kind: listing.count(f"{kind} Object") for kind in ("Private Key", "Public Key", "Certificate")}


def _listing(p11tool, token: str) -> str:
    return p11tool.run("-O", "--login", "--pin", USER_PIN, token=token).stdout


COUNT_SCRIPT = """
import json, sys, strongroom
from strongroom.api import admin
out = {}
for t in admin.list_tokens():
    if not t.get("initialized", True) or t.get("label") in ("ca",):
        continue
    with strongroom.open(t["label"], pin=sys.argv[1]) as tok:
        out[t["label"]] = [[o.type, o.label, o.id.hex()] for o in tok.objects()]
print(json.dumps(out))
"""


def _all_device_objects(cli) -> dict[str, list[list[str]]]:
    """Every device token's objects (type, label, id), read in one process through the API."""
    proc = subprocess.run([str(Path(STRONGROOM).with_name("python")), "-c", COUNT_SCRIPT, USER_PIN],
                          env=cli.env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _check_one_pair_one_cert_each(objects: dict[str, list[list[str]]], devices: list[str], shared: bool) -> None:
    """Exactly one private key, public key and certificate per device, with the seed's
    labels and CKA_ID = device id, and nothing else."""
    flat = [(tok, *o) for tok, objs in objects.items() for o in objs]
    want = {"private": "Device Priv TLS Key", "public": "Device Pub TLS Key", "cert": "Device Cert TLS"}
    assert len(flat) == 3 * len(devices)
    for kind, label in want.items():
        ids = sorted(bytes.fromhex(i).decode() for tok, t, lab, i in flat if t == kind and lab == label)
        assert ids == sorted(devices), kind
    if not shared:
        assert all(sorted(o[0] for o in objects[d]) == ["cert", "private", "public"] for d in devices)


def _issue_records(ca_dir: Path, prefix: str = "") -> list[dict]:
    records = [json.loads(line) for line in (ca_dir / "audit.jsonl").read_text().splitlines()]
    return [r for r in records if r["event"] == "issue" and r.get("device", "").startswith(prefix)]


@pytest.fixture
def acme(cli, ca_token, ca_home) -> Path:
    cli("ca", "init", "acme", "--token", ca_token, *PINS, "--subject", "CN=Acme Device CA", "--key-type", "ec:p256")
    return ca_home / "ca" / "acme"


def _provision(cli, *args: str, check: bool = True):
    return cli("provision", "--ca", "acme", *CA_PIN, *args, "--json", check=check)


@pytest.mark.parametrize("shared", [True, False], ids=["shared-token", "token-per-device"])
def test_batch_of_100_then_idempotent(acme, cli, p11tool, shared):
    devices = [f"dev-{n:04d}" for n in range(1, 101)]
    tokens = ("--token", "fleet") if shared else SO_PINS
    if shared:
        p11tool.init_token("fleet")
    start = time.monotonic()
    summary = json.loads(_provision(cli, "--count", "100", *tokens, *PINS).stdout)
    elapsed = time.monotonic() - start
    assert (summary["issued"], summary["skipped"], summary["resumed"], summary["failed"]) == (100, 0, 0, 0)
    assert [d["device"] for d in summary["devices"]] == devices
    _check_one_pair_one_cert_each(_all_device_objects(cli), devices, shared)
    if shared:        # an independent count by pkcs11-tool
        assert _objects(p11tool, "fleet") == {"Private Key": 100, "Public Key": 100, "Certificate": 100}
    report = json.loads(cli("ca", "audit", "verify", "acme", "--json").stdout)
    assert report["ok"] and report["count"] == 101 and report["issued_files"] == 100
    for path in sorted((acme / "issued").glob("*.pem"))[:5]:
        proc = subprocess.run(["openssl", "verify", "-CAfile", str(acme / "ca.pem"), str(path)],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    # second run: nothing to do
    summary = json.loads(_provision(cli, "--count", "100", *tokens, *PINS).stdout)
    assert (summary["issued"], summary["skipped"]) == (0, 100)
    _check_one_pair_one_cert_each(_all_device_objects(cli), devices, shared)
    assert json.loads(cli("ca", "audit", "verify", "acme", "--json").stdout)["count"] == 101
    print(f"\n100 devices, {'one shared token' if shared else 'one token each'}: {elapsed:.1f} s")


@pytest.mark.parametrize("shared", [True, False], ids=["shared-token", "token-per-device"])
def test_killed_batch_resumes_without_duplicates(acme, cli, p11tool, shared):
    devices = [f"k-{n:04d}" for n in range(1, 101)]
    tokens = ["--token", "fleet"] if shared else list(SO_PINS)
    if shared:
        p11tool.init_token("fleet")
    log = acme / "audit.jsonl"
    argv = [STRONGROOM, "provision", "--ca", "acme", *CA_PIN, "--count", "100", "--prefix", "k-",
            *tokens, *PINS]
    proc = subprocess.Popen(argv, env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    killed_after = None
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        lines = log.read_bytes().count(b"\n")
        if lines >= 1 + 37:                 # ca-init + 37 issuances
            os.kill(proc.pid, signal.SIGKILL)
            killed_after = lines - 1
            break
        time.sleep(0.002)
    proc.wait()
    proc.stdout.close()
    proc.stderr.close()
    assert killed_after is not None and proc.returncode == -signal.SIGKILL, "the run ended before the kill"
    assert killed_after < 100
    summary = json.loads(_provision(cli, "--count", "100", "--prefix", "k-", *tokens, *PINS).stdout)
    assert summary["failed"] == 0
    assert summary["issued"] + summary["resumed"] + summary["skipped"] == 100
    assert summary["skipped"] >= killed_after - 1       # all but possibly the one cut mid-store
    print(f"\nkilled after {killed_after} issuances; re-run: skipped {summary['skipped']}, "
          f"resumed {summary['resumed']}, issued {summary['issued']}")
    _check_one_pair_one_cert_each(_all_device_objects(cli), devices, shared)
    records = _issue_records(acme, "k-")
    assert len(records) == 100 and len({r["device"] for r in records}) == 100   # one certificate per device
    report = json.loads(cli("ca", "audit", "verify", "acme", "--json").stdout)
    assert report["ok"] and report["count"] == 101 and report["issued_files"] == 100


def test_resume_after_key_generation(acme, cli, p11tool):
    """Interrupted after the key pair was made: the pair is reused, not duplicated."""
    p11tool.init_token("fleet")
    key_id = b"dev-0001".hex()
    p11tool.run("--login", "--pin", USER_PIN, "--keypairgen", "--key-type", "EC:prime256v1",
                "--label", "Device Priv TLS Key", "--id", key_id, token="fleet")
    before = _listing(p11tool, "fleet")
    summary = json.loads(_provision(cli, "--device", "dev-0001", "--token", "fleet", *PINS).stdout)
    assert summary["resumed"] == 1 and summary["issued"] == 0
    after = _listing(p11tool, "fleet")
    assert _objects(p11tool, "fleet") == {"Private Key": 1, "Public Key": 1, "Certificate": 1}
    ec_point = before.split("EC_POINT:")[1].split()[0]
    assert ec_point in after                           # the same key pair
    assert len(_issue_records(acme)) == 1


def test_resume_after_issue_before_store(acme, cli, p11tool, tmp_path):
    """Interrupted after the CA signed but before the certificate reached the token: the
    certificate from the audit log is stored; the CA does not sign again."""
    p11tool.init_token("fleet")
    key_id = b"dev-0001".hex()
    p11tool.run("--login", "--pin", USER_PIN, "--keypairgen", "--key-type", "EC:prime256v1",
                "--label", "Device Priv TLS Key", "--id", key_id, token="fleet")
    cli("req", "--token", "fleet", *PINS, "--key", "Device Priv TLS Key", "--subject", "CN=dev-0001",
        "-o", str(tmp_path / "d.csr"))
    issued = json.loads(cli("ca", "issue", "acme", "--csr", str(tmp_path / "d.csr"), *CA_PIN, "--json").stdout)
    (acme / "issued" / f"{issued['serial']}.pem").unlink()      # died before the file was written, too
    assert _objects(p11tool, "fleet")["Certificate"] == 0
    summary = json.loads(_provision(cli, "--device", "dev-0001", "--token", "fleet", *PINS).stdout)
    assert summary["resumed"] == 1 and summary["devices"][0]["serial"] == issued["serial"]
    assert _objects(p11tool, "fleet") == {"Private Key": 1, "Public Key": 1, "Certificate": 1}
    assert len(_issue_records(acme)) == 1 and json.loads(   # the CA did not sign again
        cli("ca", "audit", "verify", "acme", "--json").stdout)["count"] == 2
    assert (acme / "issued" / f"{issued['serial']}.pem").exists()


def test_per_device_tokens_from_csv(acme, cli, p11tool, tmp_path):
    csv = tmp_path / "devices.csv"
    csv.write_text("device_id,location\nsensor-a,hall\nsensor-b,roof\nsensor-c,yard\n")
    start = time.monotonic()
    out = _provision(cli, "--devices", str(csv), *PINS, *SO_PINS)
    elapsed = time.monotonic() - start
    summary = json.loads(out.stdout)
    assert summary["issued"] == 3 and [d["token"] for d in summary["devices"]] == ["sensor-a", "sensor-b", "sensor-c"]
    for token in ("sensor-a", "sensor-b", "sensor-c"):
        assert _objects(p11tool, token) == {"Private Key": 1, "Public Key": 1, "Certificate": 1}
    summary = json.loads(_provision(cli, "--devices", str(csv), *PINS, *SO_PINS).stdout)
    assert summary["skipped"] == 3
    print(f"\n3 devices, one token each: {elapsed:.1f} s")


def test_progress_lines_when_not_a_tty(acme, cli, p11tool):
    p11tool.init_token("fleet")
    proc = cli("provision", "--ca", "acme", *CA_PIN, "--count", "40", "--token", "fleet", *PINS)
    lines = [line for line in proc.stderr.splitlines() if line.startswith("provision: ")]
    assert lines[-1].startswith("provision: 40/40") and len(lines) == 20
    assert "\r" not in proc.stderr
    assert re.fullmatch(r"provision with CA acme: attempted 40 of 40, issued 40, reused 0 \(skipped 0, resumed 0\), "
                        r"failed 0, not attempted 0, \d+\.\d\d s\n", proc.stdout), proc.stdout


def test_bad_provision_input(acme, cli, p11tool, tmp_path):
    p11tool.init_token("fleet")
    before = _listing(p11tool, "fleet"), (acme / "audit.jsonl").read_bytes()
    csv = tmp_path / "d.csv"
    csv.write_text("name\nx\n")
    proc = _provision(cli, "--devices", str(csv), "--token", "fleet", *PINS, check=False)
    assert proc.returncode == 2 and "no device id column" in proc.stderr
    csv.write_text("device_id\na\nb\na\n")
    proc = _provision(cli, "--devices", str(csv), "--token", "fleet", *PINS, check=False)
    assert proc.returncode == 2 and "repeats line 2" in proc.stderr
    proc = _provision(cli, "--device", "bad id!", "--token", "fleet", *PINS, check=False)
    assert proc.returncode == 2 and "bad device id" in proc.stderr
    proc = _provision(cli, "--device", "d1", "--token", "fleet", "--pin", "wrong-pin-0", check=False)
    assert proc.returncode == 4 and "wrong-pin-0" not in proc.stderr
    proc = cli("provision", "--ca", "nope", *CA_PIN, "--device", "d1", "--token", "fleet", *PINS, check=False)
    assert proc.returncode == 3 and "no CA named 'nope'" in proc.stderr
    proc = _provision(cli, "--device", "d1", "--token", "fleet", *PINS, "--subject", "CN={serial}", check=False)
    assert proc.returncode == 2 and "template" in proc.stderr
    assert (_listing(p11tool, "fleet"), (acme / "audit.jsonl").read_bytes()) == before


def test_per_device_token_interrupted_before_user_pin(acme, cli, p11tool):
    """A run killed between C_InitToken and C_InitPIN leaves a token without a user PIN:
    the next run sets the PIN on that token instead of failing or making another."""
    p11tool.run("--init-token", "--slot-index", str(p11tool.free_slot_index()), "--label", "dev-0001",
                "--so-pin", SO_PINS[1], token=None)
    proc = _provision(cli, "--device", "dev-0001", *PINS, check=False)      # no SO PIN: cannot finish it
    assert proc.returncode == 1 and "no user PIN yet" in proc.stdout + proc.stderr
    summary = json.loads(_provision(cli, "--device", "dev-0001", *PINS, *SO_PINS).stdout)
    assert summary["issued"] == 1
    labels = [line for line in p11tool.run("--list-slots", token=None).stdout.splitlines()
              if "token label" in line and "dev-0001" in line]
    assert len(labels) == 1
    assert _objects(p11tool, "dev-0001") == {"Private Key": 1, "Public Key": 1, "Certificate": 1}


def test_progress_bar_on_a_terminal(acme, cli, p11tool):
    """With stderr on a terminal the batch draws one bar redrawn in place."""
    import pty

    p11tool.init_token("fleet")
    master, slave = pty.openpty()
    proc = subprocess.Popen([STRONGROOM, "provision", "--ca", "acme", *CA_PIN, "--count", "5", "--token", "fleet",
                             *PINS], env=cli.env, stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:          # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    out, _ = proc.communicate(timeout=300)
    os.close(master)
    bar = b"".join(chunks).decode()
    assert proc.returncode == 0
    assert bar.count("\r[") == 5 and "provision: " not in bar
    assert "[" + "#" * 30 + "]" in bar
    # rate and ETA on every redraw (issue 11); the values are not asserted, only their form
    assert re.search(r"\] 5/5 \d+\.\d/s, ETA 0:00 dev-0005 issued", bar), bar
    assert len(re.findall(r"\] \d/5 \d+\.\d/s, ETA \d+:\d\d dev-000\d issued", bar)) == 5, bar
    assert "attempted 5 of 5, issued 5, reused 0 (skipped 0, resumed 0), failed 0, not attempted 0, " in out


def test_concurrent_run_is_refused(acme, cli, p11tool):
    """A second provisioning run against the same CA while one is running is refused
    (both could otherwise find a device unfinished and issue twice)."""
    import fcntl

    p11tool.init_token("fleet")
    fd = os.open(acme / ".lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)          # what a running batch holds
        proc = _provision(cli, "--count", "2", "--token", "fleet", *PINS, check=False)
    finally:
        os.close(fd)
    assert proc.returncode == 1 and "busy" in proc.stderr
    assert _objects(p11tool, "fleet") == {"Private Key": 0, "Public Key": 0, "Certificate": 0}
