"""PKCS#11 URIs (RFC 7512): parse, format and match.

A URI names a library, slot, token or object (``pkcs11:token=dev;object=k;type=private``)
and may say how to log in (``?pin-source=file:/etc/pin``). Every command and API call that
selects a token or an object accepts one, so this module is the single place that knows
the grammar. It is pure and stdlib-only: the CLI imports it before anything heavy.

What the RFC leaves to the consumer, decided here:

* Attribute names are compared exactly. A vendor name that differs from a standard one
  only by case (``Token=``) is refused, since it is almost surely a typo that would
  otherwise select nothing.
* Query attributes written in the path (``pkcs11:token=t;pin-value=1234``, as older
  OpenSSL engine URIs do) are accepted and moved to the query.
* Duplicate vendor query attributes (the RFC allows them and lets the consumer decide)
  are refused: the query is a mapping here.
* ``pin-value`` together with ``pin-source`` is refused (RFC 7512 §2.3: SHOULD).
* Values must be UTF-8 after percent-decoding, except ``id``, which is bytes.
* A literal space in a value is accepted (``object=device id``, as Azure IoT and other
  tools write it, and as OpenSSL's pkcs11-provider reads it) although the RFC wants
  ``%20``; format() always writes ``%20``, so what strongroom prints is RFC-conformant.
"""
from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar, overload

__all__ = [
    "CLASS_TO_TYPE",
    "OBJECT_TYPES",
    "PATH_ATTRIBUTES",
    "PKCS11URI",
    "QUERY_ATTRIBUTES",
    "TYPE_TO_CLASS",
    "URIError",
    "build",
    "is_uri",
    "parse",
]

SCHEME = "pkcs11:"

# Standard attributes, in the order format() writes them.
PATH_ATTRIBUTES = ("token", "manufacturer", "serial", "model",
                   "slot-description", "slot-manufacturer", "slot-id",
                   "library-manufacturer", "library-description", "library-version",
                   "object", "type", "id")
QUERY_ATTRIBUTES = ("pin-source", "pin-value", "module-name", "module-path")

# `type` values and the CKO_ object classes they stand for (RFC 7512 §2.3).
OBJECT_TYPES = ("public", "private", "cert", "secret-key", "data")
TYPE_TO_CLASS = {"data": 0, "cert": 1, "public": 2, "private": 3, "secret-key": 4}
CLASS_TO_TYPE = {cls: name for name, cls in TYPE_TO_CLASS.items()}

_MAX_SLOT_ID = 2 ** 64 - 1       # CK_SLOT_ID is a CK_ULONG
_HIDDEN = "***"                  # stands for a pin-value in repr() and format(hide_pin=True)

# RFC 3986 unreserved + RFC 7512 pk11-res-avail, then the extra characters each
# component may carry unencoded.
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_RES_AVAIL = frozenset(":[]@!$'()*+,=")
_PCHAR = _UNRESERVED | _RES_AVAIL | {"&"}             # pk11-path-res-avail adds "&"
_QCHAR = _UNRESERVED | _RES_AVAIL | {"/", "?", "|"}   # pk11-query-res-avail
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_HEX = frozenset("0123456789abcdefABCDEF")
_LENIENT = frozenset(" ")        # read literally although the RFC wants it encoded (see above)
_DIGITS = frozenset("0123456789")

_LOWER_STANDARD = {name.lower(): name for name in PATH_ATTRIBUTES + QUERY_ATTRIBUTES}


class URIError(ValueError):
    """A malformed PKCS#11 URI or attribute value; the message names the bad part and
    never contains a pin-value."""


# --- percent-encoding ------------------------------------------------------------------

