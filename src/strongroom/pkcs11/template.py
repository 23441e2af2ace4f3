"""The one template validator: reads schema.py and applies the rules of PKCS#11
"Creating, modifying, and copying objects" (v3.0 §4.1) and the object management
functions (v3.0 §5.7).

Why one validator: C_CreateObject, C_GenerateKey(Pair), C_UnwrapKey, C_DeriveKey,
C_CopyObject, C_SetAttributeValue and C_GetAttributeValue all apply the same
attribute tables; a rule living in one place cannot disagree with itself.

Everything here is pure: typed dicts ``{cka: value}`` in, typed dicts out, and
``CKRError`` with the return value the spec gives. Error precedence, where several
apply ("Function return values": "any applicable error code may be returned"), is: value shape
(ATTRIBUTE_VALUE_INVALID) and duplicates (TEMPLATE_INCONSISTENT) first, then class /
type selection, then per-attribute (TYPE_INVALID, READ_ONLY, INCONSISTENT), then
missing attributes (TEMPLATE_INCOMPLETE), then cross-attribute constraints.
"""
from __future__ import annotations

from enum import Enum

from .._records import TYPE_CHECKING
from . import schema
from .attributes import coerce
from .constants import CK_UNAVAILABLE_INFORMATION, CKA, CKC, CKK, CKO, CKR
from .errors import CKRError
from .schema import NO_DEFAULT, AttrRule, Op, Table

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

__all__ = [
    "SECRET_ANYWHERE",
    "Op",
    "Unreadable",
    "build",
    "copy",
    "is_secret",
    "readable",
    "rules_of",
    "searchable",
    "set",
]

if TYPE_CHECKING:
    Attrs = dict[int, Any]
    Template = Iterable[tuple[int, Any]]
else:
    Attrs = dict


class Unreadable(Enum):
    """Why C_GetAttributeValue cannot return a value (C_GetAttributeValue algorithm, cases 1 and 2)."""

    SENSITIVE = "sensitive"   # case 1 -> CKR_ATTRIBUTE_SENSITIVE
    INVALID = "invalid"       # case 2 -> CKR_ATTRIBUTE_TYPE_INVALID


def _name(cka: int) -> str:
    return f"CKA_{CKA(cka).name}" if cka in CKA._value2member_map_ else hex(cka)


def _err(rv: int, cka: int | None, why: str) -> CKRError:
    return CKRError(rv, f"{_name(cka)}: {why}" if cka is not None else why)


def _collapse(template: Template) -> Attrs:
    """Typed dict of a template. Repeats with equal values are accepted, as "Creating objects" item 6
    encourages; repeats with different values are TEMPLATE_INCONSISTENT."""
    out: Attrs = {}
    for pair in template:
        t, v = pair
        t = int(t)
        v = coerce(t, v)
        if t in out and out[t] != v:
            raise _err(CKR.TEMPLATE_INCONSISTENT, t, "given twice with different values")
        out[t] = v
    return out


def _spec_defines(enum: type[Enum], value: int) -> bool:
    return value in enum._value2member_map_ or value >= 0x80000000


def _select(attrs: Attrs, cka: int, implied: int | None, enum: type[Enum],
            supported: Iterable[int]) -> int:
    """Resolve CKA_CLASS / CKA_KEY_TYPE / CKA_CERTIFICATE_TYPE.

    C_GenerateKey/C_GenerateKeyPair: a value implied by the mechanism that the template contradicts is
    TEMPLATE_INCONSISTENT. A value the spec does not define is ATTRIBUTE_VALUE_INVALID
    ("Creating objects" item 2); one it defines but strongroom does not support is
    TEMPLATE_INCONSISTENT (item 5, "violates some token specific requirement").
    """
    given = attrs.get(cka)
    if implied is not None:
        if given is not None and given != int(implied):
            raise _err(CKR.TEMPLATE_INCONSISTENT, cka, "contradicts the mechanism")
        value = int(implied)
    elif given is None:
        raise _err(CKR.TEMPLATE_INCOMPLETE, cka, "missing")
    else:
        value = given
    if value not in (supported if supported.__class__ is frozenset else frozenset(int(s) for s in supported)):
        if not _spec_defines(enum, value):
            raise _err(CKR.ATTRIBUTE_VALUE_INVALID, cka, f"unknown value {value:#x}")
        raise _err(CKR.TEMPLATE_INCONSISTENT, cka, f"{value:#x} not supported by this token")
    attrs[int(cka)] = value
    return value


