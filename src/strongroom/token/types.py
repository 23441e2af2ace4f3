"""Plain records exchanged between the token core and its callers (the ABI, the CLI).

Strings are unpadded Python ``str``; the ABI blank-pads them to the fixed C widths.
Versions are ``(major, minor)`` tuples.
"""
from __future__ import annotations

from .._records import NamedTuple


class InitArgs(NamedTuple):
    """CK_C_INITIALIZE_ARGS as seen by the core (pointers reduced to facts)."""

    flags: int = 0
    has_mutex_callbacks: bool = False


class LibraryInfo(NamedTuple):
    cryptoki_version: tuple[int, int]
    manufacturer_id: str
    flags: int
    library_description: str
    library_version: tuple[int, int]


class SlotInfo(NamedTuple):
    slot_description: str
    manufacturer_id: str
    flags: int
    hardware_version: tuple[int, int]
    firmware_version: tuple[int, int]


class TokenInfo(NamedTuple):
    label: str
    manufacturer_id: str
    model: str
    serial_number: str
    flags: int
    max_session_count: int
    session_count: int
    max_rw_session_count: int
    rw_session_count: int
    max_pin_len: int
    min_pin_len: int
    total_public_memory: int
    free_public_memory: int
    total_private_memory: int
    free_private_memory: int
    hardware_version: tuple[int, int]
    firmware_version: tuple[int, int]
    utc_time: str


class MechanismInfo(NamedTuple):
    min_key_size: int
    max_key_size: int
    flags: int


class SessionInfo(NamedTuple):
    slot_id: int
    state: int
    flags: int
    device_error: int = 0


class Mechanism(NamedTuple):
    """CK_MECHANISM: ``param`` is None, bytes, or a pkcs11.params dataclass."""

    type: int
    param: object = None


class TokenUsage(NamedTuple):
    """A token's store figures (strongroom's vendor function SR_GetTokenUsage)."""

    objects: int
    bytes_used: int
    quota_objects: int
    quota_bytes: int
    user_pin_failures: int
    so_pin_failures: int
    pin_max_tries: int


class TokenRemoved(NamedTuple):
    """What SR_DeleteToken removed."""

    label: str
    serial: str
    slot_id: int
    objects: int
