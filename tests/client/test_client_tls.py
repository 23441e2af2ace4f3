"""A TLS server whose private key stays in the token service: ``openssl s_server`` loads
it through libp11's pkcs11 engine and libstrongroom-client.so, ``openssl s_client``
completes a TLS 1.3 handshake -- the server's CertificateVerify signed on the token --
against a certificate the test issues with pyca for the token's public key."""
from __future__ import annotations

import datetime
import socket
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from service_support import Service
from test_client_apps import LOGIN, TOKEN, _app_env, _connections_from, _engine_available, _token_with_keys, _tool

from support import USER_PIN


def _certificate_for(public_pem: Path, out: Path) -> Path:
    """A self-signed CA (pyca, in this process) issuing a server certificate for the
    token's public key; returns the CA certificate for s_client to trust."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now - datetime.timedelta(minutes=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    public = serialization.load_pem_public_key(public_pem.read_bytes())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "device.test")]))
            .issuer_name(ca_name).public_key(public).serial_number(2)  # type: ignore[arg-type]
            .not_valid_before(now - datetime.timedelta(minutes=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("device.test")]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    (out / "server.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (out / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return out / "ca.pem"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(not _engine_available(), reason="openssl's pkcs11 engine (libengine-pkcs11-openssl) missing")
def test_tls_server_key_in_the_service(client: str, service: Service, tmp_path: Path) -> None:
    pems = _token_with_keys(client, service, tmp_path)
    assert _tool(client, service, *LOGIN, "-O").returncode == 0
    ca = _certificate_for(pems["ec1"], tmp_path)
    env = _app_env(service, PKCS11_MODULE_PATH=client)
    port = _free_port()
    key = f"pkcs11:token={TOKEN};object=ec1;type=private;pin-value={USER_PIN}"
    server = subprocess.Popen(["openssl", "s_server", "-engine", "pkcs11", "-keyform", "engine", "-key", key,
                               "-cert", str(tmp_path / "server.pem"), "-accept", f"127.0.0.1:{port}",
                               "-tls1_3", "-naccept", "1", "-rev"],
                              env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    try:
        assert server.stdout is not None
        seen = []
        for line in server.stdout:                         # s_server prints ACCEPT once it listens
            seen.append(line)
            if line.startswith("ACCEPT"):
                break
        else:
            pytest.fail("s_server exited: " + "".join(seen))
        hello = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "device.test",
                                "-verify_hostname", "device.test", "-CAfile", str(ca), "-verify_return_error",
                                "-tls1_3", "-brief", "-no_ign_eof"],
                               input="strongroom\n", capture_output=True, text=True, timeout=30, env=env)
        assert hello.returncode == 0, hello.stdout + hello.stderr
        # the server's CertificateVerify was signed by the token key, through the service
        for line in ("Protocol version: TLSv1.3", "Signature type: ECDSA", "Verification: OK",
                     "Verified peername: device.test"):
            assert line in hello.stderr, hello.stderr
        assert _connections_from(service, server.pid) >= 1
    finally:
        if server.poll() is None:
            server.kill()
        server.wait()
