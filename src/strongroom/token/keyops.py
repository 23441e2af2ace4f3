"""Key management operations and the message-based API (issue 4; design.md "Issue 4 additions").

C_DeriveKey, C_WrapKey, C_UnwrapKey, C_EncapsulateKey, C_DecapsulateKey and
C_MessageEncrypt*/C_MessageDecrypt*. The Library keeps one thin method per C function and
calls these with itself as ``lib``. The rules that are not the mechanism's business live
here: key usage attributes, CKA_EXTRACTABLE, CKA_WRAP_WITH_TRUSTED / CKA_TRUSTED, the
CKA_WRAP / UNWRAP / DERIVE / ENCAPSULATE / DECAPSULATE_TEMPLATE attributes, and the new
object's attributes (template validator + ``keys.normalize_key_attrs``).
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from ..mechanisms import checkvalue, keys, registry
from ..mechanisms.registry import OpKind
from ..pkcs11 import params as P
from ..pkcs11 import template as rules
from ..pkcs11.constants import CKA, CKO, CKR, HkdfSaltFlag, MechanismFlag
from ..pkcs11.errors import CKRError
from ..wipe import wipe_bytes
from . import operations
from .objects import ObjectRef
from .sessions import ActiveOperation, OpSlot, Session
from .types import Mechanism

if TYPE_CHECKING:
    from .library import Library

Template = list[tuple[int, Any]]

# Error codes that name the role of a key in C_WrapKey / C_UnwrapKey.
_WRAPPING = {CKR.KEY_HANDLE_INVALID: CKR.WRAPPING_KEY_HANDLE_INVALID,
             CKR.KEY_TYPE_INCONSISTENT: CKR.WRAPPING_KEY_TYPE_INCONSISTENT,
             CKR.KEY_SIZE_RANGE: CKR.WRAPPING_KEY_SIZE_RANGE}
_UNWRAPPING = {CKR.KEY_HANDLE_INVALID: CKR.UNWRAPPING_KEY_HANDLE_INVALID,
               CKR.KEY_TYPE_INCONSISTENT: CKR.UNWRAPPING_KEY_TYPE_INCONSISTENT,
               CKR.KEY_SIZE_RANGE: CKR.UNWRAPPING_KEY_SIZE_RANGE}
_UNWRAP_DATA = {CKR.ENCRYPTED_DATA_INVALID: CKR.WRAPPED_KEY_INVALID,
                CKR.ENCRYPTED_DATA_LEN_RANGE: CKR.WRAPPED_KEY_LEN_RANGE,
                CKR.DATA_LEN_RANGE: CKR.WRAPPED_KEY_LEN_RANGE}


def _remap(exc: CKRError, table: dict) -> CKRError:
    rv = table.get(exc.rv)
    return CKRError(rv, str(exc)) if rv is not None else exc


def _resolve(lib: "Library", session: Session, handle: int) -> ObjectRef:
    lib.manager.refresh()
    try:
        return lib.manager.get(handle, lib._visibility(session))
    except CKRError as exc:
        if exc.rv == CKR.OBJECT_HANDLE_INVALID:
            raise CKRError(CKR.KEY_HANDLE_INVALID) from None
        raise


def _entry(mech: Mechanism, flag: int, present: object) -> registry.MechanismEntry:
    entry = registry.get(mech.type)
    if not entry.flags & flag or present(entry) is None:
        raise CKRError(CKR.MECHANISM_INVALID, f"mechanism 0x{mech.type:x} cannot do this")
    registry.check_param(entry, mech.param)
    return entry


def merge_template(template: Template, extra: Any) -> Template:
    """The caller's template plus a key's CKA_*_TEMPLATE: the two must agree (v3.0 §4.8:
    an attribute in both with different values is CKR_TEMPLATE_INCONSISTENT)."""
    if not extra:
        return list(template)
    given = dict(template)
    out = list(template)
    for cka, value in extra:
        if cka in given:
            if given[cka] != value:
                raise CKRError(CKR.TEMPLATE_INCONSISTENT, f"attribute 0x{cka:x} contradicts the key's template")
        else:
            out.append((cka, value))
    return out


def _matches(attrs: Any, template: Any) -> bool:
    return all(attrs.get(cka) == value for cka, value in (template or ()))


def _new_key(lib: "Library", session: Session, attrs: dict) -> int:
    """Check key material and store the new key object."""
    cls, key_type = attrs.get(CKA.CLASS), attrs.get(CKA.KEY_TYPE)
    attrs.update(keys.normalize_key_attrs(cls, key_type, attrs))
    attrs.update(checkvalue.attrs_for(attrs))
    lib._check_write(session, attrs)
    return lib.manager.add(attrs, lib._visibility(session), session.handle)


def _secret_template(template: Template, op: rules.Op, base: Any = None) -> dict:
    return rules.build(template, op, cls=CKO.SECRET_KEY, base=base)


def _resolve_param(lib: "Library", session: Session, param: Any) -> Any:
    """Key handles inside a parameter become values: CK_HKDF_PARAMS.hSaltKey with
    CKF_HKDF_SALT_KEY is replaced by that secret key's CKA_VALUE in ``salt``."""
    if isinstance(param, P.HkdfParams) and param.salt_type == HkdfSaltFlag.KEY:
        try:
            ref = _resolve(lib, session, param.salt_key)
        except CKRError:
            raise CKRError(CKR.MECHANISM_PARAM_INVALID, "hSaltKey is not a key") from None
        if ref.attrs.get(CKA.CLASS) != CKO.SECRET_KEY or not isinstance(ref.attrs.get(CKA.VALUE), bytes):
            raise CKRError(CKR.MECHANISM_PARAM_INVALID, "hSaltKey must be a secret key")
        return dataclasses.replace(param, salt=ref.attrs[CKA.VALUE])
    return param


