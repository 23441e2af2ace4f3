"""Data lengths above max_data_len (config, default 64 MiB) are refused at once, before
the caller's memory is read, and the refusal ends the operation like every error but
CKR_BUFFER_TOO_SMALL (issue 10 item 4, data part; v2.40 §5.2).

The code is the spec's for that input (v3.0 §5.1.6): plaintext and AAD
CKR_DATA_LEN_RANGE, ciphertext CKR_ENCRYPTED_DATA_LEN_RANGE, a signature
CKR_SIGNATURE_LEN_RANGE, a wrapped key CKR_WRAPPED_KEY_LEN_RANGE.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from opstate_support import Session

from strongroom.pkcs11.constants import CKA, CKK, CKM, CKO, CKR
from support import make_home

HERE = Path(__file__).resolve().parent
D, E, S = CKR.DATA_LEN_RANGE, CKR.ENCRYPTED_DATA_LEN_RANGE, CKR.SIGNATURE_LEN_RANGE
NOT_INIT = CKR.OPERATION_NOT_INITIALIZED

#: case -> (the call's CKR, the CKR of the check after it). The check is the operation's
#: C_*Init again (CKR_OK: the refusal ended it); for one-shot messages C_Message*Final
#: (the message-based operation survives a failed message), for C_*MessageNext the next
#: part (CKR_OPERATION_NOT_INITIALIZED: the message in progress ended).
EXPECTED = {
    "C_Encrypt": (D, CKR.OK), "C_EncryptUpdate": (D, CKR.OK),
    "C_Decrypt": (E, CKR.OK), "C_DecryptUpdate": (E, CKR.OK),
    "C_Digest": (D, CKR.OK), "C_DigestUpdate": (D, CKR.OK),
    "C_Sign": (D, CKR.OK), "C_SignUpdate": (D, CKR.OK),
    "C_Verify": (D, CKR.OK), "C_Verify signature": (S, CKR.OK),
    "C_VerifyUpdate": (D, CKR.OK), "C_VerifyFinal": (S, CKR.OK),
    "C_SignRecover": (D, CKR.OK), "C_VerifyRecover": (S, CKR.OK),
    "C_EncryptMessage": (D, CKR.OK), "C_EncryptMessage AAD": (D, CKR.OK),
    "C_DecryptMessage": (E, CKR.OK), "C_EncryptMessageBegin AAD": (D, CKR.OK),
    "C_EncryptMessageNext": (D, NOT_INIT), "C_DecryptMessageNext": (E, NOT_INIT),
    "C_UnwrapKey": (CKR.WRAPPED_KEY_LEN_RANGE, None), "C_DecapsulateKey": (E, None),
}


@pytest.fixture(scope="module")
def lying_results(so_path, tmp_path_factory) -> dict[str, dict]:
    """Every case with ulLen = 2^31 over a 16-byte buffer, in one child process (a call
    that read the buffer would crash it; its later cases would then be missing)."""
    env = dict(__import__("os").environ, **make_home(tmp_path_factory.mktemp("lying") / "home"))
    proc = subprocess.run([sys.executable, str(HERE / "data_length_child.py"), str(so_path)],
                          env=env, capture_output=True, text=True, timeout=300)
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    results = {r["case"]: r for r in rows}
    results["_stderr"] = {"text": proc.stderr[-2000:], "rc": proc.returncode}
    return results


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_lying_data_length_refused_at_once_and_operation_ended(lying_results, case):
    row = lying_results.get(case)
    assert row is not None, f"no answer (child rc {lying_results['_stderr']['rc']}): " \
                            f"{lying_results['_stderr']['text']}"
    assert (row["rv"], row["after"]) == EXPECTED[case]


# --- a real buffer just above a small configured limit ---------------------------------------------
LIMIT = 1024


@pytest.fixture
def limited(module, tmp_path, monkeypatch) -> Session:
    for key, value in make_home(tmp_path / "home", f"max_data_len = {LIMIT}\n").items():
        monkeypatch.setenv(key, value)
    module.finalize()
    module.initialize()
    try:
        yield Session(module)
    finally:
        module.finalize()


def test_limit_is_configurable_with_real_buffers(limited):
    s = limited
    fl, h = s.fl, s.h
    out, n = s.ffi.new("CK_BYTE[4096]"), s.ffi.new("CK_ULONG *", 4096)
    at, above = b"a" * LIMIT, b"a" * (LIMIT + 1)
    # at the limit: fine; one byte above: refused, and the operation is over
    assert fl.C_EncryptInit(h, s.gcm(), s.aes) == CKR.OK
    assert fl.C_Encrypt(h, at, LIMIT, out, n) == CKR.OK and n[0] == LIMIT + 16
    assert fl.C_EncryptInit(h, s.gcm(), s.aes) == CKR.OK
    n[0] = 4096
    assert fl.C_Encrypt(h, above, LIMIT + 1, out, n) == CKR.DATA_LEN_RANGE
    assert fl.C_Encrypt(h, at, LIMIT, out, n) == CKR.OPERATION_NOT_INITIALIZED
    # per call: many parts each within the limit make a longer message
    assert fl.C_DigestInit(h, s.mech(CKM.SHA256)) == CKR.OK
    for _ in range(3):
        assert fl.C_DigestUpdate(h, at, LIMIT) == CKR.OK
    assert fl.C_DigestUpdate(h, above, LIMIT + 1) == CKR.DATA_LEN_RANGE
    assert fl.C_DigestFinal(h, out, n) == CKR.OPERATION_NOT_INITIALIZED
    # ciphertext and signatures get their own length codes
    assert fl.C_DecryptInit(h, s.gcm(), s.aes) == CKR.OK
    n[0] = 4096
    assert fl.C_Decrypt(h, above, LIMIT + 1, out, n) == CKR.ENCRYPTED_DATA_LEN_RANGE
    assert fl.C_DecryptInit(h, s.gcm(), s.aes) == CKR.OK
    hmac = s.create([(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.GENERIC_SECRET),
                     (CKA.VALUE, b"k" * 32), (CKA.VERIFY, True)])
    assert fl.C_VerifyInit(h, s.mech(CKM.SHA256_HMAC), hmac) == CKR.OK
    assert fl.C_Verify(h, b"m", 1, above, LIMIT + 1) == CKR.SIGNATURE_LEN_RANGE
    assert fl.C_VerifyInit(h, s.mech(CKM.SHA256_HMAC), hmac) == CKR.OK
