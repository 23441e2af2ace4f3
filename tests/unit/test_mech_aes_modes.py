"""AES modes beyond the KATs: length errors, CTR counter rules, GCM message API (IV
generation, tag out/in), key wrap PKCS7 variant and IV rules, CKA_CHECK_VALUE."""
from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import keywrap, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import strongroom.mechanisms  # noqa: F401
from strongroom.mechanisms import checkvalue, registry
from strongroom.mechanisms.registry import OpKind
from strongroom.pkcs11.constants import CKA, CKC, CKK, CKM, CKO, CKR
from strongroom.pkcs11.constants import GeneratorFunction as G
from strongroom.pkcs11.constants import MechanismFlag as F
from strongroom.pkcs11.errors import CKRError
from strongroom.pkcs11.params import CtrParams, GcmMessageParams
from sym_kat import Key, chunks, run

K = Key(bytes(range(32)), CKK.AES)


def expect(rv, fn, *a):
    with pytest.raises(CKRError) as e:
        fn(*a)
    assert e.value.rv == rv


@pytest.mark.parametrize("mech,param", [(CKM.AES_ECB, None), (CKM.AES_CBC, bytes(16))])
@pytest.mark.parametrize("n", [1, 15, 17, 33])
def test_block_modes_need_whole_blocks(mech, param, n):
    expect(CKR.DATA_LEN_RANGE, run, mech, OpKind.ENCRYPT, K, param, [bytes(n)])
    expect(CKR.ENCRYPTED_DATA_LEN_RANGE, run, mech, OpKind.DECRYPT, K, param, [bytes(n)])


@pytest.mark.parametrize("mech,param", [(CKM.AES_ECB, None), (CKM.AES_CBC, bytes(16)),
                                        (CKM.AES_CTR, CtrParams(64, bytes(16)))])
def test_multipart_equals_one_shot(mech, param):
    data = os.urandom(160)
    one = run(mech, OpKind.ENCRYPT, K, param, [data])
    for size in (0, 1, 7, 16, 33):
        assert run(mech, OpKind.ENCRYPT, K, param, chunks(data, size)) == one
        assert run(mech, OpKind.DECRYPT, K, param, chunks(one, size)) == data


def test_multipart_outputs_whole_blocks():
    op = registry.get(CKM.AES_CBC).operation(OpKind.ENCRYPT, K, bytes(16))
    assert op.update(bytes(15)) == b"" and len(op.update(bytes(17))) == 32 and op.final() == b""


@pytest.mark.parametrize("mech,param", [(CKM.AES_CBC, bytes(15)), (CKM.AES_CBC, None),
                                        (CKM.AES_CTR, CtrParams(0, bytes(16))),
                                        (CKM.AES_CTR, CtrParams(129, bytes(16))),
                                        (CKM.AES_CTR, CtrParams(32, bytes(15))),
                                        (CKM.AES_CTR, bytes(16))])
def test_bad_params(mech, param):
    expect(CKR.MECHANISM_PARAM_INVALID, registry.get(mech).operation, OpKind.ENCRYPT, K, param)


def test_ctr_counter_must_not_wrap():
    cb = bytes(15) + b"\xfe"                     # 8-bit counter at 254: two blocks left
    p = CtrParams(8, cb)
    out = run(CKM.AES_CTR, OpKind.ENCRYPT, K, p, [bytes(32)])
    ecb = Cipher(algorithms.AES(K.attrs[CKA.VALUE]), modes.ECB()).encryptor()
    assert out == ecb.update(cb + bytes(15) + b"\xff")
    expect(CKR.DATA_LEN_RANGE, run, CKM.AES_CTR, OpKind.ENCRYPT, K, p, [bytes(33)])
    expect(CKR.ENCRYPTED_DATA_LEN_RANGE, run, CKM.AES_CTR, OpKind.DECRYPT, K, p, [bytes(16), bytes(17)])
    run(CKM.AES_CTR, OpKind.ENCRYPT, K, CtrParams(128, b"\xff" * 16), [bytes(16)])


def _gcm_msg(kind):
    return registry.get(CKM.AES_GCM).message(kind, K, None)