def _decode(name: str, raw: str, allowed: frozenset[str]) -> bytes:
    """Percent-decode `raw` (the value of attribute `name`) to bytes, refusing characters
    the RFC requires to be encoded."""
    secret = name == "pin-value"
    allowed = allowed | _LENIENT
    out = bytearray()
    i, n = 0, len(raw)
    while i < n:
        ch = raw[i]
        if ch == "%":
            pair = raw[i + 1:i + 3]
            if len(pair) != 2 or not set(pair) <= _HEX:
                where = "" if secret else f": %{pair[:2]}"
                raise URIError(f"bad percent-escape in {name!r}{where}")
            out.append(int(pair, 16))
            i += 3
            continue
        if ch not in allowed:
            if secret:
                raise URIError(f"a character in {name!r} must be percent-encoded")
            escaped = "".join(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))
            raise URIError(f"character {ch!r} is not allowed in {name!r} "
                           f"(percent-encode it as {escaped})")
        out.append(ord(ch))
        i += 1
    return bytes(out)


def _encode(data: bytes, allowed: frozenset[str]) -> str:
    """Percent-encode every byte outside `allowed` (uppercase hex, RFC 3986 §2.1)."""
    return "".join(chr(b) if chr(b) in allowed else f"%{b:02X}" for b in data)


def _encode_all(data: bytes) -> str:
    """Every byte as %XX: how `id` is always written (RFC 7512 recommends it for ids)."""
    return "".join(f"%{b:02X}" for b in data)


