"""Login by OS identity: a token whose user authenticates by the peer's uid / gid
(SO_PEERCRED) instead of a PIN, as OP-TEE's PKCS#11 TA logs in by the TEE client identity.

Such a token's user PIN is a secret the service derives and never shows anyone:
``HMAC-SHA256(service key, "strongroom os-identity pin" ‖ token uuid)``, 64 hex digits. It
wraps the token's master key like any PIN (scrypt; storage/kdf.py), so the store files
look like those of any token; the service key is what opens it. The token reports
CKF_PROTECTED_AUTHENTICATION_PATH, and C_Login(CKU_USER, NULL, 0) from a peer the access
rules allow is answered by the service with the derived PIN (the attempt counted first, as
always); C_InitPIN(NULL, 0) by the SO sets it.

The service key: 32 random bytes in a file only the service user can read -- a systemd
credential (``$CREDENTIALS_DIRECTORY/strongroom-service-key``) when one is given, else
``$STRONGROOM_HOME/service.key``, created (0600, O_EXCL) at the first start.

Threat model (docs/service.md "Login by OS identity"): a thief of the store files alone
gets nothing -- the wraps need the service key, which is not in the store. A thief of the
store *and* the key file gets everything, and so does root on the host (it can read both,
or become any uid). An application process never sees the derived PIN or the key.
"""
from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import tempfile

from .._records import TYPE_CHECKING
from ..pkcs11.constants import CKR, CKU, TokenFlag
from ..pkcs11.errors import CKRError
from ..wipe import zero

if TYPE_CHECKING:
    from ..storage.base import TokenRecord
    from .context import Context

__all__ = ["CREDENTIAL_NAME", "KEY_FILE", "IdentityLogin", "ServiceKeyError", "slot_flags", "user_pin"]

CREDENTIAL_NAME = "strongroom-service-key"
KEY_FILE = "service.key"
_KEY_LEN = 32
_LABEL = b"strongroom os-identity pin\x00"


class ServiceKeyError(Exception):
    """The service key cannot be read or made: the message names the file and the remedy."""


def _read_key(path: str) -> bytearray:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise ServiceKeyError(f"cannot read the service key {path}: {exc.strerror}") from None
    try:
        if os.fstat(fd).st_mode & 0o077 and not path.startswith(os.environ.get("CREDENTIALS_DIRECTORY", "\0")):
            raise ServiceKeyError(f"the service key {path} is readable by others: chmod 600 it")
        data = bytearray(os.read(fd, _KEY_LEN + 1))
    finally:
        os.close(fd)
    if len(data) != _KEY_LEN:
        zero(data)
        raise ServiceKeyError(f"the service key {path} is not {_KEY_LEN} bytes: restore it from backup")
    return data


def _create_key(path: str) -> None:
    """Make the key whole under a private name, then link it into place.

    Workers start together: one that lost the race must never read a file another has
    created but not yet written, so the key appears under its name complete or not at
    all (link(2) fails with EEXIST for all but the first)."""
    try:       # mkstemp: O_EXCL, mode 0600, a name no other process or thread uses
        fd, partial = tempfile.mkstemp(prefix=".service.key.", dir=os.path.dirname(path) or ".")
    except OSError as exc:
        raise ServiceKeyError(f"cannot create the service key {path}: {exc.strerror}") from None
    try:
        try:
            os.write(fd, os.urandom(_KEY_LEN))
            os.fsync(fd)
        finally:
            os.close(fd)
        with contextlib.suppress(FileExistsError):     # another worker made it first
            os.link(partial, path)
    except OSError as exc:
        raise ServiceKeyError(f"cannot create the service key {path}: {exc.strerror}") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(partial)


class IdentityLogin:
    """The service key and the user PINs derived from it."""

    def __init__(self, key: bytearray) -> None:
        self._key = key

    @classmethod
    def load(cls, home: str) -> IdentityLogin:
        """The systemd credential when given, else ``home/service.key`` (made if absent)."""
        creds = os.environ.get("CREDENTIALS_DIRECTORY")
        if creds and os.path.exists(os.path.join(creds, CREDENTIAL_NAME)):
            return cls(_read_key(os.path.join(creds, CREDENTIAL_NAME)))
        path = os.path.join(home, KEY_FILE)
        if not os.path.exists(path):
            _create_key(path)
        return cls(_read_key(path))

    def pin_for(self, token_uuid: bytes) -> bytearray:
        """The user PIN of an OS-identity token (the caller zeroes it)."""
        return bytearray(hmac.new(self._key, _LABEL + token_uuid, hashlib.sha256).hexdigest().encode())

    def close(self) -> None:
        zero(self._key)


# --- what the call handlers ask (server/calls_general.py) -------------------------------
def _record(ctx: Context, handle: int) -> TokenRecord | None:
    session = ctx.app.session(handle)
    return ctx.app.slots.token_in(session.slot_id)


def slot_flags(ctx: Context, slot: int) -> int:
    """CKF_PROTECTED_AUTHENTICATION_PATH for an OS-identity token (C_GetTokenInfo)."""
    if ctx.identity is None or not ctx.policy.identity_login(ctx.app.slots.token_in(slot)):
        return 0
    return int(TokenFlag.PROTECTED_AUTHENTICATION_PATH)


def user_pin(ctx: Context, handle: int, user: int, given: bytearray | None) -> bytearray | None:
    """The PIN a user login (C_Login CKU_USER / CKU_CONTEXT_SPECIFIC, C_InitPIN) uses on the
    session's token: ``given`` on a PIN token; on an OS-identity token the derived PIN --
    the peer may use the token (the access rules let it reach this session) and gave no
    PIN. A PIN given there is refused before anything is counted: it can only be wrong,
    and a try burnt by a guess would let anyone lock the token's rightful users out."""
    if user == CKU.SO or ctx.identity is None:
        return given
    record = _record(ctx, handle)
    if record is None or not ctx.policy.identity_login(record):
        return given
    if given is not None:
        raise CKRError(CKR.ARGUMENTS_BAD, "this token's user logs in by OS identity: give no PIN")
    if not ctx.policy.may_use(ctx.peer, record):
        raise CKRError(CKR.SESSION_HANDLE_INVALID)
    return ctx.identity.pin_for(record.uuid)
