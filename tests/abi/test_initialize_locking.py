"""C_Initialize with the application's own mutex callbacks (v2.40 §5.4, case 3).

Without CKF_OS_LOCKING_OK and with all four callbacks, the library must use the supplied
functions for mutex handling. strongroom creates one application mutex at C_Initialize,
holds it around every call into the core and destroys it at C_Finalize (abi/shim.c,
SR_CALL). On 02edb35 this C_Initialize returned CKR_CANT_LOCK.
"""
from __future__ import annotations

import threading

from strongroom.pkcs11.constants import CKR

CKF_OS_LOCKING_OK = 0x2


class AppMutexes:
    """Mutex callbacks backed by real locks, counting what the library does with them."""

    def __init__(self, ffi) -> None:
        self.ffi = ffi
        self.locks: dict[int, threading.Lock] = {}
        self.created = self.destroyed = self.locked = self.unlocked = 0
        self.fail_lock = False
        self.held_by: dict[int, int] = {}
        self.errors: list[str] = []
        self._next = 1

        @ffi.callback("CK_RV(CK_VOID_PTR_PTR)")
        def create(pp):
            handle = self._next
            self._next += 1
            self.locks[handle] = threading.Lock()
            pp[0] = ffi.cast("void *", handle)
            self.created += 1
            return 0

        @ffi.callback("CK_RV(CK_VOID_PTR)")
        def destroy(p):
            self.locks.pop(int(ffi.cast("uintptr_t", p)))
            self.destroyed += 1
            return 0

        @ffi.callback("CK_RV(CK_VOID_PTR)")
        def lock(p):
            if self.fail_lock:
                return CKR.GENERAL_ERROR
            handle = int(ffi.cast("uintptr_t", p))
            self.locks[handle].acquire()
            self.held_by[handle] = threading.get_ident()
            self.locked += 1
            return 0

        @ffi.callback("CK_RV(CK_VOID_PTR)")
        def unlock(p):
            handle = int(ffi.cast("uintptr_t", p))
            if self.held_by.pop(handle, None) != threading.get_ident():
                self.errors.append("unlocked by a thread that does not hold it")
            self.unlocked += 1
            self.locks[handle].release()
            return 0

        self._keep = (create, destroy, lock, unlock)
        self.args = ffi.new("CK_C_INITIALIZE_ARGS *")
        self.args.CreateMutex, self.args.DestroyMutex = create, destroy
        self.args.LockMutex, self.args.UnlockMutex = lock, unlock


def test_application_mutexes_without_os_locking(fresh, home):
    ffi, fl = fresh.ffi, fresh.fl
    m = AppMutexes(ffi)
    assert fl.C_Initialize(m.args) == CKR.OK
    assert m.created == 1
    count = ffi.new("CK_ULONG *")
    assert fl.C_GetSlotList(0, ffi.NULL, count) == CKR.OK
    assert fl.C_GetInfo(ffi.new("CK_INFO *")) == CKR.OK
    assert m.locked == m.unlocked >= 2              # each call ran inside the mutex

    def many() -> None:
        info = ffi.new("CK_INFO *")
        for _ in range(200):
            assert fl.C_GetInfo(info) == CKR.OK

    threads = [threading.Thread(target=many) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert m.locked == m.unlocked >= 802
    assert m.errors == []

    m.fail_lock = True                              # a failing LockMutex: no call is made
    assert fl.C_GetInfo(ffi.new("CK_INFO *")) == CKR.GENERAL_ERROR
    m.fail_lock = False

    assert fl.C_Finalize(ffi.NULL) == CKR.OK
    assert m.destroyed == 1 and m.locks == {}
    before = m.locked
    assert fl.C_Initialize(ffi.NULL) == CKR.OK       # a later plain initialise uses no callbacks
    assert fl.C_GetInfo(ffi.new("CK_INFO *")) == CKR.OK
    assert m.locked == before
    assert fl.C_Finalize(ffi.NULL) == CKR.OK


def test_os_locking_allowed_uses_os_primitives(fresh, home):
    """With CKF_OS_LOCKING_OK the library may choose OS primitives (case 4): it does, and
    never calls the callbacks."""
    ffi, fl = fresh.ffi, fresh.fl
    m = AppMutexes(ffi)
    m.args.flags = CKF_OS_LOCKING_OK
    assert fl.C_Initialize(m.args) == CKR.OK
    assert fl.C_GetInfo(ffi.new("CK_INFO *")) == CKR.OK
    assert fl.C_Finalize(ffi.NULL) == CKR.OK
    assert (m.created, m.locked, m.destroyed) == (0, 0, 0)


def test_create_mutex_failure_is_cant_lock(fresh, home):
    ffi, fl = fresh.ffi, fresh.fl
    m = AppMutexes(ffi)

    @ffi.callback("CK_RV(CK_VOID_PTR_PTR)")
    def refuse(pp):
        return CKR.HOST_MEMORY

    m.args.CreateMutex = refuse
    assert fl.C_Initialize(m.args) == CKR.CANT_LOCK
    assert fl.C_GetInfo(ffi.new("CK_INFO *")) == CKR.CRYPTOKI_NOT_INITIALIZED
