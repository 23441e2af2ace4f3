"""Per-object-class attribute tables: the rules of PKCS#11 base spec chapter 4 (Objects), as data.

Why data: the spec states its object rules as tables with footnotes (v3.x base spec
"Common footnotes for object attribute tables"). Mirroring those tables row for row
makes review against the spec a side-by-side read, and lets template.py be the one
piece of code that interprets them. Tables compose the way the spec's do:
common object -> storage -> key -> public/private/secret key -> key type; data;
certificate -> X.509.

Adding a key type is one entry in :data:`KEY_TYPES` (a table of rows per key class);
no code changes.

Token-specific choices (spec footnote 9 "default is token-specific") are made in
this file only and are marked ``# token choice``.
"""
from __future__ import annotations

from enum import Enum
from types import MappingProxyType

from .._records import TYPE_CHECKING, NamedTuple
from .constants import CKA, CKC, CKK, CKO, CKR, MLDSAParameterSet, MLKEMParameterSet

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any


class Op(Enum):
    """The object-creating operations a template is validated for."""

    CREATE = "create"        # C_CreateObject
    GENERATE = "generate"    # C_GenerateKey, each half of C_GenerateKeyPair
    UNWRAP = "unwrap"        # C_UnwrapKey (and C_DecapsulateKey)
    DERIVE = "derive"        # C_DeriveKey

    #: Identity hash (members are singletons): Enum's default hashes the name in Python.
    __hash__ = object.__hash__


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _NoDefault()


class Sticky(Enum):
    """Footnotes 11/12: once at this value, the attribute can no longer change."""

    TRUE = True     # ^11^ cannot be changed once CK_TRUE (CKA_SENSITIVE, CKA_WRAP_WITH_TRUSTED)
    FALSE = False   # ^12^ cannot be changed once CK_FALSE (CKA_EXTRACTABLE, CKA_COPYABLE)


class AttrRule(NamedTuple):
    """One row of an attribute table; field comments name the spec footnote."""

    required_on_create: bool = False     # ^1^
    forbidden_on_create: bool = False    # ^2^
    required_on_generate: bool = False   # ^3^
    forbidden_on_generate: bool = False  # ^4^ (also applied to DERIVE: material comes from the mechanism)
    required_on_unwrap: bool = False     # ^5^
    forbidden_on_unwrap: bool = False    # ^6^
    sensitive: bool = False              # ^7^ secret: sealed at rest; unreadable if SENSITIVE or !EXTRACTABLE
    modifiable: bool = False             # ^8^ C_SetAttributeValue and C_CopyObject may change it
    copy_settable: bool = False          # "Copying objects": TOKEN/PRIVATE/MODIFIABLE/DESTROYABLE change on copy only
    so_only_true: bool = False           # ^10^ only the SO may set it to CK_TRUE
    sticky: Sticky | None = None         # ^11^ / ^12^
    token_derived: bool = False          # ^2,4,6^ set only by the token -> ATTRIBUTE_READ_ONLY if given
    default: Any = NO_DEFAULT
    op_defaults: tuple[tuple[Op, Any], ...] = ()   # per-operation default overriding ``default``
    values: frozenset[int] | None = None            # allowed values (ULONG enums) else ATTRIBUTE_VALUE_INVALID

    def default_for(self, op: Op) -> Any:
        for o, v in self.op_defaults:
            if o is op:
                return v
        return self.default


if TYPE_CHECKING:
    Table = Mapping[int, AttrRule]
else:
    Table = MappingProxyType   # what every table is at run time: a read-only dict
R = AttrRule


def _t(*tables: Mapping[int, AttrRule]) -> Table:
    """Compose tables; later rows override earlier ones (as the spec's class tables refine)."""
    out: dict[int, AttrRule] = {}
    for t in tables:
        out.update({int(k): v for k, v in t.items()})
    return MappingProxyType(out)


MOD = R(modifiable=True)
DERIVED = R(forbidden_on_create=True, forbidden_on_generate=True, forbidden_on_unwrap=True,
            token_derived=True)

# "Common Object Attributes" table. CKA_CLASS ^1^; CKA_UNIQUE_ID ^2,4,6^ (assigned by the core).
COMMON: Table = _t({
    CKA.CLASS: R(required_on_create=True),
    CKA.UNIQUE_ID: DERIVED,
})

