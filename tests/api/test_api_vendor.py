"""strongroom's vendor functions as the tools reach them: api/vendor.py (ctypes on the
module python-pkcs11 loaded, sharing its C_Initialize) and cli/store_view.py on top of
it (``token info`` figures, ``token delete`` / ``token reset``). strongroom's module only:
SoftHSM2 has no such functions."""
from __future__ import annotations

import pytest

from support import SO_PIN, USER_PIN, make_home

LABEL = "vendor"
CKR_SESSION_EXISTS = 0xB6
CKR_TOKEN_NOT_RECOGNIZED = 0xE1


@pytest.fixture
def own(tmp_path):
    """A fresh home with token LABEL on strongroom's module, loaded in this process; the
    module reads the previous configuration again afterwards. Returns (module, slot_id)."""
    from strongroom.api import admin
    from strongroom.api.library import load_library
    from strongroom.modules import module_path

    module = str(module_path())
    with pytest.MonkeyPatch.context() as mp:
        for key, value in make_home(tmp_path / "home").items():
            mp.setenv(key, value)
        load_library(module).reinitialize()        # read the new configuration
        slot = admin.init_token(module, None, SO_PIN, LABEL, user_pin=USER_PIN)
        yield module, slot
    load_library(module).reinitialize()


def _open(module: str, **kw):
    import strongroom

    return strongroom.open(LABEL, module=module, **kw)


def test_usage_counts_objects_bytes_and_pin_failures(own):
    from strongroom.api import vendor
    from strongroom.api.errors import PinIncorrect

    module, slot = own
    fresh = vendor.token_usage(module, slot)
    assert set(fresh) == set(vendor.USAGE_FIELDS)
    assert fresh["objects"] == 0 and fresh["bytes_used"] == 0
    assert fresh["quota_objects"] > 0 and fresh["quota_bytes"] > 0 and fresh["pin_max_tries"] > 0
    with _open(module, pin=USER_PIN) as token:
        token.generate_key_pair("ec:p256", label="k", id=b"\x01")
    with pytest.raises(PinIncorrect), _open(module, pin="wrong-user-pin"):
        pass
    used = vendor.token_usage(module, slot)
    assert used["objects"] == 2 and used["bytes_used"] > 0
    assert used["user_pin_failures"] == 1 and used["so_pin_failures"] == 0
    assert used["quota_bytes"] == fresh["quota_bytes"]


def test_delete_refused_while_this_process_has_a_session(own):
    from strongroom.api import admin, vendor
    from strongroom.api.errors import StrongroomError

    module, slot = own
    with _open(module) as token:
        with pytest.raises(StrongroomError) as refused:
            vendor.delete_token(module, slot)
        assert refused.value.ckr == CKR_SESSION_EXISTS
        assert "CKR_SESSION_EXISTS" in str(refused.value)
        assert token.info["label"] == LABEL                     # still there, session usable
    vendor.delete_token(module, slot)
    assert LABEL not in {t["label"] for t in admin.find_tokens(module, None)}
    with pytest.raises(StrongroomError) as gone:
        vendor.token_usage(module, slot)
    assert gone.value.ckr == CKR_TOKEN_NOT_RECOGNIZED


def test_store_view_through_the_module(own):
    """The CLI's figures and deletion: by serial, None for what is not there, refused
    while a session is open, the slot free afterwards."""
    from strongroom.api import admin
    from strongroom.api.errors import StrongroomError
    from strongroom.cli import store_view

    module, slot = own
    serial = admin.find_tokens(module, LABEL)[0]["serial"]
    usage = store_view.token_usage(serial)
    assert usage is not None and usage["objects"] == 0
    assert usage["free_objects"] == usage["quota_objects"] and usage["bytes_free"] == usage["quota_bytes"]
    assert store_view.token_usage("0000000000000000") is None
    assert store_view.find_tokens(f"pkcs11:token={LABEL}") == [
        {"label": LABEL, "serial": serial, "slot_id": slot, "objects": 0}]
    assert store_view.find_tokens("nosuch") == []
    with _open(module), pytest.raises(StrongroomError):
        store_view.delete_token(serial)
    assert store_view.delete_token(serial) == {"label": LABEL, "serial": serial, "slot_id": slot, "objects": 0}
    assert store_view.delete_token(serial) is None
    assert store_view.token_usage(serial) is None
    free = [t for t in admin.list_tokens(module) if t["slot_id"] == slot]
    assert free and not free[0]["initialized"]
