"""Starting, feeding and finishing cryptographic operations on a session.

The checks every mechanism shares live here, read from the registry entry (never from a
mechanism's name): key class and type, the key's usage attribute (CKA_SIGN, ...),
CKA_ALLOWED_MECHANISMS, key size, CKA_ALWAYS_AUTHENTICATE. The mechanism itself checks
its parameter and data lengths.

Operation state (v2.40 §5.2 and each function's text in §5.8-§5.12, the same in v3.0):
an active operation is in one step -- initialised, updating (a C_*Update fed data), or
holding a pending result -- and each call is legal in certain steps only (the model is
the OP-TEE PKCS#11 TA's (function, step) machine):

* Two-call convention: with a NULL buffer the length is returned, with a buffer that is
  too small CKR_BUFFER_TOO_SMALL; in both cases the operation stays active. The core
  answers both with the plain ``int`` length needed (``fits``), never an exception. Every other
  outcome ends it: success of a finishing call and *every* error, including
  CKR_OPERATION_ACTIVE for a call in the wrong step and the ABI's CKR_ARGUMENTS_BAD /
  CKR_DATA_LEN_RANGE (``refuse``). ("A call to C_Encrypt always terminates the active
  encryption operation unless it returns CKR_BUFFER_TOO_SMALL or is a successful call
  ... to determine the length of the buffer needed", v2.40 §5.8; likewise for every
  function below.)
* A pending result belongs to exactly one call with exactly one input: the same
  function with the same input (compared by length and SHA-256) receives it. A one-shot
  call repeated with another input has it discarded and computed afresh on a new
  operation (``ActiveOperation.source``). Any other call -- another function, or a
  C_*Update with another input, whose effect on the operation cannot be undone -- gets
  CKR_OPERATION_ACTIVE and ends the operation.
* C_*Update size queries are answered without side effects when the operation can say
  its output length in advance (``update_length(n)``; every AES and ChaCha20 mode), so
  a size query never feeds data.
* A one-shot call (C_Encrypt, C_Sign, C_Digest, C_Verify, ...) after C_*Update calls is
  CKR_OPERATION_ACTIVE (and ends the operation), as is C_*Update / C_*Final after a
  one-shot size query.
* AEAD decryption releases nothing before the tag verified: the operations buffer and
  open in ``final`` (mechanisms/aes.py, chacha.py); no pending output of another call
  can stand in for that final.
* A key destroyed while an operation uses it (``revoke_key``): the operation's next call
  fails with CKR_KEY_HANDLE_INVALID and ends it (docs/design.md "Operation state").
"""
from __future__ import annotations

from .._records import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

    from .objects import KeyMaterial

from .. import mechanisms  # noqa: F401  (families load on the first registry lookup)
from ..mechanisms import registry
from ..mechanisms.registry import OpKind
from ..pkcs11.constants import CKA, CKR
from ..pkcs11.errors import CKRError
from .objects import ObjectRef
from .sessions import ActiveOperation, OpSlot, Session
from .types import Mechanism

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
    rule = registry.KIND_RULES[kind]
    check_key(entry, key, rule.key_classes, rule.usage)


def check_key(entry: registry.MechanismEntry, key: ObjectRef, classes: frozenset[int] | tuple[int, ...],
              usage: int | None) -> None:
    """The key checks every operation makes (class and type, usage flag, allowed
    mechanisms, size); C_*Init and keyops' derive/wrap/unwrap/KEM share them."""
    attrs = key.attrs
    if attrs.get(CKA.CLASS) not in classes or attrs.get(CKA.KEY_TYPE) not in entry.key_types:
        raise CKRError(CKR.KEY_TYPE_INCONSISTENT)
    if usage is not None and not attrs.get(usage, False):
        raise CKRError(CKR.KEY_FUNCTION_NOT_PERMITTED)
    # CKA_ALLOWED_MECHANISMS: absent allows every mechanism; present, it lists the only
    # ones allowed -- so an empty list allows none (v3.0 §4.7 "A list of mechanisms
    # allowed to be used with this key"). The schema gives keys no default for it.
    allowed = attrs.get(CKA.ALLOWED_MECHANISMS)
    if allowed is not None and entry.mechanism not in allowed:
        raise CKRError(CKR.MECHANISM_INVALID, "mechanism not in the key's CKA_ALLOWED_MECHANISMS")
    from ..mechanisms import keys  # deferred: pulls in pyca's key modules

    size = keys.key_size(attrs)
    if size and entry.max_key_size and not entry.min_key_size <= size <= entry.max_key_size:
        raise CKRError(CKR.KEY_SIZE_RANGE)


