"""What to do about a CKR code the CLI reports: the one place that turns a bare
``CKR_DEVICE_MEMORY`` or ``CKR_PIN_LOCKED`` into "what is full / which command fixes it".

The module cannot pass a message through the C ABI, so the figures come from where the
CLI can read them for strongroom's own module: its vendor function (store_view: object and
byte counts, quotas, PIN failure counters), its mechanism info (the RSA range) and the
config (PIN lengths, the file to edit). For
another module only the remedy that needs no figure is given. Every function here is
best effort: a remedy that cannot be computed is left out, never an error of its own.
"""
from __future__ import annotations

import argparse
import shlex
from typing import Any

from ..pkcs11.constants import CKR

# PKCS#11 v3.0 §5.1 return values (v3.2 adds PARAMETER_SET_NOT_SUPPORTED).
_DEVICE_MEMORY = int(CKR.DEVICE_MEMORY)
_KEY_SIZE_RANGE = int(CKR.KEY_SIZE_RANGE)
_PIN_INCORRECT = int(CKR.PIN_INCORRECT)
_PIN_LEN_RANGE = int(CKR.PIN_LEN_RANGE)
_PIN_LOCKED = int(CKR.PIN_LOCKED)
_USER_PIN_NOT_INITIALIZED = int(CKR.USER_PIN_NOT_INITIALIZED)
_PARAMETER_SET_NOT_SUPPORTED = int(CKR.PARAMETER_SET_NOT_SUPPORTED)
# Room an ordinary write needs: a key pair and its certificate; a key of a few KiB.
_OBJECTS_PER_WRITE = 3
_BYTES_PER_WRITE = 64 * 1024


def ckr_of(exc: BaseException) -> int | None:
    """The CKR value an error carries (an API error's .ckr, or python-pkcs11's class)."""
    code = getattr(exc, "ckr", None)
    if isinstance(code, int):
        return code
    if type(exc).__module__.startswith("pkcs11"):
        from ..api.errors import _unmapped_rv, ckr_code, ckr_name

        return ckr_code(ckr_name(exc)) or _unmapped_rv(exc)
    return None


def explain(exc: BaseException, args: argparse.Namespace | None) -> str | None:
    """The remedy clause for `exc` ("token 't' is full: objects 3 of 3 (raise ...)"), or None."""
    from ..api.errors import StrongroomError
    from ..config import ConfigError

    try:
        return _explain(exc, args or argparse.Namespace())
    except (StrongroomError, ConfigError, ValueError, OSError):
        return None         # a remedy is a courtesy: a failed look-up never replaces the real error


def _explain(exc: BaseException, args: argparse.Namespace) -> str | None:
    code = ckr_of(exc)
    state = getattr(exc, "pin_state", None)
    so = "SO PIN" in str(exc)
    if code == _PIN_LOCKED or state == "locked" or type(exc).__name__ == "PinLocked":
        return _locked(args, so)
    if code == _PIN_INCORRECT and state in ("count_low", "final_try"):
        return _tries_left(args, so)
    if code == _DEVICE_MEMORY:
        return _token_full(args)
    if code == _PIN_LEN_RANGE:
        return _pin_lengths(args)
    if code == _USER_PIN_NOT_INITIALIZED:
        return f"the token has no user PIN yet: the SO sets it with 'strongroom pin set{_token_opt(args)}'"
    if code == _KEY_SIZE_RANGE:
        return _key_sizes(args)
    if code == _PARAMETER_SET_NOT_SUPPORTED:
        return _parameter_set(args)
    return None


# --- strongroom's own store and config -------------------------------------------------
def _own(args: argparse.Namespace) -> bool:
    from .. import uri as urimod
    from . import store_view

    if not store_view.is_own_module(getattr(args, "module", None)):
        return False
    token = getattr(args, "token", None)
    if isinstance(token, str) and urimod.is_uri(token):
        path = urimod.parse(token).module_path
        return not path or store_view.is_own_module(path)
    return True


def _own_record(args: argparse.Namespace) -> dict[str, Any] | None:
    """The store record of the token the command used (--token, else the only token)."""
    from . import store_view

    if not _own(args):
        return None
    found = store_view.find_tokens(getattr(args, "token", None) or "pkcs11:") or []
    return found[0] if len(found) == 1 else None


