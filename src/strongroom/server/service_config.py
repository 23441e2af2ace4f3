"""The service's config file (``service.toml``, docs/service.md "Configuration"): where it
listens, how many workers, where it logs, and the access rules per token.

Read with tomllib once, at start; user and group names are resolved with pwd / grp then,
so a rule means the uids and gids it named when the service started. Any mistake is a
ConfigError whose one line names the file, the key and what is wrong.
"""
from __future__ import annotations

import grp
import os
import pwd
import tomllib

from .._records import TYPE_CHECKING
from ..config import ConfigError
from .access import AccessPolicy, Rule

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["DEFAULT_MAX_CONNECTIONS", "ServiceConfig", "load_service_config"]

DEFAULT_MAX_CONNECTIONS = 256      # an application may hold up to 4 (the client pool)
_TOP_KEYS = ("socket", "socket_group", "workers", "log_file", "max_connections_per_uid", "default", "token")
_RULE_KEYS = ("users", "groups", "so_users", "so_groups")
_LOGINS = ("pin", "os-identity")
_ID_MAX = 2**32 - 2                 # (uid_t) -1 means "no id"


class ServiceConfig:
    """What the file says; None where it says nothing (the command line or a default decides)."""

    __slots__ = ("log_file", "max_connections_per_uid", "path", "policy", "socket", "socket_group", "workers")

    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self.socket: str | None = None
        self.socket_group: int | None = None        # a gid: socket mode 0660 with that group
        self.workers: int | None = None
        self.log_file: str | None = None
        self.max_connections_per_uid = DEFAULT_MAX_CONNECTIONS
        self.policy = AccessPolicy()


def load_service_config(path: str | None, home: str) -> ServiceConfig:
    """``path`` (``--config``, which must exist), else ``service.toml`` in the home when
    present, else the defaults."""
    if path is None:
        candidate = os.path.join(home, "service.toml")
        if not os.path.isfile(candidate):
            return ServiceConfig()
        path = candidate
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}; "
                          "fix the path given to --config") from None
    try:
        values = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not a TOML file: {' '.join(str(exc).split())}") from None
    return _Reader(path).read(values)


def _show(value: object) -> str:
    text = f'"{value}"' if isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class _Reader:
    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.path}: {key}: {problem}")

    def read(self, values: dict[str, object]) -> ServiceConfig:
        self._known(values, _TOP_KEYS, "")
        out = ServiceConfig(self.path)
        out.socket = self._text(values, "socket")
        out.log_file = self._text(values, "log_file")
        out.workers = self._count(values, "workers")
        out.max_connections_per_uid = self._count(values, "max_connections_per_uid") or DEFAULT_MAX_CONNECTIONS
        if "socket_group" in values:
            out.socket_group = self._ids("socket_group", [values["socket_group"]], _group)[0]
        default = values.get("default", {})
        if not isinstance(default, dict):
            raise self.fail("default", "must be a table ([default])")
        out.policy = AccessPolicy(self._rule(default, "default"), *self._token_rules(values.get("token", [])))
        return out

    def _known(self, values: dict[str, object], known: tuple[str, ...], prefix: str) -> None:
        for key in values:
            if key not in known:
                raise self.fail(prefix + key, f"unknown key (known keys: {', '.join(known)})")

    def _text(self, values: dict[str, object], key: str) -> str | None:
        value = values.get(key)
        if value is not None and not (isinstance(value, str) and value):
            raise self.fail(key, f"{_show(value)} must be a path in quotes")
        return value

    def _count(self, values: dict[str, object], key: str) -> int | None:
        value = values.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 4096):
            raise self.fail(key, f"{_show(value)} must be a whole number from 1 to 4096 (no quotes)")
        return value

    def _token_rules(self, tokens: object) -> tuple[dict[str, Rule], dict[str, Rule]]:
        if not isinstance(tokens, list) or not all(isinstance(t, dict) for t in tokens):
            raise self.fail("token", "must be an array of tables ([[token]] with label or serial)")
        by_label: dict[str, Rule] = {}
        by_serial: dict[str, Rule] = {}
        for index, table in enumerate(tokens):
            where = f"token[{index}]"
            self._known(table, ("label", "serial", "login", *_RULE_KEYS), where + ".")
            names = [k for k in ("label", "serial") if k in table]
            if len(names) != 1:
                raise self.fail(where, "needs exactly one of label or serial")
            name = table[names[0]]
            if not isinstance(name, str) or not name or len(name) > (32 if names[0] == "label" else 16):
                raise self.fail(f"{where}.{names[0]}", f"{_show(name)} must be a token {names[0]} in quotes "
                                f"(at most {32 if names[0] == 'label' else 16} characters)")
            bucket = by_label if names[0] == "label" else by_serial
            if name in bucket:
                raise self.fail(f"{where}.{names[0]}", f"{_show(name)} has a rule already")
            bucket[name] = self._rule(table, where)
        return by_label, by_serial

    def _rule(self, table: dict[str, object], where: str) -> Rule:
        self._known(table, ("label", "serial", "login", *_RULE_KEYS) if where != "default"
                    else ("login", *_RULE_KEYS), where + ".")
        lists: dict[str, list[int]] = {}
        for key in _RULE_KEYS:
            value = table.get(key, [])
            if not isinstance(value, list):
                raise self.fail(f"{where}.{key}", f"{_show(value)} must be a list of names or numbers, "
                                f'e.g. {key} = ["alice", 1001]')
            lists[key] = self._ids(f"{where}.{key}", value, _group if key.endswith("groups") else _user)
        login = table.get("login", "pin")
        if login not in _LOGINS:
            raise self.fail(f"{where}.login", f'{_show(login)} must be "pin" or "os-identity"')
        return Rule(lists["users"], lists["groups"], lists["so_users"], lists["so_groups"], str(login))

    def _ids(self, key: str, values: list[object], resolve: Callable[[str], int | None]) -> list[int]:
        out = []
        for value in values:
            if isinstance(value, bool) or not isinstance(value, int | str):
                raise self.fail(key, f"{_show(value)} must be a name in quotes or a number")
            if isinstance(value, int):
                if not 0 <= value <= _ID_MAX:
                    raise self.fail(key, f"{value} is not a uid or gid")
                out.append(value)
                continue
            number = resolve(value)
            if number is None:
                kind = "group" if resolve is _group else "user"
                raise self.fail(key, f'no such {kind} "{value}" (create it or use its number)')
            out.append(number)
        return out


def _user(name: str) -> int | None:
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        return None


def _group(name: str) -> int | None:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None
