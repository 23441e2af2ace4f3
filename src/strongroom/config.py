"""Where tokens live and how the module behaves: ``STRONGROOM_HOME`` and ``strongroom.toml``.

The home directory holds the token database. An optional TOML file (``STRONGROOM_CONFIG``
or ``$STRONGROOM_HOME/strongroom.toml``) sets logging, PIN policy, quotas and the KDF
cost. Everything has a safe default so a module loaded by any application works with no
configuration at all.
"""
from __future__ import annotations

import os

from . import log
from ._records import NamedTuple
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


# Field kinds from the defaults: the NamedTuple of _records.py keeps no __annotations__.
_INT_KEYS = frozenset(k for k, v in Config._field_defaults.items() if isinstance(v, int))
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(CKRError):
    """A mistake in the environment or the config file. The module can only answer
    CKR_GENERAL_ERROR, so :attr:`line` is the one line that says what to fix (file, key,
    what is wrong); C_Initialize writes it to stderr and the log, the CLI prints it."""

    def __init__(self, line: str, log_file: str | None = None) -> None:
        super().__init__(CKR.GENERAL_ERROR, line)
        self.line = line
        self.log_file = log_file     # where the log goes if the file got that far, else None


def _show(value: object) -> str:
    """A config value as the file spells it, cut short (config values hold no secret)."""
    text = f'"{value}"' if isinstance(value, str) else ("true" if value is True else
                                                       "false" if value is False else repr(value))
    return text if len(text) <= 40 else text[:37] + "..."


def _unknown_key(path: str, key: str, known: set[str]) -> str:
    import difflib  # only on this error path (cold start)

    near = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    hint = f" (did you mean '{near[0]}'?)" if near else f" (known keys: {', '.join(sorted(known))})"
    return f"{path}: unknown key '{key}'{hint}"


def _check_values(path: str, values: dict[str, object]) -> str | None:
    """The first problem of the file's values as one line, or None when all are good."""
    if "home" in values:
        return f"{path}: home: set STRONGROOM_HOME instead of 'home'"
    known = set(Config._fields) - {"home"}
    unknown = sorted(set(values) - known)
    if unknown:
        return _unknown_key(path, unknown[0], known)
    for key in sorted(_INT_KEYS & set(values)):
        value = values[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return f"{path}: {key} = {_show(value)}: must be a non-negative integer (no quotes, no unit)"
    floors = {"rsa_min_generate_bits": 1024, "max_data_len": 1}
    for key, floor in floors.items():
        if key in values and values[key] < floor:  # type: ignore[operator]
            return f"{path}: {key} must be at least {floor}, not {values[key]}"
    if "log_file" in values and not (isinstance(values["log_file"], str) and values["log_file"]):
        return f"{path}: log_file = {_show(values['log_file'])}: must be a file path in quotes"
    level = values.get("log_level", "WARNING")
    if not isinstance(level, str) or level.upper() not in _LOG_LEVELS:
        return f"{path}: log_level = {_show(level)}: must be one of {', '.join(_LOG_LEVELS)}"
    return None


def config_path(home: str | None = None) -> str:
    """The config file in use: ``$STRONGROOM_CONFIG``, else ``strongroom.toml`` in the home."""
    return os.environ.get("STRONGROOM_CONFIG") or os.path.join(home or default_home(), "strongroom.toml")


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
    """Read the environment and the optional config file; a mistake is a ConfigError
    whose one line names the file, the key and what is wrong."""
    home = default_home()
    path = config_path(home)
    values: dict[str, object] = {}
    if os.path.isfile(path):
        values = _read_file(path)
    problem = _check_values(path, values)
    if problem is not None:
        log_file = values.get("log_file")
        raise ConfigError(problem, log_file if isinstance(log_file, str) and log_file else None)
    return Config(home=home, **values)  # type: ignore[arg-type]


def _read_file(path: str) -> dict[str, object]:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    simple = parse_flat_toml(raw)
    if simple is not None:
        return simple
    import tomllib  # ~6 ms with the typing and re it imports: only for rich files

    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {' '.join(str(exc).split())}") from None


def setup_logging(config: Config) -> None:
    """Send the ``strongroom`` logger to the configured file (installed lazily, see log.py)."""
    log.configure(config.log_file, config.log_level)
