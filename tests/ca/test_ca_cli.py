"""`strongroom req`, `ca init`, `ca issue`, `ca list|show|audit verify` end to end through the
installed CLI, with openssl and pkcs11-tool as independent judges."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ca_support import PINS

from support import USER_PIN, subprocess_env

CA_SUBJECT = "CN=Acme Device CA,O=Acme"


def _snapshot(home: Path, p11tool, *tokens: str) -> dict[str, str]:
    """Every file under the CA directory (by hash) and every token's object listing."""
    state = {}
    root = home / "ca"
    if root.exists():
        for path in sorted(root.rglob("*")):
            if path.is_file():
                state[str(path.relative_to(home))] = hashlib.sha256(path.read_bytes()).hexdigest()
    for token in tokens:
        state[f"token:{token}"] = p11tool.run("-O", "--login", "--pin", USER_PIN, token=token).stdout
    return state


def _openssl(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)


@pytest.fixture
def acme(cli, ca_token, ca_home):
    out = cli("ca", "init", "acme", "--token", ca_token, *PINS, "--subject", CA_SUBJECT, "--json")
    info = json.loads(out.stdout)
    assert info["name"] == "acme" and info["subject"] == CA_SUBJECT
    return ca_home / "ca" / "acme"


@pytest.fixture
def dev_token(p11tool):
    p11tool.init_token("dev")
    p11tool.run("--login", "--pin", USER_PIN, "--keypairgen", "--key-type", "EC:prime256v1",
                "--label", "dev-key", "--id", "0a0b", token="dev")
    return "dev"


def test_ca_init_state_and_token(acme, cli, p11tool, ca_home):
    conf = json.loads((acme / "ca.json").read_text())
    assert conf["token_label"] == "ca" and conf["key_kind"] == "ec:p384"
    assert (acme / "ca.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")
    text = _openssl("x509", "-in", "ca.pem", "-noout", "-text", cwd=acme).stdout
    assert "CA:TRUE" in text and "Certificate Sign, CRL Sign" in text and "secp384r1" in text
    listing = p11tool.run("-O", "--login", "--pin", USER_PIN, token="ca").stdout
    # key and certificate side by side, same CKA_ID
    assert f"ID:         {conf['key_id']}" in listing
    assert listing.count(conf["key_id"]) == 3          # private, public, certificate
    assert "Certificate Object" in listing
    listed = json.loads(cli("ca", "list", "--json").stdout)
    assert [c["name"] for c in listed] == ["acme"]
    shown = json.loads(cli("ca", "show", "acme", "--json").stdout)
    assert shown["key_id"] == conf["key_id"] and shown["issued"] == 0
    assert cli("ca", "show", "acme", "--pem").stdout == (acme / "ca.pem").read_text()


def test_ca_key_is_sensitive_and_not_extractable(acme, p11tool, ca_home, tmp_path):
    conf = json.loads((acme / "ca.json").read_text())
    listing = p11tool.run("-O", "--login", "--pin", USER_PIN, token="ca").stdout
    private = listing.split("Private Key Object")[1].split("Object")[0]
    assert "sensitive, always sensitive, never extractable" in private
    out = tmp_path / "ca-key.der"
    proc = p11tool.run("--login", "--pin", USER_PIN, "--read-object", "--type", "privkey",
                       "--id", conf["key_id"], "-o", str(out), token="ca", check=False)
    assert not out.exists() or out.stat().st_size == 0, proc.stdout + proc.stderr
    # pkcs11-tool refuses any private key; the token itself must refuse CKA_VALUE:
    script = (
        "import pkcs11, sys\n"
        "from pkcs11 import Attribute, ObjectClass\n"
        "tok = pkcs11.lib(sys.argv[1]).get_token(token_label='ca')\n"
        "with tok.open(user_pin=sys.argv[2]) as s:\n"
        "    key = s.get_key(object_class=ObjectClass.PRIVATE_KEY, id=bytes.fromhex(sys.argv[3]))\n"
        "    assert key[Attribute.SENSITIVE] and not key[Attribute.EXTRACTABLE]\n"
        "    try:\n"
        "        key[Attribute.VALUE]\n"
        "    except pkcs11.exceptions.AttributeSensitive:\n"
        "        print('refused')\n")
    from strongroom.modules import module_path

    proc = subprocess.run([sys.executable, "-c", script, str(module_path()), USER_PIN, conf["key_id"]],
                          env=subprocess_env(ca_home), capture_output=True, text=True)
    assert proc.stdout.strip() == "refused", proc.stderr


