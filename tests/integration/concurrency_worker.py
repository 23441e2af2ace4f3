"""One process of the concurrency test: N threads signing and creating/destroying objects.

Run as ``python concurrency_worker.py MODULE TOKEN PIN SECONDS THREADS TAG``; prints one
JSON line with the counts. Any PKCS#11 error ends the process with a non-zero exit.
"""
from __future__ import annotations

import json
import sys
import threading
import time

import pkcs11
from pkcs11 import Attribute, Mechanism, ObjectClass


def main() -> int:
    module, label, pin, seconds, threads, tag = sys.argv[1:7]
    lib = pkcs11.lib(module)
    token = lib.get_token(token_label=label)
    keeper = token.open(user_pin=pin, rw=True)        # login is shared by every session
    deadline = time.monotonic() + float(seconds)
    results: list[dict] = []
    errors: list[str] = []

    def work(index: int) -> None:
        counts = {"signed": 0, "created": 0, "destroyed": 0}
        try:
            with token.open(rw=True) as session:
                key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label="shared")
                pub = session.get_key(object_class=ObjectClass.PUBLIC_KEY, label="shared")
                mine = []
                n = 0
                while time.monotonic() < deadline:
                    sig = key.sign(bytes(32), mechanism=Mechanism.ECDSA)
                    if not pub.verify(bytes(32), sig, mechanism=Mechanism.ECDSA):
                        raise AssertionError("signature did not verify")
                    counts["signed"] += 1
                    obj = session.create_object({
                        Attribute.CLASS: ObjectClass.DATA, Attribute.TOKEN: True,
                        Attribute.LABEL: f"{tag}-{index}-{n}", Attribute.VALUE: b"v" * 64,
                        Attribute.APPLICATION: f"{tag}"})
                    counts["created"] += 1
                    mine.append(obj)
                    n += 1
                    if n % 2 == 0:
                        mine.pop(0).destroy()
                        counts["destroyed"] += 1
        except Exception as exc:  # reported, makes the process fail
            errors.append(f"thread {index}: {type(exc).__name__}: {exc}")
        results.append(counts)

    pool = [threading.Thread(target=work, args=(i,)) for i in range(int(threads))]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    keeper.close()
    total = {k: sum(r[k] for r in results) for k in ("signed", "created", "destroyed")}
    print(json.dumps({"tag": tag, **total, "errors": errors}))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
