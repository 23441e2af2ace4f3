"""Lying lengths and counts at the C ABI (issue 10 item 4): refused at once, never read.

Every case (tests/abi/lying_cases.py) states a length or count that no real buffer backs
-- 2^31, 0xFFFFFFFF, 2^40 ... over a few bytes placed at the end of a page followed by a
PROT_NONE page -- so a module that copies the stated length dies with SIGSEGV. The cases
run in one child process (restarted after a crash), so a crash is this test failing,
not pytest dying. Expected codes: pkcs11/limits.py (v3.0 §5.1.6, §4.1.1 rule 2).
"""
from __future__ import annotations

import pytest
from boundary import run_cases

from strongroom.pkcs11.constants import CK_UNAVAILABLE_INFORMATION, CKR
from support import make_home

AV, PI, AB, PL = (CKR.ATTRIBUTE_VALUE_INVALID, CKR.MECHANISM_PARAM_INVALID, CKR.ARGUMENTS_BAD,
                  CKR.PIN_LEN_RANGE)

EXPECTED = {
    "create_value_2_31": AV, "create_value_ffffffff": AV, "create_value_ulong_max": AV,
    "create_label_2_31": AV, "create_bool_64k": AV, "create_ulong_4k": AV, "create_date_4k": AV,
    "create_mechanisms_1m": AV, "create_ec_params_2_31": AV, "create_count_2_32": AB,
    "create_nested_len_lie": AV, "create_nested_inner_value_lie": AV, "create_nested_fanout": AV,
    "copy_object_lie": AV, "find_init_label_2_31": AV, "find_init_count_2_32": AB,
    "set_attribute_lie": AV, "get_attribute_count_2_32": AB,
    "generate_key_lie": AV, "generate_key_pair_lie": AV, "generate_key_pair_count_lie": AB,
    "sign_init_raw_param_lie": PI, "encrypt_init_iv_lie": PI, "encrypt_init_gcm_iv_lie": PI,
    "encrypt_init_gcm_aad_lie": PI, "encrypt_init_gcm_param_len_lie": PI,
    "decrypt_init_oaep_label_lie": PI, "derive_ecdh_public_lie": PI, "derive_template_lie": AV,
    "derive_hkdf_salt_lie": PI, "unwrap_template_lie": AV, "eddsa_context_over_255": PI,
    "login_pin_lie": AB, "init_pin_lie": PL, "set_pin_lie": PL,
    "generate_random_huge": AB, "seed_random_lie": AB, "message_param_iv_lie": PI,
}
OTHER = ["get_attribute_output_bounded", "find_objects_max_huge"]


@pytest.fixture(scope="module")
def results(so_path, tmp_path_factory):
    env_home = make_home(tmp_path_factory.mktemp("lying") / "home")
    import os
    env = dict(os.environ, **env_home)
    return run_cases(so_path, env, list(EXPECTED) + OTHER)


def _answer(results, case):
    rec = results.get(case)
    assert rec is not None, f"{case}: no result"
    assert "crash" not in rec, (f"{case}: the host died (child exit {rec['crash']}; -11 is SIGSEGV)\n"
                                f"{rec.get('stderr', '')}")
    return rec


@pytest.mark.parametrize("case", list(EXPECTED))
def test_lying_length_refused(results, case):
    rec = _answer(results, case)
    assert rec["rv"] == EXPECTED[case], f"{case}: {CKR(rec['rv']).name}, want {EXPECTED[case].name}"


def test_get_attribute_value_writes_within_ul_value_len(results):
    rec = _answer(results, "get_attribute_output_bounded")
    assert rec["rv"] == CKR.BUFFER_TOO_SMALL
    assert rec["len"] == CK_UNAVAILABLE_INFORMATION and rec["untouched"]


def test_find_objects_huge_max_count(results):
    rec = _answer(results, "find_objects_max_huge")
    assert rec["rv"] == CKR.OK and rec["found"] == 3


def test_limits_table_matches_the_token():
    """The table's RSA bound is the one the key checks use; every kind has a bound."""
    from strongroom.abi import marshal
    from strongroom.mechanisms.keys import RSA_MAX_BITS
    from strongroom.pkcs11 import limits
    from strongroom.pkcs11.attributes import ATTRIBUTE_KINDS, AttrKind
    from strongroom.pkcs11.constants import CKA

    assert limits.RSA_MAX_BITS == RSA_MAX_BITS
    fixed = {AttrKind.BOOL: 1, AttrKind.ULONG: 8, AttrKind.DATE: 8}
    for t, kind in ATTRIBUTE_KINDS.items():
        if kind in fixed:
            assert marshal.VALUE_MAX[t] == fixed[kind], CKA(t).name
    assert marshal.VALUE_MAX[CKA.WRAP_TEMPLATE] == 24 * limits.MAX_TEMPLATE_COUNT