_CHECKED = True
_FLAG_OF = registry.KIND_FLAG   # plain ints: IntFlag & is Python code


_ALWAYS_AUTHENTICATE = int(CKA.ALWAYS_AUTHENTICATE)   # a plain int: no enum attribute lookup per call
_get_entry = registry.get
_check_param = registry.check_param

#: The calls a pending result can belong to (ActiveOperation.pending[0]).
SINGLE, UPDATE, FINAL = 1, 2, 3


def begin(session: Session, kind: OpKind, mech: Mechanism, key: ObjectRef | None,
          key_material: KeyMaterial | None, key_version: int | None = None) -> None:
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
        getattr(op, "multipart", True), False, needs_login, None, None, None,
        (operation, kind, key_material, param), key_version,
    )


# --- the two-call convention (v2.40 §5.2), written once ------------------------------------
class InPlace(int):
    """C_Encrypt's output written straight into the caller's buffer: this many bytes.
    A plain ``int`` result means the opposite (nothing delivered), hence the own type."""

    __slots__ = ()


def fits(length: int, capacity: int | None) -> bool:
    """True when ``length`` bytes can be delivered into a buffer of ``capacity`` bytes.

    Every output-producing call answers with the output when it fits, else with the
    plain ``int`` length it needs (``capacity`` None: a NULL buffer, the size query; the
    ABI then returns CKR_OK, and CKR_BUFFER_TOO_SMALL for a buffer that was too small).
    Either way the operation stays active (§5.2)."""
    return capacity is not None and length <= capacity


def input_identity(data: bytes | bytearray | memoryview) -> tuple[int, bytes]:
    """What a pending result remembers of its input: length and SHA-256 (only on the
    size-query path, never on the hot path)."""
    import hashlib  # deferred: only size queries and too-small buffers need it

    return len(data), hashlib.sha256(data).digest()


def _pend(active: ActiveOperation, call: int, ident: object, output: bytes) -> int:
    """Keep an output the caller's buffer could not take, for the same call's retry."""
    active.pending = (call, ident, output)
    return len(output)


def _hand_over(session: Session, slot: OpSlot, active: ActiveOperation, capacity: int | None,
               finishes: bool) -> bytes | int:
    """Deliver the pending output under the two-call convention."""
    out: bytes = active.pending[2]
    if not fits(len(out), capacity):
        return len(out)
    active.pending = None
    if finishes:
        session.end(slot)
    return out


def _wrong_step(session: Session, slot: OpSlot, why: str) -> CKRError:
    """A call the operation's step does not allow: CKR_OPERATION_ACTIVE, and (like every
    error) the operation ends."""
    session.end(slot)
    return CKRError(CKR.OPERATION_ACTIVE, why)


def refuse(session: Session, slot: OpSlot, rv: int, why: str = "") -> None:
    """An error the ABI found before the core saw the call's data (a NULL length pointer,
    a NULL data pointer with a length, data longer than max_data_len): it ends the
    operation like any other error. Message-based operations survive their errors (only
    C_Message*Final ends them), but the message in progress ends."""
    active = session.ops.get(slot)
    if active is not None:
        if slot is OpSlot.MESSAGE_ENCRYPT or slot is OpSlot.MESSAGE_DECRYPT:
            active.pending = active.message_parts = None
        else:
            session.end(slot)
    raise CKRError(rv, why)


