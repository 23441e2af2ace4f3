"""What a call handler knows about its connection: the application it serves (its own, or
the one it joined with a ticket),
the peer the kernel names (SO_PEERCRED), and what the handshake negotiated.

Passed to every handler of the call table instead of the bare application, so that a rule
that depends on who is calling (the service's access rules, the store owner's vendor
calls) or on the protocol level (nested ``fA`` templates) reads it from one place.
"""
from __future__ import annotations

import os

from .._records import TYPE_CHECKING
from ..pkcs11 import limits as L
from .wire import EXTENSION_LEVEL_1

if TYPE_CHECKING:
    from ..token.application import Application
    from .access import AccessPolicy
    from .identity import IdentityLogin
    from .tickets import Registry

__all__ = ["Context", "Peer"]



class Peer:
    """The process at the other end, from the kernel, never from anything it says."""

    __slots__ = ("gid", "groups", "pid", "uid")

    def __init__(self, pid: int, uid: int, gid: int, groups: frozenset[int] = frozenset()) -> None:
        self.pid, self.uid, self.gid = pid, uid, gid
        #: its supplementary groups (SO_PEERGROUPS), for the access rules' ``groups``
        self.groups = groups

    def all_groups(self) -> frozenset[int]:
        return self.groups | {self.gid}

    def __str__(self) -> str:
        return f"pid {self.pid} uid {self.uid} gid {self.gid}"

    def owns_store(self) -> bool:
        """The service's own user, or root: who could edit the store files anyway."""
        return self.uid in (0, os.geteuid())


class Context:
    __slots__ = ("app", "calls", "identity", "join_path", "peer", "policy", "registry", "service_id", "version")

    def __init__(self, app: Application, peer: Peer, version: int = 0, service_id: bytes = b"",
                 policy: AccessPolicy | None = None) -> None:
        from .access import AccessPolicy

        self.app, self.peer, self.version = app, peer, version
        #: the service's access rules (server/access.py); none given: the store's owners only
        self.policy = policy if policy is not None else AccessPolicy()
        #: 16 random bytes drawn at the service's start (SR_ServiceInfo): a client that
        #: reconnects sees whether it reached the same start, so old handles stay dead
        self.service_id = service_id
        #: the process's application tickets (server/tickets.py) and the socket a joining
        #: connection dials ("" : the one this connection came in on)
        self.registry: Registry | None = None
        self.join_path = ""
        #: the service key for OS-identity logins (server/identity.py), when configured
        self.identity: IdentityLogin | None = None
        #: calls answered on this connection (SR_JoinApplication must come first)
        self.calls = 0

    @property
    def extended(self) -> bool:
        """The connection negotiated strongroom extension level 1."""
        return self.version == EXTENSION_LEVEL_1

    @property
    def nested_templates(self) -> bool:
        """``fA`` carries nested templates (p11-kit 0.25.4+ clients offer version 1 or 2)."""
        return self.version >= 1      # 1, 2 and 0x81

    @property
    def data_max(self) -> int:
        """The running ``max_data_len``: the bound of data and AAD inputs."""
        config = self.app.config
        return (config.max_data_len if config is not None else 0) or L.DEFAULT_DATA_MAX