# --- C_DeriveKey -------------------------------------------------------------------------
def derive_key(lib: "Library", h: int, mech: Mechanism, base: int, template: Template) -> int:
    session = lib._session(h)
    entry = _entry(mech, MechanismFlag.DERIVE, lambda e: e.derive)
    ref = _resolve(lib, session, base)
    operations.check_key(entry, ref, (CKO.PRIVATE_KEY, CKO.SECRET_KEY), CKA.DERIVE)
    merged = merge_template(template, ref.attrs.get(CKA.DERIVE_TEMPLATE))
    param = _resolve_param(lib, session, mech.param)
    if dict(merged).get(CKA.CLASS) == CKO.DATA:
        return _derive_data(lib, session, entry, ref, param, merged)
    attrs = _secret_template(merged, rules.Op.DERIVE, base=ref.attrs)
    lib._check_write(session, attrs)
    attrs.update(entry.derive(param, lib.manager.key_material(ref), attrs))
    return _new_key(lib, session, attrs)


def _derive_data(lib: "Library", session: Session, entry: registry.MechanismEntry, ref: ObjectRef,
                 param: Any, template: Template) -> int:
    """CKM_HKDF_DATA derives a data object (v3.0 "HKDF derivation"): CKA_VALUE_LEN in the
    template says how many bytes to produce but is not an attribute of data objects."""
    lengths = [v for t, v in template if t == CKA.VALUE_LEN]
    if not lengths:
        raise CKRError(CKR.TEMPLATE_INCOMPLETE, "CKA_VALUE_LEN says how much data to derive")
    attrs = rules.build([(t, v) for t, v in template if t != CKA.VALUE_LEN], rules.Op.CREATE)
    lib._check_write(session, attrs)
    derived = entry.derive(param, lib.manager.key_material(ref), {**attrs, CKA.VALUE_LEN: lengths[-1]})
    attrs[CKA.VALUE] = derived[CKA.VALUE]
    return lib.manager.add(attrs, lib._visibility(session), session.handle)


