"""``strongroom sign | verify | encrypt | decrypt``: one operation on the token over a file or
stdin, for quick checks and scripts. Input and output are raw bytes (binary-safe).

A key is named the way the token files it: objects that share a CKA_ID are one identity,
so ``verify --key "Device Priv TLS Key"`` (or the certificate's label) verifies with the
public key of that identity; ``verify --cert FILE`` verifies with a certificate's key in
software (pyca/cryptography), no token needed.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

from . import common as C
from . import selector as S

# Which object types may do what; a label usually names a private/public pair.
_USES = {"sign": ("private", "secret-key"), "verify": ("public", "secret-key"),
         "encrypt": ("public", "secret-key"), "decrypt": ("private", "secret-key")}

_SIGN_MECHANISMS = ("ECDSA-SHA256|SHA384|SHA512, SHA256-RSA-PKCS, SHA256-RSA-PKCS-PSS (also SHA384-/SHA512-), "
                    "EDDSA, ML-DSA, SHA256-HMAC, AES-CMAC (default: by key type: ECDSA with the curve's "
                    "hash, SHA256-RSA-PKCS, EDDSA, ML-DSA, SHA256-HMAC, AES-CMAC)")
_CRYPT_MECHANISMS = ("AES-GCM, AES-CBC-PAD, AES-CTR, RSA-PKCS-OAEP (default: AES-GCM for AES, "
                     "RSA-PKCS-OAEP with SHA-256)")
# Name prefixes/suffixes of mechanisms that only encrypt, or only sign (after normalising).
_CRYPT_ONLY = ("AES_GCM", "AES_CBC", "AES_CTR", "AES_ECB", "RSA_PKCS_OAEP", "RSA_X_509")
_SIGN_ONLY = ("ECDSA", "EDDSA", "ML_DSA", "AES_CMAC", "SHA1_RSA", "SHA224_RSA", "SHA256_RSA", "SHA384_RSA",
              "SHA512_RSA", "RSA_PKCS_PSS")

_EXAMPLES = {
    "sign": ["strongroom sign --key device -i msg.txt -o msg.sig --token dev --pin-source file:user.pin",
             "strongroom sign --key 'pkcs11:token=dev;object=device?pin-source=file:user.pin' "
             "-m ECDSA-SHA256 -i msg.txt -o msg.sig",
             "openssl dgst -sha256 -verify device.pub.pem -signature msg.sig msg.txt   # DER ECDSA: OpenSSL reads it"],
    "verify": ["strongroom verify --key 'Device Priv TLS Key' --signature msg.sig -i msg.txt --token dev",
               "strongroom verify --cert device.pem --signature msg.sig -i msg.txt   # in software, no token"],
    "encrypt": ["strongroom encrypt --key backup-aes -i notes.txt -o notes.enc --token dev "
                "--pin-source file:user.pin   # AES-GCM, IV prepended"],
    "decrypt": ["strongroom decrypt --key backup-aes -i notes.enc -o notes.txt --token dev "
                "--pin-source file:user.pin"],
}


def register(subparsers: Any) -> None:
    for op, text in (("sign", "sign data with a private (or HMAC) key"),
                     ("verify", "check a signature; exit 0 if valid, 1 if not"),
                     ("encrypt", "encrypt data with a public or secret key"),
                     ("decrypt", "decrypt data with a private or secret key")):
        p = subparsers.add_parser(op, help=text, description=text, **C.examples(*_EXAMPLES[op]))
        if op == "verify":
            S.add_selector_argument(p, name="key", option="--key")
            p.add_argument("--cert", metavar="FILE",
                           help="verify with this certificate's public key (PEM or DER), in software, "
                                "instead of a key on the token (no token is opened)")
        else:
            S.add_selector_argument(p, name="key", option="--key")
        p.add_argument("-m", "--mechanism", metavar="M",
                       help=_SIGN_MECHANISMS if op in ("sign", "verify") else _CRYPT_MECHANISMS)
        p.add_argument("-i", "--input", metavar="FILE", help="input file (default or '-': stdin)")
        if op in ("sign", "verify"):
            p.add_argument("--signature-format", choices=("der", "raw"), default="der",
                           help="ECDSA signatures: der (X9.62 SEQUENCE, what OpenSSL uses; default) "
                                "or raw (r||s, what PKCS#11 returns)")
        if op == "verify":
            p.add_argument("--signature", required=True, metavar="FILE", help="the signature to check")
        else:
            what = "output file (default stdout"
            what += "; required on a terminal: the output is binary)" if op in ("sign", "encrypt") else ")"
            p.add_argument("-o", "--output", metavar="FILE", help=what)
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


def _mechanism(name: str | None, op: str) -> str | None:
    """PKCS#11 spelling of a mechanism name ("ecdsa-sha256" / "CKM_ECDSA_SHA256" ->
    "ECDSA_SHA256"); one that cannot do `op` (AES-GCM for sign) is refused here."""
    if name is None:
        return None
    upper = name.strip().upper().removeprefix("CKM_").replace("-", "_")
    signing = op in ("sign", "verify")
    wrong = _CRYPT_ONLY if signing else _SIGN_ONLY
    if upper.startswith(wrong) or (not signing and upper.endswith("HMAC")):
        fits = _SIGN_MECHANISMS if signing else _CRYPT_MECHANISMS
        C.fail(f"{name} is not a mechanism to {op} with; give one of {fits.split(' (default')[0]}",
               C.EXIT_USAGE)
    return upper


def _key(token: Any, args: argparse.Namespace) -> Any:
    selector, flt = S.filters(args, "key")
    refs = [r for r in token.objects(selector, **flt) if r.type in _USES[args.op]]
    if not refs:
        hint = "" if token.logged_in or args.op not in ("sign", "decrypt") else " (private keys need a PIN)"
        C.fail(f"no key to {args.op} with matches {S.describe(selector, flt)}{hint}", C.EXIT_NOT_FOUND)
    if len(refs) > 1:
        C.fail(f"{len(refs)} keys match {S.describe(selector, flt)}: add --id HEX or use a pkcs11: URI",
               C.EXIT_USAGE)
    return refs[0]


def _refuse_terminal(args: argparse.Namespace) -> None:
    """Binary output is not written to a terminal (as openssl refuses): it garbles the
    screen and is lost. Checked before any PIN prompt or token access."""
    if args.op in ("sign", "encrypt") and args.output in (None, "-"):
        try:
            tty = sys.stdout.isatty()
        except (AttributeError, ValueError):
            tty = False
        if tty:
            what = "signature" if args.op == "sign" else "ciphertext"
            C.fail(f"refusing to write a binary {what} to a terminal: give -o FILE or redirect stdout",
                   C.EXIT_USAGE)


def _run(args: argparse.Namespace) -> int:
    from . import files

    _refuse_terminal(args)
    mechanism = _mechanism(args.mechanism, args.op)
    if args.op == "verify":
        return _verify(args, mechanism)
    data = files.read_input(args.input)
    login = args.op in ("sign", "decrypt") or C.pin_given(args)
    with C.open_token(args, login=login) as token:
        ref = _key(token, args)
        result = getattr(token, args.op)(ref, data, mechanism=mechanism)
        if ref.key_type == "ec" and args.op == "sign" and args.signature_format == "der":
            result = _to_der(result)
    files.write_output(args.output, result)
    return C.EXIT_OK


def _verify(args: argparse.Namespace, mechanism: str | None) -> int:
    """Verify on the token with the identity's public key (or HMAC key); in software when
    only a certificate or the private key's CKA_PUBLIC_KEY_INFO holds it, or with --cert."""
    from . import files

    signature = files.read_file(args.signature)
    if args.cert is not None:
        if args.key is not None or args.object_id is not None:
            C.fail("give --key (a key on the token) or --cert FILE, not both", C.EXIT_USAGE)
        from .keyfiles import read_certificate

        public = read_certificate(files.read_file(args.cert), args.cert).public_key()
        ok = software_verify(public, files.read_input(args.input), signature, mechanism, args.signature_format)
        return _verdict(ok)
    selector, flt = S.filters(args, "key")
    data = files.read_input(args.input)
    with C.open_token(args, login=C.pin_given(args)) as token:
        secret = [r for r in token.objects(selector, **flt) if r.type == "secret-key"]
        if secret:
            ref = _key(token, args)
            return _verdict(token.verify(ref, data, signature, mechanism=mechanism))
        public, ref = S.public_key_of_identity(token, selector, flt)
        if ref is None:
            ok = software_verify(public, data, signature, mechanism, args.signature_format)
        else:
            if ref.key_type == "ec" and args.signature_format == "der":
                signature = _to_raw(signature, (public.curve.key_size + 7) // 8)
            ok = token.verify(ref, data, signature, mechanism=mechanism)
    return _verdict(ok)


def _verdict(ok: bool) -> int:
    if not ok:
        print("strongroom: error: the signature does not verify", file=sys.stderr)
        return C.EXIT_FAILURE
    print("signature OK")
    return C.EXIT_OK


def software_verify(public: Any, data: bytes, signature: bytes, mechanism: str | None, fmt: str) -> bool:
    """Check a signature with a pyca public key, by the same mechanism names the token
    takes (ECDSA_SHA*, SHA*_RSA_PKCS, SHA*_RSA_PKCS_PSS, EDDSA)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa

    hashes_by_name: dict[str, type[hashes.HashAlgorithm]] = {
        "SHA1": hashes.SHA1, "SHA224": hashes.SHA224, "SHA256": hashes.SHA256,
        "SHA384": hashes.SHA384, "SHA512": hashes.SHA512}

    def hash_named(default: str) -> Any:
        name = next((h for h in hashes_by_name if mechanism and h in mechanism.replace("SHA_1", "SHA1")), default)
        return hashes_by_name[name]()

    try:
        if isinstance(public, ec.EllipticCurvePublicKey):
            if mechanism is not None and not mechanism.startswith("ECDSA_SHA"):
                C.fail(f"{mechanism}: verifying an EC signature in software needs ECDSA-SHA256|384|512",
                       C.EXIT_USAGE)
            bits = public.curve.key_size
            default = "SHA384" if bits == 384 else "SHA512" if bits >= 512 else "SHA256"
            if fmt == "raw":
                signature = _to_der(signature)
            public.verify(signature, data, ec.ECDSA(hash_named(default)))
        elif isinstance(public, rsa.RSAPublicKey):
            algorithm = hash_named("SHA256")
            pad: Any = padding.PKCS1v15()
            if mechanism is not None and mechanism.endswith("PSS"):
                pad = padding.PSS(padding.MGF1(algorithm), algorithm.digest_size)
            elif mechanism is not None and not mechanism.endswith("RSA_PKCS"):
                C.fail(f"{mechanism}: verifying an RSA signature in software needs SHA256-RSA-PKCS or "
                       "SHA256-RSA-PKCS-PSS (SHA384/512 too)", C.EXIT_USAGE)
            public.verify(signature, data, pad, algorithm)
        elif isinstance(public, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            public.verify(signature, data)
        else:
            C.fail(f"verifying {type(public).__name__} signatures in software is not supported: "
                   "import the public key to the token", C.EXIT_USAGE)
    except InvalidSignature:
        return False
    return True
