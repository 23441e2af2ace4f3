"""``strongroom sign | verify | encrypt | decrypt``: one operation on the token over a file or
stdin, for quick checks and scripts. Input and output are raw bytes (binary-safe)."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from . import common as C
from . import selector as S

# Which object types may do what; a label usually names a private/public pair.
_USES = {"sign": ("private", "secret-key"), "verify": ("public", "secret-key"),
         "encrypt": ("public", "secret-key"), "decrypt": ("private", "secret-key")}


def register(subparsers: Any) -> None:
    for op, text in (("sign", "sign data with a private (or HMAC) key"),
                     ("verify", "check a signature; exit 0 if valid, 1 if not"),
                     ("encrypt", "encrypt data with a public or secret key"),
                     ("decrypt", "decrypt data with a private or secret key")):
        p = subparsers.add_parser(op, help=text)
        S.add_selector_argument(p, name="key", option="--key")
        p.add_argument("-m", "--mechanism", metavar="M",
                       help="e.g. ECDSA-SHA256, SHA256-RSA-PKCS-PSS, EDDSA, AES-GCM (default: by key type)")
        p.add_argument("-i", "--input", metavar="FILE", help="input file (default or '-': stdin)")
        if op in ("sign", "verify"):
            p.add_argument("--signature-format", choices=("der", "raw"), default="der",
                           help="ECDSA signatures: der (X9.62 SEQUENCE, what OpenSSL uses; default) "
                                "or raw (r||s, what PKCS#11 returns)")
        if op == "verify":
            p.add_argument("--signature", required=True, metavar="FILE", help="the signature to check")
        else:
            p.add_argument("-o", "--output", metavar="FILE", help="output file (default stdout)")
        C.add_token_arguments(p)
        p.set_defaults(func=_run, op=op)


def _to_raw(signature: bytes, size: int) -> bytes:
    """A DER ECDSA signature as the r||s the token checks (`size` bytes each)."""
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    try:
        r, s = decode_dss_signature(signature)
    except ValueError:
        C.fail("the signature is not a DER ECDSA signature (use --signature-format raw for r||s)",
               C.EXIT_USAGE)
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def _to_der(signature: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    half = len(signature) // 2
    return encode_dss_signature(int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big"))


def _ec_size(token: Any, ref: Any) -> int:
    """Bytes of r (and s) for the curve of an EC key (read from its public part)."""
    return (token.public_key_of(ref).curve.key_size + 7) // 8


def _mechanism(name: str | None) -> str | None:
    """PKCS#11 spelling of a mechanism name: "ecdsa-sha256" / "CKM_ECDSA_SHA256" -> "ECDSA_SHA256"."""
    if name is None:
        return None
    return name.strip().upper().removeprefix("CKM_").replace("-", "_")


def _key(token: Any, args: argparse.Namespace) -> Any:
    selector, flt = S.filters(args, "key")
    refs = [r for r in token.objects(selector, **flt) if r.type in _USES[args.op]]
    if not refs:
        C.fail(f"no key to {args.op} with matches {S.describe(selector, flt)}", C.EXIT_NOT_FOUND)
    if len(refs) > 1:
        C.fail(f"{len(refs)} keys match {S.describe(selector, flt)}: add --id HEX or use a pkcs11: URI",
               C.EXIT_USAGE)
    return refs[0]


def _run(args: argparse.Namespace) -> int:
    from . import files

    signature = files.read_file(args.signature) if args.op == "verify" else None
    data = files.read_input(args.input)
    needs_login = args.op in ("sign", "decrypt") or C.pin_given(args)
    with C.open_token(args, login=needs_login) as token:
        ref = _key(token, args)
        ecdsa = ref.key_type == "ec" and args.op in ("sign", "verify") and args.signature_format == "der"
        if args.op == "verify":
            if ecdsa:
                signature = _to_raw(signature, _ec_size(token, ref))
            ok = token.verify(ref, data, signature, mechanism=_mechanism(args.mechanism))
        else:
            result = getattr(token, args.op)(ref, data, mechanism=_mechanism(args.mechanism))
            if ecdsa:
                result = _to_der(result)
    if args.op == "verify":
        if not ok:
            print("strongroom: error: the signature does not verify", file=sys.stderr)
            return C.EXIT_FAILURE
        print("signature OK")
        return C.EXIT_OK
    files.write_output(args.output, result)
    return C.EXIT_OK