# "Common Storage Object Attributes" table. Only CKA_LABEL is modifiable; TOKEN, PRIVATE,
# MODIFIABLE (and DESTROYABLE, "Copying objects") change on copy. CKA_COPYABLE "can't be set to
# TRUE once it is set to FALSE" -> sticky FALSE, lowering it is allowed.
STORAGE: Table = _t(COMMON, {
    CKA.TOKEN: R(copy_settable=True, default=False),
    CKA.PRIVATE: R(copy_settable=True, default=False),   # per-class override below
    CKA.MODIFIABLE: R(copy_settable=True, default=True),
    CKA.LABEL: R(modifiable=True, default=""),
    CKA.COPYABLE: R(modifiable=True, sticky=Sticky.FALSE, default=True),
    CKA.DESTROYABLE: R(copy_settable=True, default=True),
})

# "Data Object Attributes" table.
DATA: Table = _t(STORAGE, {
    CKA.APPLICATION: R(default=""),
    CKA.OBJECT_ID: R(default=b""),
    CKA.VALUE: R(default=b""),
})

# "Common Certificate Object Attributes" table. CKA_TRUSTED ^10^ (SO only).
_CATEGORIES = frozenset({0, 1, 2, 3})   # CK_CERTIFICATE_CATEGORY_UNSPECIFIED..OTHER_ENTITY
CERTIFICATE: Table = _t(STORAGE, {
    CKA.CERTIFICATE_TYPE: R(required_on_create=True),
    CKA.TRUSTED: R(modifiable=True, so_only_true=True, default=False),
    CKA.CERTIFICATE_CATEGORY: R(default=0, values=_CATEGORIES),
    CKA.CHECK_VALUE: R(),
    CKA.START_DATE: R(default=b""),
    CKA.END_DATE: R(default=b""),
    CKA.PUBLIC_KEY_INFO: R(default=b""),
})

# "X.509 Certificate Object Attributes" table: only CKA_ID, CKA_ISSUER, CKA_SERIAL_NUMBER are
# modifiable. (This table's own footnotes: SUBJECT and VALUE must be given on create.)
X509: Table = _t(CERTIFICATE, {
    CKA.SUBJECT: R(required_on_create=True),
    CKA.ID: R(modifiable=True, default=b""),
    CKA.ISSUER: R(modifiable=True, default=b""),
    CKA.SERIAL_NUMBER: R(modifiable=True, default=b""),
    CKA.VALUE: R(required_on_create=True),
    CKA.URL: R(default=""),
    CKA.HASH_OF_SUBJECT_PUBLIC_KEY: R(default=b""),
    CKA.HASH_OF_ISSUER_PUBLIC_KEY: R(default=b""),
    CKA.JAVA_MIDP_SECURITY_DOMAIN: R(default=0, values=frozenset({0, 1, 2, 3})),
    CKA.NAME_HASH_ALGORITHM: R(),   # absent means SHA-1
})

CERTIFICATE_TYPES: Mapping[int, Table] = MappingProxyType({CKC.X_509: X509})

# "Common Key Attributes" table. CKA_KEY_TYPE ^1,5^ (implied by the mechanism on generate).
KEY: Table = _t(STORAGE, {
    CKA.KEY_TYPE: R(required_on_create=True, required_on_unwrap=True),
    CKA.ID: R(modifiable=True, default=b""),
    CKA.START_DATE: R(modifiable=True, default=b""),
    CKA.END_DATE: R(modifiable=True, default=b""),
    CKA.DERIVE: R(modifiable=True, default=False),
    CKA.LOCAL: DERIVED,
    CKA.KEY_GEN_MECHANISM: DERIVED,
    CKA.ALLOWED_MECHANISMS: R(),   # absent: any mechanism; a list (even empty): only those (crypto.check_key)
    CKA.OBJECT_VALIDATION_FLAGS: DERIVED,           # ^4,6,9^; not assigned by strongroom
})

# Usage flags: footnote 9, token-specific default. token choice: CK_TRUE, like SoftHSM2,
# so keys imported/generated by tools that do not spell out usages work; the core still
# checks mechanism/key-type compatibility. CKA_DERIVE keeps the spec default CK_FALSE.
# Per key type, usages with no mechanism for that type default to CK_FALSE (NO_USE below).
USE = R(modifiable=True, default=True)