# --- C_WrapKey / C_UnwrapKey ---------------------------------------------------------------
def wrap_key(lib: "Library", h: int, mech: Mechanism, wrapping: int, key: int,
             capacity: int | None) -> bytes | int:
    session = lib._session(h)
    entry = _entry(mech, MechanismFlag.WRAP, lambda e: e.operation)
    try:
        wref = _resolve(lib, session, wrapping)
        operations.check_key(entry, wref, (CKO.PUBLIC_KEY, CKO.SECRET_KEY), CKA.WRAP)
    except CKRError as exc:
        raise _remap(exc, _WRAPPING) from None
    target = _resolve(lib, session, key).attrs
    if target.get(CKA.CLASS) not in (CKO.SECRET_KEY, CKO.PRIVATE_KEY):
        raise CKRError(CKR.KEY_NOT_WRAPPABLE, "only secret and private keys can be wrapped")
    if not target.get(CKA.EXTRACTABLE, False):
        raise CKRError(CKR.KEY_UNEXTRACTABLE)
    if target.get(CKA.WRAP_WITH_TRUSTED) and not wref.attrs.get(CKA.TRUSTED):
        raise CKRError(CKR.KEY_NOT_WRAPPABLE, "CKA_WRAP_WITH_TRUSTED needs a CKA_TRUSTED wrapping key")
    if not _matches(target, wref.attrs.get(CKA.WRAP_TEMPLATE)):
        raise CKRError(CKR.KEY_NOT_WRAPPABLE, "key does not match the wrapping key's CKA_WRAP_TEMPLATE")
    image = keys.wrap_image(target)
    op = entry.operation(OpKind.WRAP, lib.manager.key_material(wref), mech.param)
    try:
        out = op.update(image) + op.final()
    except CKRError as exc:
        if exc.rv in (CKR.DATA_LEN_RANGE, CKR.KEY_SIZE_RANGE):
            raise CKRError(CKR.KEY_SIZE_RANGE, "key image does not fit this mechanism") from None
        raise
    finally:
        # a private key's PKCS#8 image is this call's own copy (a secret key's image is its
        # stored CKA_VALUE, which wipe_bytes leaves alone: still referenced) -- issue 10
        wipe_bytes(image, 1)
    if not operations.fits(len(out), capacity):   # two-call convention (v2.40 §5.2)
        return len(out)
    return out


def unwrap_key(lib: "Library", h: int, mech: Mechanism, unwrapping: int, wrapped: bytes,
               template: Template) -> int:
    session = lib._session(h)
    entry = _entry(mech, MechanismFlag.UNWRAP, lambda e: e.operation)
    try:
        uref = _resolve(lib, session, unwrapping)
        operations.check_key(entry, uref, (CKO.PRIVATE_KEY, CKO.SECRET_KEY), CKA.UNWRAP)
    except CKRError as exc:
        raise _remap(exc, _UNWRAPPING) from None
    merged = merge_template(template, uref.attrs.get(CKA.UNWRAP_TEMPLATE))
    attrs = rules.build(merged, rules.Op.UNWRAP)
    lib._check_write(session, attrs)
    op = entry.operation(OpKind.UNWRAP, lib.manager.key_material(uref), mech.param)
    try:
        head = op.update(wrapped)
        tail = op.final()
    except CKRError as exc:
        raise _remap(exc, _UNWRAP_DATA) from None
    image = head + tail
    wipe_bytes(head, 1)            # the parts are this call's own plaintext copies (issue 10)
    wipe_bytes(tail, 1)
    del head, tail
    cls, key_type = attrs[CKA.CLASS], attrs.get(CKA.KEY_TYPE)
    try:
        attrs.update(keys.attrs_from_image(cls, key_type, image))
    finally:
        wipe_bytes(image, 1)       # left alone when it became the key's CKA_VALUE
    # Set by the validator for Op.UNWRAP; restated because the spec insists.
    attrs[CKA.LOCAL] = False
    attrs[CKA.ALWAYS_SENSITIVE] = False
    attrs[CKA.NEVER_EXTRACTABLE] = False
    return _new_key(lib, session, attrs)


