"""``strongroom key generate | import | list | show | export-public | delete``."""
from __future__ import annotations

import argparse
import contextlib
import os
from typing import Any

from . import common as C
from . import selector as S

KEY_TYPES = ("private", "public", "secret-key")
SECRET_PREFIXES = ("aes", "generic", "hmac", "chacha20", "des3")


def register(subparsers: Any) -> None:
    sub = C.command_group(subparsers, "key", "generate, import, list, show, export and delete keys",
                          "strongroom key generate --type ec:p256 --label device --token dev "
                          "--pin-source file:user.pin",
                          "strongroom key list --token dev --pin-source file:user.pin")

    p = sub.add_parser("generate", help="generate a key (pair) inside the token", **C.examples(
        "strongroom key generate --type ec:p256 --label device --id 01 --token dev --pin-source file:user.pin",
        "strongroom key generate --type ec:p256 --label 'Device Priv TLS Key' --public-label 'Device Pub TLS Key' "
        "--token dev --pin-source file:user.pin",
        "strongroom key generate --type aes:256 --label backup-aes --token dev --pin-source file:user.pin"))
    p.add_argument("--type", dest="kind", required=True, metavar="TYPE",
                   help="ec:p256|p384|p521|secp256k1, rsa:2048|3072|4096, ed25519, ed448, x25519, x448, "
                        "ml-dsa-44|65|87, ml-kem-768|1024, aes:128|192|256, generic:BITS, hmac:BITS")
    p.add_argument("--label", required=True, help="CKA_LABEL of the new key (of both halves of a pair "
                                                  "unless --public-label)")
    p.add_argument("--public-label", metavar="LABEL",
                   help="CKA_LABEL of the public half of a pair (default: --label), e.g. 'Device Pub TLS Key'")
    p.add_argument("--id", dest="object_id", type=S.parse_id, metavar="HEX",
                   help="CKA_ID in hex (default: SHA-1 of the public key; 8 random bytes for a secret key)")
    p.add_argument("--extractable", action="store_true",
                   help="allow the private/secret key to be exported (default: never)")
    p.add_argument("--allowed-mechanisms", metavar="M1,M2", type=_mechanism_list,
                   help="CKA_ALLOWED_MECHANISMS, e.g. ECDSA-SHA256,ECDSA (CKM_ prefix optional)")
    C.token_command(p, _cmd_generate)

    p = sub.add_parser("import", help="import a private key (PEM, DER, PKCS#8, PKCS#12 with its chain) "
                                      "or a raw AES key (--type aes)", **C.examples(
        "strongroom key import device.p12 --password-source env:P12_PASS --token dev --pin-source file:user.pin",
        "strongroom key import device.pem --label 'Device Priv TLS Key' --public-label 'Device Pub TLS Key' "
        "--cert-label 'Device Cert TLS' --token dev --pin-source file:user.pin",
        "strongroom key import aes.hex --type aes --label backup-aes --token dev --pin-source file:user.pin"))
    p.add_argument("file", metavar="FILE", help="the key file ('-' for stdin)")
    p.add_argument("--label", help="CKA_LABEL (default: the PKCS#12 friendly name, else the certificate's CN, "
                        "else the file name)")
    p.add_argument("--id", dest="object_id", type=S.parse_id, metavar="HEX",
                   help="CKA_ID in hex (default: SHA-1 of the public key; random for AES)")
    p.add_argument("--type", dest="kind", choices=("aes",),
                   help="the file is a raw AES key (16/24/32 bytes, or as many in hex)")
    p.add_argument("--password", metavar="PASSWORD", help="password of an encrypted PKCS#8 / PKCS#12")
    p.add_argument("--password-source", metavar="SRC", help="file:/path or env:NAME holding the password")
    p.add_argument("--extractable", action="store_true", help="allow the key to be exported again")
    p.add_argument("--public-label", metavar="LABEL",
                   help="CKA_LABEL of the public key object (default: --label), e.g. 'Device Pub TLS Key'")
    p.add_argument("--cert-label", metavar="LABEL",
                   help="CKA_LABEL of the key's own certificate from the file (default: --label), "
                        "e.g. 'Device Cert TLS'")
    C.token_command(p, _cmd_import)

    p = sub.add_parser("list", help="the keys on the token (private ones only with a PIN)", **C.examples(
        "strongroom key list --token dev --pin-source file:user.pin",
        "strongroom key list --token 'pkcs11:slot-id=0?pin-source=file:user.pin' --json"))
    C.token_command(p, _cmd_list)

    S.selector_command(sub, "show", "the attributes of the keys a selector names", (
        "strongroom key show device --token dev --pin-source file:user.pin",
        "strongroom key show --id 01 --token dev --json"), _cmd_show)
    S.selector_command(sub, "export-public", "write the public key of an identity (named by its public key, "
                                             "private key or certificate) as PEM (or DER)", (
        "strongroom key export-public device --token dev -o device.pub.pem",
        "strongroom key export-public 'Device Priv TLS Key' --token dev --pin-source file:user.pin "
        "--der -o device.pub.der"), _cmd_export_public, export=True)

    p = sub.add_parser("delete", help="delete the private, public and secret keys a selector names", **C.examples(
        "strongroom key delete device --id 01 --token dev --pin-source file:user.pin",
        "strongroom key delete 'pkcs11:object=old;type=public' --token dev --pin-source file:user.pin"
        "   # the public half only"))
    S.add_selector_argument(p)
    C.add_token_arguments(p)
    C.add_json_argument(p)
    p.add_argument("--force", action="store_true", help="delete even the key of a CA (the CA can then sign nothing)")
    p.set_defaults(func=_cmd_delete)