def _resolve(attrs: Attrs, op: Op, cls: int | None, key_type: int | None) -> Table:
    """Pick the composed table for the template's class and key/certificate type."""
    classes = schema.CLASSES if op is Op.CREATE else schema.KEY_CLASSES
    c = _select(attrs, CKA.CLASS, cls, CKO, classes)
    sub_attr = schema.subtype_attr(c)
    sub = None
    if sub_attr is not None:
        enum = CKC if c == CKO.CERTIFICATE else CKK
        implied = key_type if sub_attr == CKA.KEY_TYPE else None
        sub = _select(attrs, sub_attr, implied, enum, schema.supported_subtypes(c))
    table = schema.rules_for(c, sub)
    assert table is not None
    return table


def rules_of(obj: Mapping[int, Any]) -> Table | None:
    """The table that governs an existing object (None if its class/type is unsupported)."""
    cls = obj.get(CKA.CLASS)
    if cls is None:
        return None
    sub_attr = schema.subtype_attr(cls)
    return schema.rules_for(cls, obj.get(sub_attr) if sub_attr is not None else None)


def _forbidden(rule: AttrRule, op: Op) -> bool:
    return {Op.CREATE: rule.forbidden_on_create,
            Op.GENERATE: rule.forbidden_on_generate,
            Op.DERIVE: rule.forbidden_on_generate,
            Op.UNWRAP: rule.forbidden_on_unwrap}[op]


def _required(rule: AttrRule, op: Op) -> bool:
    return {Op.CREATE: rule.required_on_create,
            Op.GENERATE: rule.required_on_generate,
            Op.DERIVE: False,
            Op.UNWRAP: rule.required_on_unwrap}[op]


_FORBIDDEN_FIELD = {Op.CREATE: "forbidden_on_create", Op.GENERATE: "forbidden_on_generate",
                    Op.DERIVE: "forbidden_on_generate", Op.UNWRAP: "forbidden_on_unwrap"}
#: (id(table), op) -> (table, forbidden ckas, required ckas, defaults): what ``build`` reads
#: of a table for an operation, computed once per composed table (tables are immutable).
_PLANS: dict[tuple[int, Op], tuple[Table, frozenset[int], tuple[int, ...], tuple[tuple[int, Any], ...]]] = {}


def _plan(table: Table, op: Op) -> tuple[Table, frozenset[int], tuple[int, ...], tuple[tuple[int, Any], ...]]:
    key = (id(table), op)
    plan = _PLANS.get(key)
    if plan is None or plan[0] is not table:
        forbidden = frozenset(cka for cka, rule in table.items() if _forbidden(rule, op))
        required = tuple(cka for cka, rule in table.items() if _required(rule, op))
        defaults = tuple((cka, d) for cka, rule in table.items()
                         if (d := rule.default_for(op)) is not NO_DEFAULT)
        plan = _PLANS[key] = (table, forbidden, required, defaults)
    return plan


def _check_value(cka: int, rule: AttrRule, value: Any, so: bool) -> None:
    """Checks every way of setting an attribute shares: allowed values and footnote 10."""
    if rule.values is not None and value not in rule.values:
        raise _err(CKR.ATTRIBUTE_VALUE_INVALID, cka, f"value {value!r} not allowed")
    if rule.so_only_true and value is True and not so:
        raise _err(CKR.ATTRIBUTE_READ_ONLY, cka, "only the SO may set it to CK_TRUE")


def _check_constraints(obj: Mapping[int, Any]) -> None:
    cls = obj.get(CKA.CLASS)
    for classes, violated, rv, why in schema.CONSTRAINTS:
        if (classes is None or cls in classes) and violated(obj):
            raise CKRError(rv, why)


