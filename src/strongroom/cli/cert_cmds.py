"""``strongroom cert import | list | show | export | delete``: X.509 certificates on the
token, matched to their keys by CKA_ID."""
from __future__ import annotations

import argparse
from typing import Any

from . import common as C
from . import selector as S


def register(subparsers: Any) -> None:
    sub = C.command_group(subparsers, "cert", "import, list, show, export and delete certificates",
                          "strongroom cert import device.crt --token dev --pin-source file:user.pin",
                          "strongroom cert show device --token dev")

    p = sub.add_parser("import", help="store a certificate (PEM or DER) beside its key", **C.examples(
        "strongroom cert import device.crt --token dev --pin-source file:user.pin   # takes the key's CKA_ID",
        "strongroom cert import ca.pem --id c0 --cert-label 'Root CA' --token dev --pin-source file:user.pin"))
    p.add_argument("file", metavar="FILE", help="the certificate ('-' for stdin)")
    p.add_argument("--label", "--cert-label", dest="label", metavar="LABEL",
                   help="CKA_LABEL of the certificate (default: the matching private key's label, else the "
                        "public key's, else the subject CN)")
    p.add_argument("--id", dest="object_id", type=S.parse_id, metavar="HEX",
                   help="CKA_ID in hex (default: the id of the key whose public key matches)")
    C.token_command(p, _cmd_import)

    p = sub.add_parser("list", help="the certificates on the token", **C.examples(
        "strongroom cert list --token dev", "strongroom cert list --token dev --json"))
    C.token_command(p, _cmd_list)

    S.selector_command(sub, "show", "subject, issuer, serial, validity, SAN, key usage and fingerprint "
                                    "of the certificates a selector names", (
        "strongroom cert show 'Device Cert TLS' --token dev",
        "strongroom cert show --id 01 --token dev --json"), _cmd_show)
    S.selector_command(sub, "delete", "delete the certificates a selector names (their keys stay)", (
        "strongroom cert delete 'Device Cert TLS' --token dev --pin-source file:user.pin",), _cmd_delete)
    S.selector_command(sub, "export", "write a certificate as PEM (or DER)", (
        "strongroom cert export device --token dev -o device.pem",
        "strongroom cert export 'pkcs11:object=Device%20Cert%20TLS;id=%01' --token dev --der -o device.der"),
        _cmd_export, export=True)


def _matching_key(token: Any, cert: Any) -> Any:
    """The public-key object whose key is the certificate's, or None."""
    from ..api.errors import StrongroomError
    from .keyfiles import spki

    wanted = spki(cert.public_key())
    for ref in token.objects(type="public"):
        try:
            public = token.public_key(ref.uri)
        except (ValueError, StrongroomError):
            continue                # a key this API cannot read simply does not match
        if spki(public) == wanted:
            return ref
    return None


def _identity_label(token: Any, key: Any) -> str | None:
    """The label a certificate takes by default: its private key's (the identity's name,
    e.g. "Device Priv TLS Key"), else its public key's."""
    if key is None:
        return None
    private = [r for r in token.objects(id=key.id, type="private") if key.id]
    return private[0].label if len(private) == 1 and private[0].label else key.label or None


def _cmd_import(args: argparse.Namespace) -> int:
    from . import files, keyfiles
    from .key_cmds import ref_summary

    source = files.display_name(args.file)
    cert = keyfiles.read_certificate(files.read_input(args.file), source)
    with C.open_token(args) as token:
        key = None
        if args.object_id is None or args.label is None:
            key = _matching_key(token, cert)
        if args.object_id is not None:
            object_id = args.object_id
        elif key is not None:
            object_id = key.id
        else:
            C.fail(f"{source}: no key on the token matches this certificate's public key; give --id",
                   C.EXIT_NOT_FOUND)
        label = args.label or _identity_label(token, key) or keyfiles.certificate_label(cert, "certificate")
        clash = [r for r in token.objects(type="cert", label=label, id=object_id)]
        if clash:
            C.fail(f"a certificate labelled {label!r} with id {object_id.hex()} is already on the token",
                   C.EXIT_USAGE)
        C.warn_duplicate_label(token, label, ("cert",))
        ref = token.import_certificate(cert, label=label, id=object_id)
        data = dict(ref_summary(ref), subject=cert.subject.rfc4514_string(), file=source)
    C.emit(args, data, lambda d: f"imported certificate {d['label']!r} id {d['id']} ({d['subject']})")
    return C.EXIT_OK