def _guard(session: Session, slot: OpSlot) -> ActiveOperation:
    active = session.active(slot)
    if active.needs_context_login:
        # v2.40 §4.9 CKA_ALWAYS_AUTHENTICATE: each use needs C_Login(CKU_CONTEXT_SPECIFIC).
        session.end(slot)
        raise CKRError(CKR.USER_NOT_LOGGED_IN, "key needs a context-specific login")
    return active


def _run(session: Session, slot: OpSlot, compute: Callable[[], bytes]) -> bytes:
    try:
        return compute()
    except BaseException:
        session.end(slot)
        raise


# --- one-shot calls ------------------------------------------------------------------------
def single(session: Session, slot: OpSlot, data: Any, capacity: int | None, out: Any = None) -> bytes | int:
    """C_Encrypt / C_Decrypt / C_Digest / C_Sign / C_SignRecover / C_VerifyRecover: one
    call does update + final.

    An operation may offer ``oneshot(data)`` (same result as ``update(data) + final()``,
    e.g. pyca's one-pass AEAD); only such operations may receive ``data`` as a view of the
    caller's buffer (large inputs, no copy) -- every other one gets ``bytes``.

    ``out`` (C_Encrypt with a large input and a buffer): the caller's output buffer. An
    operation offering ``oneshot_into(data, out) -> int | None`` writes its output there
    directly; the return value is then the length written (an ``InPlace``), and the ABI
    only sets ``*pulLen``."""
    active = session.ops.get(slot)
    if active is None:
        raise CKRError(CKR.OPERATION_NOT_INITIALIZED)
    if active.pending is not None or active.started_multipart or active.needs_context_login:
        return _single_slow(session, slot, active, data, capacity)
    op = active.op
    if out is not None:
        into = getattr(op, "oneshot_into", None)
        if into is not None:
            try:
                n = into(data, out)
            except BaseException:
                session.end(slot)
                raise
            if n is not None:
                session.end(slot)
                return InPlace(n)
    oneshot = getattr(op, "oneshot", None)
    if oneshot is None and data.__class__ is not bytes:
        data = bytes(data)
    # The common case inline (no closure, no second lookup).
    try:
        result: bytes = oneshot(data) if oneshot is not None else op.update(data) + op.final()
    except BaseException:
        session.end(slot)
        raise
    if capacity is not None and len(result) <= capacity:
        session.end(slot)
        return result
    return _pend(active, SINGLE, input_identity(data), result)


def _single_slow(session: Session, slot: OpSlot, active: ActiveOperation, data: Any,
                 capacity: int | None) -> bytes | int:
    """A one-shot call on an operation that is not simply initialised."""
    if active.op is KEY_DESTROYED:
        _run(session, slot, KEY_DESTROYED.update)
    pending = active.pending
    if pending is not None:
        if pending[0] is not SINGLE:
            raise _wrong_step(session, slot, "the pending output belongs to a multi-part call")
        ident = input_identity(data)
        if pending[1] == ident:
            return _hand_over(session, slot, active, capacity, True)
        # The same function with another input: the size query had no effect (§5.2), so
        # compute afresh on a new operation (the first output was never released).
        active.pending = None
        source = active.source
        if source is None:          # revoked meanwhile (revoke_key runs without this lock)
            _run(session, slot, KEY_DESTROYED.update)
        factory, kind, km, param = source
        active.op = _run(session, slot, lambda: factory(kind, km, param))
    elif active.started_multipart:
        raise _wrong_step(session, slot, "a multi-part operation is in progress")
    else:
        _guard(session, slot)
        ident = None
    op = active.op
    oneshot = getattr(op, "oneshot", None)
    if oneshot is None and data.__class__ is not bytes:
        data = bytes(data)
    result = _run(session, slot, (lambda: oneshot(data)) if oneshot is not None
                  else (lambda: op.update(data) + op.final()))
    if capacity is not None and len(result) <= capacity:
        session.end(slot)
        return result
    return _pend(active, SINGLE, ident or input_identity(data), result)


