"""A certificate authority whose key lives on a token: profiles (x509 building),
an append-only hash-chained audit log, the CA state directory, and device provisioning.

Everything here works on pyca key interfaces, so the CA key can be a token key from
``strongroom.api`` (signing happens on the token) or, in unit tests, a software key.
"""
from __future__ import annotations

from .errors import CAAlreadyExists, CAError, CAInvalidInput, CANotFound, CAPinNeeded, CARefused, CAStateBroken

__all__ = ["CAAlreadyExists", "CAError", "CAInvalidInput", "CANotFound", "CAPinNeeded", "CARefused",
           "CAStateBroken"]