# "Common Public Key Attributes" table.
PUBLIC_KEY: Table = _t(KEY, {
    CKA.PRIVATE: R(copy_settable=True, default=False),   # token choice
    CKA.SUBJECT: R(modifiable=True, default=b""),
    CKA.ENCRYPT: USE, CKA.VERIFY: USE, CKA.VERIFY_RECOVER: USE, CKA.WRAP: USE,
    CKA.ENCAPSULATE: USE,
    CKA.TRUSTED: R(modifiable=True, so_only_true=True, default=False),
    CKA.WRAP_TEMPLATE: R(),
    CKA.ENCAPSULATE_TEMPLATE: R(),
    CKA.PUBLIC_KEY_INFO: R(),   # filled by the mechanisms layer from the key material
})

# Private and secret keys share these ("Common Private/Secret Key Attributes" tables).
# token choice (footnote 9): CKA_EXTRACTABLE defaults to CK_FALSE (safe by default;
# callers set it explicitly to export). C_UnwrapKey defaults it to CK_TRUE as the
# spec requires (C_UnwrapKey: "The CKA_EXTRACTABLE attribute is by default set to CK_TRUE").
_SECRET_HOLDER: Table = _t(KEY, {
    CKA.PRIVATE: R(copy_settable=True, default=True),    # token choice
    CKA.EXTRACTABLE: R(modifiable=True, sticky=Sticky.FALSE, default=False,
                       op_defaults=((Op.UNWRAP, True),)),
    CKA.ALWAYS_SENSITIVE: DERIVED,
    CKA.NEVER_EXTRACTABLE: DERIVED,
    CKA.WRAP_WITH_TRUSTED: R(modifiable=True, sticky=Sticky.TRUE, default=False),
    CKA.UNWRAP_TEMPLATE: R(),
    CKA.DERIVE_TEMPLATE: R(),
})

# "Common Private Key Attributes" table. CKA_SENSITIVE ^8,11,9^: token choice CK_TRUE (safe by default).
PRIVATE_KEY: Table = _t(_SECRET_HOLDER, {
    CKA.SUBJECT: R(modifiable=True, default=b""),
    CKA.SENSITIVE: R(modifiable=True, sticky=Sticky.TRUE, default=True),
    CKA.DECRYPT: USE, CKA.SIGN: USE, CKA.SIGN_RECOVER: USE, CKA.UNWRAP: USE,
    CKA.DECAPSULATE: USE,
    CKA.DECAPSULATE_TEMPLATE: R(),
    CKA.ALWAYS_AUTHENTICATE: R(default=False),
    # ^8^ in the spec, but changing it needs a key-consistency check the validator
    # cannot make; a token may be more restrictive ("Creating objects" item 3). Settable on create.
    CKA.PUBLIC_KEY_INFO: R(),
})

# "Common Secret Key Attributes" table. The spec fixes CKA_SENSITIVE's default at CK_FALSE here (unlike
# private keys); secrecy by default still holds because CKA_EXTRACTABLE defaults to
# CK_FALSE and footnote 7 hides the value when either is set.
SECRET_KEY: Table = _t(_SECRET_HOLDER, {
    CKA.SENSITIVE: R(modifiable=True, sticky=Sticky.TRUE, default=False),
    CKA.ENCRYPT: USE, CKA.DECRYPT: USE, CKA.SIGN: USE, CKA.VERIFY: USE,
    CKA.WRAP: USE, CKA.UNWRAP: USE,
    CKA.CHECK_VALUE: R(),
    CKA.TRUSTED: R(modifiable=True, so_only_true=True, default=False),
    CKA.WRAP_TEMPLATE: R(),
})

# Key material rows (footnotes from each key type's table in the mechanisms spec).
MATERIAL = R(required_on_create=True, forbidden_on_generate=True)                    # ^1,4^
PRIV_MATERIAL = R(required_on_create=True, forbidden_on_generate=True,
                  forbidden_on_unwrap=True)                                          # ^1,4,6^
SECRET = R(required_on_create=True, forbidden_on_generate=True, forbidden_on_unwrap=True,
           sensitive=True)                                                           # ^1,4,6,7^
OPT_SECRET = R(forbidden_on_generate=True, forbidden_on_unwrap=True, sensitive=True)  # ^4,6,7^
VALUE_LEN = R(forbidden_on_create=True, required_on_generate=True)                   # ^2,3^

