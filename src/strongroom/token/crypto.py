"""Starting, feeding and finishing cryptographic operations on a session.

The checks every mechanism shares live here, read from the registry entry (never from a
mechanism's name): key class and type, the key's usage attribute (CKA_SIGN, ...),
CKA_ALLOWED_MECHANISMS, key size, CKA_ALWAYS_AUTHENTICATE. The mechanism itself checks
its parameter and data lengths.

Output delivery follows the two-call convention (v2.40 §5.2): with a NULL buffer the
length is returned and the operation stays active; with a buffer that is too small,
CKR_BUFFER_TOO_SMALL is returned and the operation stays active; any other error ends it.
"""
from __future__ import annotations

TYPE_CHECKING = False   # typing is not imported at run time: cold start (_records.py)
if TYPE_CHECKING:
    from typing import Callable

from .. import mechanisms  # noqa: F401  (families load on the first registry lookup)
from ..mechanisms import registry
from ..mechanisms.registry import OpKind
from ..pkcs11.constants import CKA, CKO, CKR, MechanismFlag
from ..pkcs11.errors import CKRError
from .objects import ObjectRef
from .sessions import ActiveOperation, OpSlot, Session
from .types import Mechanism

# What each operation kind needs of its key: the mechanism flag, the classes allowed,
# and the key attribute that must be true.
_KIND_RULES: dict[OpKind, tuple[int, frozenset[int], int | None]] = {
    OpKind.ENCRYPT: (MechanismFlag.ENCRYPT, frozenset({CKO.PUBLIC_KEY, CKO.SECRET_KEY}), CKA.ENCRYPT),
    OpKind.DECRYPT: (MechanismFlag.DECRYPT, frozenset({CKO.PRIVATE_KEY, CKO.SECRET_KEY}), CKA.DECRYPT),
    OpKind.SIGN: (MechanismFlag.SIGN, frozenset({CKO.PRIVATE_KEY, CKO.SECRET_KEY}), CKA.SIGN),
    OpKind.VERIFY: (MechanismFlag.VERIFY, frozenset({CKO.PUBLIC_KEY, CKO.SECRET_KEY}), CKA.VERIFY),
    OpKind.DIGEST: (MechanismFlag.DIGEST, frozenset(), None),
    OpKind.SIGN_RECOVER: (MechanismFlag.SIGN_RECOVER, frozenset({CKO.PRIVATE_KEY, CKO.SECRET_KEY}),
                          CKA.SIGN_RECOVER),
    OpKind.VERIFY_RECOVER: (MechanismFlag.VERIFY_RECOVER, frozenset({CKO.PUBLIC_KEY, CKO.SECRET_KEY}),
                            CKA.VERIFY_RECOVER),
    OpKind.WRAP: (MechanismFlag.WRAP, frozenset({CKO.PUBLIC_KEY, CKO.SECRET_KEY}), CKA.WRAP),
    OpKind.UNWRAP: (MechanismFlag.UNWRAP, frozenset({CKO.PRIVATE_KEY, CKO.SECRET_KEY}), CKA.UNWRAP),
}

SLOT_OF: dict[OpKind, OpSlot] = {
    OpKind.ENCRYPT: OpSlot.ENCRYPT,
    OpKind.DECRYPT: OpSlot.DECRYPT,
    OpKind.SIGN: OpSlot.SIGN,
    OpKind.VERIFY: OpSlot.VERIFY,
    OpKind.DIGEST: OpSlot.DIGEST,
    OpKind.SIGN_RECOVER: OpSlot.SIGN_RECOVER,
    OpKind.VERIFY_RECOVER: OpSlot.VERIFY_RECOVER,
}


def check_key_for(kind: OpKind, entry: registry.MechanismEntry, key: ObjectRef) -> None:
    _flag, classes, usage = _KIND_RULES[kind]
    check_key(entry, key, classes, usage)


