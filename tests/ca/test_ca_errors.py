"""The CA's error classes: every one has an exit code in the CLI's one table, and a bug
inside provisioning propagates instead of becoming a "failed" device."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from ca_support import PINS, STRONGROOM

from strongroom.ca import errors as CA
from strongroom.cli import common as C
from strongroom.cli.main import _ca_exit_codes, ca_exit_code, exit_code_for
from support import USER_PIN


def _subclasses(cls: type) -> set[type]:
    out = set()
    for sub in cls.__subclasses__():
        out |= {sub, *_subclasses(sub)}
    return out


def test_every_ca_error_class_is_in_the_table():
    table = _ca_exit_codes()
    classes = {CA.CAError, *_subclasses(CA.CAError)}
    assert classes <= set(table), sorted(c.__name__ for c in classes - set(table))
    assert set(table.values()) <= {C.EXIT_FAILURE, C.EXIT_USAGE, C.EXIT_NOT_FOUND, C.EXIT_AUTH}


@pytest.mark.parametrize("cls, code", [
    (CA.CAInvalidInput, 2), (CA.CAAlreadyExists, 2), (CA.CANotFound, 3), (CA.CARefused, 1),
    (CA.CAStateBroken, 1), (CA.CAPinNeeded, 4), (CA.CAError, 1)])
def test_exit_codes_are_the_documented_ones(cls, code):
    exc = cls("x")
    assert ca_exit_code(exc) == code and exit_code_for(exc) == code      # not ValueError's 2


PROVISION_SCRIPT = """
import sys, strongroom
from strongroom.ca import profile as P, provision as PV
from strongroom.ca.authority import Authority

pin = sys.argv[1]
ca = Authority.load("acme")
# a real profile value that is valid as input but breaks date arithmetic deep in issue()
profile = P.DEVICE_PROFILE.with_(validity_days=999_999_999)
with strongroom.open(ca.token_target, pin=pin, module=ca.module) as ca_token:
    try:
        summary = PV.provision(ca, ca_token, ["dev-0001", "dev-0002"],
                               lambda device: strongroom.open("fleet", pin=pin),
                               profile=profile, keep_going=True)
    except OverflowError as exc:
        print("propagated", type(exc).__name__)
        sys.exit(0)
    print("swallowed", summary.as_dict())
    sys.exit(1)
"""


def test_a_bug_inside_provisioning_propagates(cli, ca_token, ca_home, p11tool):
    cli("ca", "init", "acme", "--token", ca_token, *PINS, "--subject", "CN=Acme Device CA",
        "--key-type", "ec:p256")
    p11tool.init_token("fleet")
    proc = subprocess.run([str(Path(STRONGROOM).with_name("python")), "-c", PROVISION_SCRIPT, USER_PIN],
                          env=cli.env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and proc.stdout.startswith("propagated OverflowError"), \
        (proc.stdout, proc.stderr)