def test_issue_for_token_key_verifies_with_openssl(acme, cli, dev_token, p11tool, tmp_path):
    out = cli("ca", "issue", "acme", "--key", "dev-key", "--token", dev_token, *PINS,
              "--subject", "CN=dev-001,O=Acme", "--san", "DNS:dev-001.example",
              "--eku", "clientAuth,serverAuth", "-o", str(tmp_path / "device.pem"), "--json")
    issued = json.loads(out.stdout)
    assert issued["stored"]["id"] == "0a0b" and issued["stored"]["label"] == "dev-key"
    proc = _openssl("verify", "-x509_strict", "-CAfile", str(acme / "ca.pem"), "device.pem", cwd=tmp_path)
    assert proc.returncode == 0 and "device.pem: OK" in proc.stdout, proc.stdout + proc.stderr
    text = _openssl("x509", "-in", "device.pem", "-noout", "-text", cwd=tmp_path).stdout
    assert "DNS:dev-001.example" in text and "TLS Web Client Authentication" in text
    assert (acme / "issued" / f"{issued['serial']}.pem").read_text() == (tmp_path / "device.pem").read_text()
    listing = p11tool.run("-O", "--login", "--pin", USER_PIN, token="dev").stdout
    cert_block = listing.split("Certificate Object")[1]
    assert "ID:         0a0b" in cert_block
    # the certificate on the token is the one issued
    p11tool.run("--read-object", "--type", "cert", "--id", "0a0b", "-o", str(tmp_path / "tok.der"), token="dev")
    assert subprocess.run(["openssl", "x509", "-in", str(tmp_path / "device.pem"), "-outform", "DER"],
                          capture_output=True).stdout == (tmp_path / "tok.der").read_bytes()
    report = json.loads(cli("ca", "audit", "verify", "acme", "--json").stdout)
    assert report["ok"] and report["count"] == 2


def test_req_and_issue_from_csr_file(acme, cli, dev_token, tmp_path):
    cli("req", "--token", dev_token, *PINS, "--key", "dev-key", "--subject", "CN=dev-002",
        "--san", "DNS:dev-002.example", "--san", "IP:192.0.2.7", "-o", str(tmp_path / "dev.csr"))
    proc = _openssl("req", "-in", "dev.csr", "-noout", "-verify", "-text", cwd=tmp_path)
    assert proc.returncode == 0 and "CN = dev-002" in proc.stdout and "IP Address:192.0.2.7" in proc.stdout, \
        proc.stdout + proc.stderr
    out = cli("ca", "issue", "acme", "--csr", str(tmp_path / "dev.csr"), "--ca-pin", USER_PIN,
              "--validity-days", "30", "-o", str(tmp_path / "dev.pem"))
    assert "issued serial" in out.stdout
    assert _openssl("verify", "-CAfile", str(acme / "ca.pem"), "dev.pem", cwd=tmp_path).returncode == 0
    # a CSR made by openssl with a software key works the same
    assert _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", "ext.key", "-subj", "/CN=external", "-out", "ext.csr", cwd=tmp_path).returncode == 0
    cli("ca", "issue", "acme", "--csr", str(tmp_path / "ext.csr"), "--ca-pin", USER_PIN,
        "--subject", "CN=renamed,O=Acme", "-o", str(tmp_path / "ext.pem"))
    assert _openssl("verify", "-CAfile", str(acme / "ca.pem"), "ext.pem", cwd=tmp_path).returncode == 0
    subject = _openssl("x509", "-in", "ext.pem", "-noout", "-subject", cwd=tmp_path).stdout
    assert "CN = renamed" in subject
    report = json.loads(cli("ca", "audit", "verify", "acme", "--json").stdout)
    assert report["ok"] and report["count"] == 3