def _usage(args: argparse.Namespace) -> dict[str, Any] | None:
    from . import store_view

    record = _own_record(args)
    if record is None:
        return None
    usage = store_view.token_usage(record["serial"])
    if usage is not None:
        usage["label"] = record["label"]
    return usage


def _config_file() -> str:
    from ..config import config_path

    return config_path()


def _token_opt(args: argparse.Namespace) -> str:
    """' --token LABEL' naming the token the command used (shell-quoted), or ''."""
    token = getattr(args, "token", None)
    if not token:
        record = _own_record(args)
        token = record["label"] if record else None
    return f" --token {shlex.quote(token)}" if token else ""


# --- one function per remedy -----------------------------------------------------------
def _token_full(args: argparse.Namespace) -> str:
    u = _usage(args)
    if u is None:
        return "the token has no room for another object"
    objects = f"objects {u['objects']} of {u['quota_objects']}"
    stored = f"bytes {u['bytes_used']} of {u['quota_bytes']}"
    cfg = _config_file()
    objects_full = u["free_objects"] < _OBJECTS_PER_WRITE
    bytes_full = u["bytes_free"] < _BYTES_PER_WRITE
    if objects_full and not bytes_full:
        return f"token {u['label']!r} is full: {objects} (raise quota_objects in {cfg})"
    if bytes_full and not objects_full:
        return f"token {u['label']!r} is full: {stored} (raise quota_bytes in {cfg})"
    return f"token {u['label']!r} is full: {objects}, {stored} (raise quota_objects / quota_bytes in {cfg})"


def _pin_lengths(args: argparse.Namespace) -> str | None:
    """The range C_GetTokenInfo reports (ulMinPinLen/ulMaxPinLen): the config's values."""
    if not _own(args):
        return "the token's PIN length range is in its token info (ulMinPinLen..ulMaxPinLen)"
    from ..config import load_config

    c = load_config()
    return (f"PINs of this token are {c.pin_min_len} to {c.pin_max_len} bytes long "
            f"(pin_min_len / pin_max_len in {_config_file()})")


def _tries_left(args: argparse.Namespace, so: bool) -> str | None:
    u = _usage(args)
    if u is None:
        return None
    left = max(0, u["pin_max_tries"] - u["so_pin_failures" if so else "user_pin_failures"])
    return f"{left} {'try' if left == 1 else 'tries'} left before the {'SO' if so else 'user'} PIN locks"


def _locked(args: argparse.Namespace, so: bool) -> str:
    if not so:
        return (f"the SO unlocks it by setting a new user PIN: "
                f"'strongroom pin unlock{_token_opt(args)}'")
    if _own(args):
        return (f"no PIN can unlock a locked SO PIN: 'strongroom token reset{_token_opt(args)}' wipes "
                "the token (its objects are lost) and frees the slot for 'strongroom token init'")
    return "a locked SO PIN is cleared only by re-initialising the token with its vendor's tools"


def _key_sizes(args: argparse.Namespace) -> str | None:
    """The RSA generation range C_GetMechanismInfo reports for CKM_RSA_PKCS_KEY_PAIR_GEN
    (strongroom's module floors the mechanism's range by the config's rsa_min_generate_bits)."""
    kind = str(getattr(args, "kind", "") or "")
    if not kind.startswith("rsa"):
        return "the key size is outside the range the mechanism allows (C_GetMechanismInfo)"
    if not _own(args):
        return "the token's RSA range is in its mechanism info ('pkcs11-tool -M')"
    from ..api import admin

    record = _own_record(args)
    low, high = admin.key_sizes(None, "RSA_PKCS_KEY_PAIR_GEN", record["slot_id"] if record else None)
    return (f"this token generates RSA keys of {low} to {high} bits "
            f"(rsa_min_generate_bits in {_config_file()})")


def _parameter_set(args: argparse.Namespace) -> str:
    kind = str(getattr(args, "kind", "") or "")
    if kind == "ml-kem-512" and _own(args):
        return ("strongroom has no ML-KEM-512 (pyca/cryptography does not implement it): "
                "use ml-kem-768 or ml-kem-1024")
    return f"the token does not implement the parameter set{f' of {kind!r}' if kind else ''}"