def _text(name: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise URIError(f"{name!r} is not UTF-8 after percent-decoding") from None


# --- value checks shared by parse(), build() and PKCS11URI() ----------------------------

def _check_name(name: str, component: str) -> None:
    if not name:
        raise URIError(f"empty attribute name in the {component}")
    if not set(name) <= _NAME_CHARS:
        raise URIError(f"bad attribute name {name!r} in the {component}: "
                       "names are letters, digits, '-' and '_'")
    standard = _LOWER_STANDARD.get(name.lower())
    if standard is not None and standard != name:
        raise URIError(f"attribute names are case-sensitive: write {standard!r}, not {name!r}")


def _library_version(value: str) -> tuple[int, int]:
    major, dot, minor = value.partition(".")
    if (not major or not set(major) <= _DIGITS
            or (dot and (not minor or not set(minor) <= _DIGITS))):
        raise URIError(f"bad 'library-version' {value!r}: expected M or M.N (decimal)")
    return int(major), int(minor) if dot else 0


def _slot_id(value: str) -> int:
    if not value or not set(value) <= _DIGITS:
        raise URIError(f"bad 'slot-id' {value!r}: expected a decimal number")
    number = int(value)
    if number > _MAX_SLOT_ID:
        raise URIError(f"bad 'slot-id' {value!r}: larger than a CK_SLOT_ID")
    return number


def _path_value(name: str, value: object) -> str | bytes:
    """Check and normalise one path value given as a Python object (build / constructor)."""
    if name == "id":
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        raise URIError(f"'id' must be bytes, not {type(value).__name__}")
    if name == "slot-id":
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise URIError(f"'slot-id' must be an int, not {type(value).__name__}")
        number = value if isinstance(value, int) else _slot_id(value)
        if not 0 <= number <= _MAX_SLOT_ID:
            raise URIError(f"bad 'slot-id' {value!r}: not a CK_SLOT_ID")
        return str(number)
    if name == "library-version" and isinstance(value, tuple):
        if len(value) != 2 or not all(isinstance(v, int) and v >= 0 for v in value):
            raise URIError(f"bad 'library-version' {value!r}: expected (major, minor)")
        return f"{value[0]}.{value[1]}"
    if not isinstance(value, str):
        raise URIError(f"{name!r} must be a str, not {type(value).__name__}")
    if name == "library-version":
        _library_version(value)
    elif name == "type" and value not in OBJECT_TYPES:
        raise URIError(f"bad 'type' {value!r}: expected one of {', '.join(OBJECT_TYPES)}")
    return value


def _query_value(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise URIError(f"{name!r} must be a str, not {type(value).__name__}")
    return value


def _check_query(query: Mapping[str, str]) -> None:
    if "pin-value" in query and "pin-source" in query:
        raise URIError("'pin-value' and 'pin-source' must not both be given")


# --- the URI ---------------------------------------------------------------------------

# What matches_* take: attribute name -> the resource's value. (An alias, because inside
# PKCS11URI the name `object` is the object-label attribute.)
Info = Mapping[str, object]
_W = TypeVar("_W")


class _Text:
    """A str attribute of the URI's path (or, with query=True, its query): None when absent."""

    def __init__(self, name: str, doc: str | None = None, *, query: bool = False) -> None:
        self.name, self.query = name, query
        self.__doc__ = doc

    @overload
    def __get__(self, uri: None, owner: type) -> _Text: ...
    @overload
    def __get__(self, uri: PKCS11URI, owner: type) -> str | None: ...

    def __get__(self, uri: PKCS11URI | None, owner: type) -> _Text | str | None:
        if uri is None:
            return self
        value = (uri.query if self.query else uri.path).get(self.name)
        return value if isinstance(value, str) else None


class PKCS11URI:
    """A parsed PKCS#11 URI.

    `path` maps RFC attribute names to percent-decoded values (``id`` as bytes, every
    other value str; ``slot-id`` as its decimal text); `query` likewise for the query
    component. Vendor attributes keep their insertion order. Build one with parse() or
    build(); the constructor checks the values the same way.
    """

    __slots__ = ("path", "query")

    def __init__(self, path: Info | None = None, query: Info | None = None) -> None:
        self.path: dict[str, str | bytes] = {}
        self.query: dict[str, str] = {}
        for name, value in (path or {}).items():
            if name in QUERY_ATTRIBUTES:
                raise URIError(f"{name!r} is a query attribute, not a path attribute")
            _check_name(name, "path")
            self.path[name] = _path_value(name, value)
        for name, value in (query or {}).items():
            if name in PATH_ATTRIBUTES:
                raise URIError(f"{name!r} is a path attribute, not a query attribute")
            _check_name(name, "query")
            self.query[name] = _query_value(name, value)
        _check_query(self.query)

    # -- conveniences ----------------------------------------------------------------

    token = _Text("token", "Token label (CK_TOKEN_INFO.label).")
    manufacturer = _Text("manufacturer")
    serial = _Text("serial")
    model = _Text("model")
    slot_description = _Text("slot-description")
    slot_manufacturer = _Text("slot-manufacturer")
    library_manufacturer = _Text("library-manufacturer")
    library_description = _Text("library-description")
    library_version = _Text("library-version", "'M' or 'M.N' as written.")
    object = _Text("object", "Object label (CKA_LABEL).")
    type = _Text("type", "public|private|cert|secret-key|data.")
    pin_value = _Text("pin-value", query=True)
    pin_source = _Text("pin-source", query=True)
    module_name = _Text("module-name", query=True)
    module_path = _Text("module-path", query=True)

    @property
    def slot_id(self) -> int | None:
        value = self.path.get("slot-id")
        return int(value) if isinstance(value, str) else None

    @property
    def id(self) -> bytes | None:
        """CKA_ID as bytes."""
        value = self.path.get("id")
        return value if isinstance(value, bytes) else None

    @property
    def object_class(self) -> int | None:
        """The CKO_ class `type` stands for, or None."""
        return TYPE_TO_CLASS.get(self.type) if self.type else None

    @property
    def vendor_path(self) -> dict[str, str]:
        """Path attributes not defined by RFC 7512 (they make every match fail)."""
        return {k: v for k, v in self.path.items() if k not in PATH_ATTRIBUTES and isinstance(v, str)}

    # -- text --------------------------------------------------------------------------

    def format(self, *, hide_pin: bool = False) -> str:
        """Canonical text: standard attributes in a fixed order, then vendor ones in
        theirs; every byte outside the RFC's allowed characters percent-encoded, `id`
        entirely. hide_pin writes the pin-value as *** (for messages and logs)."""
        path = []
        for name in _ordered(self.path, PATH_ATTRIBUTES):
            value = self.path[name]
            if isinstance(value, bytes):
                path.append(f"{name}={_encode_all(value)}")
            else:
                path.append(f"{name}={_encode(value.encode('utf-8'), _PCHAR)}")
        query = []
        for name in _ordered(self.query, QUERY_ATTRIBUTES):
            value = self.query[name]
            text = _HIDDEN if hide_pin and name == "pin-value" else \
                _encode(value.encode("utf-8"), _QCHAR)
            query.append(f"{name}={text}")
        return SCHEME + ";".join(path) + ("?" + "&".join(query) if query else "")

    __str__ = format

    def __repr__(self) -> str:
        return f"PKCS11URI({self.format(hide_pin=True)!r})"

    def __eq__(self, other: builtins.object) -> bool:
        if not isinstance(other, PKCS11URI):
            return NotImplemented
        return self.path == other.path and self.query == other.query

    __hash__ = None  # type: ignore[assignment]  # mutable mappings

    # -- matching (RFC 7512 §3.3) --------------------------------------------------------
    #
    # Every attribute present in the URI must equal the resource's value; absent ones
    # match anything. A value the caller does not supply cannot be checked, so it does not
    # match. An unknown (vendor) path attribute cannot be checked by anyone: no match.

    def _match_text(self, info: Info, names: tuple[str, ...]) -> bool:
        if self.vendor_path:
            return False
        for name in names:
            wanted = self.path.get(name)
            if wanted is None:
                continue
            if name not in info or _padded(info[name]) != _padded(wanted):
                return False
        return True

    @staticmethod
    def _match_value(info: Info, name: str, wanted: _W | None, same: Callable[[_W, builtins.object], bool]) -> bool:
        """A non-text attribute: absent from the URI matches anything; absent from `info`
        cannot be checked (no match); else `same(wanted, have)` decides."""
        if wanted is None:
            return True
        have = info.get(name)
        return have is not None and same(wanted, have)

    def matches_library(self, info: Info) -> bool:
        """info keys: library-manufacturer, library-description (CK_INFO, may be
        space-padded), library-version ("M.N" or (major, minor))."""
        return (self._match_text(info, ("library-manufacturer", "library-description"))
                and self._match_value(info, "library-version", self.library_version, _same_version))

    def matches_slot(self, info: Info) -> bool:
        """info keys: slot-id (int), slot-description, slot-manufacturer."""
        return (self._match_text(info, ("slot-description", "slot-manufacturer"))
                and self._match_value(info, "slot-id", self.slot_id, _same_slot_id))

    def matches_token(self, info: Info) -> bool:
        """info keys: token (label), manufacturer, serial, model (CK_TOKEN_INFO, may be
        space-padded)."""
        return self._match_text(info, ("token", "manufacturer", "serial", "model"))

    def matches_object(self, info: Info) -> bool:
        """info keys: object (CKA_LABEL), id (CKA_ID bytes), type (an RFC type name or a
        CKO_ class number)."""
        if self.vendor_path:
            return False
        label = self.object
        if label is not None:
            have = info.get("object")
            if isinstance(have, (bytes, bytearray)):
                have = bytes(have).decode("utf-8", "replace")
            if have != label:
                return False
        wanted_id = self.id
        if wanted_id is not None:
            have = info.get("id")
            if not isinstance(have, (bytes, bytearray, memoryview)) or bytes(have) != wanted_id:
                return False
        wanted_type = self.type
        if wanted_type is not None:
            have = info.get("type")
            if isinstance(have, int) and not isinstance(have, bool):
                have = CLASS_TO_TYPE.get(int(have))
            if have != wanted_type:
                return False
        return True


def _same_version(wanted: str, have: object) -> bool:
    """library-version as written in the URI against CK_INFO's ("M.N" or (major, minor))."""
    try:
        have_v = _library_version(have) if isinstance(have, str) else \
            tuple(have) if isinstance(have, Iterable) else None
    except URIError:
        return False
    return _library_version(wanted) == have_v


def _same_slot_id(wanted: int, have: object) -> bool:
    return isinstance(have, int) and not isinstance(have, bool) and have == wanted


def _ordered(values: Mapping[str, object], standard: tuple[str, ...]) -> list[str]:
    return [n for n in standard if n in values] + [n for n in values if n not in standard]


def _padded(value: object) -> object:
    """CK_*_INFO strings are blank-padded to a fixed width: trailing spaces carry no
    meaning, on either side."""
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8", "replace")
    return value.rstrip(" ") if isinstance(value, str) else value


# --- entry points ----------------------------------------------------------------------

def is_uri(text: str) -> bool:
    """True if `text` is meant as a PKCS#11 URI rather than a label (the scheme is
    case-insensitive, RFC 3986 §3.1)."""
    return isinstance(text, str) and text[:len(SCHEME)].lower() == SCHEME


def parse(text: str) -> PKCS11URI:
    """Parse a ``pkcs11:`` URI; raises URIError naming the bad part."""
    if not isinstance(text, str):
        raise URIError(f"a PKCS#11 URI must be a str, not {type(text).__name__}")
    if not is_uri(text):
        raise URIError("not a PKCS#11 URI: it must start with 'pkcs11:'")
    rest = text[len(SCHEME):]
    path_text, has_query, query_text = rest.partition("?")
    path: dict[str, str | bytes] = {}
    query: dict[str, str] = {}
    for name, raw in _split(path_text, ";", "path"):
        if name in QUERY_ATTRIBUTES:          # libp11-style: pin-value in the path
            _put_query(query, name, raw)
            continue
        if name in path:
            raise URIError(f"duplicate path attribute {name!r}")
        data = _decode(name, raw, _PCHAR)
        if name == "id":
            path[name] = data
            continue
        value = _text(name, data)
        if name == "slot-id":
            value = str(_slot_id(value))
        else:
            _path_value(name, value)
        path[name] = value
    if has_query:
        for name, raw in _split(query_text, "&", "query"):
            _put_query(query, name, raw)
    if "pin-value" in query and "pin-source" in query:
        raise URIError("'pin-value' and 'pin-source' must not both be given")
    uri = PKCS11URI()
    uri.path, uri.query = path, query
    return uri


def _split(text: str, sep: str, component: str) -> list[tuple[str, str]]:
    if not text:
        return []
    pairs = []
    for position, part in enumerate(text.split(sep), 1):
        if not part:
            raise URIError(f"empty attribute {position} in the {component} (stray {sep!r})")
        name, eq, raw = part.partition("=")
        if not eq:
            shown = name if len(name) <= 40 else name[:40] + "..."
            raise URIError(f"{component} attribute {shown!r} has no '=value'")
        if name in PATH_ATTRIBUTES and component == "query":
            raise URIError(f"{name!r} is a path attribute: write it before '?'")
        _check_name(name, component)
        pairs.append((name, raw))
    return pairs


def _put_query(query: dict[str, str], name: str, raw: str) -> None:
    if name in query:
        raise URIError(f"duplicate query attribute {name!r}")
    query[name] = _text(name, _decode(name, raw, _QCHAR))


def build(**attrs: object) -> PKCS11URI:
    """A URI from keyword attributes, "_" standing for "-":
    ``build(token="dev", id=b"\\x01", type="private", pin_source="file:/p")``.
    None values are left out, so optional selectors can be passed straight through."""
    path: dict[str, object] = {}
    query: dict[str, object] = {}
    for key, value in attrs.items():
        if value is None:
            continue
        name = key.replace("_", "-")
        if name in PATH_ATTRIBUTES:
            path[name] = value
        elif name in QUERY_ATTRIBUTES:
            query[name] = value
        else:
            raise URIError(f"unknown PKCS#11 URI attribute {key!r}")
    return PKCS11URI(path, query)