def _mechanism_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("empty mechanism list")
    return names


def ref_summary(ref: Any) -> dict[str, Any]:
    """What a listing says of one object (never a value)."""
    return {"type": ref.type, "key_type": ref.key_type, "label": ref.label,
            "id": (ref.id or b"").hex(), "uri": ref.uri}


def render_refs(refs: list[dict[str, Any]], empty: str) -> str:
    if not refs:
        return empty
    width = max(len(r["type"] or "") for r in refs)
    kwidth = max(len(str(r["key_type"] or "-")) for r in refs)
    return "\n".join(f"{r['type']:<{width}}  {r['key_type'] or '-'!s:<{kwidth}}  id {r['id'] or '-'}  "
                     f"{r['label']!r}" for r in refs)


def _check_free(token: Any, label: str, object_id: bytes) -> None:
    """Refuse to create a second object with this label and id (selectors would be ambiguous)."""
    clash = [r for r in token.objects(label=label, id=object_id)]
    if clash:
        C.fail(f"the token already holds {len(clash)} object(s) labelled {label!r} with id "
               f"{object_id.hex()}: delete them or choose another --label/--id", C.EXIT_USAGE)


def _cmd_generate(args: argparse.Namespace) -> int:
    secret = args.kind.split(":", 1)[0].lower() in SECRET_PREFIXES
    if secret and args.public_label is not None:
        C.fail("--public-label is for key pairs: a secret key has no public half", C.EXIT_USAGE)
    with C.open_token(args) as token:
        if args.object_id is not None:
            _check_free(token, args.label, args.object_id)
        C.warn_duplicate_label(token, args.label, ("secret-key",) if secret else ("private",))
        if args.public_label is not None:
            C.warn_duplicate_label(token, args.public_label, ("public",))
        # Without --id the API picks it: SHA-1 of the public key for a pair, random for a secret.
        if secret:
            refs = [token.generate_secret_key(args.kind, label=args.label, id=args.object_id,
                                              extractable=args.extractable,
                                              allowed_mechanisms=args.allowed_mechanisms)]
        else:
            refs = list(token.generate_key_pair(args.kind, label=args.label, id=args.object_id,
                                                extractable=args.extractable,
                                                allowed_mechanisms=args.allowed_mechanisms,
                                                public_label=args.public_label))
        data = [ref_summary(r) for r in refs]
    C.emit(args, data, lambda d: "generated:\n" + render_refs(d, ""))
    return C.EXIT_OK


