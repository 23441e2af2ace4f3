"""C_GenerateRandom / C_SeedRandom (PKCS#11 v3.0 Base §5.15). Not mechanisms.

Randomness is the kernel CSPRNG via ``os.urandom`` (getrandom(2)): it is fork-safe and
needs no state in the token, so a child after fork() gets fresh output without any
reseeding logic of ours.

Seeding: the kernel pool cannot be seeded from here in a way that affects what we read
back in a defined manner, so C_SeedRandom returns CKR_RANDOM_SEED_NOT_SUPPORTED, the
spec's code for "the token's random number generator does not accept seeding from an
application" — rather than CKR_OK, which would claim the seed was mixed in.
"""
from __future__ import annotations

import os

from ..pkcs11.constants import CKR
from ..pkcs11.errors import CKRError


def generate_random(length: int) -> bytes:
    """``length`` random bytes (0 is allowed and returns b"")."""
    if length < 0:
        raise CKRError(CKR.ARGUMENTS_BAD, "negative length")
    return os.urandom(length)


def seed_random(seed: bytes) -> None:
    """Always CKR_RANDOM_SEED_NOT_SUPPORTED (see module docstring)."""
    raise CKRError(CKR.RANDOM_SEED_NOT_SUPPORTED)
