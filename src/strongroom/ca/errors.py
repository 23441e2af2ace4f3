"""What can go wrong in a CA operation, said by meaning; the CLI (cli/main.py,
``_ca_exit_codes``) decides which exit code each class leaves with.

Every message is one line and names the input. ``CAError`` is a ValueError so callers
that only know ValueError still report it cleanly.
"""
from __future__ import annotations


class CAError(ValueError):
    """A CA operation could not be done (the base: catch this for any CA problem)."""


class CAInvalidInput(CAError):
    """An argument or an input file is malformed or not allowed: a bad name, serial,
    subject, SAN, profile, CSR, template or device list."""


class CAAlreadyExists(CAInvalidInput):
    """The thing to create (a CA) is already there."""


class CANotFound(CAError):
    """A named thing is not there: a CA, its key on the token, an issued serial, a file."""


class CARefused(CAError):
    """The inputs are well formed but the CA's state forbids the operation: it is busy,
    its certificate has expired, the serial is already revoked, the key does not match,
    a device token is ambiguous."""


class CAStateBroken(CAError):
    """The CA's files on disk are damaged (its config or certificate, its audit log):
    a person must look before it issues again."""


class CAPinNeeded(CAError):
    """A PIN (the SO PIN to create or finish a token) is needed and was not given."""
