"""Several applications over one core (what the token service will run: one per
connection), and the handle rules of one application (v2.40 §6.7.5 / v3.0 §4.1.6).

Real store in a temp home, real crypto; every assertion names the CKR the spec requires.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from strongroom.config import load_config
from strongroom.pkcs11.constants import CKA, CKK, CKM, CKO, CKR, CKS, CKU, SessionFlag
from strongroom.pkcs11.errors import CKRError
from strongroom.token import access
from strongroom.token.application import Application
from strongroom.token.core import TokenCore
from strongroom.token.types import Mechanism

RW = SessionFlag.SERIAL_SESSION | SessionFlag.RW_SESSION
RO = SessionFlag.SERIAL_SESSION
SO_PIN = b"so-pin-1234"
USER_PIN = b"user-pin-1234"


def rv(exc_info: pytest.ExceptionInfo[CKRError]) -> int:
    return int(exc_info.value.rv)


@pytest.fixture
def core(home: object) -> Iterator[TokenCore]:
    shared = TokenCore.open(load_config())
    yield shared
    shared.close()


@pytest.fixture
def apps(core: TokenCore) -> Iterator[tuple[Application, Application]]:
    a, b = Application(core), Application(core)
    a.initialize(None)
    b.initialize(None)
    a.slots.init_token(0, SO_PIN, "shared")
    h = a.sessions.open_session(0, RW)
    a.sessions.login(h, CKU.SO, SO_PIN)
    a.sessions.init_pin(h, USER_PIN)
    a.sessions.close_session(h)
    yield a, b
    for app in (a, b):
        with contextlib.suppress(CKRError):
            app.finalize()


def _user_session(app: Application, flags: int = RW) -> int:
    h = app.sessions.open_session(0, flags)
    app.sessions.login(h, CKU.USER, USER_PIN)
    return h


def _secret(app: Application, h: int, *, token: bool, private: bool, label: str = "k") -> int:
    return app.objects.create_object(h, [
        (CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.GENERIC_SECRET), (CKA.VALUE, b"s" * 32),
        (CKA.SIGN, True), (CKA.TOKEN, token), (CKA.PRIVATE, private), (CKA.LABEL, label)])


def _find(app: Application, h: int, template: list[tuple[int, object]]) -> list[int]:
    app.objects.find_objects_init(h, template)
    try:
        return app.objects.find_objects(h, 100)
    finally:
        app.objects.find_objects_final(h)


def test_one_applications_handles_mean_nothing_to_another(apps: tuple[Application, Application]) -> None:
    a, b = apps
    ha, hb = _user_session(a), _user_session(b)
    own = _secret(b, hb, token=False, private=False, label="b-own")     # b's first handle
    key = _secret(a, ha, token=True, private=True)                     # a's first handle
    assert own == key            # each application numbers its own objects
    with pytest.raises(CKRError) as e:
        b.sessions.get_session_info(ha)
    assert rv(e) == CKR.SESSION_HANDLE_INVALID
    # the same number is b's own object in b; a's key has another handle there
    assert b.objects.get_attribute_value(hb, key, [CKA.LABEL]) == ["b-own"]
    (found,) = _find(b, hb, [(CKA.LABEL, "k")])
    assert found != key
    assert b.objects.get_attribute_value(hb, found, [CKA.LABEL]) == ["k"]
    with pytest.raises(CKRError) as e:      # and b's session object is not a's
        a.objects.get_attribute_value(ha, found, [CKA.LABEL])
    assert rv(e) == CKR.OBJECT_HANDLE_INVALID


def test_session_objects_and_logins_stay_in_their_application(apps: tuple[Application, Application]) -> None:
    a, b = apps
    ha = _user_session(a)
    hb = b.sessions.open_session(0, RW)          # b is not logged in
    _secret(a, ha, token=False, private=False, label="a-session")
    _secret(a, ha, token=True, private=True, label="a-private")
    assert b.sessions.get_session_info(hb).state == CKS.RW_PUBLIC_SESSION
    assert _find(b, hb, [(CKA.CLASS, CKO.SECRET_KEY)]) == []     # neither is b's to see
    b.sessions.login(hb, CKU.USER, USER_PIN)
    assert len(_find(b, hb, [(CKA.LABEL, "a-private")])) == 1
    assert _find(b, hb, [(CKA.LABEL, "a-session")]) == []
    assert len(_find(a, ha, [(CKA.LABEL, "a-session")])) == 1


def test_finalize_of_one_application_leaves_the_other_working(apps: tuple[Application, Application]) -> None:
    a, b = apps
    ha, hb = _user_session(a), _user_session(b)
    key = _secret(b, hb, token=False, private=True)
    b.signatures.sign_init(hb, Mechanism(CKM.SHA256_HMAC), key)
    a.finalize()
    with pytest.raises(CKRError) as e:
        a.sessions.get_session_info(ha)
    assert rv(e) == CKR.CRYPTOKI_NOT_INITIALIZED
    assert len(b.signatures.sign(hb, b"data", 32)) == 32
    assert b.sessions.get_session_info(hb).state == CKS.RW_USER_FUNCTIONS


def test_a_key_destroyed_by_one_application_ends_the_others_operation(
        apps: tuple[Application, Application]) -> None:
    a, b = apps
    ha, hb = _user_session(a), _user_session(b)
    _secret(a, ha, token=True, private=False, label="shared-key")
    (key_b,) = _find(b, hb, [(CKA.LABEL, "shared-key")])
    b.signatures.sign_init(hb, Mechanism(CKM.SHA256_HMAC), key_b)
    b.signatures.sign_update(hb, b"part")
    (key_a,) = _find(a, ha, [(CKA.LABEL, "shared-key")])
    a.objects.destroy_object(ha, key_a)
    with pytest.raises(CKRError) as e:
        b.signatures.sign_update(hb, b"part")
    assert rv(e) == CKR.KEY_HANDLE_INVALID


def test_init_token_refused_while_another_application_has_a_session(
        apps: tuple[Application, Application]) -> None:
    a, b = apps
    b.sessions.open_session(0, RO)
    with pytest.raises(CKRError) as e:
        a.slots.init_token(0, SO_PIN, "again")
    assert rv(e) == CKR.SESSION_EXISTS
    with pytest.raises(CKRError) as e:
        a.slots.delete_token(0)
    assert rv(e) == CKR.SESSION_EXISTS


def test_private_handles_die_at_logout_and_are_not_reused(apps: tuple[Application, Application]) -> None:
    a, _ = apps
    h = _user_session(a)
    private = _secret(a, h, token=True, private=True, label="p")
    public = _secret(a, h, token=True, private=False, label="q")
    a.sessions.logout(h)
    with pytest.raises(CKRError) as e:
        a.objects.get_attribute_value(h, private, [CKA.LABEL])
    assert rv(e) == CKR.OBJECT_HANDLE_INVALID
    assert a.objects.get_attribute_value(h, public, [CKA.LABEL]) == ["q"]   # still accessible
    a.sessions.login(h, CKU.USER, USER_PIN)
    with pytest.raises(CKRError) as e:       # logged in again: the old handle stays dead
        a.objects.get_attribute_value(h, private, [CKA.LABEL])
    assert rv(e) == CKR.OBJECT_HANDLE_INVALID
    (again,) = _find(a, h, [(CKA.LABEL, "p")])
    assert again not in (private, public)
    assert a.objects.get_attribute_value(h, again, [CKA.LABEL]) == ["p"]
    assert _find(a, h, [(CKA.LABEL, "q")]) == [public]                      # same handle


def test_a_found_object_keeps_its_handle(apps: tuple[Application, Application]) -> None:
    a, _ = apps
    h = _user_session(a)
    key = _secret(a, h, token=True, private=True)
    assert _find(a, h, [(CKA.LABEL, "k")]) == [key]
    assert _find(a, h, [(CKA.CLASS, CKO.SECRET_KEY)]) == [key]
    a.objects.destroy_object(h, key)
    with pytest.raises(CKRError) as e:
        a.objects.get_attribute_value(h, key, [CKA.LABEL])
    assert rv(e) == CKR.OBJECT_HANDLE_INVALID
    assert _secret(a, h, token=True, private=True) != key      # numbers are not reused


@pytest.mark.parametrize(("state", "expected"), [
    # (public session, private session, public token, private token) objects: v2.40 Table 5
    (CKS.RO_PUBLIC_SESSION, "W-R-"),
    (CKS.RW_PUBLIC_SESSION, "W-W-"),
    (CKS.RO_USER_FUNCTIONS, "WWRR"),
    (CKS.RW_USER_FUNCTIONS, "WWWW"),
    (CKS.RW_SO_FUNCTIONS, "W-W-"),
])
def test_the_access_table_is_the_specs(state: int, expected: str) -> None:
    got = ""
    for on_token, private in ((False, False), (False, True), (True, False), (True, True)):
        got += {access.Access.WRITE: "W", access.Access.READ: "R", access.Access.NONE: "-"}[
            access.access(CKS(state), on_token, private)]
    assert got == expected


def test_refused_writes_name_the_remedy(apps: tuple[Application, Application]) -> None:
    a, _ = apps
    ro = a.sessions.open_session(0, RO)
    with pytest.raises(CKRError) as e:      # a token object in a R/O session
        _secret(a, ro, token=True, private=False)
    assert rv(e) == CKR.SESSION_READ_ONLY
    with pytest.raises(CKRError) as e:      # a private object without the user
        _secret(a, ro, token=False, private=True)
    assert rv(e) == CKR.USER_NOT_LOGGED_IN
    a.sessions.login(ro, CKU.USER, USER_PIN)
    key = _secret(a, ro, token=False, private=True)      # R/O user: session objects R/W
    rw = a.sessions.open_session(0, RW)
    public = _secret(a, rw, token=True, private=False)
    with pytest.raises(CKRError) as e:      # readable but not writable from a R/O session
        a.objects.destroy_object(ro, public)
    assert rv(e) == CKR.SESSION_READ_ONLY
    a.objects.destroy_object(ro, key)
