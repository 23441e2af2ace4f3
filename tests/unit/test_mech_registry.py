"""Registry contract: lookup, parameter typing, mechanism info sanity."""
from __future__ import annotations

import pytest

import strongroom.mechanisms  # noqa: F401  (registers every family)
from strongroom.mechanisms import registry
from strongroom.mechanisms.registry import MechanismEntry, check_param
from strongroom.pkcs11.constants import CKK, CKM, CKR, MechanismFlag as F
from strongroom.pkcs11.errors import CKRError


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
