"""Issue 11, the CA side: SAN templates expanded once, `ca audit verify` against deleted
and replaced issued files, `ca revoke` / `ca crl` checked by the real openssl, a CA key
guarded against `key delete`, what a stopped `provision` says, and the help texts."""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from ca_support import PINS
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from support import USER_PIN

CA_PIN = ("--ca-pin", USER_PIN)


@pytest.fixture
def acme(cli, ca_token, ca_home) -> Path:
    cli("ca", "init", "acme", "--token", ca_token, *PINS, "--subject", "CN=Acme Device CA", "--key-type", "ec:p256")
    return ca_home / "ca" / "acme"


def _issued(ca_dir: Path) -> dict[str, x509.Certificate]:
    """subject CN -> certificate, from issued/."""
    out = {}
    for path in (ca_dir / "issued").glob("*.pem"):
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        out[cert.subject.rfc4514_string().removeprefix("CN=")] = cert
    return out


def _sans(cert: x509.Certificate) -> list[str]:
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [f"DNS:{name}" for name in ext.get_values_for_type(x509.DNSName)] + \
        [str(g) for g in ext if not isinstance(g, x509.DNSName)]


def _provision(cli, *args: str, check: bool = True):
    return cli("provision", "--ca", "acme", *CA_PIN, *args, check=check)


# -- item 1 ---------------------------------------------------------------------------------
@pytest.mark.parametrize("extra", [(), ("--no-csr-san",)], ids=["csr-san", "no-csr-san"])
def test_provision_san_template_is_expanded_everywhere(acme, cli, p11tool, extra):
    p11tool.init_token("fleet")
    _provision(cli, "--count", "2", "--token", "fleet", *PINS, "--san", "DNS:{device}.local",
               "--san", "URI:urn:acme:{device}", *extra, "--quiet")
    certs = _issued(acme)
    assert sorted(certs) == ["dev-0001", "dev-0002"]
    for device, cert in certs.items():
        assert _sans(cert) == [f"DNS:{device}.local", f"<UniformResourceIdentifier(value='urn:acme:{device}')>"]


# -- item 3 ---------------------------------------------------------------------------------
def _issue_two(cli, p11tool) -> list[str]:
    p11tool.init_token("fleet")
    summary = json.loads(_provision(cli, "--count", "2", "--token", "fleet", *PINS, "--json").stdout)
    return [d["serial"] for d in summary["devices"]]


def test_audit_verify_notices_a_deleted_issued_file(acme, cli, p11tool):
    _, second = _issue_two(cli, p11tool)
    (acme / "issued" / f"{second}.pem").unlink()
    proc = cli("ca", "audit", "verify", "acme", check=False)
    assert proc.returncode == 1
    assert proc.stdout.strip() == (f"audit log of CA acme: BROKEN at line 3: issued/{second}.pem, "
                                   "recorded in the audit log, is missing (--restore rewrites it from the log)")
    proc = cli("ca", "audit", "verify", "acme", "--restore")
    assert proc.stdout == f"restored issued/{second}.pem from the audit log\naudit log of CA acme: ok, 3 records\n"
    assert x509.load_pem_x509_certificate((acme / "issued" / f"{second}.pem").read_bytes()).serial_number \
        == int(second, 16)


def test_audit_verify_notices_a_replaced_issued_file(acme, cli, p11tool):
    first, second = _issue_two(cli, p11tool)
    shutil.copy(acme / "issued" / f"{first}.pem", acme / "issued" / f"{second}.pem")
    for extra in ((), ("--restore",)):              # --restore leaves a changed file alone
        proc = cli("ca", "audit", "verify", "acme", *extra, check=False)
        assert proc.returncode == 1
        assert proc.stdout == (f"audit log of CA acme: BROKEN at line 3: issued/{second}.pem differs "
                               "from the certificate the audit log records\n")


# -- item 6 ---------------------------------------------------------------------------------
def _openssl_verify(ca_pem: Path, crl: Path, cert: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", "verify", "-crl_check", "-CAfile", str(ca_pem), "-CRLfile", str(crl),
                           str(cert)], capture_output=True, text=True, check=False)