def check_key(entry: registry.MechanismEntry, key: ObjectRef, classes: frozenset[int] | tuple[int, ...],
              usage: int | None) -> None:
    """The key checks every operation makes (class and type, usage flag, allowed
    mechanisms, size); C_*Init and keyops' derive/wrap/unwrap/KEM share them."""
    attrs = key.attrs
    if attrs.get(CKA.CLASS) not in classes or attrs.get(CKA.KEY_TYPE) not in entry.key_types:
        raise CKRError(CKR.KEY_TYPE_INCONSISTENT)
    if usage is not None and not attrs.get(usage, False):
        raise CKRError(CKR.KEY_FUNCTION_NOT_PERMITTED)
    allowed = attrs.get(CKA.ALLOWED_MECHANISMS) or ()
    if allowed and entry.mechanism not in allowed:
        raise CKRError(CKR.MECHANISM_INVALID, "mechanism not in the key's CKA_ALLOWED_MECHANISMS")
    from ..mechanisms import keys   # deferred: pulls in pyca's key modules

    size = keys.key_size(attrs)
    if size and entry.max_key_size and not entry.min_key_size <= size <= entry.max_key_size:
        raise CKRError(CKR.KEY_SIZE_RANGE)


_CHECKED = True
_FLAG_OF: dict[OpKind, int] = {k: int(v[0]) for k, v in _KIND_RULES.items()}   # plain ints: IntFlag & is Python code


_ALWAYS_AUTHENTICATE = int(CKA.ALWAYS_AUTHENTICATE)   # a plain int: no enum attribute lookup per call
_get_entry = registry.get
_check_param = registry.check_param


def begin(session: Session, kind: OpKind, mech: Mechanism, key: ObjectRef | None,
          key_material) -> None:
    """C_*Init: validate and make the operation active on ``session``."""
    slot = SLOT_OF[kind]
    if slot in session.ops:
        raise CKRError(CKR.OPERATION_ACTIVE)
    mtype = mech.type
    entry = _get_entry(mtype)
    operation = entry.operation
    if not _FLAG_OF[kind] & int(entry.flags) or operation is None:
        raise CKRError(CKR.MECHANISM_INVALID)
    param = mech.param
    if param is not None or entry.param_type is not None:
        _check_param(entry, param)
    needs_login = False
    if key is not None:
        # The key checks depend only on the key's attributes and the entry: remember a
        # pass in the key material (dropped whenever the attributes change).
        checks = key_material.checks if key_material is not None else None
        ck = (kind, mtype)
        if checks is None or ck not in checks:
            check_key_for(kind, entry, key)
            if checks is not None:
                checks[ck] = _CHECKED
        needs_login = bool(key.attrs.get(_ALWAYS_AUTHENTICATE))
    op = operation(kind, key_material, param)
    # ``slot`` was checked free above (the caller holds the session lock): what
    # Session.begin does, without a second check.
    session.ops[slot] = ActiveOperation(
        op, mtype, key.handle if key is not None else 0,
        getattr(op, "multipart", True), False, needs_login,
    )


def _guard(session: Session, slot: OpSlot) -> ActiveOperation:
    active = session.active(slot)
    if active.needs_context_login:
        # v2.40 §4.9 CKA_ALWAYS_AUTHENTICATE: each use needs C_Login(CKU_CONTEXT_SPECIFIC).
        session.end(slot)
        raise CKRError(CKR.USER_NOT_LOGGED_IN, "key needs a context-specific login")
    return active


def deliver(session: Session, slot: OpSlot, compute: Callable[[], bytes], capacity: int | None,
            *, finishes: bool) -> bytes:
    """Run ``compute`` once, then hand its output over under the two-call convention."""
    active = session.active(slot)
    if active.pending is None:
        if active.needs_context_login:
            _guard(session, slot)
        try:
            active.pending = compute()
        except CKRError:
            session.end(slot)
            raise
        except Exception:
            session.end(slot)
            raise
    length = len(active.pending)
    if capacity is None:
        raise CKRError(CKR.OK, length=length)
    if capacity < length:
        raise CKRError(CKR.BUFFER_TOO_SMALL, length=length)
    out, active.pending = active.pending, None
    if finishes:
        session.end(slot)
    return out