def build(template: Template, op: Op, *, cls: int | None = None, key_type: int | None = None,
          mechanism: int | None = None, base: Mapping[int, Any] | None = None,
          so: bool = False) -> Attrs:
    """The complete attribute dict of a new object, or CKRError.

    ``cls``/``key_type`` are what the mechanism implies (GENERATE; also usable for
    UNWRAP/DERIVE when the caller knows them). ``mechanism`` is recorded as
    CKA_KEY_GEN_MECHANISM on GENERATE. ``base`` is the base key of a DERIVE.
    ``so``: the session is an SO session (footnote 10, CKA_TRUSTED).
    CKA_UNIQUE_ID is not assigned here (the core does); key material is not checked
    here (the mechanisms layer does).
    """
    attrs = _collapse(template)
    table = _resolve(attrs, op, cls, key_type)
    _, forbidden, required, defaults = _plan(table, op)
    for cka, value in attrs.items():
        rule = table.get(cka)
        if rule is None:
            raise _err(CKR.ATTRIBUTE_TYPE_INVALID, cka, "not an attribute of this object type")
        if rule.token_derived:
            raise _err(CKR.ATTRIBUTE_READ_ONLY, cka, "set by the token only")
        if cka in forbidden:
            # footnotes 2/4/6 "MUST not be specified" -> TEMPLATE_INCONSISTENT ("Creating objects" item 5)
            raise _err(CKR.TEMPLATE_INCONSISTENT, cka, f"must not be specified on {op.value}")
        if rule.values is not None or rule.so_only_true:
            _check_value(cka, rule, value, so)
    for cka in required:
        if cka not in attrs:
            raise _err(CKR.TEMPLATE_INCOMPLETE, cka, f"required on {op.value}")
    for cka, default in defaults:
        if cka not in attrs:
            attrs[cka] = default
    _derive_flags(attrs, table, op, mechanism, base)
    _check_constraints(attrs)
    return attrs


def _derive_flags(attrs: Attrs, table: Table, op: Op, mechanism: int | None,
                  base: Mapping[int, Any] | None) -> None:
    """Token-set key attributes (key object tables; C_CreateObject, C_GenerateKey, C_UnwrapKey, C_DeriveKey)."""
    if CKA.LOCAL in table:
        attrs[int(CKA.LOCAL)] = op is Op.GENERATE
        attrs[int(CKA.KEY_GEN_MECHANISM)] = (
            int(mechanism) if op is Op.GENERATE and mechanism is not None
            else CK_UNAVAILABLE_INFORMATION)
    if CKA.ALWAYS_SENSITIVE not in table:
        return
    sensitive, extractable = attrs[CKA.SENSITIVE], attrs[CKA.EXTRACTABLE]
    if op is Op.GENERATE:
        always, never = sensitive, not extractable
    elif op is Op.DERIVE and base is not None:
        # Derivation mechanisms (e.g. ECDH1_DERIVE, HKDF_DERIVE): TRUE only if the base
        # key's flag is TRUE and the new key is sensitive / unextractable itself.
        always = bool(base.get(CKA.ALWAYS_SENSITIVE)) and sensitive
        never = bool(base.get(CKA.NEVER_EXTRACTABLE)) and not extractable
    else:
        # C_CreateObject, C_UnwrapKey: both CK_FALSE (as each function's text says).
        always = never = False
    attrs[int(CKA.ALWAYS_SENSITIVE)] = always
    attrs[int(CKA.NEVER_EXTRACTABLE)] = never


def _check_change(cka: int, rule: AttrRule | None, old: Any, new: Any, *,
                  settable: bool, so: bool) -> None:
    """Shared by copy and set: may ``cka`` go from ``old`` to ``new``?"""
    if rule is None:
        raise _err(CKR.ATTRIBUTE_TYPE_INVALID, cka, "not an attribute of this object type")
    if rule.token_derived:
        raise _err(CKR.ATTRIBUTE_READ_ONLY, cka, "set by the token only")
    if new == old:
        return          # restating the current value changes nothing; accepted
    if not settable:
        raise _err(CKR.ATTRIBUTE_READ_ONLY, cka, "cannot be changed")
    if rule.sticky is not None and old is rule.sticky.value:
        # footnotes 11/12: SENSITIVE/WRAP_WITH_TRUSTED only FALSE->TRUE,
        # EXTRACTABLE/COPYABLE only TRUE->FALSE
        raise _err(CKR.ATTRIBUTE_READ_ONLY, cka, f"cannot change once {old}")
    _check_value(cka, rule, new, so)


def _checked_changes(existing: Mapping[int, Any], template: Template, *, so: bool,
                     on_copy: bool) -> Attrs:
    """The template's attributes, each checked as a change to ``existing``: modifiable
    attributes (and, on copy, the copy-settable ones) under the one-way rules."""
    table = rules_of(existing)
    if table is None:
        raise CKRError(CKR.GENERAL_ERROR, "object of unsupported class/type")
    changes = _collapse(template)
    for cka, new in changes.items():
        rule = table.get(cka)
        settable = rule is not None and (rule.modifiable or (on_copy and rule.copy_settable))
        _check_change(cka, rule, existing.get(cka, NO_DEFAULT), new, so=so, settable=settable)
    return changes