def _password(args: argparse.Namespace) -> bytes | None:
    from ..pinsource import resolve_pin

    value = resolve_pin(args.password, args.password_source, allow_prompt=False)
    return value.encode() if value is not None else None


def _cmd_import(args: argparse.Namespace) -> int:
    from . import files, keyfiles

    source = files.display_name(args.file)
    data = files.read_input(args.file)
    name = os.path.splitext(os.path.basename(args.file))[0] if args.file != "-" else "imported"
    if args.kind == "aes":
        if args.public_label is not None or args.cert_label is not None:
            C.fail("--public-label and --cert-label are for private keys: an AES key has neither",
                   C.EXIT_USAGE)
        if args.password is not None or args.password_source is not None:
            C.fail("--password is for encrypted PKCS#8 / PKCS#12 files: a raw AES key file has none",
                   C.EXIT_USAGE)
        secret = keyfiles.read_aes(data, source)
        with C.open_token(args) as token:
            label = args.label or name
            if args.object_id is not None:
                _check_free(token, label, args.object_id)
            C.warn_duplicate_label(token, label, ("secret-key",))
            refs = [token.import_secret_key(secret, kind="aes", label=label, id=args.object_id,
                                            extractable=args.extractable)]
            result = {"file": source, "objects": [ref_summary(r) for r in refs]}
        C.emit(args, result, _render_import)
        return C.EXIT_OK
    password = _password(args)
    bundle = keyfiles.read_key_file(data, source, password)
    object_id = args.object_id or keyfiles.default_id(bundle.private_key.public_key())
    label = args.label or bundle.friendly_name or (
        keyfiles.certificate_label(bundle.certificate, name) if bundle.certificate else name)
    if args.cert_label is not None and bundle.certificate is None:
        C.fail(f"{source}: --cert-label given but the file holds no certificate for the key", C.EXIT_USAGE)
    with C.open_token(args) as token:
        _check_free(token, label, object_id)
        C.warn_duplicate_label(token, label, ("private",))
        for extra, kind in ((args.public_label, "public"), (args.cert_label, "cert")):
            if extra is not None:
                C.warn_duplicate_label(token, extra, (kind,))
        created = _store_bundle(token, bundle, label, object_id, args)
        result = {"file": source, "objects": [ref_summary(r) for r in created]}
    C.emit(args, result, _render_import)
    return C.EXIT_OK


def _store_bundle(token: Any, bundle: Any, label: str, object_id: bytes, args: argparse.Namespace) -> list[Any]:
    """Create the key pair, its certificate and the CA certificates not yet on the token;
    all or nothing: on any failure what was created is destroyed again, and the message
    says that nothing was stored (a half-imported bundle is worse than none)."""
    from ..api.errors import StrongroomError
    from . import keyfiles

    created: list[Any] = []
    try:
        created += token.import_private_key(bundle.private_key, label=label, id=object_id,
                                            extractable=args.extractable, public_label=args.public_label)
        if bundle.certificate is not None:
            created.append(token.import_certificate(bundle.certificate, label=args.cert_label or label,
                                                    id=object_id))
        for n, cert in enumerate(bundle.ca_certificates, 1):
            cert_id = keyfiles.default_id(cert.public_key())
            if token.objects(type="cert", id=cert_id):
                continue                     # that CA certificate is already on the token
            created.append(token.import_certificate(
                cert, label=keyfiles.certificate_label(cert, f"{label} CA {n}"), id=cert_id))
    except (StrongroomError, ValueError) as exc:       # the token refused, a value it cannot take
        error = _nothing_stored(exc, len(created), args)   # before the roll-back: the remedy
        _roll_back(token, created)                         # reports the quota as it was hit
        raise error from None
    except BaseException:                                  # a bug or ^C: undone too, then propagated
        _roll_back(token, created)
        raise
    return created


