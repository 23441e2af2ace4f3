"""Where tokens live and how the module behaves: ``STRONGROOM_HOME`` and ``strongroom.toml``.

The home directory holds the token database. An optional TOML file (``STRONGROOM_CONFIG``
or ``$STRONGROOM_HOME/strongroom.toml``) sets logging, PIN policy, quotas and the KDF
cost. Everything has a safe default so a module loaded by any application works with no
configuration at all.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, fields
from pathlib import Path

from .pkcs11.constants import CKR
from .pkcs11.errors import CKRError

LOG = logging.getLogger("strongroom")


def default_home() -> Path:
    """``$STRONGROOM_HOME``, else the user's data dir (XDG) + ``strongroom``."""
    env = os.environ.get("STRONGROOM_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "strongroom"


@dataclass(frozen=True)
class Config:
    home: Path
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
    def database(self) -> Path:
        return self.home / "strongroom.db"


_INT_KEYS = {f.name for f in fields(Config) if f.type == "int"}


def load_config() -> Config:
    """Read the environment and the optional config file; bad values are a clear error."""
    home = default_home()
    path = Path(os.environ.get("STRONGROOM_CONFIG") or home / "strongroom.toml")
    values: dict[str, object] = {}
    if path.is_file():
        import tomllib   # deferred: only when a config file exists (cold start)

        try:
            with path.open("rb") as fh:
                values = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise CKRError(CKR.GENERAL_ERROR, f"cannot read config file {path}: {exc}") from None
    known = {f.name for f in fields(Config)} - {"home"}
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
    """Send the ``strongroom`` logger to the configured file (never secrets: callers log
    only exception types, handles and CKR names)."""
    level = getattr(logging, str(config.log_level).upper(), logging.WARNING)
    LOG.setLevel(level)
    for handler in list(LOG.handlers):
        if getattr(handler, "_strongroom", False):
            LOG.removeHandler(handler)
            handler.close()
    if config.log_file:
        handler: logging.Handler = logging.FileHandler(config.log_file)
    else:
        handler = logging.StreamHandler()
        handler.setLevel(max(level, logging.WARNING))
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"))
    handler._strongroom = True  # type: ignore[attr-defined]
    LOG.addHandler(handler)
    LOG.propagate = False
