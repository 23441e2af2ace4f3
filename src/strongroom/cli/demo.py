"""``strongroom demo``: the whole path once, with real tools, printing every step.

A token is created in a fresh home (the embedded SQLite store), a device key pair is
generated inside it by OpenSC's pkcs11-tool through the C module, data is signed on the
token, and OpenSSL verifies the signature with the exported public key. Nothing here is
special-cased: these are the commands a user would type.

``--service`` takes the other path: the token service (``strongroom serve``) is started on
a socket in the work directory and every pkcs11-tool step goes through the native client
module (libstrongroom-client.so), so the keys live in the service's process and
pkcs11-tool loads no Python at all.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SO_PIN = "demo-so-pin"
USER_PIN = "demo-user-pin"


class DemoError(Exception):
    pass


def _run(step: str, argv: list[str], env: dict[str, str], *, shown: list[str] | None = None) -> str:
    print(f"\n==> {step}\n$ {shlex.join(shown or argv)}", flush=True)
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    output = (proc.stdout + proc.stderr).strip()
    if output:
        print("\n".join("  " + line for line in output.splitlines()))
    if proc.returncode != 0:
        raise DemoError(f"step failed ({step}): exit code {proc.returncode}")
    return proc.stdout


class _Service:
    """``strongroom serve`` on ``socket`` for the demo's steps; stopped with SIGTERM."""

    def __init__(self, env: dict[str, str], socket: Path, log: Path) -> None:
        argv = [sys.executable, "-m", "strongroom.server", "--socket", str(socket), "--workers", "1"]
        print(f"\n==> Start the token service (keys live in its process)\n$ "
              f"strongroom serve --socket {socket} --workers 1", flush=True)
        with log.open("w") as errors:                # its log: a file, never a full pipe
            self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=errors,
                                         text=True)
        assert self.proc.stdout is not None
        ready = self.proc.stdout.readline().strip()      # "READY <socket>" once it accepts
        if not ready.startswith("READY"):
            self.proc.wait(timeout=30)
            err = log.read_text().strip()
            raise DemoError(f"the service did not start: {err or 'no output'}")
        print(f"  {ready}\n  (its log: {log})", flush=True)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_demo(home: Path | None = None, keep: bool = False, service: bool = False) -> int:
    """Run the demo; returns a process exit code (0 when OpenSSL verified the signature).

    ``service``: through the token service and the client module instead of in-process."""
    from ..modules import client_path, module_path

    for tool in ("pkcs11-tool", "openssl"):
        if shutil.which(tool) is None:
            print(f"strongroom demo: '{tool}' not found; install opensc and openssl "
                  "(see README: ./install.sh does it)", file=sys.stderr)
            return 2
    if home is not None:
        try:
            home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            print(f"strongroom demo: cannot use {home} as the token home ({exc.strerror}); "
                  "give a directory you can write with --home, or leave it out", file=sys.stderr)
            return 2
    workdir = Path(tempfile.mkdtemp(prefix="strongroom-demo-"))
    home = home or workdir / "home"
    home.mkdir(exist_ok=True)
    env = dict(os.environ, STRONGROOM_HOME=str(home))
    module = str(client_path() if service else module_path())
    p11 = ["pkcs11-tool", "--module", module]
    data, sig, pub_der = workdir / "message.txt", workdir / "message.sig", workdir / "device-pub.der"
    data.write_text("hello from a key that never leaves the token\n")
    print(f"strongroom demo\n  module: {module}\n  token home (SQLite store): {home}\n  work dir: {workdir}")
    running: _Service | None = None
    try:
        if service:
            socket = workdir / "service.sock"
            running = _Service(env, socket, workdir / "service.log")
            env = dict(env, STRONGROOM_SERVICE=f"unix:{socket}")
            print(f"  the client module finds it by STRONGROOM_SERVICE=unix:{socket}")
        _run("List the slots: one free slot waits for a token", [*p11, "--list-slots"], env)
        _run("Create a token in the free slot (sets the SO PIN)",
             [*p11, "--init-token", "--slot-index", "0", "--label", "demo", "--so-pin", SO_PIN], env)
        _run("Set the user PIN (as SO)",
             [*p11, "--token-label", "demo", "--login", "--login-type", "so", "--so-pin", SO_PIN,
              "--init-pin", "--pin", USER_PIN], env)
        _run("Generate an EC P-256 device key pair inside the token",
             [*p11, "--token-label", "demo", "--login", "--pin", USER_PIN, "--keypairgen",
              "--key-type", "EC:prime256v1", "--label", "Device TLS Key", "--id", "01"], env)
        _run("Sign a message on the token (ECDSA with SHA-256)",
             [*p11, "--token-label", "demo", "--login", "--pin", USER_PIN, "--sign", "--id", "01",
              "--mechanism", "ECDSA-SHA256", "--signature-format", "openssl",
              "--input-file", str(data), "--output-file", str(sig)], env)
        _run("Export the public key (the private key cannot be exported)",
             [*p11, "--token-label", "demo", "--read-object", "--type", "pubkey", "--id", "01",
              "--output-file", str(pub_der)], env)
        _run("Verify the signature with OpenSSL",
             ["openssl", "dgst", "-sha256", "-verify", str(pub_der), "-keyform", "DER",
              "-signature", str(sig), str(data)], env)
    except DemoError as exc:
        print(f"\nstrongroom demo: {exc}", file=sys.stderr)
        return 1
    finally:
        if running is not None:
            running.stop()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    where = "the token service signed" if service else "the token signed"
    print(f"\nDemo complete: {where}, OpenSSL verified." +
          (f" Files kept in {workdir}" if keep else ""))
    return 0
