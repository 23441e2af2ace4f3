"""Key-type handlers (mechanisms/keytypes.py): one per key type, registered by its family."""
from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x25519

from strongroom.mechanisms import keys, keytypes, load_all, registry
from strongroom.mechanisms.pkcs8 import image
from strongroom.pkcs11.constants import CKA, CKK, CKO, CKR
from strongroom.pkcs11.errors import CKRError


def test_every_key_type_a_mechanism_uses_has_a_handler():
    load_all()
    used = set()
    for m in registry.all_mechanisms():
        e = registry.get(m)
        used |= set(e.key_types)
        if e.gen_key_type is not None:
            used.add(e.gen_key_type)
    missing = {CKK(k).name for k in used if keytypes.find(k) is None}
    assert not missing


def test_a_key_type_registers_once():
    with pytest.raises(ValueError, match="twice"):
        keytypes.register_key_type(keytypes.secret_handler(frozenset({CKK.AES}), (16,)))


def test_unknown_key_type_is_refused_by_the_dispatchers():
    with pytest.raises(CKRError) as e:
        keys.normalize_key_attrs(CKO.SECRET_KEY, 0x7FFFFF00, {CKA.VALUE: b"k"})
    assert e.value.rv == CKR.ATTRIBUTE_VALUE_INVALID
    with pytest.raises(CKRError) as e:
        keys.load_private({CKA.CLASS: CKO.PRIVATE_KEY, CKA.KEY_TYPE: 0x7FFFFF00})
    assert e.value.rv == CKR.KEY_TYPE_INCONSISTENT
    assert keys.key_size({CKA.KEY_TYPE: None}) is None
    # a secret key of a type no handler knows still has a size (its value's length)
    assert keys.key_size({CKA.CLASS: CKO.SECRET_KEY, CKA.KEY_TYPE: 0x7FFFFF00, CKA.VALUE: b"123"}) == 3


@pytest.mark.parametrize("key, key_type", [
    (rsa.generate_private_key(65537, 1024), CKK.RSA),
    (ec.generate_private_key(ec.SECP256R1()), CKK.EC),
    (ed25519.Ed25519PrivateKey.generate(), CKK.EC_EDWARDS),
    (x25519.X25519PrivateKey.generate(), CKK.EC_MONTGOMERY),
])
def test_unwrap_image_round_trip(key, key_type):
    """attrs_from_image(PKCS#8) -> normalize -> load_private -> wrap_image is the same key."""
    attrs = keys.attrs_from_image(CKO.PRIVATE_KEY, key_type, image(key))
    attrs.update({CKA.CLASS: CKO.PRIVATE_KEY, CKA.KEY_TYPE: key_type})
    attrs.update(keys.normalize_key_attrs(CKO.PRIVATE_KEY, key_type, attrs))
    assert keys.wrap_image(attrs) == image(key)
    handler = keytypes.find(key_type)
    assert handler is keytypes.for_pyca_key(key, private=True)
    assert handler is keytypes.for_pyca_key(key.public_key(), private=False)
    assert handler.public_attrs(key.public_key())[CKA.KEY_TYPE] == key_type


def test_unwrap_refuses_an_image_of_another_key_type():
    img = image(ed25519.Ed25519PrivateKey.generate())
    for key_type in (CKK.EC_MONTGOMERY, CKK.EC, CKK.RSA, CKK.ML_DSA):
        with pytest.raises(CKRError) as e:
            keys.attrs_from_image(CKO.PRIVATE_KEY, key_type, img)
        assert e.value.rv == CKR.WRAPPED_KEY_INVALID


def test_unsupported_curve_is_curve_not_supported():
    key = ec.generate_private_key(ec.SECP224R1())
    with pytest.raises(CKRError) as e:
        keys.attrs_from_image(CKO.PRIVATE_KEY, CKK.EC, image(key))
    assert e.value.rv == CKR.CURVE_NOT_SUPPORTED
