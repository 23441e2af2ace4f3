"""strongroom.open(): selecting a token by URI, label or nothing; PINs; errors."""
from __future__ import annotations

import pytest

import strongroom
from strongroom.api import AmbiguousMatch, NotLoggedIn, PinIncorrect, PinLocked, TokenNotFound, admin
from strongroom.uri import build
from support import SO_PIN, USER_PIN


def test_open_by_label_logs_in_and_reports_info(backend):
    with backend.open(pin=USER_PIN) as token:
        info = token.info
        assert info["label"] == backend.label
        assert info["module_path"] == backend.module
        assert "TOKEN_INITIALIZED" in info["flags"] and "USER_PIN_INITIALIZED" in info["flags"]
        assert info["user_pin"] == "ok" and info["so_pin"] == "ok"
        assert info["mechanisms"] > 10
        assert token.logged_in == "user"


def test_open_none_picks_the_only_initialised_token(backend):
    with strongroom.open(None, module=backend.module) as token:
        assert token.label == backend.label
        assert token.logged_in is None


@pytest.mark.parametrize("attrs", ["token", "serial", "slot-id", "token+model+manufacturer"])
def test_open_by_uri(backend, attrs):
    info = admin.list_tokens(backend.module)
    mine = next(t for t in info if t["label"] == backend.label)
    values = {"token": mine["label"], "serial": mine["serial"], "slot_id": mine["slot_id"],
              "model": mine["model"], "manufacturer": mine["manufacturer"]}
    wanted = {k.replace("-", "_"): values[k.replace("-", "_")] for k in attrs.split("+")}
    uri = build(**wanted, pin_value=USER_PIN, module_path=backend.module).format()
    with strongroom.open(uri) as token:                  # module and PIN from the URI
        assert token.label == backend.label and token.logged_in == "user"
        assert token.module_path == backend.module


def test_open_uri_pin_source(backend, tmp_path):
    pin_file = tmp_path / "pin"
    pin_file.write_text(USER_PIN + "\n")
    uri = build(token=backend.label, pin_source=f"file:{pin_file}").format()
    with backend.open(uri) as token:
        assert token.logged_in == "user"
        assert token.objects(type="private") is not None


def test_unknown_token_lists_the_labels_that_exist(backend):
    with pytest.raises(TokenNotFound) as caught:
        backend.open("no-such-token", pin=USER_PIN)
    message = str(caught.value)
    assert "'no-such-token'" in message and repr(backend.label) in message and USER_PIN not in message
    with pytest.raises(TokenNotFound, match="matching pkcs11:token=nope"):
        backend.open("pkcs11:token=nope")
    with pytest.raises(TokenNotFound):               # a library attribute that does not match
        backend.open(f"pkcs11:token={backend.label};library-manufacturer=nobody")


def test_wrong_pin_raises_pin_incorrect_with_state(backend):
    with pytest.raises(PinIncorrect) as caught:
        backend.open(pin="wrong-pin-0000")
    err = caught.value
    assert err.ckr == 0xA0
    assert err.pin_state in ("ok", "count_low", "final_try")
    assert "wrong-pin-0000" not in str(err) and "CKR_PIN_INCORRECT" in str(err)
    with backend.open(pin=USER_PIN) as token:          # a good PIN resets the counter
        assert token.info["user_pin"] == "ok"


def test_without_login_private_objects_are_hidden_and_writes_refused(backend):
    with backend.open(pin=USER_PIN) as token:
        token.generate_key_pair("ec:p256", label="hidden")
    with backend.open() as token:
        assert token.objects(label="hidden", type="private") == []
        assert [r.type for r in token.objects(label="hidden")] == ["public"]
        with pytest.raises(NotLoggedIn):
            token.init_pin("x" * 8)


def test_pin_change_and_so_init_pin(backend):
    with backend.open(pin=USER_PIN) as token:
        token.change_pin(USER_PIN, "changed-pin-1")
        with pytest.raises(PinIncorrect, match="current user PIN"):
            token.change_pin("not-the-pin", "whatever-1")
    with backend.open(pin="changed-pin-1"):
        pass
    with backend.open(so_pin=SO_PIN) as so:
        assert so.logged_in == "SO"
        so.init_pin(USER_PIN)                              # back to the fixture's PIN
    with backend.open(pin=USER_PIN):
        pass