def test_sub_ca_chain(acme, cli, p11tool, tmp_path):
    p11tool.init_token("sub")
    cli("ca", "init", "sub", "--token", "sub", *PINS, "--subject", "CN=Acme Sub CA", "--parent", "acme",
        "--parent-pin", USER_PIN, "--path-length", "0", "--key-type", "ec:p256")
    sub_dir = acme.parent / "sub"
    assert _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", "leaf.key", "-subj", "/CN=leaf", "-out", "leaf.csr", cwd=tmp_path).returncode == 0
    cli("ca", "issue", "sub", "--csr", str(tmp_path / "leaf.csr"), "--ca-pin", USER_PIN,
        "-o", str(tmp_path / "leaf.pem"))
    proc = _openssl("verify", "-x509_strict", "-CAfile", str(acme / "ca.pem"), "-untrusted",
                    str(sub_dir / "ca.pem"), "leaf.pem", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # the parent's log records issuing the sub-CA
    parent_log = [json.loads(line) for line in (acme / "audit.jsonl").read_text().splitlines()]
    assert parent_log[-1]["event"] == "issue" and parent_log[-1]["is_ca"]


def test_audit_verify_reports_tampering(acme, cli, tmp_path):
    assert _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", "k", "-subj", "/CN=x", "-out", "x.csr", cwd=tmp_path).returncode == 0
    for _ in range(2):
        cli("ca", "issue", "acme", "--csr", str(tmp_path / "x.csr"), "--ca-pin", USER_PIN)
    log = acme / "audit.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace("CN=x", "CN=y")
    log.write_text("".join(lines))
    proc = cli("ca", "audit", "verify", "acme", check=False)
    assert proc.returncode == 1 and "line 2" in proc.stdout and "edited" in proc.stdout


def test_bad_inputs_change_nothing(acme, cli, dev_token, p11tool, ca_home, tmp_path):
    before = _snapshot(ca_home, p11tool, "ca", "dev")
    (tmp_path / "junk.csr").write_text("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n")
    proc = cli("ca", "issue", "acme", "--csr", str(tmp_path / "junk.csr"), "--ca-pin", USER_PIN, check=False)
    assert proc.returncode == 2 and "junk.csr" in proc.stderr and "PKCS#10" in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    # a CSR whose signature was altered
    cli("req", "--token", dev_token, *PINS, "--key", "dev-key", "--subject", "CN=d",
        "-o", str(tmp_path / "d.csr"))
    before = _snapshot(ca_home, p11tool, "ca", "dev")
    der = subprocess.run(["openssl", "req", "-in", str(tmp_path / "d.csr"), "-outform", "DER"],
                         capture_output=True).stdout
    bad = bytearray(der)
    bad[-3] ^= 0x01
    (tmp_path / "bad.der").write_bytes(bytes(bad))
    proc = cli("ca", "issue", "acme", "--csr", str(tmp_path / "bad.der"), "--ca-pin", USER_PIN, check=False)
    assert proc.returncode == 2 and "signature" in proc.stderr, proc.stderr
    # wrong PIN for the CA's token
    proc = cli("ca", "issue", "acme", "--csr", str(tmp_path / "d.csr"), "--ca-pin", "wrong-pin-0", check=False)
    assert proc.returncode == 4 and "wrong-pin-0" not in proc.stderr, proc.stderr
    # unknown CA
    proc = cli("ca", "issue", "nope", "--csr", str(tmp_path / "d.csr"), "--ca-pin", USER_PIN, check=False)
    assert proc.returncode == 3 and "no CA named 'nope'" in proc.stderr
    proc = cli("ca", "audit", "verify", "nope", check=False)
    assert proc.returncode == 3
    # a CA that exists already; a bad subject; a bad SAN; an unknown key
    proc = cli("ca", "init", "acme", "--token", "ca", *PINS, "--subject", "CN=x", check=False)
    assert proc.returncode == 2 and "already exists" in proc.stderr
    proc = cli("ca", "init", "other", "--token", "ca", *PINS, "--subject", "Acme", check=False)
    assert proc.returncode == 2 and "bad subject" in proc.stderr
    proc = cli("ca", "issue", "acme", "--csr", str(tmp_path / "d.csr"), "--ca-pin", USER_PIN,
               "--san", "dev.example", check=False)
    assert proc.returncode == 2 and "bad SAN 'dev.example'" in proc.stderr
    proc = cli("ca", "issue", "acme", "--key", "no-such-key", "--token", dev_token, *PINS,
               "--subject", "CN=x", check=False)
    assert proc.returncode == 3, proc.stderr
    # ca init with a wrong PIN leaves no CA behind
    proc = cli("ca", "init", "other", "--token", "ca", "--pin", "wrong-pin-0", "--subject", "CN=x", check=False)
    assert proc.returncode == 4
    assert _snapshot(ca_home, p11tool, "ca", "dev") == before
    assert json.loads(cli("ca", "audit", "verify", "acme", "--json").stdout)["count"] == 1


def test_issue_for_key_on_the_ca_token_uses_one_login(acme, cli, p11tool, tmp_path):
    """A key on the CA's own token: the --pin given opens it once, no --ca-pin needed."""
    p11tool.run("--login", "--pin", USER_PIN, "--keypairgen", "--key-type", "EC:prime256v1",
                "--label", "svc", "--id", "5151", token="ca")
    out = json.loads(cli("ca", "issue", "acme", "--key", "svc", "--token", "ca", *PINS, "--subject", "CN=svc",
                         "--eku", "serverAuth", "--json").stdout)
    assert out["stored"] == {"token": "ca", "id": "5151", "label": "svc"}
    proc = _openssl("verify", "-CAfile", str(acme / "ca.pem"), out["file"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("kind", ["rsa:2048", "ed25519", "ec:p521"])
def test_other_ca_key_types_and_devices_on_the_ca_token(cli, ca_token, ca_home, tmp_path, kind):
    """RSA and EdDSA CA keys sign through the token too; provisioning onto the CA's own
    token shares its one logged-in session."""
    cli("ca", "init", "k", "--token", ca_token, *PINS, "--subject", f"CN={kind} CA", "--key-type", kind)
    summary = json.loads(cli("provision", "--ca", "k", "--device", "d1", "--token", ca_token, *PINS,
                             "--key-type", "rsa:2048", "--json").stdout)
    assert summary["issued"] == 1
    ca_dir = ca_home / "ca" / "k"
    (issued,) = (ca_dir / "issued").glob("*.pem")
    proc = _openssl("verify", "-x509_strict", "-CAfile", str(ca_dir / "ca.pem"), str(issued), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_no_issuing_on_a_broken_log(acme, cli, tmp_path):
    assert _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", "k", "-subj", "/CN=x", "-out", "x.csr", cwd=tmp_path).returncode == 0
    cli("ca", "issue", "acme", "--csr", str(tmp_path / "x.csr"), "--ca-pin", USER_PIN)
    log = acme / "audit.jsonl"
    log.write_text(log.read_text().replace("CN=x", "CN=z"))
    before = sorted(p.name for p in (acme / "issued").iterdir())
    proc = cli("ca", "issue", "acme", "--csr", str(tmp_path / "x.csr"), "--ca-pin", USER_PIN, check=False)
    assert proc.returncode == 1 and "broken at line 2" in proc.stderr
    proc = cli("provision", "--ca", "acme", "--ca-pin", USER_PIN, "--device", "d", "--token", "ca", *PINS,
               check=False)
    assert proc.returncode == 1 and "broken at line 2" in proc.stdout + proc.stderr
    assert sorted(p.name for p in (acme / "issued").iterdir()) == before


def test_ca_key_missing_from_its_token(acme, cli, p11tool, tmp_path):
    conf = json.loads((acme / "ca.json").read_text())
    p11tool.run("--login", "--pin", USER_PIN, "--delete-object", "--type", "privkey", "--id", conf["key_id"],
                token="ca")
    assert _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", "k", "-subj", "/CN=x", "-out", "x.csr", cwd=tmp_path).returncode == 0
    proc = cli("ca", "issue", "acme", "--csr", str(tmp_path / "x.csr"), "--ca-pin", USER_PIN, check=False)
    assert proc.returncode == 3 and f"its key (id {conf['key_id']}) is not on token 'ca'" in proc.stderr
    assert json.loads(cli("ca", "audit", "verify", "acme", "--json").stdout)["count"] == 1


def test_req_to_stdout(cli, dev_token):
    out = cli("req", "--token", dev_token, *PINS, "--key", "dev-key", "--subject", "CN=dev-003,O=Acme").stdout
    assert out.startswith("-----BEGIN CERTIFICATE REQUEST-----")
    proc = subprocess.run(["openssl", "req", "-noout", "-verify", "-subject"], input=out, capture_output=True,
                          text=True)
    assert proc.returncode == 0 and "CN = dev-003" in proc.stdout, proc.stdout + proc.stderr


SOFTHSM = Path("/usr/lib/softhsm/libsofthsm2.so")


@pytest.mark.skipif(not SOFTHSM.exists() or not shutil.which("softhsm2-util"), reason="SoftHSM2 not installed")
def test_ca_key_on_another_module(cli, p11tool, ca_home, tmp_path):
    """The CA only needs a PKCS#11 token: its key on SoftHSM2 (--module, recorded in ca.json)
    signs devices whose keys are on a strongroom token."""
    (tmp_path / "softhsm").mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tmp_path / 'softhsm'}\nobjectstore.backend = file\n")
    cli.env["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "hsmca", "--so-pin", "12345678",
                    "--pin", USER_PIN], env=cli.env, check=True, capture_output=True)
    cli("ca", "init", "hsm", "--module", str(SOFTHSM), "--token", "hsmca", *PINS, "--subject", "CN=HSM CA")
    assert json.loads((ca_home / "ca" / "hsm" / "ca.json").read_text())["module"] == str(SOFTHSM.resolve())
    p11tool.init_token("fleet")
    summary = json.loads(cli("provision", "--ca", "hsm", "--ca-pin", USER_PIN, "--count", "2", "--token", "fleet",
                             *PINS, "--json").stdout)
    assert summary["issued"] == 2
    for pem in (ca_home / "ca" / "hsm" / "issued").glob("*.pem"):
        proc = _openssl("verify", "-CAfile", str(ca_home / "ca" / "hsm" / "ca.pem"), str(pem), cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
