"""The token core: slots, tokens, sessions, login state, objects and operation state.

Pure Python with no C types; everything here raises :class:`CKRError` only.
"""
from ..pkcs11.errors import CKRError

__all__ = ["CKRError"]