def _no_compute() -> bytes:   # pragma: no cover - pending is always set when used
    raise AssertionError("output already computed")


def single(session: Session, slot: OpSlot, data, capacity: int | None, out=None) -> bytes | int:
    """C_Encrypt / C_Decrypt / C_Digest / C_Sign: one call does update + final.

    An operation may offer ``oneshot(data)`` (same result as ``update(data) + final()``,
    e.g. pyca's one-pass AEAD); only such operations may receive ``data`` as a view of the
    caller's buffer (large inputs, no copy) -- every other one gets ``bytes``.

    ``out`` (C_Encrypt with a large input and a buffer): the caller's output buffer. An
    operation offering ``oneshot_into(data, out) -> int | None`` writes its output there
    directly; the return value is then the length written (an ``int``), and the ABI only
    sets ``*pulLen``."""
    active = session.ops.get(slot)
    if active is None:
        raise CKRError(CKR.OPERATION_NOT_INITIALIZED)
    if active.started_multipart and active.pending is None:
        raise CKRError(CKR.OPERATION_ACTIVE, "a multi-part operation is in progress")
    op = active.op
    if out is not None and active.pending is None and not active.needs_context_login:
        into = getattr(op, "oneshot_into", None)
        if into is not None:
            try:
                n = into(data, out)
            except BaseException:
                session.end(slot)
                raise
            if n is not None:
                session.end(slot)
                return n
    oneshot = getattr(op, "oneshot", None)
    if oneshot is None and data.__class__ is not bytes:
        data = bytes(data)
    if active.pending is None and not active.needs_context_login:
        # The common case inline (no closure, no second lookup): compute once, hand the
        # output over if it fits, else keep it pending exactly as ``deliver`` would.
        try:
            result = oneshot(data) if oneshot is not None else op.update(data) + op.final()
        except Exception:
            session.end(slot)
            raise
        if capacity is not None and len(result) <= capacity:
            session.end(slot)
            return result
        active.pending = result
        return deliver(session, slot, _no_compute, capacity, finishes=True)
    if oneshot is not None:
        return deliver(session, slot, lambda: oneshot(data), capacity, finishes=True)

    def compute() -> bytes:
        head = op.update(data)
        return head + op.final()

    return deliver(session, slot, compute, capacity, finishes=True)


def update(session: Session, slot: OpSlot, data: bytes, capacity: int | None = 0,
           *, produces_output: bool = False) -> bytes:
    """C_*Update. Output-producing kinds (encrypt/decrypt) use the two-call convention."""
    active = _guard(session, slot)
    if not active.multipart:
        session.end(slot)
        raise CKRError(CKR.FUNCTION_NOT_SUPPORTED, "this mechanism is single-part only")
    active.started_multipart = True
    if not produces_output:
        try:
            active.op.update(data)
        except Exception:
            session.end(slot)
            raise
        return b""
    return deliver(session, slot, lambda: active.op.update(data), capacity, finishes=False)


def final(session: Session, slot: OpSlot, capacity: int | None) -> bytes:
    active = session.active(slot)
    if not active.multipart and active.pending is None:
        session.end(slot)
        raise CKRError(CKR.FUNCTION_NOT_SUPPORTED, "this mechanism is single-part only")
    return deliver(session, slot, active.op.final, capacity, finishes=True)


def verify_single(session: Session, data: bytes, signature: bytes) -> None:
    """C_Verify always ends the operation, whatever the outcome."""
    active = _guard(session, OpSlot.VERIFY)
    if active.started_multipart:
        raise CKRError(CKR.OPERATION_ACTIVE, "a multi-part operation is in progress")
    try:
        active.op.update(data)
        active.op.verify(signature)
    finally:
        session.end(OpSlot.VERIFY)


def verify_final(session: Session, signature: bytes) -> None:
    active = _guard(session, OpSlot.VERIFY)
    try:
        if not active.multipart:
            raise CKRError(CKR.FUNCTION_NOT_SUPPORTED, "this mechanism is single-part only")
        active.op.verify(signature)
    finally:
        session.end(OpSlot.VERIFY)
