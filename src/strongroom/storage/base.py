"""The store interface the token core talks to.

A store keeps tokens (their label, serial, slot, wrapped master keys, PIN failure
counters) and their token objects (attribute dicts ``{CKA: typed value}``). Session
objects never reach the store.

Why this shape: every method is one transaction, so a failed or interrupted call leaves
the store as it was, and several processes can share one store (each call sees what
others committed). Secrets are sealed here, not in the core, so no other layer handles
ciphertext formats.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

from .._records import TYPE_CHECKING, NamedTuple
from ..pkcs11.constants import CKU

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

if TYPE_CHECKING:
    Attrs = dict[int, Any]
else:
    Attrs = dict


class Quota(NamedTuple):
    """Per-token limits; exceeding one raises CKRError(CKR.DEVICE_MEMORY)."""

    max_objects: int = 100_000
    max_bytes: int = 256 * 1024 * 1024


class KdfParams(NamedTuple):
    """scrypt parameters, stored beside each wrapped master key so they can be raised later."""

    log2_n: int = 15
    r: int = 8
    p: int = 1


class TokenRecord(NamedTuple):
    token_id: int            # store-internal id
    slot_id: int             # stable slot number shown to applications
    serial: str              # 16 printable chars, stable for the token's life
    label: str
    uuid: bytes              # 16 random bytes: part of every seal's associated data
    user_pin_initialized: bool
    user_failures: int       # consecutive wrong user PINs (persisted)
    so_failures: int         # consecutive wrong SO PINs (persisted)
    object_count: int
    bytes_used: int


class PinAttempt(NamedTuple):
    """One PIN check, already counted as a failure in the store (Store.spend_pin_attempt).

    Carries what the check needs, read in the same transaction that spent it: the wrap
    and its scrypt parameters, and the token uuid that guards the settling write (a token
    deleted or re-initialised meanwhile has another uuid, or none)."""

    token_uuid: bytes
    wrap: bytes
    salt: bytes
    kdf: KdfParams


class Store(ABC):
    """Persistent tokens and token objects. All methods are thread-safe."""

    # --- tokens ---------------------------------------------------------------
    @abstractmethod
    def list_tokens(self) -> list[TokenRecord]:
        """Every initialized token, ordered by slot_id. Always reads committed state."""

    @abstractmethod
    def get_token(self, token_id: int) -> TokenRecord:
        """Current record; CKRError(TOKEN_NOT_PRESENT) if it was deleted meanwhile."""

    @abstractmethod
    def create_token(self, slot_id: int, label: str, so_pin: bytes | bytearray, kdf: KdfParams) -> TokenRecord:
        """New token in ``slot_id`` with a fresh random master key wrapped under the SO PIN.

        Raises CKRError(SLOT_ID_INVALID) if another process took that slot meanwhile."""

    @abstractmethod
    def reinit_token(self, token_id: int, label: str, so_pin: bytes | bytearray, kdf: KdfParams) -> TokenRecord:
        """Wipe every object and the user PIN, new master key; keeps slot_id, serial."""

    @abstractmethod
    def delete_token(self, token_id: int) -> None:
        """Remove the token and its objects; its slot becomes the free slot again. Like
        every call that drops secrets, returns only once they are scrubbed from the files."""

    # --- PINs and the master key ------------------------------------------------
    # A PIN is checked only as spend_pin_attempt -> open_master_key -> settle_pin_attempt,
    # so no check can happen outside the retry limit.
    @abstractmethod
    def spend_pin_attempt(self, token_id: int, user_type: CKU, max_tries: int) -> PinAttempt:
        """Count one PIN attempt as failed, durably, before the PIN is checked.

        One write transaction checks the tries left and counts the attempt, and is
        committed (fsynced) before returning, so a caller killed at any later instant has
        used its try and N callers at once never get more attempts than the tries left.
        No try left -> CKRError(PIN_LOCKED) (the caller may first be made to wait, bounded,
        while other callers' attempts are still being checked: one of them may prove the
        PIN right and give the tries back). User PIN not set -> USER_PIN_NOT_INITIALIZED.
        """

    @abstractmethod
    def open_master_key(self, attempt: PinAttempt, user_type: CKU,
                        pin: bytes | bytearray) -> bytearray | None:
        """The master key if ``pin`` opens the attempt's wrap, else None. Runs the KDF
        outside any transaction (never holds the write lock)."""

    @abstractmethod
    def settle_pin_attempt(self, token_id: int, user_type: CKU, attempt: PinAttempt,
                           right: bool) -> None:
        """End an attempt: ``right`` gives the tries back (counter reset to 0); a wrong PIN
        leaves it counted. Both write the same row the same way, so the files show no
        difference until the answer is returned. CKRError(TOKEN_NOT_PRESENT) if the token
        was deleted or re-initialised since the spend."""

    @abstractmethod
    def set_pin(self, token_id: int, user_type: CKU, master_key: bytes | bytearray, pin: bytes | bytearray,
                kdf: KdfParams) -> None:
        """(Re)wrap the master key under ``pin`` for ``user_type``; resets that counter.

        Used by C_InitPIN (user), C_SetPIN (either). Only the wrap changes."""

    @abstractmethod
    def set_label(self, token_id: int, label: str) -> None: ...

    # --- objects ------------------------------------------------------------------
    @abstractmethod
    def create_object(self, token_id: int, attrs: Mapping[int, Any], master_key: bytes | bytearray | None) -> int:
        """Persist a token object; returns its object id (> 0, never reused).

        ``attrs[CKA.PRIVATE]`` decides sealing: private objects are sealed whole and
        need ``master_key``; sensitive attributes (schema) of public objects are sealed
        under the token's public key. Quota exceeded -> CKRError(DEVICE_MEMORY)."""

    @abstractmethod
    def load_object(self, token_id: int, object_id: int, master_key: bytes | bytearray | None) -> Attrs:
        """All attributes, unsealed. CKRError(OBJECT_HANDLE_INVALID) if gone (or private
        and no master key given)."""

    @abstractmethod
    def update_object(self, token_id: int, object_id: int, changes: Mapping[int, Any],
                      master_key: bytes | bytearray | None) -> None:
        """Set/replace the given attributes in one transaction (quota checked)."""

    @abstractmethod
    def destroy_object(self, token_id: int, object_id: int) -> None: ...

    @abstractmethod
    def find_objects(self, token_id: int, template: Mapping[int, Any],
                     master_key: bytes | bytearray | None) -> list[int]:
        """Ids of objects whose attributes equal every template entry, in creation order.

        Private objects are considered only when ``master_key`` is given. Uses the
        (blind) index, not a scan."""

    @abstractmethod
    def object_private(self, token_id: int, object_id: int) -> bool | None:
        """CKA_PRIVATE of the object, or None if it does not exist."""

    # --- freshness ----------------------------------------------------------------
    @abstractmethod
    def data_version(self) -> int:
        """Changes whenever another connection/process committed (cheap: no read of data).

        May also change after this store's own commits (a probe on a connection of its
        own): callers use it only to drop caches, so an extra change costs a refill."""

    def forget_keys(self) -> None:
        """Drop every key derived from a master key (the core calls it when the master
        key leaves its memory: logout, last session closed, C_Finalize). A store that
        keeps no derived keys has nothing to do."""
        return

    def forget_keys_in_child(self) -> None:
        """``forget_keys`` in a forked child, without taking any lock (a lock held by a
        thread of the parent stays held for ever in the child; only this thread survived)."""
        return

    @abstractmethod
    def close(self) -> None: ...