def _describe(token: Any, ref: Any) -> dict[str, Any]:
    from ..api.errors import StrongroomError
    from .key_cmds import ref_summary

    data = ref_summary(ref)
    try:
        cert = token.certificate(ref.uri)
        data.update(subject=cert.subject.rfc4514_string(), issuer=cert.issuer.rfc4514_string(),
                    serial=format(cert.serial_number, "x"),
                    not_after=cert.not_valid_after_utc.isoformat())
    except (ValueError, StrongroomError):
        data.update(subject=None)      # an unparsable certificate is still listed
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


def _cert_refs(token: Any, args: argparse.Namespace) -> list[Any]:
    selector, flt = S.filters(args)
    refs: list[Any] = token.objects(selector, type="cert", **flt)
    if not refs:
        C.fail(f"no certificate matches {S.describe(selector, flt)}", C.EXIT_NOT_FOUND)
    return refs


def certificate_details(cert: Any) -> dict[str, Any]:
    """What `cert show` prints of one certificate (all public information)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    ext = cert.extensions
    details: dict[str, Any] = {
        "subject": cert.subject.rfc4514_string(), "issuer": cert.issuer.rfc4514_string(),
        "serial": format(cert.serial_number, "x"),
        "not_before": cert.not_valid_before_utc.isoformat(), "not_after": cert.not_valid_after_utc.isoformat(),
        "san": [], "key_usage": [], "extended_key_usage": [],
        "sha256_fingerprint": cert.fingerprint(hashes.SHA256()).hex(":").upper()}
    try:
        san = ext.get_extension_for_class(x509.SubjectAlternativeName).value
        details["san"] = [_general_name(n) for n in san]
    except x509.ExtensionNotFound:
        pass
    try:
        usage = ext.get_extension_for_class(x509.KeyUsage).value
        details["key_usage"] = [name for name in _KEY_USAGES if _usage(usage, name)]
    except x509.ExtensionNotFound:
        pass
    try:
        eku = ext.get_extension_for_class(x509.ExtendedKeyUsage).value
        details["extended_key_usage"] = [getattr(o, "_name", None) or o.dotted_string for o in eku]
    except x509.ExtensionNotFound:
        pass
    return details


_KEY_USAGES = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
               "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")


def _usage(usage: Any, name: str) -> bool:
    try:
        return bool(getattr(usage, name))
    except ValueError:           # encipher_only/decipher_only are undefined without key_agreement
        return False


def _general_name(name: Any) -> str:
    from cryptography import x509

    prefixes: dict[type, str] = {x509.DNSName: "DNS", x509.IPAddress: "IP", x509.RFC822Name: "email",
                                 x509.UniformResourceIdentifier: "URI"}
    prefix = prefixes.get(type(name))
    if prefix is None:
        return str(name.value) if hasattr(name, "value") else str(name)
    return f"{prefix}:{name.value}"


def _cmd_show(args: argparse.Namespace) -> int:
    from .key_cmds import ref_summary

    with C.open_token(args, login=_has_pin(args)) as token:
        data = []
        for ref in _cert_refs(token, args):
            cert = token.certificate(ref.uri)
            data.append(dict(ref_summary(ref), **certificate_details(cert)))
    C.emit(args, data, _render_show)
    return C.EXIT_OK


def _render_show(certs: list[dict[str, Any]]) -> str:
    blocks = []
    for c in certs:
        lines = [f"certificate {c['label']!r} id {c['id'] or '-'}", f"  subject:     {c['subject']}",
                 f"  issuer:      {c['issuer']}", f"  serial:      {c['serial']}",
                 f"  not before:  {c['not_before']}", f"  not after:   {c['not_after']}",
                 f"  SAN:         {', '.join(c['san']) or '-'}",
                 f"  key usage:   {', '.join(c['key_usage']) or '-'}",
                 f"  ext. usage:  {', '.join(c['extended_key_usage']) or '-'}",
                 f"  SHA-256:     {c['sha256_fingerprint']}", f"  uri:         {c['uri']}"]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _cmd_delete(args: argparse.Namespace) -> int:
    from .key_cmds import ref_summary, render_refs

    with C.open_token(args) as token:
        refs = _cert_refs(token, args)
        deleted = [ref_summary(r) for r in refs]
        for ref in refs:
            token.destroy(ref)
    C.emit(args, deleted, lambda d: "deleted:\n" + render_refs(d, ""))
    return C.EXIT_OK