def test_gcm_message_roundtrip_and_tamper():
    enc, dec = _gcm_msg(OpKind.ENCRYPT), _gcm_msg(OpKind.DECRYPT)
    p = GcmMessageParams(iv=bytes(range(12)), iv_fixed_bits=0, iv_generator=G.NO_GENERATE, tag_bits=128)
    ct, out = enc.encrypt(p, b"aad", b"hello world")
    assert out.iv == p.iv and len(out.tag) == 16
    assert ct + out.tag == AESGCM(K.attrs[CKA.VALUE]).encrypt(p.iv, b"hello world", b"aad")
    assert dec.decrypt(out, b"aad", ct) == b"hello world"
    expect(CKR.ENCRYPTED_DATA_INVALID, dec.decrypt, out, b"aaX", ct)
    expect(CKR.ENCRYPTED_DATA_INVALID, dec.decrypt, out, b"aad", ct[:-1] + b"\0")
    expect(CKR.MECHANISM_PARAM_INVALID, dec.decrypt, GcmMessageParams(p.iv, 0, 0, 128, b"short"), b"", ct)
    expect(CKR.FUNCTION_NOT_SUPPORTED, enc.decrypt, out, b"aad", ct)


def test_gcm_message_truncated_tag():
    enc, dec = _gcm_msg(OpKind.ENCRYPT), _gcm_msg(OpKind.DECRYPT)
    p = GcmMessageParams(iv=bytes(12), iv_fixed_bits=0, iv_generator=G.NO_GENERATE, tag_bits=96)
    ct, out = enc.encrypt(p, b"", b"x" * 40)
    assert len(out.tag) == 12 and dec.decrypt(out, b"", ct) == b"x" * 40


@pytest.mark.parametrize("gen", [G.GENERATE, G.GENERATE_RANDOM, G.GENERATE_COUNTER])
def test_gcm_message_iv_generation(gen):
    enc, dec = _gcm_msg(OpKind.ENCRYPT), _gcm_msg(OpKind.DECRYPT)
    fixed = b"\xaa\xbb\xcc\xdd"
    p = GcmMessageParams(iv=fixed + bytes(8), iv_fixed_bits=32, iv_generator=gen, tag_bits=128)
    ivs = set()
    for i in range(20):
        ct, out = enc.encrypt(p, b"", b"m%d" % i)
        assert out.iv[:4] == fixed and len(out.iv) == 12
        ivs.add(out.iv)
        assert dec.decrypt(out, b"", ct) == b"m%d" % i
    assert len(ivs) == 20
    if gen == G.GENERATE_COUNTER:
        ordered = sorted(int.from_bytes(v[4:], "big") for v in ivs)
        assert ordered[-1] - ordered[0] in (19, 2**64 - 1)   # consecutive (mod wrap)


def test_gcm_message_counter_exhaustion_and_bad_generators():
    enc = _gcm_msg(OpKind.ENCRYPT)
    p = GcmMessageParams(iv=bytes(12), iv_fixed_bits=94, iv_generator=G.GENERATE_COUNTER, tag_bits=128)
    for _ in range(4):
        enc.encrypt(p, b"", b"")
    expect(CKR.DATA_LEN_RANGE, enc.encrypt, p, b"", b"")
    for bad in (GcmMessageParams(bytes(12), 0, G.GENERATE_COUNTER_XOR, 128),
                GcmMessageParams(bytes(12), 96, G.GENERATE, 128),
                GcmMessageParams(bytes(12), 0, G.NO_GENERATE, 20),
                GcmMessageParams(bytes(4), 0, G.NO_GENERATE, 128)):
        expect(CKR.MECHANISM_PARAM_INVALID, enc.encrypt, bad, b"", b"")


def test_gcm_entry_flags():
    e = registry.get(CKM.AES_GCM)
    want = F.ENCRYPT | F.DECRYPT | F.WRAP | F.UNWRAP | F.MESSAGE_ENCRYPT | F.MESSAGE_DECRYPT
    assert e.flags == want and e.message is not None


@pytest.mark.parametrize("mech", [CKM.AES_KEY_WRAP_PAD, CKM.AES_KEY_WRAP_PKCS7])
@pytest.mark.parametrize("n", [1, 7, 8, 20, 32])
def test_wrap_pkcs7(mech, n):
    data = os.urandom(n)
    if n < 8:     # padded to one semiblock: shorter than RFC 3394's 16-byte minimum
        with pytest.raises(CKRError) as e:
            run(mech, OpKind.WRAP, K, None, [data])
        assert e.value.rv == CKR.DATA_LEN_RANGE
        return
    pad = padding.PKCS7(64).padder()
    want = keywrap.aes_key_wrap(K.attrs[CKA.VALUE], pad.update(data) + pad.finalize())
    assert run(mech, OpKind.WRAP, K, None, [data]) == want
    assert run(mech, OpKind.UNWRAP, K, None, chunks(want, 3)) == data