# --- C_EncapsulateKey / C_DecapsulateKey (v3.2) ----------------------------------------------
def _secret_value(attrs: dict, secret: bytes) -> dict:
    length = attrs.get(CKA.VALUE_LEN)
    if length is None:
        return {CKA.VALUE: secret}
    if not isinstance(length, int) or not 0 < length <= len(secret):
        raise CKRError(CKR.TEMPLATE_INCONSISTENT, "CKA_VALUE_LEN longer than the shared secret")
    return {CKA.VALUE: secret[:length]}


def encapsulate_key(lib: "Library", h: int, mech: Mechanism, public: int, template: Template,
                    capacity: int | None) -> tuple[bytes, int] | int:
    session = lib._session(h)
    entry = _entry(mech, MechanismFlag.ENCAPSULATE, lambda e: e.encapsulate)
    ref = _resolve(lib, session, public)
    operations.check_key(entry, ref, (CKO.PUBLIC_KEY,), CKA.ENCAPSULATE)
    merged = merge_template(template, ref.attrs.get(CKA.ENCAPSULATE_TEMPLATE))
    attrs = _secret_template(merged, rules.Op.DERIVE)
    lib._check_write(session, attrs)
    ciphertext, secret = entry.encapsulate(mech.param, lib.manager.key_material(ref))
    if not operations.fits(len(ciphertext), capacity):   # a size query creates no key
        return len(ciphertext)
    attrs.update(_secret_value(attrs, secret))
    return ciphertext, _new_key(lib, session, attrs)


def decapsulate_key(lib: "Library", h: int, mech: Mechanism, private: int, template: Template,
                    ciphertext: bytes) -> int:
    session = lib._session(h)
    entry = _entry(mech, MechanismFlag.DECAPSULATE, lambda e: e.decapsulate)
    ref = _resolve(lib, session, private)
    operations.check_key(entry, ref, (CKO.PRIVATE_KEY,), CKA.DECAPSULATE)
    merged = merge_template(template, ref.attrs.get(CKA.DECAPSULATE_TEMPLATE))
    attrs = _secret_template(merged, rules.Op.DERIVE, base=ref.attrs)
    lib._check_write(session, attrs)
    secret = entry.decapsulate(mech.param, lib.manager.key_material(ref), ciphertext)
    attrs.update(_secret_value(attrs, secret))
    return _new_key(lib, session, attrs)


# --- message-based encryption (v3.0 §5.13, §5.14) ------------------------------------------
_MESSAGE_SLOT = {OpKind.ENCRYPT: OpSlot.MESSAGE_ENCRYPT, OpKind.DECRYPT: OpSlot.MESSAGE_DECRYPT}


def message_init(lib: "Library", h: int, kind: OpKind, mech: Mechanism, key: int) -> None:
    session = lib._session(h)
    slot = _MESSAGE_SLOT[kind]
    with session.lock:
        if slot in session.ops:
            raise CKRError(CKR.OPERATION_ACTIVE)
        entry = registry.get(mech.type)
        if not entry.flags & registry.MESSAGE_FLAG[kind] or entry.message is None:
            raise CKRError(CKR.MECHANISM_INVALID, "mechanism has no message-based API")
        ref = _resolve(lib, session, key)
        operations.check_key_for(kind, entry, ref)
        op = entry.message(kind, lib.manager.key_material(ref), mech.param)
        session.begin(slot, ActiveOperation(op=op, mechanism=mech.type, key_handle=ref.handle))


def message_param_type(lib: "Library", h: int, kind: OpKind) -> type | None:
    """The per-message parameter dataclass of the active message operation (for the ABI)."""
    session = lib._session(h)
    with session.lock:
        return P.MESSAGE_PARAM_TYPES.get(session.active(_MESSAGE_SLOT[kind]).mechanism)


