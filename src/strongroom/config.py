"""Where tokens live and how the module behaves: ``STRONGROOM_HOME`` and ``strongroom.toml``.

The home directory holds the token database. An optional TOML file (``STRONGROOM_CONFIG``
or ``$STRONGROOM_HOME/strongroom.toml``) sets logging, PIN policy, quotas and the KDF
cost. Everything has a safe default so a module loaded by any application works with no
configuration at all.
"""
from __future__ import annotations

import os
from typing import NamedTuple

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

    @property
    def database(self) -> str:
        return os.path.join(self.home, "strongroom.db")


_INT_KEYS = {name for name, kind in Config.__annotations__.items() if kind == "int"}


def load_config() -> Config:
    """Read the environment and the optional config file; bad values are a clear error."""
    home = default_home()
    path = os.environ.get("STRONGROOM_CONFIG") or os.path.join(home, "strongroom.toml")
    values: dict[str, object] = {}
    if os.path.isfile(path):
        import tomllib   # deferred: only when a config file exists (cold start)

        try:
            with open(path, "rb") as fh:
                values = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise CKRError(CKR.GENERAL_ERROR, f"cannot read config file {path}: {exc}") from None
    known = set(Config._fields) - {"home"}
    unknown = set(values) - known
    if unknown:
        raise CKRError(CKR.GENERAL_ERROR, f"unknown keys in {path}: {', '.join(sorted(unknown))}")
    for key in _INT_KEYS & set(values):
        if not isinstance(values[key], int) or isinstance(values[key], bool) or values[key] < 0:
            raise CKRError(CKR.GENERAL_ERROR, f"{path}: {key} must be a non-negative integer")
    if "home" in values:
        raise CKRError(CKR.GENERAL_ERROR, f"{path}: set STRONGROOM_HOME instead of 'home'")
    return Config(home=home, **values)  # type: ignore[arg-type]


def setup_logging(config: Config) -> None:
    """Send the ``strongroom`` logger to the configured file (installed lazily, see log.py)."""
    log.configure(config.log_file, config.log_level)