# Usage flags a key type has no mechanism for default to CK_FALSE (still settable): an EC
# key is not created able to decrypt, unwrap, recover or decapsulate just because the
# common tables default usages to CK_TRUE.
NO_USE = R(modifiable=True, default=False)


def _no_use(*ckas: int) -> dict[int, AttrRule]:
    return {cka: NO_USE for cka in ckas}


# Keys that sign/verify (and, for EC, derive) but never encrypt, wrap, recover or encapsulate:
# EC, EdDSA, ML-DSA; X25519/X448 drop sign/verify too.
_SIGN_ONLY_PUBLIC_UNUSED = _no_use(CKA.ENCRYPT, CKA.WRAP, CKA.VERIFY_RECOVER, CKA.ENCAPSULATE)
_SIGN_ONLY_PRIVATE_UNUSED = _no_use(CKA.DECRYPT, CKA.UNWRAP, CKA.SIGN_RECOVER, CKA.DECAPSULATE)


def _ec_like(public_unused: Mapping[int, AttrRule] = MappingProxyType({}),
             private_unused: Mapping[int, AttrRule] = MappingProxyType({})) -> dict[int, Table]:
    """The rows of the EC, Edwards and Montgomery key tables (the same rows in the spec),
    with the usages a curve family has no mechanism for added to the sign-only ones."""
    return {
        CKO.PUBLIC_KEY: {
            CKA.EC_PARAMS: R(required_on_create=True, required_on_generate=True),   # ^1,3^
            CKA.EC_POINT: MATERIAL,
            **_SIGN_ONLY_PUBLIC_UNUSED, **public_unused,
        },
        CKO.PRIVATE_KEY: {
            CKA.EC_PARAMS: PRIV_MATERIAL,
            CKA.VALUE: SECRET,
            **_SIGN_ONLY_PRIVATE_UNUSED, **private_unused,
        },
    }


def _ml_rows(parameter_sets: Iterable[int], public_unused: Mapping[int, AttrRule],
             private_unused: Mapping[int, AttrRule]) -> dict[int, Table]:
    """PKCS#11 v3.2 "ML-DSA / ML-KEM public/private key objects" tables: the same rows but
    for the parameter sets and the usages each has no mechanism for. The private
    CKA_VALUE row is ^1,4,6,7^ in the table, but the text says "at least one of CKA_SEED
    and CKA_VALUE must be specified on C_CreateObject": both are optional here and
    mechanisms/pqc.normalize enforces the rule (strongroom needs CKA_SEED)."""
    values = frozenset(parameter_sets)
    return {
        CKO.PUBLIC_KEY: {
            CKA.PARAMETER_SET: R(required_on_create=True, required_on_generate=True,   # ^1,3^
                                 values=values),
            CKA.VALUE: MATERIAL,                                                      # ^1,4^
            **public_unused,
        },
        CKO.PRIVATE_KEY: {
            CKA.PARAMETER_SET: R(required_on_create=True, forbidden_on_generate=True,  # ^1,4,6^
                                 forbidden_on_unwrap=True, values=values),
            CKA.SEED: OPT_SECRET,                                                     # ^4,6,7^
            CKA.VALUE: OPT_SECRET,                                                    # see above
            **private_unused,
        },
    }