def _message_active(session: Session, kind: OpKind) -> ActiveOperation:
    """The active message-based operation; one whose key was destroyed ends here with
    CKR_KEY_HANDLE_INVALID (operations.KeyDestroyed)."""
    slot = _MESSAGE_SLOT[kind]
    active = session.active(slot)
    if active.op is operations.KEY_DESTROYED:
        session.end(slot)
        operations.KEY_DESTROYED.update()
    return active


def _message(lib: "Library", h: int, kind: OpKind, param: Any, aad: bytes, data: bytes,
             capacity: int | None) -> Any:
    """Run one message, keep the result for a size query / BUFFER_TOO_SMALL retry with the
    same inputs (so a generated IV is not generated twice), then deliver it; a call with
    other inputs discards it and runs its own message. Errors do not end the
    message-based operation (only C_Message*Final does), except that a destroyed key
    (operations.KeyDestroyed) ends it. Decryption verifies the tag before anything is kept."""
    session = lib._session(h)
    with session.lock:
        active = _message_active(session, kind)
        inputs = (param, aad, data)
        if active.pending is None or active.pending[0] != inputs:
            active.pending = None
            if kind is OpKind.ENCRYPT:
                result = active.op.encrypt(param, aad, data)
                output = result[0]
            else:
                result = output = active.op.decrypt(param, aad, data)
            active.pending = (inputs, result, len(output))
        _, result, length = active.pending
        if not operations.fits(length, capacity):
            return length
        active.pending = None
        return result


def encrypt_message(lib: "Library", h: int, param: Any, aad: bytes, data: bytes,
                    capacity: int | None) -> tuple[bytes, Any] | int:
    return _message(lib, h, OpKind.ENCRYPT, param, aad, data, capacity)


def decrypt_message(lib: "Library", h: int, param: Any, aad: bytes, data: bytes,
                    capacity: int | None) -> bytes | int:
    return _message(lib, h, OpKind.DECRYPT, param, aad, data, capacity)


def message_begin(lib: "Library", h: int, kind: OpKind, param: Any, aad: bytes) -> None:
    """C_EncryptMessageBegin / C_DecryptMessageBegin: the message's parts are buffered and
    processed as one message at the C_*MessageNext flagged CKF_END_OF_MESSAGE (so a
    generated IV and the tag are written back then, and no unauthenticated plaintext is
    released before the tag is checked)."""
    session = lib._session(h)
    with session.lock:
        active = _message_active(session, kind)
        if active.message_parts is not None:
            raise CKRError(CKR.OPERATION_ACTIVE, "a multi-part message is in progress")
        active.message_parts = (param, aad, bytearray())


def message_next(lib: "Library", h: int, kind: OpKind, param: Any, data: bytes, end: bool,
                 capacity: int | None) -> Any:
    """C_*MessageNext: b"" until the last part, then the whole message's output (encrypt:
    ``(ciphertext, param_out)``); two-call convention on every call."""
    session = lib._session(h)
    with session.lock:
        active = _message_active(session, kind)
        if active.message_parts is None:
            raise CKRError(CKR.OPERATION_NOT_INITIALIZED, "no C_*MessageBegin")
        _, aad, buffered = active.message_parts
        if not end:
            if capacity is None:
                return 0                             # a size query buffers nothing
            buffered += data
            return (b"", None) if kind is OpKind.ENCRYPT else b""
        try:
            result = _message(lib, h, kind, param, aad, bytes(buffered) + data, capacity)
        except CKRError:
            active.message_parts = None      # a real failure ends this message
            raise
        if result.__class__ is not int:      # delivered: the message is done
            active.message_parts = None
        return result


def message_final(lib: "Library", h: int, kind: OpKind) -> None:
    session = lib._session(h)
    with session.lock:
        active = session.active(_MESSAGE_SLOT[kind])
        try:
            active.op.close()
        finally:
            session.end(_MESSAGE_SLOT[kind])
