"""Who may use which token through the service (docs/service.md "Access control").

Every rule is decided on what the kernel says about the peer (SO_PEERCRED: uid and primary
gid; SO_PEERGROUPS: its supplementary groups), never on anything the peer sends. A token
the peer may not use does not exist for it: it is missing from C_GetSlotList and every
call naming its slot answers CKR_SLOT_ID_INVALID. A peer that may use a token but not act
as its SO is refused CKU_SO before any PIN is looked at, so no try is burnt.

The service's own user and root are always allowed: they can read and write the store's
files anyway, so a rule against them would protect nothing.
"""
from __future__ import annotations

import logging
import os

from .._records import TYPE_CHECKING
from ..pkcs11.constants import CKR
from ..pkcs11.errors import CKRError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ..storage.base import TokenRecord
    from .context import Context, Peer

__all__ = [
    "SO_DENIED",
    "AccessPolicy",
    "Rule",
    "check_slot",
    "require_so_session",
    "require_so_slot",
    "visible_slots",
]

log = logging.getLogger("strongroom.server")

#: The answer to C_Login(CKU_SO), C_InitToken and C_InitPIN by a peer the rules do not
#: allow as SO. PKCS#11 v3.0 §5.6 (C_Login) lists CKR_USER_TYPE_INVALID among its return
#: values ("an invalid value was specified as a CK_USER_TYPE", §5.1): for this peer CKU_SO
#: is not a valid user type. CKR_PIN_INCORRECT would be a lie that burns a try, and
#: CKR_FUNCTION_REJECTED is not a C_Login return value (§5.1: "the signature request is
#: rejected by the user"). C_InitToken and C_InitPIN (§5.5) list no access-denied code at
#: all; they act as the SO, so they answer the same code, one meaning for the client.
SO_DENIED = CKR.USER_TYPE_INVALID


class Rule:
    """Which uids and gids may use a token (``users``, ``groups``) and act as its SO
    (``so_users``, ``so_groups``). Whoever may act as SO may also use the token."""

    __slots__ = ("groups", "login", "so_groups", "so_users", "users")

    def __init__(self, users: Iterable[int] = (), groups: Iterable[int] = (),
                 so_users: Iterable[int] = (), so_groups: Iterable[int] = (), login: str = "pin") -> None:
        self.users, self.groups = frozenset(users), frozenset(groups)
        self.so_users, self.so_groups = frozenset(so_users), frozenset(so_groups)
        #: how the token's user logs in: "pin", or "os-identity" (server/identity.py)
        self.login = login

    def allows_so(self, peer: Peer) -> bool:
        return peer.uid in self.so_users or not self.so_groups.isdisjoint(peer.all_groups())

    def allows(self, peer: Peer) -> bool:
        return (peer.uid in self.users or not self.groups.isdisjoint(peer.all_groups())
                or self.allows_so(peer))

    def __repr__(self) -> str:
        return (f"Rule(users={sorted(self.users)}, groups={sorted(self.groups)}, "
                f"so_users={sorted(self.so_users)}, so_groups={sorted(self.so_groups)})")


class AccessPolicy:
    """The service's rules: one per token label, one per serial, and the default rule
    (for tokens no rule names and for the free slot)."""

    __slots__ = ("by_label", "by_serial", "default", "owners")

    def __init__(self, default: Rule | None = None, by_label: dict[str, Rule] | None = None,
                 by_serial: dict[str, Rule] | None = None) -> None:
        self.owners = frozenset({0, os.geteuid()})
        self.default = default if default is not None else Rule()
        self.by_label = dict(by_label or {})
        self.by_serial = dict(by_serial or {})

    def rule_for(self, record: TokenRecord | None) -> Rule:
        """A serial's rule before a label's; the default rule for the free slot (None)."""
        if record is None:
            return self.default
        return self.by_serial.get(record.serial) or self.by_label.get(record.label) or self.default

    def may_use(self, peer: Peer, record: TokenRecord | None) -> bool:
        """The free slot is for whoever may act as SO on the default rule (to initialise it)."""
        if peer.uid in self.owners:
            return True
        rule = self.rule_for(record)
        return rule.allows_so(peer) if record is None else rule.allows(peer)

    def may_so(self, peer: Peer, record: TokenRecord | None) -> bool:
        return peer.uid in self.owners or self.rule_for(record).allows_so(peer)

    def identity_login(self, record: TokenRecord | None) -> bool:
        """The token's user logs in by OS identity, not by PIN (server/identity.py)."""
        return record is not None and self.rule_for(record).login == "os-identity"

    def uses_identity(self) -> bool:
        """Some rule logs in by OS identity: the service needs its service key."""
        rules = [self.default, *self.by_label.values(), *self.by_serial.values()]
        return any(r.login == "os-identity" for r in rules)

    def may_name(self, peer: Peer, label: str) -> bool:
        """C_InitToken may give a token a label another rule names only if that rule lets
        the peer act as SO: nobody plants a token where the label's users would trust it."""
        rule = self.by_label.get(label.rstrip(" "))
        return peer.uid in self.owners or rule is None or rule.allows_so(peer)


def _deny(ctx: Context, call: str, what: str, rv: int) -> CKRError:
    log.warning("denied %s: %s %s", ctx.peer, call, what)
    return CKRError(rv, f"{call}: not allowed for uid {ctx.peer.uid}")


def _slot_record(ctx: Context, slot: int, call: str) -> TokenRecord | None:
    record = ctx.app.slots.token_in(slot)            # SLOT_ID_INVALID for no such slot
    if not ctx.policy.may_use(ctx.peer, record):
        raise _deny(ctx, call, f"on slot {slot}", CKR.SLOT_ID_INVALID)
    return record


def check_slot(ctx: Context, slot: int, call: str) -> None:
    """CKR_SLOT_ID_INVALID, as if the slot did not exist, when the peer may not use it."""
    _slot_record(ctx, slot, call)


def visible_slots(ctx: Context, slots: Iterable[int]) -> list[int]:
    """The slots of ``slots`` the peer may use (C_GetSlotList)."""
    tokens = {t.slot_id: t for t in ctx.app.core.store.list_tokens()}
    return [s for s in slots if ctx.policy.may_use(ctx.peer, tokens.get(s))]


def require_so_slot(ctx: Context, slot: int, label: str, call: str) -> None:
    """C_InitToken: the slot must be usable, the peer allowed as SO on it, and on the rule
    of the label it gives the token."""
    record = _slot_record(ctx, slot, call)
    if not ctx.policy.may_so(ctx.peer, record):
        raise _deny(ctx, call, f"as SO on slot {slot}", SO_DENIED)
    if not ctx.policy.may_name(ctx.peer, label):
        raise _deny(ctx, call, f"on slot {slot}: the label is another rule's", SO_DENIED)


def require_so_session(ctx: Context, handle: int, call: str) -> None:
    """C_Login(CKU_SO) / C_InitPIN: the session's token must let the peer act as SO.
    An unknown handle stays CKR_SESSION_HANDLE_INVALID."""
    session = ctx.app.session(handle)
    record = ctx.app.slots.token_in(session.slot_id)
    if not ctx.policy.may_so(ctx.peer, record):
        raise _deny(ctx, call, f"as SO on slot {session.slot_id}", SO_DENIED)
