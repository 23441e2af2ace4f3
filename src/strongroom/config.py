"""Where tokens live and how the module behaves: ``STRONGROOM_HOME`` and ``strongroom.toml``.

The home directory holds the token database. An optional TOML file (``STRONGROOM_CONFIG``
or ``$STRONGROOM_HOME/strongroom.toml``) sets logging, PIN policy, quotas and the KDF
cost. Everything has a safe default so a module loaded by any application works with no
configuration at all.
"""
from __future__ import annotations

import os
from ._records import NamedTuple

from . import log
from .pkcs11.constants import CKR
from .pkcs11.errors import CKRError

# No pathlib, dataclasses or logging here: this module is imported at C_Initialize, and
# those three cost ~15 ms of the module's cold start (docs/performance.md).


def default_home() -> str:
    """``$STRONGROOM_HOME``, else the user's data dir (XDG) + ``strongroom``."""
    env = os.environ.get("STRONGROOM_HOME")
    if env:
        return os.path.expanduser(env)
    xdg = os.environ.get("XDG_DATA_HOME")
    base = os.path.expanduser(xdg) if xdg else os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "strongroom")


class Config(NamedTuple):
    home: str
    log_file: str | None = None       # None: log to stderr only at WARNING and above
    log_level: str = "WARNING"
    pin_max_tries: int = 10           # consecutive wrong PINs before CKR_PIN_LOCKED
    pin_min_len: int = 4
    pin_max_len: int = 255
    quota_objects: int = 100_000      # per token
    quota_bytes: int = 256 * 1024 * 1024
    kdf_log2_n: int = 15              # scrypt N = 2**15, r=8 -> 32 MiB per PIN check
    max_sessions: int = 0             # 0: CK_EFFECTIVELY_INFINITE
    max_data_len: int = 64 * 1024 * 1024   # bytes of input per C_Encrypt/Decrypt/Sign/...Update call
    rsa_min_generate_bits: int = 2048      # smallest RSA modulus C_GenerateKeyPair makes (>= 1024)

    @property
    def database(self) -> str:
        return os.path.join(self.home, "strongroom.db")


_INT_KEYS = {name for name, kind in Config.__annotations__.items() if kind == "int"}


def parse_flat_toml(raw: bytes) -> dict[str, object] | None:
    """The common config file (``key = 123`` / ``key = "text"`` lines, comments, blank
    lines) read without importing tomllib, whose import costs ~6 ms of every cold start.

    Returns None for anything else -- tables, escapes, inline comments, other value
    types, duplicate keys, non-ASCII -- and the caller then uses tomllib, so every file
    means exactly what TOML says (tests/unit/test_config.py compares both readers)."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return None
    if "\r" in text.replace("\r\n", ""):   # a lone CR is not a TOML line break
        return None
    values: dict[str, object] = {}
    for line in text.splitlines():
        line = line.strip(" \t")
        if not line or line.startswith("#"):
            continue
        key, eq, value = line.partition("=")
        key, value = key.strip(" \t"), value.strip(" \t")
        if not eq or not key or key in values or not all(c.isalnum() or c in "_-" for c in key):
            return None
        if len(value) >= 2 and value[0] == value[-1] == '"' and not any(
                c in '"\\' or ord(c) < 0x20 or ord(c) == 0x7F for c in value[1:-1]):
            values[key] = value[1:-1]
        elif value.isdigit() and (value == "0" or value[0] != "0"):
            values[key] = int(value)
        else:
            return None
    return values


def load_config() -> Config:
    """Read the environment and the optional config file; bad values are a clear error."""
    home = default_home()
    path = os.environ.get("STRONGROOM_CONFIG") or os.path.join(home, "strongroom.toml")
    values: dict[str, object] = {}
    if os.path.isfile(path):
        try:
            with open(path, "rb") as fh:
                raw = fh.read()
        except OSError as exc:
            raise CKRError(CKR.GENERAL_ERROR, f"cannot read config file {path}: {exc}") from None
        simple = parse_flat_toml(raw)
        if simple is not None:
            values = simple
        else:
            import tomllib   # ~6 ms with the typing and re it imports: only for rich files

            try:
                values = tomllib.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                raise CKRError(CKR.GENERAL_ERROR, f"cannot read config file {path}: {exc}") from None
    known = set(Config._fields) - {"home"}
    unknown = set(values) - known
    if unknown:
        raise CKRError(CKR.GENERAL_ERROR, f"unknown keys in {path}: {', '.join(sorted(unknown))}")
    for key in _INT_KEYS & set(values):
        if not isinstance(values[key], int) or isinstance(values[key], bool) or values[key] < 0:
            raise CKRError(CKR.GENERAL_ERROR, f"{path}: {key} must be a non-negative integer")
    if "rsa_min_generate_bits" in values and values["rsa_min_generate_bits"] < 1024:  # type: ignore[operator]
        raise CKRError(CKR.GENERAL_ERROR, f"{path}: rsa_min_generate_bits must be at least 1024")
    if "max_data_len" in values and values["max_data_len"] < 1:  # type: ignore[operator]
        raise CKRError(CKR.GENERAL_ERROR, f"{path}: max_data_len must be at least 1")
    if "home" in values:
        raise CKRError(CKR.GENERAL_ERROR, f"{path}: set STRONGROOM_HOME instead of 'home'")
    return Config(home=home, **values)  # type: ignore[arg-type]


def setup_logging(config: Config) -> None:
    """Send the ``strongroom`` logger to the configured file (installed lazily, see log.py)."""
    log.configure(config.log_file, config.log_level)
