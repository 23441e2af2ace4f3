"""C_GenerateRandom / C_SeedRandom helpers."""
from __future__ import annotations

import pytest

from strongroom.mechanisms.random import generate_random, seed_random
from strongroom.pkcs11.constants import CKR
from strongroom.pkcs11.errors import CKRError


def test_generate_random_lengths():
    assert generate_random(0) == b""
    a, b = generate_random(32), generate_random(32)
    assert len(a) == 32 and a != b


def test_seed_not_supported():
    with pytest.raises(CKRError) as e:
        seed_random(b"seed")
    assert e.value.rv == CKR.RANDOM_SEED_NOT_SUPPORTED
