"""``strongroom cert import | list | export``: X.509 certificates on the token, matched to
their keys by CKA_ID."""
from __future__ import annotations

import argparse
from typing import Any

from . import common as C
from . import selector as S


def register(subparsers: Any) -> None:
    cert = subparsers.add_parser("cert", help="import, list and export certificates")
    sub = cert.add_subparsers(dest="cert_command", metavar="CERT_COMMAND", required=True)

    p = sub.add_parser("import", help="store a certificate (PEM or DER) beside its key")
    p.add_argument("file", metavar="FILE", help="the certificate ('-' for stdin)")
    p.add_argument("--label", help="CKA_LABEL (default: the matching key's label, else the subject CN)")
    p.add_argument("--id", dest="object_id", type=S.parse_id, metavar="HEX",
                   help="CKA_ID in hex (default: the id of the key whose public key matches)")
    C.add_token_arguments(p)
    C.add_json_argument(p)
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser("list", help="the certificates on the token")
    C.add_token_arguments(p)
    C.add_json_argument(p)
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("export", help="write a certificate as PEM (or DER)")
    S.add_selector_argument(p)
    p.add_argument("--der", action="store_true", help="DER instead of PEM")
    p.add_argument("-o", "--output", metavar="FILE", help="write here (default stdout)")
    C.add_token_arguments(p)
    p.set_defaults(func=_cmd_export)


def _matching_key(token: Any, cert: Any) -> Any:
    """The public-key object whose key is the certificate's, or None."""
    from .keyfiles import spki

    wanted = spki(cert.public_key())
    for ref in token.objects(type="public"):
        try:
            public = token.public_key(ref.uri)
        except Exception:  # noqa: BLE001 - a key type pyca cannot load simply does not match
            continue
        if spki(public) == wanted:
            return ref
    return None


def _cmd_import(args: argparse.Namespace) -> int:
    from . import files, keyfiles
    from .key_cmds import ref_summary

    source = files.display_name(args.file)
    cert = keyfiles.read_certificate(files.read_input(args.file), source)
    with C.open_token(args) as token:
        key = None
        if args.object_id is None or args.label is None:
            key = _matching_key(token, cert)
        if args.object_id is None and key is None:
            C.fail(f"{source}: no key on the token matches this certificate's public key; give --id",
                   C.EXIT_NOT_FOUND)
        object_id = args.object_id if args.object_id is not None else key.id
        label = args.label or (key.label if key is not None else keyfiles.certificate_label(cert, "certificate"))
        clash = [r for r in token.objects(type="cert", label=label, id=object_id)]
        if clash:
            C.fail(f"a certificate labelled {label!r} with id {object_id.hex()} is already on the token",
                   C.EXIT_USAGE)
        ref = token.import_certificate(cert, label=label, id=object_id)
        data = dict(ref_summary(ref), subject=cert.subject.rfc4514_string(), file=source)
    C.emit(args, data, lambda d: f"imported certificate {d['label']!r} id {d['id']} ({d['subject']})")
    return C.EXIT_OK


def _describe(token: Any, ref: Any) -> dict[str, Any]:
    from .key_cmds import ref_summary

    data = ref_summary(ref)
    try:
        cert = token.certificate(ref.uri)
        data.update(subject=cert.subject.rfc4514_string(), issuer=cert.issuer.rfc4514_string(),
                    serial=format(cert.serial_number, "x"),
                    not_after=cert.not_valid_after_utc.isoformat())
    except Exception:  # noqa: BLE001 - an unparsable certificate is still listed
        data.update(subject=None)
    return data


def _cmd_list(args: argparse.Namespace) -> int:
    with C.open_token(args, login=_has_pin(args)) as token:
        data = [_describe(token, r) for r in token.objects(type="cert")]
    C.emit(args, data, _render_list)
    return C.EXIT_OK


def _has_pin(args: argparse.Namespace) -> bool:
    return C.pin_given(args)


def _render_list(certs: list[dict[str, Any]]) -> str:
    if not certs:
        return "no certificates"
    return "\n".join(f"id {c['id'] or '-'}  {c['label']!r}  subject {c.get('subject')}  "
                     f"issuer {c.get('issuer')}  until {c.get('not_after')}" for c in certs)


def _cmd_export(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives import serialization

    from . import files

    selector, flt = S.filters(args)
    with C.open_token(args, login=_has_pin(args)) as token:
        cert = token.certificate(selector, **flt)
    encoding = serialization.Encoding.DER if args.der else serialization.Encoding.PEM
    files.write_output(args.output, cert.public_bytes(encoding))
    return C.EXIT_OK
