"""Real PKCS#11 applications on libstrongroom-client.so against a running token service:
pkcs11-tool's self tests, OpenSSL through libp11's pkcs11 engine, OpenSSH (ssh-keygen -D, and
an ssh-agent that loads the client and signs with ``ssh-keygen -Y sign``) and GnuTLS's p11tool.
Each application gets only the client's path and the service address: no STRONGROOM_HOME, so
nothing but the service can answer it. What they sign is verified by other software."""
from __future__ import annotations

import datetime
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from service_support import Service

from support import SO_PIN, USER_PIN

TOKEN = "apps"
LOGIN = ("--token-label", TOKEN, "--login", "--pin", USER_PIN)


def _app_env(svc: Service, **extra: str) -> dict[str, str]:
    """The environment of an application: the service address, and no token home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRONGROOM", "PKCS11_MODULE", "P11_KIT"))}
    env.update(STRONGROOM_SERVICE=f"unix:{svc.socket}", **extra)
    return env


def _run(argv: list[str], env: dict[str, str], check: bool = True, timeout: float = 60,
         **kw: object) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout,
                          **kw)  # type: ignore[call-overload]
    if check:
        assert proc.returncode == 0, f"{argv}: rc {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _tool(client: str, svc: Service, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return _run(["pkcs11-tool", "--module", client, *args], _app_env(svc), check=check)


def _token_with_keys(client: str, svc: Service, tmp_path: Path) -> dict[str, Path]:
    """A token with an RSA-2048 key (id 01, "rsa1") and an EC P-256 key (id 02, "ec1"), made
    through the client; returns their public keys as PEM files read back through it."""
    _tool(client, svc, "--init-token", "--slot-index", "0", "--label", TOKEN, "--so-pin", SO_PIN)
    _tool(client, svc, "--token-label", TOKEN, "--login", "--login-type", "so", "--so-pin", SO_PIN,
          "--init-pin", "--pin", USER_PIN)
    pems = {}
    for key_type, kid, label in (("rsa:2048", "01", "rsa1"), ("EC:prime256v1", "02", "ec1")):
        _tool(client, svc, *LOGIN, "--keypairgen", "--key-type", key_type, "--id", kid, "--label", label)
        der = tmp_path / f"{label}.pub.der"
        _tool(client, svc, "--token-label", TOKEN, "--read-object", "--type", "pubkey", "--id", kid, "-o", str(der))
        pem = tmp_path / f"{label}.pub.pem"
        pem.write_bytes(serialization.load_der_public_key(der.read_bytes()).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        pems[label] = pem
    return pems


def _connections_from(svc: Service, pid: int) -> int:
    log = svc.home / "strongroom.log"
    for _ in range(40):                       # the service logs from its connection thread
        text = log.read_text() if log.exists() else ""
        if f"connection from pid {pid} " in text:
            break
        time.sleep(0.05)
    return text.count(f"connection from pid {pid} ")


# --- pkcs11-tool --------------------------------------------------------------------------
def test_pkcs11_tool_self_tests_pass_through_the_client(client: str, service: Service, tmp_path: Path) -> None:
    _token_with_keys(client, service, tmp_path)
    plain = _tool(client, service, *LOGIN, "--test").stdout
    assert "No errors" in plain, plain
    assert "testing key 0 (rsa1)" in plain and "testing key 1 (ec1)" in plain
    sw = _tool(client, service, *LOGIN, "--test", "--allow-sw").stdout      # the signature tests too
    assert "No errors" in sw, sw
    for line in ("RSA-PKCS: OK", "SHA256-RSA-PKCS: OK", "SHA1-RSA-PKCS: OK"):
        assert line in sw, sw
    ec_test = _tool(client, service, "--token-label", TOKEN, "--test-ec", "--session-rw", "--login", "--pin", USER_PIN,
               "--id", "03", "--key-type", "EC:prime256v1").stdout
    assert "==> OK" in ec_test, ec_test
    forked = _tool(client, service, *LOGIN, "--test-fork")      # a child after fork: C_Initialize again
    assert "forked child" in forked.stdout + forked.stderr


# --- OpenSSL (libp11's pkcs11 engine) ---------------------------------------------------------
def _engine_available() -> bool:
    if not shutil.which("openssl"):
        return False
    return subprocess.run(["openssl", "engine", "-t", "pkcs11"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _engine_available(), reason="openssl's pkcs11 engine (libengine-pkcs11-openssl) missing")
def test_openssl_engine_signs_with_token_keys_and_openssl_verifies(client: str, service: Service,
                                                                    tmp_path: Path) -> None:
    pems = _token_with_keys(client, service, tmp_path)
    data = tmp_path / "data.txt"
    data.write_bytes(b"signed by OpenSSL through libstrongroom-client.so\n")
    digest = tmp_path / "digest.bin"
    digest.write_bytes(hashlib.sha256(data.read_bytes()).digest())
    env = _app_env(service, PKCS11_MODULE_PATH=client)
    uri = f"pkcs11:token={TOKEN};object={{}};type=private;pin-value={USER_PIN}"
    signers = {
        # EC: pkeyutl over a digest (ECDSA, DER signature)
        "ec1": ["openssl", "pkeyutl", "-engine", "pkcs11", "-keyform", "engine", "-inkey", uri.format("ec1"),
                "-sign", "-in", str(digest), "-out", str(tmp_path / "ec1.sig")],
        # RSA: dgst -sha256 (PKCS#1 v1.5 over the DigestInfo)
        "rsa1": ["openssl", "dgst", "-sha256", "-engine", "pkcs11", "-keyform", "engine", "-sign",
                 uri.format("rsa1"), "-out", str(tmp_path / "rsa1.sig"), str(data)],
    }
    for label, argv in signers.items():
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, f"{argv}\n{out}\n{err}"
        assert _connections_from(service, proc.pid) >= 1, "openssl never reached the service"
        assert (tmp_path / f"{label}.sig").stat().st_size > 0
    ok = _run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(pems["ec1"]), "-in", str(digest),
               "-sigfile", str(tmp_path / "ec1.sig")], os.environ)
    assert "Signature Verified Successfully" in ok.stdout
    ok = _run(["openssl", "dgst", "-sha256", "-verify", str(pems["rsa1"]), "-signature", str(tmp_path / "rsa1.sig"),
               str(data)], os.environ)
    assert ok.stdout.strip() == "Verified OK"
    # RSA-PSS and OAEP: libp11 sends the mechanism parameter structs through the client
    pss = tmp_path / "pss.sig"
    pss_opts = ["-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "digest:sha256", "-pkeyopt", "rsa_pss_saltlen:32"]
    _run(["openssl", "pkeyutl", "-engine", "pkcs11", "-keyform", "engine", "-inkey", uri.format("rsa1"), "-sign",
          "-in", str(digest), "-out", str(pss), *pss_opts], env)
    ok = _run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(pems["rsa1"]), "-in", str(digest),
               "-sigfile", str(pss), *pss_opts], os.environ)
    assert "Signature Verified Successfully" in ok.stdout
    wrong_salt = [*pss_opts[:-1], "rsa_pss_saltlen:20"]
    assert _run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(pems["rsa1"]), "-in", str(digest),
                 "-sigfile", str(pss), *wrong_salt], os.environ, check=False).returncode != 0
    secret, sealed = tmp_path / "secret", tmp_path / "sealed"
    secret.write_bytes(b"for the token's eyes only")
    oaep = ["-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256"]
    _run(["openssl", "pkeyutl", "-encrypt", "-pubin", "-inkey", str(pems["rsa1"]), "-in", str(secret),
          "-out", str(sealed), *oaep], os.environ)
    opened = subprocess.run(["openssl", "pkeyutl", "-engine", "pkcs11", "-keyform", "engine", "-inkey",
                             uri.format("rsa1"), "-decrypt", "-in", str(sealed), *oaep], env=env,
                            capture_output=True, timeout=60)
    assert opened.returncode == 0 and opened.stdout == secret.read_bytes(), opened.stderr
    other = tmp_path / "other.bin"
    other.write_bytes(hashlib.sha256(b"not what was signed").digest())
    assert _run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(pems["ec1"]), "-in", str(other),
                 "-sigfile", str(tmp_path / "ec1.sig")], os.environ, check=False).returncode != 0


# --- OpenSSH ----------------------------------------------------------------------------------
def _openssh_lines(pems: dict[str, Path]) -> dict[str, str]:
    return {label: serialization.load_pem_public_key(pem.read_bytes()).public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode() for label, pem in pems.items()}


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="openssh-client not installed")
def test_ssh_keygen_lists_the_token_public_keys(client: str, service: Service, tmp_path: Path) -> None:
    expected = _openssh_lines(_token_with_keys(client, service, tmp_path))
    listed = _run(["ssh-keygen", "-D", client], _app_env(service)).stdout.splitlines()
    keys = {" ".join(line.split()[:2]): line.split()[2] for line in listed if line.strip()}
    assert keys == {expected["rsa1"]: "rsa1", expected["ec1"]: "ec1"}, listed


@pytest.mark.skipif(not (shutil.which("ssh-agent") and shutil.which("ssh-add")), reason="openssh-client not installed")
def test_ssh_agent_loads_the_client_and_signs_with_token_keys(client: str, service: Service, tmp_path: Path) -> None:
    """ssh-agent runs the client in its ssh-pkcs11-helper; ``ssh-add -s`` logs in (the PIN
    through SSH_ASKPASS) and ``ssh-keygen -Y sign`` with only the public key signs through
    the agent, hence the token; ``ssh-keygen -Y verify`` checks the signatures."""
    expected = _openssh_lines(_token_with_keys(client, service, tmp_path))
    run_dir = Path(tempfile.mkdtemp(prefix="sr-ssh-"))       # a short path for the agent's socket
    agent_sock = run_dir / "agent"
    askpass = tmp_path / "askpass"
    askpass.write_text(f"#!/bin/sh\necho {USER_PIN}\n")
    askpass.chmod(0o700)
    real = os.path.realpath(client)
    env = _app_env(service, SSH_AUTH_SOCK=str(agent_sock), SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force",
                   DISPLAY=":0")
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(agent_sock), "-P", real], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(100):
            if agent_sock.exists():
                break
            time.sleep(0.05)
        added = _run(["ssh-add", "-s", real], env, stdin=subprocess.DEVNULL)
        assert "Card added" in added.stdout + added.stderr
        agent_keys = {" ".join(line.split()[:2]) for line in _run(["ssh-add", "-L"], env).stdout.splitlines()}
        assert agent_keys == {expected["rsa1"], expected["ec1"]}
        message = tmp_path / "message"
        message.write_bytes(b"signed by ssh-agent through the client\n")
        for label in ("ec1", "rsa1"):
            pub = tmp_path / f"{label}.ssh.pub"
            pub.write_text(expected[label] + "\n")
            sig = Path(f"{message}.sig")
            sig.unlink(missing_ok=True)
            _run(["ssh-keygen", "-Y", "sign", "-f", str(pub), "-n", "file", str(message)], env)
            allowed = tmp_path / "allowed_signers"
            allowed.write_text(f"me {expected[label]}\n")
            with message.open("rb") as fh:
                ok = _run(["ssh-keygen", "-Y", "verify", "-f", str(allowed), "-I", "me", "-n", "file", "-s", str(sig)],
                          os.environ, stdin=fh)
            assert "Good \"file\" signature for me" in ok.stdout + ok.stderr
    finally:
        agent.terminate()
        agent.wait(timeout=10)
        shutil.rmtree(run_dir, ignore_errors=True)


# --- GnuTLS -----------------------------------------------------------------------------------
@pytest.mark.skipif(shutil.which("p11tool") is None, reason="p11tool not installed (Debian: gnutls-bin)")
def test_gnutls_p11tool_lists_objects_and_signs(client: str, service: Service, tmp_path: Path) -> None:
    _token_with_keys(client, service, tmp_path)
    env = _app_env(service, GNUTLS_PIN=USER_PIN)
    tokens = _run(["p11tool", "--provider", client, "--list-tokens"], env).stdout
    assert f"Label: {TOKEN}" in tokens and "Manufacturer: strongroom" in tokens, tokens
    public = _run(["p11tool", "--provider", client, "--list-all", f"pkcs11:token={TOKEN}"], env).stdout
    assert public.count("Object ") == 2 and "Private key" not in public, public     # no login: public only
    assert "Public key (RSA-2048)" in public and "Public key (EC/ECDSA-SECP256R1)" in public, public
    everything = _run(["p11tool", "--provider", client, "--login", "--list-all", f"pkcs11:token={TOKEN}"], env).stdout
    assert everything.count("Object ") == 4, everything
    for kind in ("Private key (RSA-2048)", "Private key (EC/ECDSA-SECP256R1)"):
        assert kind in everything, everything
    assert everything.count("CKA_SENSITIVE") == 2 and everything.count("CKA_NEVER_EXTRACTABLE") == 2
    for label, alg in (("ec1", "ECDSA-SHA256"), ("rsa1", "RSA-SHA256")):
        signed = _run(["p11tool", "--provider", client, "--login", "--test-sign",
                       f"pkcs11:token={TOKEN};object={label}"], env)
        text = signed.stdout + signed.stderr
        assert f"Signing using {alg}... ok" in text and "Verifying against public key in the token... ok" in text, text


# --- Java (SunPKCS11) -------------------------------------------------------------------------
JAVA_SIGN = """
import java.security.*;
public class Sign {
    public static void main(String[] a) throws Exception {
        Provider p = Security.getProvider("SunPKCS11").configure(a[0]);
        Security.addProvider(p);
        KeyStore ks = KeyStore.getInstance("PKCS11", p);
        ks.load(null, a[1].toCharArray());
        PrivateKey k = (PrivateKey) ks.getKey("ec1", null);
        Signature s = Signature.getInstance("SHA256withECDSA", p);
        s.initSign(k);
        s.update(a[2].getBytes("UTF-8"));
        System.out.println("aliases=" + java.util.Collections.list(ks.aliases()));
        System.out.println("sig=" + java.util.HexFormat.of().formatHex(s.sign()));
    }
}
"""


@pytest.mark.skipif(shutil.which("java") is None or shutil.which("javac") is None, reason="no JDK (java, javac)")
def test_java_sunpkcs11_signs_with_a_token_key(client: str, service: Service, tmp_path: Path) -> None:
    """The JDK's SunPKCS11 provider on the client: its KeyStore shows the EC key once a
    certificate with the key's CKA_ID is on the token, and SHA256withECDSA signs on the token."""
    pems = _token_with_keys(client, service, tmp_path)
    token_pub = serialization.load_pem_public_key(pems["ec1"].read_bytes())
    assert isinstance(token_pub, ec.EllipticCurvePublicKey)
    issuer = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ec1")]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "throwaway issuer")]))
            .public_key(token_pub).serial_number(1).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(issuer, hashes.SHA256()))
    der = tmp_path / "ec1.crt.der"
    der.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    _tool(client, service, *LOGIN, "--write-object", str(der), "--type", "cert", "--id", "02", "--label", "ec1")
    cfg = tmp_path / "java.cfg"
    cfg.write_text(f"name = strongroom\nlibrary = {client}\nslotListIndex = 0\n")
    src = tmp_path / "Sign.java"
    src.write_text(JAVA_SIGN)
    message = "signed by Java through the client"
    out = _run(["java", str(src), str(cfg), USER_PIN, message], _app_env(service), timeout=60).stdout
    assert "aliases=[ec1]" in out, out
    sig = bytes.fromhex(out.split("sig=", 1)[1].split()[0])
    token_pub.verify(sig, message.encode(), ec.ECDSA(hashes.SHA256()))       # raises InvalidSignature