# One entry per key type: {key class: rows added to that class's table}.
KEY_TYPES: Mapping[int, Mapping[int, Table]] = MappingProxyType({
    CKK.RSA: {   # "RSA public/private key objects" tables
        CKO.PUBLIC_KEY: {
            CKA.MODULUS: MATERIAL,
            CKA.MODULUS_BITS: R(forbidden_on_create=True, required_on_generate=True),
            CKA.PUBLIC_EXPONENT: R(required_on_create=True),   # ^1^; optional on generate (65537)
            **_no_use(CKA.ENCAPSULATE),
        },
        CKO.PRIVATE_KEY: {
            CKA.MODULUS: PRIV_MATERIAL,
            CKA.PUBLIC_EXPONENT: PRIV_MATERIAL,
            CKA.PRIVATE_EXPONENT: SECRET,
            CKA.PRIME_1: OPT_SECRET,
            CKA.PRIME_2: OPT_SECRET,
            CKA.EXPONENT_1: OPT_SECRET,
            CKA.EXPONENT_2: OPT_SECRET,
            CKA.COEFFICIENT: OPT_SECRET,
            **_no_use(CKA.DECAPSULATE),
        },
    },
    CKK.EC: _ec_like(),    # "Elliptic curve public/private key objects" tables
    # "Edwards / Montgomery Elliptic curve public/private key objects" tables: same rows
    # as EC (CKA_EC_POINT / CKA_VALUE hold the RFC 8032 / 7748 raw encodings).
    CKK.EC_EDWARDS: _ec_like(),
    CKK.EC_MONTGOMERY: _ec_like(public_unused=_no_use(CKA.VERIFY),    # key agreement only
                                private_unused=_no_use(CKA.SIGN)),
    CKK.GENERIC_SECRET: {   # "Generic secret key objects" table
        CKO.SECRET_KEY: {CKA.VALUE: SECRET, CKA.VALUE_LEN: VALUE_LEN},
    },
    CKK.AES: {   # "AES secret key objects" table
        CKO.SECRET_KEY: {CKA.VALUE: SECRET, CKA.VALUE_LEN: VALUE_LEN},
    },
    # v3.0 "SHA-* / SHA3-* HMAC key objects" and "HKDF key objects": same rows as
    # generic secrets. CKK_CHACHA20: the key is always 32 bytes, so CKA_VALUE_LEN may be
    # omitted on generate (CKM_CHACHA20_KEY_GEN supplies it).
    **{kt: {CKO.SECRET_KEY: {CKA.VALUE: SECRET, CKA.VALUE_LEN: VALUE_LEN}} for kt in (
        CKK.SHA_1_HMAC, CKK.SHA224_HMAC, CKK.SHA256_HMAC, CKK.SHA384_HMAC, CKK.SHA512_HMAC,
        CKK.SHA512_224_HMAC, CKK.SHA512_256_HMAC, CKK.SHA3_224_HMAC, CKK.SHA3_256_HMAC,
        CKK.SHA3_384_HMAC, CKK.SHA3_512_HMAC, CKK.HKDF)},
    CKK.CHACHA20: {
        CKO.SECRET_KEY: {CKA.VALUE: SECRET, CKA.VALUE_LEN: R(forbidden_on_create=True)},
    },
    # PKCS#11 v3.2 "ML-DSA / ML-KEM public/private key objects" tables (_ml_rows).
    CKK.ML_DSA: _ml_rows(MLDSAParameterSet, _SIGN_ONLY_PUBLIC_UNUSED,      # signatures only
                         _SIGN_ONLY_PRIVATE_UNUSED),
    CKK.ML_KEM: _ml_rows(MLKEMParameterSet,                                # encapsulation only
                         _no_use(CKA.ENCRYPT, CKA.WRAP, CKA.VERIFY, CKA.VERIFY_RECOVER),
                         _no_use(CKA.DECRYPT, CKA.UNWRAP, CKA.SIGN, CKA.SIGN_RECOVER)),
})

KEY_CLASSES: frozenset[int] = frozenset({CKO.PUBLIC_KEY, CKO.PRIVATE_KEY, CKO.SECRET_KEY})

# Class -> (table, attribute selecting the sub-table, sub-tables).
CLASSES: Mapping[int, tuple[Table, int | None]] = MappingProxyType({
    CKO.DATA: (DATA, None),
    CKO.CERTIFICATE: (CERTIFICATE, CKA.CERTIFICATE_TYPE),
    CKO.PUBLIC_KEY: (PUBLIC_KEY, CKA.KEY_TYPE),
    CKO.PRIVATE_KEY: (PRIVATE_KEY, CKA.KEY_TYPE),
    CKO.SECRET_KEY: (SECRET_KEY, CKA.KEY_TYPE),
})


def subtype_attr(cls: int) -> int | None:
    """CKA_KEY_TYPE for keys, CKA_CERTIFICATE_TYPE for certificates, None for data."""
    entry = CLASSES.get(int(cls))
    return entry[1] if entry else None


def subtypes(cls: int) -> Mapping[int, Table]:
    """The sub-tables (key types / certificate types) strongroom supports for ``cls``."""
    cls = int(cls)
    if cls == CKO.CERTIFICATE:
        return CERTIFICATE_TYPES
    return {kt: rows[cls] for kt, rows in KEY_TYPES.items() if cls in rows}