def test_wrap_lengths_and_iv():
    expect(CKR.DATA_LEN_RANGE, run, CKM.AES_KEY_WRAP, OpKind.WRAP, K, None, [bytes(20)])
    expect(CKR.DATA_LEN_RANGE, run, CKM.AES_KEY_WRAP, OpKind.WRAP, K, None, [bytes(8)])
    expect(CKR.ENCRYPTED_DATA_LEN_RANGE, run, CKM.AES_KEY_WRAP, OpKind.UNWRAP, K, None, [bytes(20)])
    expect(CKR.DATA_LEN_RANGE, run, CKM.AES_KEY_WRAP_KWP, OpKind.WRAP, K, None, [b""])
    expect(CKR.ENCRYPTED_DATA_INVALID, run, CKM.AES_KEY_WRAP_KWP, OpKind.UNWRAP, K, None, [bytes(24)])
    run(CKM.AES_KEY_WRAP, OpKind.WRAP, K, bytes.fromhex("A6A6A6A6A6A6A6A6"), [bytes(16)])
    run(CKM.AES_KEY_WRAP_KWP, OpKind.WRAP, K, bytes.fromhex("A65959A6"), [bytes(3)])
    expect(CKR.MECHANISM_PARAM_INVALID, registry.get(CKM.AES_KEY_WRAP).operation, OpKind.WRAP, K, bytes(8))
    expect(CKR.MECHANISM_INVALID, registry.get(CKM.AES_KEY_WRAP).operation, OpKind.SIGN, K, None)


def test_cmac_general_and_verify():
    expect(CKR.MECHANISM_PARAM_INVALID, registry.get(CKM.AES_CMAC_GENERAL).operation, OpKind.SIGN, K, 17)
    expect(CKR.MECHANISM_PARAM_INVALID, registry.get(CKM.AES_CMAC_GENERAL).operation, OpKind.SIGN, K, 0)
    mac = run(CKM.AES_CMAC, OpKind.SIGN, K, None, [b"data"])
    op = registry.get(CKM.AES_CMAC).operation(OpKind.VERIFY, K, None)
    op.update(b"datb")
    expect(CKR.SIGNATURE_INVALID, op.verify, mac)
    op = registry.get(CKM.AES_CMAC).operation(OpKind.VERIFY, K, None)
    op.update(b"data")
    expect(CKR.SIGNATURE_LEN_RANGE, op.verify, mac[:8])


def test_check_values():
    # SP 800-38A F.1.1 key; AES-128(0) -> 66e94b.. for the zero key
    assert checkvalue.aes_check_value(bytes(16)) == bytes.fromhex("66e94b")
    gen = registry.get(CKM.AES_KEY_GEN).generate(None, {CKA.VALUE_LEN: 24})
    assert gen[CKA.CHECK_VALUE] == checkvalue.aes_check_value(gen[CKA.VALUE])
    aes = {CKA.CLASS: CKO.SECRET_KEY, CKA.KEY_TYPE: CKK.AES, CKA.VALUE: bytes(16)}
    assert checkvalue.attrs_for(aes) == {CKA.CHECK_VALUE: bytes.fromhex("66e94b")}
    assert checkvalue.attrs_for({**aes, CKA.CHECK_VALUE: bytes.fromhex("66e94b")}) == {}
    assert checkvalue.attrs_for({**aes, CKA.CHECK_VALUE: b""}) == {}
    expect(CKR.ATTRIBUTE_VALUE_INVALID, checkvalue.attrs_for, {**aes, CKA.CHECK_VALUE: b"abc"})
    cert = {CKA.CLASS: CKO.CERTIFICATE, CKA.CERTIFICATE_TYPE: CKC.X_509, CKA.VALUE: b"abc"}
    assert checkvalue.attrs_for(cert) == {CKA.CHECK_VALUE: bytes.fromhex("a9993e")}   # SHA-1("abc")
    assert checkvalue.attrs_for({CKA.CLASS: CKO.DATA, CKA.VALUE: b"x"}) == {}
    gs = {CKA.CLASS: CKO.SECRET_KEY, CKA.KEY_TYPE: CKK.GENERIC_SECRET, CKA.VALUE: b"abc"}
    assert checkvalue.attrs_for(gs) == {CKA.CHECK_VALUE: bytes.fromhex("a9993e")}


@pytest.mark.parametrize("mech", [CKM.AES_ECB, CKM.AES_CBC, CKM.AES_CBC_PAD, CKM.AES_CTR,
                                  CKM.AES_GCM, CKM.AES_KEY_WRAP, CKM.AES_KEY_WRAP_KWP])
def test_cipher_entries(mech):
    e = registry.get(mech)
    assert e.flags & (F.ENCRYPT | F.DECRYPT | F.WRAP | F.UNWRAP) == F.ENCRYPT | F.DECRYPT | F.WRAP | F.UNWRAP
    assert (e.min_key_size, e.max_key_size, e.key_types) == (16, 32, frozenset({CKK.AES}))
