"""SHA-1 / SHA-2 / SHA-3 NIST CAVP byte-oriented ShortMsg vectors through the digest
Operation, one-shot and in chunks of 0, 1 and 7 bytes."""
from __future__ import annotations

import pytest

import strongroom.mechanisms  # noqa: F401
from strongroom.mechanisms import registry
from strongroom.mechanisms.registry import OpKind
from strongroom.pkcs11.constants import CKM
from strongroom.pkcs11.constants import MechanismFlag as F
from sym_kat import chunks, records, run

FILES = {
    CKM.SHA_1: "hashes/SHA1/SHA1ShortMsg.rsp",
    CKM.SHA224: "hashes/SHA2/SHA224ShortMsg.rsp",
    CKM.SHA256: "hashes/SHA2/SHA256ShortMsg.rsp",
    CKM.SHA384: "hashes/SHA2/SHA384ShortMsg.rsp",
    CKM.SHA512: "hashes/SHA2/SHA512ShortMsg.rsp",
    CKM.SHA512_224: "hashes/SHA2/SHA512_224ShortMsg.rsp",
    CKM.SHA512_256: "hashes/SHA2/SHA512_256ShortMsg.rsp",
    CKM.SHA3_224: "hashes/SHA3/SHA3_224ShortMsg.rsp",
    CKM.SHA3_256: "hashes/SHA3/SHA3_256ShortMsg.rsp",
    CKM.SHA3_384: "hashes/SHA3/SHA3_384ShortMsg.rsp",
    CKM.SHA3_512: "hashes/SHA3/SHA3_512ShortMsg.rsp",
}

# every 4th vector of each file (~30 per hash) keeps the run short but spans all lengths
CASES = [pytest.param(mech, r, id=f"{CKM(mech).name}-{r['Len']}")
         for mech, path in FILES.items()
         for i, r in enumerate(records(path, start="Len")) if i % 4 == 0]


@pytest.mark.parametrize("mech,r", CASES)
def test_digest_kat(mech, r):
    msg = bytes.fromhex(r["Msg"])[: int(r["Len"]) // 8]
    want = bytes.fromhex(r["MD"])
    assert run(mech, OpKind.DIGEST, None, None, [msg]) == want
    for size in (0, 1, 7):
        assert run(mech, OpKind.DIGEST, None, None, chunks(msg, size)) == want


@pytest.mark.parametrize("mech", list(FILES))
def test_digest_entries(mech):
    e = registry.get(mech)
    assert e.flags == F.DIGEST and e.param_type is None and e.key_types == frozenset()
