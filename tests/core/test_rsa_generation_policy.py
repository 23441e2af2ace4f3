"""RSA generation floor: 2048 bits by default, ``rsa_min_generate_bits`` (>= 1024) lowers it.

Client test suites generate 1024-bit keys for speed; with the default they get
CKR_KEY_SIZE_RANGE, with the config key they work, and C_GetMechanismInfo reports the
configured range either way. On 02edb35 there was no such key (1024 was always refused).
"""
from __future__ import annotations

import pytest

from strongroom.pkcs11.constants import CKA, CKM, CKR, CKU, SessionFlag
from strongroom.pkcs11.errors import CKRError
from strongroom.token.application import Application
from strongroom.token.types import Mechanism
from support import SO_PIN, USER_PIN, Tool

RW = SessionFlag.SERIAL_SESSION | SessionFlag.RW_SESSION


def _library(home, extra: str = "") -> Application:
    if extra:
        with open(home / "strongroom.toml", "a", encoding="utf-8") as fh:
            fh.write(extra)
    lib = Application()
    lib.initialize(None)
    return lib


def _session(lib: Application) -> int:
    lib.slots.init_token(0, SO_PIN.encode(), "rsa")
    h = lib.sessions.open_session(0, RW)
    lib.sessions.login(h, CKU.SO, SO_PIN.encode())
    lib.sessions.init_pin(h, USER_PIN.encode())
    lib.sessions.logout(h)
    lib.sessions.login(h, CKU.USER, USER_PIN.encode())
    return h


def _generate(lib: Application, h: int, bits: int) -> tuple[int, int]:
    return lib.keys.generate_key_pair(
        h, Mechanism(CKM.RSA_PKCS_KEY_PAIR_GEN),
        [(CKA.MODULUS_BITS, bits), (CKA.TOKEN, False), (CKA.VERIFY, True)],
        [(CKA.TOKEN, False), (CKA.SIGN, True)])


def test_default_floor_is_2048(home):
    lib = _library(home)
    try:
        h = _session(lib)
        with pytest.raises(CKRError) as e:
            _generate(lib, h, 1024)
        assert e.value.rv == CKR.KEY_SIZE_RANGE
        assert "rsa_min_generate_bits" in str(e.value)
        info = lib.slots.get_mechanism_info(0, CKM.RSA_PKCS_KEY_PAIR_GEN)
        assert (info.min_key_size, info.max_key_size) == (2048, 8192)
        pub, _ = _generate(lib, h, 2048)
        assert lib.objects.get_attribute_value(h, pub, [CKA.MODULUS_BITS]) == [2048]
    finally:
        lib.finalize()


def test_configured_floor_allows_1024(home):
    lib = _library(home, "rsa_min_generate_bits = 1024\n")
    try:
        h = _session(lib)
        pub, _priv = _generate(lib, h, 1024)
        assert lib.objects.get_attribute_value(h, pub, [CKA.MODULUS_BITS]) == [1024]
        info = lib.slots.get_mechanism_info(0, CKM.RSA_PKCS_KEY_PAIR_GEN)
        assert (info.min_key_size, info.max_key_size) == (1024, 8192)
        with pytest.raises(CKRError) as e:          # the mechanism's own range still holds
            _generate(lib, h, 768)
        assert e.value.rv == CKR.KEY_SIZE_RANGE
        # verification-only mechanisms keep their own range (1024.. for imported keys)
        assert lib.slots.get_mechanism_info(0, CKM.RSA_PKCS).min_key_size == 1024
    finally:
        lib.finalize()


def test_floor_below_1024_is_a_config_error(home):
    with open(home / "strongroom.toml", "a", encoding="utf-8") as fh:
        fh.write("rsa_min_generate_bits = 512\n")
    lib = Application()
    with pytest.raises(CKRError) as e:
        lib.initialize(None)
    assert e.value.rv == CKR.GENERAL_ERROR
    assert "rsa_min_generate_bits must be at least 1024" in str(e.value)


def test_pkcs11_tool_generates_1024_when_configured(module, home):
    with open(home / "strongroom.toml", "a", encoding="utf-8") as fh:
        fh.write("rsa_min_generate_bits = 1024\n")
    tool = Tool(module, home)
    tool.init_token()
    out = tool.run("--login", "--pin", USER_PIN, "--keypairgen", "--key-type", "rsa:1024",
                   "--label", "small", "--id", "01").stdout
    assert "1024 bits" in out
    listed = tool.run("--list-mechanisms").stdout
    line = next(x for x in listed.splitlines() if x.strip().startswith("RSA-PKCS-KEY-PAIR-GEN"))
    assert "1024" in line, line


def test_pkcs11_tool_refuses_1024_by_default(module, home):
    tool = Tool(module, home)
    tool.init_token()
    proc = tool.run("--login", "--pin", USER_PIN, "--keypairgen", "--key-type", "rsa:1024",
                    "--label", "small", check=False)
    assert proc.returncode != 0
    assert "CKR_KEY_SIZE_RANGE" in proc.stderr + proc.stdout
