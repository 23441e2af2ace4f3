"""Which session may do what to which object: the spec's one table.

v2.40 §6.7.1 Table 5 (v3.0 §5.1 "Access to objects by different types of sessions"):

    object                 R/O public  R/W public  R/O user  R/W user  R/W SO
    public session object     R/W         R/W        R/W       R/W      R/W
    private session object     -           -         R/W       R/W       -
    public token object       R/O         R/W        R/O       R/W      R/W
    private token object       -           -         R/O       R/W       -

"-" means the object is invisible (CKR_OBJECT_HANDLE_INVALID when named, absent from
C_FindObjects). Every check of the core that depends on the session and the object --
creating, copying, generating, deriving, unwrapping, changing and destroying objects --
asks :func:`require_write`; reading and using objects rely on the same table through
:class:`objects.Visibility` (private objects need the user's master key).
"""
from __future__ import annotations

from enum import IntEnum

from ..pkcs11.constants import CKR, CKS
from ..pkcs11.errors import CKRError


class Access(IntEnum):
    NONE = 0
    READ = 1
    WRITE = 2


_N, _R, _W = Access.NONE, Access.READ, Access.WRITE

#: (session state, on_token, private) -> access; the rows of the table above.
TABLE: dict[tuple[CKS, bool, bool], Access] = {}
for _state, _row in (
    #                      public sess  private sess  public token  private token
    (CKS.RO_PUBLIC_SESSION, (_W, _N, _R, _N)),
    (CKS.RW_PUBLIC_SESSION, (_W, _N, _W, _N)),
    (CKS.RO_USER_FUNCTIONS, (_W, _W, _R, _R)),
    (CKS.RW_USER_FUNCTIONS, (_W, _W, _W, _W)),
    (CKS.RW_SO_FUNCTIONS, (_W, _N, _W, _N)),
):
    for (_token, _private), _access in zip(((False, False), (False, True), (True, False), (True, True)),
                                           _row, strict=True):
        TABLE[(_state, _token, _private)] = _access


_READ_ONLY = frozenset({CKS.RO_PUBLIC_SESSION, CKS.RO_USER_FUNCTIONS})


def access(state: CKS, on_token: bool, private: bool) -> Access:
    return TABLE[(state, bool(on_token), bool(private))]


def require_write(state: CKS, on_token: bool, private: bool) -> None:
    """Refuse a write the table does not allow, with the code that names why: any token
    object in a R/O session needs a R/W one (CKR_SESSION_READ_ONLY, checked first as the
    spec's C_CreateObject text lists it); a private object the session cannot see needs
    the user (CKR_USER_NOT_LOGGED_IN)."""
    if TABLE[(state, bool(on_token), bool(private))] is _W:
        return
    if on_token and state in _READ_ONLY:
        raise CKRError(CKR.SESSION_READ_ONLY)
    raise CKRError(CKR.USER_NOT_LOGGED_IN)