@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl missing")
def test_revoke_and_crl_honoured_by_openssl(acme, cli, p11tool, tmp_path):
    revoked, kept = _issue_two(cli, p11tool)
    proc = cli("ca", "revoke", "acme", revoked.upper(), "--reason", "keyCompromise")
    assert proc.stdout.strip() == (f"revoked serial {revoked} (CN=dev-0001) of CA acme, reason keyCompromise; "
                                   "publish it with 'strongroom ca crl acme'")
    proc = cli("ca", "revoke", "acme", revoked, check=False)
    assert proc.returncode == 1 and re.fullmatch(
        rf"strongroom: error: serial {revoked} was already revoked at \S+ \(keyCompromise\)\n", proc.stderr)
    proc = cli("ca", "revoke", "acme", "abcdef", check=False)
    assert proc.returncode == 3 and proc.stderr == (
        f"strongroom: error: CA 'acme' has not issued a certificate with serial abcdef (see {acme / 'issued'})\n")
    proc = cli("ca", "revoke", "acme", kept, "--reason", "stolen", check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("strongroom: error: unknown revocation reason 'stolen'")

    ca_pem = tmp_path / "ca.pem"
    ca_pem.write_text(cli("ca", "show", "acme", "--pem").stdout)
    crl_path = tmp_path / "crl.pem"
    proc = cli("ca", "crl", "acme", *CA_PIN, "-o", str(crl_path), "--days", "3")
    assert re.fullmatch(rf"CRL 1 of CA acme: 1 revoked, next update \S+; written to {crl_path}\n", proc.stderr)
    bad = _openssl_verify(ca_pem, crl_path, acme / "issued" / f"{revoked}.pem")
    assert bad.returncode != 0 and "certificate revoked" in bad.stdout + bad.stderr
    good = _openssl_verify(ca_pem, crl_path, acme / "issued" / f"{kept}.pem")
    assert good.returncode == 0 and good.stdout.strip().endswith(": OK"), good.stdout + good.stderr

    crl = x509.load_pem_x509_crl(crl_path.read_bytes())
    (entry,) = list(crl)
    assert format(entry.serial_number, "x") == revoked
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.key_compromise
    assert (crl.next_update_utc - crl.last_update_utc).days == 3
    # the revocation and the CRL are in the hash chain: they survive and are verified
    records = [json.loads(line) for line in (acme / "audit.jsonl").read_text().splitlines()]
    assert [r["event"] for r in records] == ["ca-init", "issue", "issue", "revoke", "crl"]
    assert cli("ca", "audit", "verify", "acme").stdout.strip() == "audit log of CA acme: ok, 5 records"
    second = cli("ca", "crl", "acme", *CA_PIN).stdout
    assert x509.load_pem_x509_crl(second.encode()).extensions.get_extension_for_class(
        x509.CRLNumber).value.crl_number == 2


# -- item 10 --------------------------------------------------------------------------------
def test_key_delete_refuses_a_ca_key_and_ca_show_reports_it_gone(acme, cli):
    key_id = json.loads((acme / "ca.json").read_text())["key_id"]
    proc = cli("key", "delete", "CA acme", "--token", "ca", *PINS, check=False)
    assert proc.returncode == 1
    assert proc.stderr == (f"strongroom: error: key 'CA acme' (id {key_id}) is the key of CA 'acme': deleting it "
                           "ends that CA (no more certificates or CRLs); give --force to delete it anyway\n")
    shown = json.loads(cli("ca", "show", "acme", "--json").stdout)
    assert shown["key_problem"] is None
    cli("key", "delete", "CA acme", "--token", "ca", *PINS, "--force")
    broken = f"CA acme: its key (id {key_id}) is gone from token 'ca'; it cannot sign certificates or CRLs"
    proc = cli("ca", "show", "acme", check=False)
    assert proc.returncode == 1 and f"  BROKEN: {broken}\n" in proc.stdout
    proc = cli("ca", "list", check=False)
    assert proc.returncode == 1 and proc.stdout.splitlines()[1] == f"  BROKEN: {broken}"


def test_ca_show_with_pin_sees_a_lone_private_half_gone(acme, cli, p11tool):
    """pkcs11-tool can delete the private key alone; only a logged-in check sees that."""
    key_id = json.loads((acme / "ca.json").read_text())["key_id"]
    p11tool.run("--login", "--pin", USER_PIN, "--delete-object", "--type", "privkey", "--id", key_id, token="ca")
    assert cli("ca", "show", "acme").returncode == 0          # the public half is still there
    proc = cli("ca", "show", "acme", *CA_PIN, check=False)
    assert proc.returncode == 1 and (f"  BROKEN: CA acme: its key (id {key_id}) is gone from token 'ca' "
                                     "(private half); it cannot sign certificates or CRLs\n") in proc.stdout


def test_ca_key_stays_destroyable(acme, cli):
    """The decision (README): CA keys keep CKA_DESTROYABLE true. strongroom changes
    CKA_DESTROYABLE only on C_CopyObject, so a false one could never be retired."""
    objects = json.loads(cli("objects", "--token", "ca", *PINS, "--json").stdout)
    private = [o for o in objects if o["type"] == "private" and o["label"] == "CA acme"]
    assert len(private) == 1 and private[0]["attributes"]["CKA_DESTROYABLE"] is True


# -- items 8 and 14 -------------------------------------------------------------------------
def test_provision_stopped_by_a_full_token_says_what_was_kept(acme, cli, p11tool, ca_home):
    p11tool.init_token("fleet")
    config = ca_home / "strongroom.toml"
    config.write_text(config.read_text() + "quota_objects = 8\n")   # 2 devices, then a key pair without its certificate
    proc = _provision(cli, "--count", "5", "--token", "fleet", *PINS, check=False)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert re.fullmatch(r"provision with CA acme: attempted 3 of 5, issued 2, reused 0 \(skipped 0, resumed 0\), "
                        r"failed 1, not attempted 2, \d+\.\d\d s", lines[0]), lines[0]
    assert lines[1].startswith("  dev-0003: failed: ")
    assert re.fullmatch(r"  dev-0003: kept its key pair \(id 6465762d30303033\) on token 'fleet'; "
                        r"certificate [0-9a-f]+ in the audit log", lines[2]), lines[2]
    assert lines[3] == ("  kept: the 2 finished device(s) keep their keys and certificates; re-run the same "
                        "command to resume (finished devices are skipped, kept work is reused)")
    config.write_text(config.read_text().replace("quota_objects = 8\n", ""))
    summary = json.loads(_provision(cli, "--count", "5", "--token", "fleet", *PINS, "--json").stdout)
    assert [d["status"] for d in summary["devices"]] == ["skipped", "skipped", "resumed", "issued", "issued"]
    assert (summary["attempted"], summary["issued"], summary["reused"], summary["not_attempted"]) == (5, 2, 3, 0)


def test_keep_going_continues_past_a_failed_device(acme, cli, p11tool, tmp_path):
    """Per-device tokens; dev-b's token has another user PIN, so only dev-b fails."""
    from support import SO_PIN

    p11tool.run("--init-token", "--slot-index", str(p11tool.free_slot_index()), "--label", "dev-b",
                "--so-pin", SO_PIN, token=None)
    p11tool.run("--login", "--login-type", "so", "--so-pin", SO_PIN, "--init-pin", "--pin", "other-pin-999",
                token="dev-b")
    csv = tmp_path / "devices.csv"
    csv.write_text("device_id\ndev-a\ndev-b\ndev-c\n")
    args = ("--devices", str(csv), *PINS, "--so-pin", SO_PIN)
    proc = _provision(cli, *args, check=False)
    assert proc.returncode == 1 and "attempted 2 of 3, issued 1, reused 0 (skipped 0, resumed 0), failed 1, " \
                                    "not attempted 1," in proc.stdout
    assert "  dev-b: nothing was stored for it\n" in proc.stdout
    proc = _provision(cli, *args, "--keep-going", check=False)
    assert proc.returncode == 1 and "attempted 3 of 3, issued 1, reused 1 (skipped 1, resumed 0), failed 1, " \
                                    "not attempted 0," in proc.stdout
    assert sorted(_issued(acme)) == ["dev-a", "dev-c"]


# -- item 11 --------------------------------------------------------------------------------
def _subcommands() -> dict[str, argparse.ArgumentParser]:
    from strongroom.cli.main import build_parser

    def children(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                return dict(action.choices)
        return {}

    top = children(build_parser())
    out = {"req": top["req"], "provision": top["provision"], "ca": top["ca"]}
    for name, parser in children(top["ca"]).items():
        out[f"ca {name}"] = parser
    out["ca audit verify"] = children(top["ca"])["audit"]._actions[-1].choices["verify"]  # type: ignore[attr-defined]
    return out


def test_every_ca_command_has_examples_and_option_help():
    commands = _subcommands()
    assert {"ca init", "ca issue", "ca list", "ca show", "ca revoke", "ca crl", "ca audit verify"} <= set(commands)
    for name, parser in commands.items():
        assert parser.epilog and parser.epilog.startswith("examples:\n  strongroom "), name
        for action in parser._actions:
            if action.help == argparse.SUPPRESS or isinstance(action, argparse._SubParsersAction):
                continue
            assert action.help, f"{name}: {action.option_strings or action.dest} has no help"


def test_help_shows_examples_and_explains_device_template(cli):
    out = cli("provision", "--help").stdout
    assert "examples:\n  strongroom provision --ca device-ca" in out
    assert "{device} is replaced by each device's id" in " ".join(out.split())
    assert "--no-csr-san" not in out                 # accepted, but provision builds the CSR itself
    assert "--keep-going" in out
    assert "examples:\n  strongroom ca crl device-ca" in cli("ca", "crl", "--help").stdout


def test_provision_and_ca_issue_default_to_the_same_eku(acme, cli, p11tool):
    p11tool.init_token("fleet")
    _provision(cli, "--device", "dev-0001", "--token", "fleet", *PINS)
    p11tool.run("--login", "--pin", USER_PIN, "--keypairgen", "--key-type", "EC:prime256v1",
                "--label", "op", "--id", "0102", token="fleet")
    issued = json.loads(cli("ca", "issue", "acme", "--key", "op", "--subject", "CN=op", "--token", "fleet",
                            *PINS, *CA_PIN, "--json").stdout)
    certs = _issued(acme)
    ekus = {cn: list(c.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) for cn, c in certs.items()}
    assert ekus["op"] == ekus["dev-0001"] == [ExtendedKeyUsageOID.CLIENT_AUTH,
                                                  ExtendedKeyUsageOID.SERVER_AUTH]
    assert issued["subject"] == "CN=op"


def test_ca_issue_refuses_key_options_with_csr(acme, cli, tmp_path):
    csr = tmp_path / "x.csr"
    csr.write_text("unused")
    proc = cli("ca", "issue", "acme", "--csr", str(csr), "--token", "fleet", "--cert-label", "x", check=False)
    assert proc.returncode == 2
    assert proc.stderr == ("strongroom: error: --token, --cert-label only apply with --key "
                           "(with --csr nothing is stored on a token)\n")

