"""Helpers for the lying-length and fuzz tests: a child process that drives the real
libstrongroom.so through cffi, so a crash of the module is a failing test, not a dead
pytest.

Memory rules (so the *test* never reads out of bounds itself): a lying length is always
over a small real buffer placed at the very end of a readable page that is followed by a
PROT_NONE page (:class:`Guard`), so an over-read of even one byte crashes the child
deterministically; "dangling" pointers are the PROT_NONE page itself, passed only with
a zero length.

Run as a script: ``python boundary.py MODULE cases NAME...`` (see
tests/abi/test_lying_lengths.py) or ``python boundary.py MODULE fuzz SEED SECONDS LOG``
(tests/abi/test_fuzz_abi.py). Results go to stdout, one line each, flushed.
"""
from __future__ import annotations

import ctypes
import json
import mmap
import os
import subprocess
import sys
from pathlib import Path

PAGE = mmap.PAGESIZE
HUGE = (1 << 31, 0xFFFFFFFF, 1 << 32, 1 << 40, (1 << 63) + 5, 0xFFFFFFFFFFFFFFFF)
CKF_RW_SERIAL = 0x2 | 0x4
SO_PIN = b"so-pin-1234"
USER_PIN = b"user-pin-1234"
P256_OID = bytes.fromhex("06082a8648ce3d030107")


class Guard:
    """Two pages: the first readable and writable, the second PROT_NONE."""

    _libc = ctypes.CDLL(None, use_errno=True)

    def __init__(self) -> None:
        self.map = mmap.mmap(-1, 2 * PAGE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        self.base = ctypes.addressof(ctypes.c_char.from_buffer(self.map))
        if self._libc.mprotect(ctypes.c_void_p(self.base + PAGE), PAGE, 0) != 0:
            raise OSError(ctypes.get_errno(), "mprotect")

    def tail(self, ffi, data: bytes, ctype: str = "void *"):
        """A pointer to ``data`` copied to the last bytes before the PROT_NONE page."""
        addr = self.base + PAGE - len(data)
        self.map[PAGE - len(data):PAGE] = data
        return ffi.cast(ctype, addr)

    def dangling(self, ffi, ctype: str = "void *"):
        """The PROT_NONE page: any read through it crashes (pass it with length 0 only)."""
        return ffi.cast(ctype, self.base + PAGE)


# --- the parent side -------------------------------------------------------------------
def run_child(module: Path, env: dict[str, str], args: list[str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, __file__, str(module), *args], check=False, env=env,
                          capture_output=True, text=True, timeout=timeout)


def run_cases(module: Path, env: dict[str, str], names: list[str], timeout: float = 120) -> dict[str, dict]:
    """{case: {"rv": int, "seconds": float, ...}} or {"crash": returncode/"timeout"}; after a
    crash the remaining cases run in a fresh child (so each case has its own answer)."""
    results: dict[str, dict] = {}
    todo = list(names)
    while todo:
        try:
            proc = run_child(module, env, ["cases", *todo], timeout)
            out, err, code = proc.stdout, proc.stderr, proc.returncode
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            err, code = "", "timeout"
        started = None
        for line in out.splitlines():
            if line.startswith("START "):
                started = line[6:]
            elif line.startswith("RESULT "):
                rec = json.loads(line[7:])
                results[rec["case"]] = rec
                started = None
        if started is None:
            for name in todo:          # not reached: the child died in its setup
                results.setdefault(name, {"crash": code, "setup": True, "stderr": proc_tail(err)})
            break
        results[started] = {"crash": code, "stderr": proc_tail(err)}
        todo = [n for n in todo if n not in results]
    return results


def proc_tail(text: str) -> str:
    return "\n".join(text.splitlines()[-5:])


# --- the child side --------------------------------------------------------------------
def load(module: str):
    from cffi import FFI

    from strongroom.abi import build_ffi

    ffi = FFI()
    ffi.cdef(build_ffi.cdef_text())
    ffi.cdef("CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList);\n"
             "CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,"
             " CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags);")
    lib = ffi.dlopen(module)
    iface = ffi.new("CK_INTERFACE_PTR *")
    assert lib.C_GetInterface(ffi.NULL, ffi.NULL, iface, 0) == 0
    fl = ffi.cast("CK_FUNCTION_LIST_3_0 *", iface[0].pFunctionList)
    return ffi, lib, fl


class Token:
    """An initialized token with a logged-in R/W user session, and C helpers."""

    def __init__(self, module: str) -> None:
        self.ffi, self.lib, self.fl = load(module)
        ffi, fl = self.ffi, self.fl
        self.keep: list = []
        assert fl.C_Initialize(ffi.NULL) == 0
        count = ffi.new("CK_ULONG *")
        assert fl.C_GetSlotList(0, ffi.NULL, count) == 0
        slots = ffi.new("CK_SLOT_ID[]", count[0])
        assert fl.C_GetSlotList(0, slots, count) == 0
        self.slot = slots[0]
        label = ffi.new("CK_UTF8CHAR[32]", b"lying".ljust(32, b" "))
        assert fl.C_InitToken(self.slot, SO_PIN, len(SO_PIN), label) == 0
        h = ffi.new("CK_SESSION_HANDLE *")
        assert fl.C_OpenSession(self.slot, CKF_RW_SERIAL, ffi.NULL, ffi.NULL, h) == 0
        self.h = h[0]
        assert fl.C_Login(self.h, 0, SO_PIN, len(SO_PIN)) == 0
        assert fl.C_InitPIN(self.h, USER_PIN, len(USER_PIN)) == 0
        assert fl.C_Logout(self.h) == 0
        assert fl.C_Login(self.h, 1, USER_PIN, len(USER_PIN)) == 0

    def buf(self, data: bytes, ctype: str = "CK_BYTE[]"):
        b = self.ffi.new(ctype, max(len(data), 1))
        self.ffi.memmove(b, data, len(data))
        self.keep.append(b)
        return b

    def template(self, pairs):
        """[(type, bytes | None)] -> (CK_ATTRIBUTE[], count); values in real buffers."""
        ffi = self.ffi
        arr = ffi.new("CK_ATTRIBUTE[]", max(len(pairs), 1))
        self.keep.append(arr)
        for i, (t, v) in enumerate(pairs):
            arr[i].type = t
            if v is None:
                arr[i].pValue, arr[i].ulValueLen = ffi.NULL, 0
            else:
                arr[i].pValue, arr[i].ulValueLen = self.buf(v), len(v)
        return arr, len(pairs)

    def handle_out(self):
        return self.ffi.new("CK_OBJECT_HANDLE *")


def main(argv: list[str]) -> int:
    module, mode = argv[0], argv[1]
    if mode == "cases":
        from lying_cases import CASES  # tests/abi/lying_cases.py (next to this file)

        tok = Token(module)
        for name in argv[2:]:
            print("START " + name, flush=True)
            import time
            t0 = time.perf_counter()
            rec = CASES[name](tok)
            rec = rec if isinstance(rec, dict) else {"rv": rec}
            rec.update(case=name, seconds=time.perf_counter() - t0)
            print("RESULT " + json.dumps(rec), flush=True)
        tok.fl.C_Finalize(tok.ffi.NULL)
        return 0
    if mode == "fuzz":
        from fuzz_calls import fuzz  # tests/abi/fuzz_calls.py

        return fuzz(Token(module), int(argv[2]), float(argv[3]), argv[4])
    raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main(sys.argv[1:]))