# --- multi-part calls ----------------------------------------------------------------------
def update(session: Session, slot: OpSlot, data: bytes, capacity: int | None = 0,
           *, produces_output: bool = False) -> bytes | int:
    """C_*Update. Output-producing kinds (encrypt/decrypt) use the two-call convention."""
    active = _guard(session, slot)
    pending = active.pending
    if pending is not None:
        if pending[0] is UPDATE and produces_output and pending[1] == input_identity(data):
            return _hand_over(session, slot, active, capacity, False)
        raise _wrong_step(session, slot, "a pending output belongs to another call or input")
    if not active.multipart:
        session.end(slot)
        raise CKRError(CKR.FUNCTION_NOT_SUPPORTED, "this mechanism is single-part only")
    op = active.op
    if not produces_output:
        active.started_multipart = True
        _run(session, slot, lambda: op.update(data))
        return b""
    length_of = getattr(op, "update_length", None)
    if length_of is not None:
        # The output length is known without feeding the data: a size query or a too
        # small buffer leaves the operation exactly as it was.
        needed: int = length_of(len(data))
        if not fits(needed, capacity):
            return needed
    active.started_multipart = True
    out = _run(session, slot, lambda: op.update(data))
    if capacity is not None and len(out) <= capacity:
        return out
    return _pend(active, UPDATE, input_identity(data), out)


def final(session: Session, slot: OpSlot, capacity: int | None) -> bytes | int:
    active = session.active(slot)
    pending = active.pending
    if pending is not None:
        if pending[0] is FINAL:
            return _hand_over(session, slot, active, capacity, True)
        # An undelivered C_*Update output (or a one-shot's): this final cannot stand in
        # for it -- e.g. a GCM tag would go unchecked.
        raise _wrong_step(session, slot, "a pending output belongs to another call")
    _guard(session, slot)
    if not active.multipart:
        session.end(slot)
        raise CKRError(CKR.FUNCTION_NOT_SUPPORTED, "this mechanism is single-part only")
    out = _run(session, slot, active.op.final)
    if capacity is not None and len(out) <= capacity:
        session.end(slot)
        return out
    return _pend(active, FINAL, None, out)


def verify_single(session: Session, data: bytes, signature: bytes) -> None:
    """C_Verify always ends the operation, whatever the outcome."""
    active = _guard(session, OpSlot.VERIFY)
    try:
        if active.started_multipart:
            raise CKRError(CKR.OPERATION_ACTIVE, "a multi-part operation is in progress")
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


# --- keys destroyed under an active operation ----------------------------------------------
class KeyDestroyed:
    """Stands in for the Operation of an active operation whose key object was destroyed.

    The spec says nothing of an operation whose key is destroyed (v3.0 §5.7 C_DestroyObject
    only allows refusing with CKR_ACTION_PROHIBITED). A hardware HSM holds the key in the
    operation's context only as long as the object exists; strongroom does what is safe and
    exact: the operation's next call fails with CKR_KEY_HANDLE_INVALID ("the specified
    key handle is not valid", v3.0 §5.1.6) and, as every error, ends the operation. No
    output computed before the destruction is handed out afterwards.
    """

    multipart = True

    def _gone(self, *_args: object) -> bytes:
        raise CKRError(CKR.KEY_HANDLE_INVALID, "the operation's key object was destroyed")

    update = final = verify = encrypt = decrypt = _gone

    def close(self) -> None:
        """C_Message*Final of a revoked message operation just ends it."""


KEY_DESTROYED = KeyDestroyed()


def revoke_key(sessions: Iterable[Session], handle: int) -> None:
    """Make every operation on key ``handle`` in ``sessions`` fail at its next call.

    Called by C_DestroyObject for every session of this process (another session's
    operation on the same key counts too). Only attributes are assigned (atomic under the
    GIL), so no other session's lock is taken: a call already running on the key finishes
    with the key it had."""
    for session in sessions:
        for active in list(session.ops.values()):
            if active.key_handle == handle and active.op is not None:
                active.op = KEY_DESTROYED
                active.source = None
                active.pending = None
                active.needs_context_login = False