_SUPPORTED: dict[int, tuple[Any, Any, frozenset[int]]] = {}


def supported_subtypes(cls: int) -> frozenset[int]:
    """``frozenset(subtypes(cls))`` as plain ints, cached while KEY_TYPES /
    CERTIFICATE_TYPES stay the same objects."""
    hit = _SUPPORTED.get(cls)
    if hit is not None and hit[0] is KEY_TYPES and hit[1] is CERTIFICATE_TYPES:
        return hit[2]
    value = frozenset(int(s) for s in subtypes(cls))
    _SUPPORTED[cls] = (KEY_TYPES, CERTIFICATE_TYPES, value)
    return value


_CACHE: dict[tuple[int, int | None], Table] = {}


def rules_for(cls: int, subtype: int | None) -> Table | None:
    """The composed table for an object class and key/certificate type, or None if unsupported."""
    key = (int(cls), None if subtype is None else int(subtype))
    if key in _CACHE:
        return _CACHE[key]
    entry = CLASSES.get(key[0])
    if entry is None:
        return None
    base, sub_attr = entry
    if sub_attr is None:
        table = base
    else:
        extra = subtypes(key[0]).get(key[1]) if key[1] is not None else None
        if extra is None:
            return None
        table = _t(base, extra)
    _CACHE[key] = table
    return table


# --- cross-attribute constraints (checked on every resulting object) ----------------
# (classes or None for all, predicate over the whole object -> True if violated, CKR, why)
if TYPE_CHECKING:
    Constraint = tuple[frozenset[int] | None, Callable[[Mapping[int, Any]], bool], int, str]

CONSTRAINTS: tuple[Constraint, ...] = (
    # Private key objects: CKA_ALWAYS_AUTHENTICATE "may only be set to CK_TRUE when CKA_PRIVATE is also CK_TRUE".
    (frozenset({CKO.PRIVATE_KEY}),
     lambda o: o.get(CKA.ALWAYS_AUTHENTICATE) is True and o.get(CKA.PRIVATE) is not True,
     CKR.TEMPLATE_INCONSISTENT, "CKA_ALWAYS_AUTHENTICATE needs CKA_PRIVATE"),
    # X.509 table footnote: CKA_VALUE "MUST be non-empty if CKA_URL is empty".
    (frozenset({CKO.CERTIFICATE}),
     lambda o: o.get(CKA.CERTIFICATE_TYPE) == CKC.X_509 and not o.get(CKA.VALUE) and not o.get(CKA.URL),
     CKR.TEMPLATE_INCONSISTENT, "X.509 certificate needs CKA_VALUE or CKA_URL"),
    # X.509 table footnote: the public-key hashes "can only be empty if CKA_URL is empty".
    (frozenset({CKO.CERTIFICATE}),
     lambda o: bool(o.get(CKA.URL)) and not (o.get(CKA.HASH_OF_SUBJECT_PUBLIC_KEY)
                                             and o.get(CKA.HASH_OF_ISSUER_PUBLIC_KEY)),
     CKR.TEMPLATE_INCONSISTENT, "CKA_URL needs CKA_HASH_OF_{SUBJECT,ISSUER}_PUBLIC_KEY"),
)

# Certificate objects: "Trusted certificates cannot be modified" (except by the SO).
FROZEN_WHEN_TRUSTED: frozenset[int] = frozenset({CKO.CERTIFICATE})

# Attributes the store indexes for C_FindObjects. Secret (sensitive-column) values are
# never indexed, whatever this set says (template.searchable checks both).
SEARCHABLE: frozenset[int] = frozenset({
    CKA.CLASS, CKA.KEY_TYPE, CKA.LABEL, CKA.ID, CKA.TOKEN, CKA.PRIVATE,
    CKA.CERTIFICATE_TYPE, CKA.CERTIFICATE_CATEGORY, CKA.SUBJECT, CKA.ISSUER,
    CKA.SERIAL_NUMBER, CKA.UNIQUE_ID, CKA.APPLICATION, CKA.OBJECT_ID, CKA.EC_POINT,
    CKA.EC_PARAMS, CKA.MODULUS, CKA.VALUE, CKA.PUBLIC_KEY_INFO, CKA.PARAMETER_SET,
})

