"""Registry contract: lookup, parameter typing, mechanism info sanity."""
from __future__ import annotations

import pytest

import strongroom.mechanisms  # noqa: F401  (registers every family)
from strongroom.mechanisms import registry
from strongroom.mechanisms.registry import MechanismEntry, check_param
from strongroom.pkcs11.constants import CKK, CKM, CKR
from strongroom.pkcs11.constants import MechanismFlag as F
from strongroom.pkcs11.errors import CKRError
from strongroom.pkcs11.mechanism_params import PARAM_TYPE


def test_unknown_mechanism_is_mechanism_invalid():
    with pytest.raises(CKRError) as e:
        registry.get(0x7FFFFFF0)
    assert e.value.rv == CKR.MECHANISM_INVALID


def test_list_is_sorted_and_contains_the_first_mechanisms():
    mechs = registry.all_mechanisms()
    assert mechs == sorted(mechs)
    for m in (CKM.SHA256, CKM.EC_KEY_PAIR_GEN, CKM.ECDSA, CKM.ECDSA_SHA256,
              CKM.RSA_PKCS_KEY_PAIR_GEN, CKM.RSA_PKCS, CKM.SHA256_RSA_PKCS):
        assert m in mechs


def test_no_hw_flag_and_consistent_callables():
    for m in registry.all_mechanisms():
        e = registry.get(m)
        assert not e.flags & F.HW
        ops = F.ENCRYPT | F.DECRYPT | F.DIGEST | F.SIGN | F.VERIFY
        assert (e.operation is not None) == bool(e.flags & ops)
        assert (e.generate is not None) == bool(e.flags & F.GENERATE)
        assert (e.generate_pair is not None) == bool(e.flags & F.GENERATE_KEY_PAIR)
        assert e.min_key_size <= e.max_key_size
        # CKM_PKCS5_PBKD2 generates a key of the type the template names (gen_key_type None)
        assert ((e.gen_key_type is not None) == bool(e.flags & (F.GENERATE | F.GENERATE_KEY_PAIR))
                or e.mechanism == CKM.PKCS5_PBKD2)


def test_key_sizes_follow_spec_units():
    assert (registry.get(CKM.RSA_PKCS).min_key_size, registry.get(CKM.RSA_PKCS).max_key_size) == (1024, 8192)
    # the mechanism can make 1024 bits; the 2048 default floor is the core's policy (rsa_min_generate_bits)
    assert registry.get(CKM.RSA_PKCS_KEY_PAIR_GEN).min_key_size == 1024
    ecdsa = registry.get(CKM.ECDSA)
    assert (ecdsa.min_key_size, ecdsa.max_key_size) == (256, 521)
    assert ecdsa.flags & (F.EC_F_P | F.EC_OID | F.EC_UNCOMPRESS) == F.EC_F_P | F.EC_OID | F.EC_UNCOMPRESS
    assert ecdsa.key_types == frozenset({CKK.EC})


def test_register_twice_refused():
    e = registry.get(CKM.SHA256)
    with pytest.raises(ValueError):
        registry.register(e)


class _P:
    pass


@pytest.mark.parametrize("param_type,param,ok", [
    (None, None, True), (None, b"", True), (None, b"x", False), (None, _P(), False),
    (bytes, b"iv", True), (bytes, None, False), (bytes, _P(), False),
    (_P, _P(), True), (_P, None, False), (_P, b"x", False),
])
def test_check_param(param_type, param, ok):
    entry = MechanismEntry(mechanism=0x80001234, flags=0, min_key_size=0, max_key_size=0,
                           key_types=frozenset(), param_type=param_type)
    if ok:
        check_param(entry, param)
    else:
        with pytest.raises(CKRError) as e:
            check_param(entry, param)
        assert e.value.rv == CKR.MECHANISM_PARAM_INVALID


def test_param_types_are_the_tables():
    """One source: every registered entry's param_type is PARAM_TYPE's (None when absent),
    and the table names no mechanism the token does not register (no stale rows)."""
    mechs = registry.all_mechanisms()
    for m in mechs:
        assert registry.get(m).param_type is PARAM_TYPE.get(m), hex(m)
    assert set(PARAM_TYPE) <= set(mechs)


def test_register_refuses_a_param_type_the_table_does_not_name():
    entry = MechanismEntry(mechanism=0x80001235, flags=0, min_key_size=0, max_key_size=0,
                           key_types=frozenset(), param_type=bytes)
    with pytest.raises(ValueError, match="PARAM_TYPE"):
        registry.register(entry)
    assert 0x80001235 not in registry.all_mechanisms()


def test_mechanism_params_imports_no_family():
    """The ABI reads PARAM_TYPE at the first mechanism parameter: it must not pull in the
    families (pyca) or the registry."""
    import subprocess
    import sys
    code = ("import sys, strongroom.pkcs11.mechanism_params; "
            "print(sorted(m for m in sys.modules if m.startswith(('strongroom.mechanisms', 'cryptography'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