def _roll_back(token: Any, created: list[Any]) -> None:
    from ..api.errors import StrongroomError

    for ref in reversed(created):
        with contextlib.suppress(StrongroomError):    # the original error is the one to report
            token.destroy(ref)


def _nothing_stored(exc: Exception, done: int, args: argparse.Namespace) -> Exception:
    """The import's error (with main's remedy for its CKR, e.g. which quota is full) and
    what the user must know next: the token is unchanged."""
    from . import main

    code = main.exit_code_for(exc)
    if code is None:
        return exc
    text = main._with_remedy(main._message(exc), exc, args)
    stored = f" ({done} object(s) created before it were removed again)" if done else ""
    return C.CLIError(f"{text}; nothing was stored{stored}", code)


def _render_import(d: dict[str, Any]) -> str:
    return f"imported from {d['file']}:\n" + render_refs(d["objects"], "")


def _login_optional(args: argparse.Namespace) -> Any:
    """Open the token logged in when a PIN is given (option, URI or prompt); else public
    objects only."""
    import sys

    pin = C.user_pin(args, required=False)
    if pin is None:
        print("strongroom: note: not logged in (no --pin/--pin-source): private objects are not shown",
              file=sys.stderr)
    from ..api import open as api_open
    return api_open(C.token_target(args), pin=pin, module=C.module_of(args))


def _cmd_list(args: argparse.Namespace) -> int:
    with _login_optional(args) as token:
        refs = sorted((ref_summary(r) for r in token.objects() if r.type in KEY_TYPES),
                      key=lambda r: (r["label"], r["id"], r["type"]))
    C.emit(args, refs, lambda d: render_refs(d, "no keys"))
    return C.EXIT_OK


def _key_refs(token: Any, args: argparse.Namespace) -> list[Any]:
    selector, flt = S.filters(args)
    refs = [r for r in token.objects(selector, **flt) if r.type in KEY_TYPES]
    if not refs:
        C.fail(f"no key matches {S.describe(selector, flt)}", C.EXIT_NOT_FOUND)
    return refs


def _cmd_show(args: argparse.Namespace) -> int:
    from .objects_cmd import render_objects

    with _login_optional(args) as token:
        data = [dict(ref_summary(r), attributes=r.attributes()) for r in _key_refs(token, args)]
    C.emit(args, data, render_objects)
    return C.EXIT_OK


def _cmd_export_public(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives import serialization

    from . import files

    selector, flt = S.filters(args)
    with C.open_token(args, login=C.pin_given(args)) as token:
        public, ref = S.public_key_of_identity(token, selector, flt)
    if public is None:
        C.fail(f"the {ref.key_type} public key {ref.label!r} has no SubjectPublicKeyInfo encoding this tool "
               "can write (pyca/cryptography does not support the key type)", C.EXIT_FAILURE)
    encoding = serialization.Encoding.DER if args.der else serialization.Encoding.PEM
    files.write_output(args.output, public.public_bytes(encoding,
                                                        serialization.PublicFormat.SubjectPublicKeyInfo))
    return C.EXIT_OK


def _cmd_delete(args: argparse.Namespace) -> int:
    with C.open_token(args) as token:
        refs = _key_refs(token, args)
        from ..ca.authority import ca_key_refusal  # a CA's key is refused without --force (issue 11)

        refusal = None if args.force else ca_key_refusal(token.info, refs)
        if refusal:
            C.fail(refusal, C.EXIT_FAILURE)
        deleted = [ref_summary(r) for r in refs]
        for ref in refs:
            token.destroy(ref)
    C.emit(args, deleted, lambda d: "deleted:\n" + render_refs(d, ""))
    return C.EXIT_OK
