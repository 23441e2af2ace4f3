"""Mechanism families. Importing this package registers every mechanism.

Adding a family: write ``mechanisms/<family>.py`` calling ``registry.register`` at import
time and add one import line below. The core uses ``registry.get`` / ``all_mechanisms``.
"""
from . import registry  # noqa: F401  (first: the families register into it)
from . import aes, digest, ec, random, rsa  # noqa: F401
from . import ecdh, eddsa  # noqa: F401  (ECDH derive; Edwards / Montgomery)
from . import mldsa, mlkem  # noqa: F401  (PKCS#11 v3.2 post-quantum)
from . import aes_mac, aes_wrap, chacha, hmac, kdf  # noqa: F401  (symmetric families of issue 4)
