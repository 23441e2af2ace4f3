"""The token service's in-memory PIN verifier (token/unlock_cache.py): a second login with
the PIN that unlocked the token needs no scrypt, yet every attempt is still counted first,
a wrong PIN is still refused and counted, and a changed PIN makes the entry unreachable."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from strongroom.config import load_config
from strongroom.pkcs11.constants import CKA, CKK, CKO, CKR, CKU, SessionFlag, TokenFlag
from strongroom.pkcs11.errors import CKRError
from strongroom.storage.base import PinAttempt
from strongroom.token.application import Application
from strongroom.token.core import TokenCore
from strongroom.token.unlock_cache import UnlockCache

RW = SessionFlag.SERIAL_SESSION | SessionFlag.RW_SESSION
SO_PIN, USER_PIN = b"so-pin-1234", b"user-pin-1234"


@pytest.fixture
def app(home: object) -> Iterator[Application]:
    core = TokenCore.open(load_config())
    core.unlock_cache = UnlockCache()
    a = Application(core)
    a.initialize(None)
    a.slots.init_token(0, SO_PIN, "cached")
    h = a.sessions.open_session(0, RW)
    a.sessions.login(h, CKU.SO, SO_PIN)
    a.sessions.init_pin(h, USER_PIN)
    a.sessions.close_session(h)
    yield a
    with contextlib.suppress(CKRError):
        a.finalize()
    core.close()


def _login(app: Application, pin: bytes) -> int:
    h = app.sessions.open_session(0, RW)
    app.sessions.login(h, CKU.USER, pin)
    return h


def _cached(app: Application, user: int) -> bool:
    core = app.core
    record = core.store.get_token(app.session(app.sessions.open_session(0, RW)).token_id)
    attempt = core.store.spend_pin_attempt(record.token_id, CKU(user), 10)
    core.store.settle_pin_attempt(record.token_id, CKU(user), attempt, right=True)
    assert isinstance(attempt, PinAttempt)
    assert core.unlock_cache is not None
    return core.unlock_cache.knows(attempt, user)


def test_second_login_is_answered_by_the_cache_and_opens_private_objects(app: Application) -> None:
    h = _login(app, USER_PIN)
    app.objects.create_object(h, [(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.GENERIC_SECRET),
                                  (CKA.VALUE, b"k" * 32), (CKA.TOKEN, True), (CKA.PRIVATE, True),
                                  (CKA.LABEL, "private")])
    app.sessions.logout(h)
    assert _cached(app, CKU.USER)
    app.manager.forget_token_objects()
    h = _login(app, USER_PIN)                          # the cache's master key unseals it
    app.objects.find_objects_init(h, [(CKA.LABEL, "private")])
    found = app.objects.find_objects(h, 10)
    assert len(found) == 1
    assert app.objects.get_attribute_value(h, found[0], [CKA.LABEL]) == ["private"]


def test_a_wrong_pin_against_the_cache_is_refused_and_counted(app: Application) -> None:
    app.sessions.logout(_login(app, USER_PIN))
    with pytest.raises(CKRError) as e:
        _login(app, b"not-the-pin")
    assert e.value.rv == CKR.PIN_INCORRECT
    assert app.slots.get_token_info(0).flags & TokenFlag.USER_PIN_COUNT_LOW
    app.sessions.logout(_login(app, USER_PIN))      # a right PIN gives the try back
    assert not app.slots.get_token_info(0).flags & TokenFlag.USER_PIN_COUNT_LOW


def test_a_changed_pin_leaves_the_old_entry_unreachable(app: Application) -> None:
    h = _login(app, USER_PIN)
    app.sessions.set_pin(h, USER_PIN, b"new-user-pin")
    app.sessions.logout(h)
    with pytest.raises(CKRError) as e:
        _login(app, USER_PIN)
    assert e.value.rv == CKR.PIN_INCORRECT
    app.sessions.logout(_login(app, b"new-user-pin"))
    assert _cached(app, CKU.USER)


def test_the_in_process_core_has_no_cache(home: object) -> None:
    core = TokenCore.open(load_config())
    try:
        assert core.unlock_cache is None
    finally:
        core.close()