def copy(existing: Mapping[int, Any], template: Template, *, so: bool = False) -> Attrs:
    """The attribute dict of a C_CopyObject copy (without CKA_UNIQUE_ID; the core assigns it).

    C_CopyObject / "Copying objects": CKA_COPYABLE false -> ACTION_PROHIBITED; the template may change
    modifiable attributes plus CKA_TOKEN, CKA_PRIVATE, CKA_MODIFIABLE, CKA_DESTROYABLE.
    CKA_LOCAL, CKA_KEY_GEN_MECHANISM, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE are
    kept from the original (the spec: a copy with EXTRACTABLE lowered keeps NEVER_EXTRACTABLE
    false; one with SENSITIVE raised keeps the original ALWAYS_SENSITIVE).
    """
    if existing.get(CKA.COPYABLE) is False:
        raise CKRError(CKR.ACTION_PROHIBITED, "CKA_COPYABLE is CK_FALSE")
    changes = _checked_changes(existing, template, so=so, on_copy=True)
    result = dict(existing)
    result.update(changes)
    result.pop(CKA.UNIQUE_ID, None)
    _check_constraints(result)
    return result


def set(existing: Mapping[int, Any], template: Template, *, so: bool = False) -> Attrs:
    """The changes C_SetAttributeValue should apply (only attributes whose value changes).

    C_SetAttributeValue: CKA_MODIFIABLE false -> ACTION_PROHIBITED; attributes that are not
    modifiable -> ATTRIBUTE_READ_ONLY; SENSITIVE only FALSE->TRUE, EXTRACTABLE only
    TRUE->FALSE, WRAP_WITH_TRUSTED only FALSE->TRUE (footnotes 11/12); CKA_TRUSTED
    TRUE only by the SO (footnote 10). Certificate objects: a trusted certificate cannot be modified.
    """
    if existing.get(CKA.MODIFIABLE) is False:
        raise CKRError(CKR.ACTION_PROHIBITED, "CKA_MODIFIABLE is CK_FALSE")
    if (existing.get(CKA.CLASS) in schema.FROZEN_WHEN_TRUSTED
            and existing.get(CKA.TRUSTED) is True and not so):
        raise CKRError(CKR.ACTION_PROHIBITED, "trusted certificates cannot be modified")
    changes = _checked_changes(existing, template, so=so, on_copy=False)
    changes = {k: v for k, v in changes.items() if existing.get(k, NO_DEFAULT) != v}
    merged = dict(existing)
    merged.update(changes)
    _check_constraints(merged)
    return changes


def is_secret(obj: Mapping[int, Any], cka: int) -> bool:
    """True if ``cka`` holds secret key material for this object (schema footnote 7).

    The store seals these. Objects of unknown class/type are treated as all-secret.
    """
    table = rules_of(obj)
    if table is None:
        return True
    rule = table.get(int(cka))
    return rule is not None and rule.sensitive


def readable(obj: Mapping[int, Any], cka: int) -> Any:
    """The value C_GetAttributeValue may return, or an :class:`Unreadable` marker.

    C_GetAttributeValue: case 1 (sensitive / unextractable, footnote 7) is checked before case 2
    (the object has no such attribute), so absence of a secret never leaks either.
    """
    cka = int(cka)
    table = rules_of(obj)
    rule = table.get(cka) if table is not None else None
    if rule is not None and rule.sensitive and (
            obj.get(CKA.SENSITIVE) is not False or obj.get(CKA.EXTRACTABLE) is not True):
        return Unreadable.SENSITIVE
    if rule is None or cka not in obj:
        return Unreadable.INVALID
    return obj[cka]


def _secret_anywhere() -> frozenset[int]:
    tables = [t for c, (base, _) in schema.CLASSES.items() for t in
              ([base] + [schema.rules_for(c, st) for st in schema.subtypes(c)])]
    return frozenset(a for t in tables if t is not None for a, r in t.items() if r.sensitive)


#: Attribute types that are secret (sealed, never indexed, wiped from memory) in some class.
SECRET_ANYWHERE = _secret_anywhere()


def searchable(cka: int, obj: Mapping[int, Any] | None = None) -> bool:
    """Should the store index ``cka``? Secrets are never indexed.

    With ``obj`` the answer is class-aware (CKA_VALUE of a certificate or data object
    is indexed, CKA_VALUE of a key is not); without it, any attribute that is secret
    for some class is refused.
    """
    cka = int(cka)
    if cka not in schema.SEARCHABLE:
        return False
    if obj is None:
        return cka not in SECRET_ANYWHERE
    return not is_secret(obj, cka)