def test_both_pins_is_a_usage_error(backend):
    with pytest.raises(ValueError, match="not both"):
        backend.open(pin=USER_PIN, so_pin=SO_PIN)


def test_missing_module_is_named(backend, tmp_path):
    with pytest.raises(strongroom.api.StrongroomError, match=r"module not found: .*nothing\.so"):
        strongroom.open(backend.label, module=tmp_path / "nothing.so")


def test_second_token_makes_none_ambiguous_and_locks(backend):
    """A second token: open(None) is then ambiguous; wrong PINs lock it (where the
    module counts tries) and PinLocked says so."""
    admin.init_token(backend.module, None, SO_PIN, "second", user_pin=USER_PIN)
    with pytest.raises(AmbiguousMatch, match="2 tokens"):
        strongroom.open(None, module=backend.module)
    states = []
    for _ in range(12):
        try:
            backend.open("second", pin="wrong-pin-9999")
        except PinIncorrect as exc:
            states.append(exc.pin_state)
        except PinLocked as exc:
            assert exc.ckr == 0xA4 and "locked" in str(exc)
            break
    else:
        pytest.skip(f"{backend.name} does not lock a PIN after repeated failures (states: {set(states)})")
    assert "final_try" in states or "count_low" in states
    with pytest.raises(PinLocked):
        backend.open("second", pin=USER_PIN)
    assert next(t for t in admin.list_tokens(backend.module) if t["label"] == "second")["user_pin"] == "locked"


def test_two_tokens_on_one_token_share_the_login(backend):
    """PKCS#11 login is per application: a second open() with a PIN succeeds, and closing
    one Token does not log the other out (no C_Logout at close)."""
    first = backend.open(pin=USER_PIN)
    first.generate_key_pair("ec:p256", label="shared login", id=b"\x5e")
    second = backend.open(pin=USER_PIN)
    assert second.logged_in == "user"
    second.close()
    assert [r.type for r in first.objects(id=b"\x5e", type="private")] == ["private"]
    first.close()
    with backend.open() as anonymous:                     # last session closed: logged out
        assert anonymous.objects(id=b"\x5e", type="private") == []


def test_module_by_another_path_is_the_same_library(backend, tmp_path):
    """A symlink to the module must not make python-pkcs11 load and C_Initialize it twice."""
    from strongroom.api.session import load_library

    link = tmp_path / "link.so"
    link.symlink_to(backend.module)
    assert load_library(link) is load_library(backend.module)
    with strongroom.open(backend.label, module=link, pin=USER_PIN) as token:
        assert token.logged_in == "user"


def test_pin_values_in_uris_never_reach_messages(backend):
    secret = "uri-pin-5678"
    with pytest.raises(TokenNotFound) as caught:
        backend.open(f"pkcs11:token=nope?pin-value={secret}")
    assert secret not in str(caught.value) and "pin-value=***" in str(caught.value)
    with backend.open(pin=USER_PIN) as token:
        for call in (lambda: token.find(f"pkcs11:object=none?pin-value={secret}"),
                     lambda: token.sign(f"pkcs11:object=none?pin-value={secret}", b"x")):
            with pytest.raises(strongroom.api.ObjectNotFound) as caught:
                call()
            assert secret not in str(caught.value)
    with pytest.raises(PinIncorrect) as caught:
        backend.open(f"pkcs11:token={backend.label}?pin-value={secret}")
    assert secret not in str(caught.value)


def test_find_tokens_by_label_uri_or_all(backend):
    """admin.find_tokens(): the initialised tokens a selector designates, never the free slot."""
    mine = next(t for t in admin.list_tokens(backend.module) if t["label"] == backend.label)
    assert [t["serial"] for t in admin.find_tokens(backend.module, backend.label)] == [mine["serial"]]
    assert [t["slot_id"] for t in admin.find_tokens(backend.module, f"pkcs11:serial={mine['serial']}")] \
        == [mine["slot_id"]]
    assert all(t["initialized"] for t in admin.find_tokens(backend.module, None))
    assert mine["serial"] in [t["serial"] for t in admin.find_tokens(backend.module, "pkcs11:")]
    assert admin.find_tokens(backend.module, "no-such-label") == []
    assert admin.find_tokens(backend.module, "pkcs11:library-manufacturer=nobody") == []
