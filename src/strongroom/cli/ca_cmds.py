"""CLI for the CA: ``req`` and ``ca init|issue|list|show|revoke|crl|audit verify``
(``provision`` is provision_cmd.py; what both share is ca_shared.py).

Token arguments (--token/--pin/...) name the token holding the key being certified (or,
for ``ca init``, the token that will hold the CA key). The CA's own token is recorded in
its ca.json; its PIN comes from --ca-pin/--ca-pin-source, else the --pin given, else a
prompt on a terminal.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import ca_shared as CA
from . import common as C

if TYPE_CHECKING:
    from ..ca.authority import Authority


def register(subparsers: Any) -> None:
    from . import provision_cmd

    _register_req(subparsers)
    _register_ca(subparsers)
    provision_cmd.register(subparsers)


# -- req -----------------------------------------------------------------------------------
def _register_req(sub: Any) -> None:
    p = CA.parser(sub, "req", "a PKCS#10 certificate request signed by a token key",
                  "  strongroom req --token fleet --pin-source file:user.pin --key 'Device Priv TLS Key' \\\n"
                  "      --subject CN=dev-0001 --san DNS:dev-0001.local -o dev-0001.csr\n"
                  "  strongroom ca issue device-ca --csr dev-0001.csr --ca-pin-source file:user.pin\n")
    C.add_token_arguments(p)
    p.add_argument("--key", required=True, metavar="SELECTOR", help="the private key: pkcs11: URI or label")
    p.add_argument("--subject", required=True, help="e.g. 'CN=dev-001,O=Acme' (RFC 4514)")
    p.add_argument("--san", action="append", default=[], metavar="TYPE:VALUE",
                   help="DNS:name, IP:addr, URI:uri or email:addr (repeatable)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the PEM here (default stdout)")
    p.set_defaults(func=_cmd_req)


def _cmd_req(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives import serialization

    from ..ca import profile as P

    with CA.exit_codes():
        P.parse_subject(args.subject)
        for entry in args.san:
            P.parse_san(entry)
        with C.open_token(args) as token:
            key = token.private_key(args.key)
            csr = P.build_csr(key, args.subject, args.san)
    CA.write_output(args.output, csr.public_bytes(serialization.Encoding.PEM))
    return C.EXIT_OK


# -- ca ------------------------------------------------------------------------------------
def _register_ca(sub: Any) -> None:
    ca = CA.parser(sub, "ca", "a certificate authority whose key stays on a token",
                   "  strongroom ca init device-ca --subject 'CN=Acme Device CA' --token ca-token "
                   "--pin-source file:user.pin\n  strongroom ca list\n")
    csub = ca.add_subparsers(dest="ca_command", metavar="CA_COMMAND", required=True)
    _register_init(csub)
    _register_issue(csub)
    _register_views(csub)
    _register_crl_and_audit(csub)


def _register_init(csub: Any) -> None:
    p = CA.parser(csub, "init", "generate a CA key on a token and its certificate",
                  "  strongroom ca init device-ca --subject 'CN=Acme Device CA,O=Acme' --token ca-token \\\n"
                  "      --pin-source file:user.pin\n"
                  "  strongroom ca init line-2 --parent device-ca --path-length 0 --subject 'CN=Line 2 CA' \\\n"
                  "      --token ca-token --pin-source file:user.pin\n")
    p.add_argument("name", help="CA name (its state goes to $STRONGROOM_HOME/ca/NAME)")
    C.add_token_arguments(p)
    C.add_json_argument(p)
    p.add_argument("--subject", required=True, help="e.g. 'CN=Acme Device CA,O=Acme'")
    p.add_argument("--key-type", default="ec:p384",
                   help="ec:p256, ec:p384 (default), ec:p521, rsa:2048|3072|4096, ed25519")
    p.add_argument("--validity-days", type=int, default=3650, metavar="DAYS",
                   help="validity of the CA certificate in days (default 3650)")
    p.add_argument("--path-length", type=int, metavar="N", help="basicConstraints pathLenConstraint")
    p.add_argument("--parent", metavar="NAME", help="have this existing CA sign the new one (a sub-CA)")
    p.add_argument("--parent-pin", metavar="PIN", help="user PIN of the parent CA's token (default: --pin)")
    p.add_argument("--parent-pin-source", metavar="SRC",
                   help="file:/path or env:NAME holding the parent CA token's PIN")
    p.set_defaults(func=_cmd_ca_init)


def _register_issue(csub: Any) -> None:
    p = CA.parser(csub, "issue", "sign a CSR (file) or certify a token key (--key)",
                  "  strongroom ca issue device-ca --csr dev.csr --ca-pin-source file:user.pin -o dev.pem\n"
                  "  strongroom ca issue device-ca --key operator --subject CN=operator --token fleet \\\n"
                  "      --pin-source file:user.pin --eku clientAuth\n"
                  "--token, --module, --pin and --cert-label concern the token holding --key; with --csr only\n"
                  "the CA's token is opened (from ca.json; PIN: --ca-pin-source, --ca-pin, else --pin).\n")
    p.add_argument("name", help="the CA")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--csr", metavar="FILE", help="PKCS#10 request, PEM or DER ('-' for stdin)")
    src.add_argument("--key", metavar="SELECTOR",
                     help="a private key on --token (URI or label): build its CSR now, store the "
                          "certificate beside it")
    p.add_argument("--subject", help="subject (required with --key; overrides the CSR's with --csr)")
    C.add_token_arguments(p)
    CA.ca_pin_arguments(p)
    CA.profile_arguments(p, default_days=365)
    p.add_argument("--ca", dest="sub_ca", action="store_true", help="issue a sub-CA certificate")
    p.add_argument("--path-length", type=int, metavar="N", help="path length for a sub-CA")
    p.add_argument("--cert-label", metavar="LABEL", help="label of the certificate stored on the token "
                                                          "(with --key; default: the key's label)")
    p.add_argument("-o", "--output", metavar="FILE", help="also write the certificate PEM here ('-': stdout)")
    C.add_json_argument(p)
    p.set_defaults(func=_cmd_ca_issue)


def _register_views(csub: Any) -> None:
    p = CA.parser(csub, "list", "the CAs in this home, and whether each one's key is still on its token",
                  "  strongroom ca list\n  strongroom ca list --json\n")
    C.add_json_argument(p)
    p.set_defaults(func=_cmd_ca_list)

    p = CA.parser(csub, "show", "one CA's details, and whether its key is still on its token",
                  "  strongroom ca show device-ca\n  strongroom ca show device-ca --pem > ca.pem\n"
                  "Without a CA PIN the check sees the CA's public key; with --ca-pin-source the private key too.\n")
    p.add_argument("name", help="the CA")
    p.add_argument("--pem", action="store_true", help="print the CA certificate PEM (no key check)")
    CA.ca_pin_arguments(p)
    C.add_json_argument(p)
    p.set_defaults(func=_cmd_ca_show)

    p = CA.parser(csub, "revoke", "record in the audit log that a certificate the CA issued is revoked",
                  "  strongroom ca revoke device-ca 3f9a0c41e2 --reason keyCompromise\n"
                  "  strongroom ca crl device-ca --ca-pin-source file:user.pin -o crl.pem   # publish it\n"
                  "No PIN is needed: the revocation reaches relying parties through the next 'ca crl'.\n")
    p.add_argument("name", help="the CA")
    p.add_argument("serial", help="the certificate's serial in hex, as 'ca issue' and 'provision --json' print it")
    p.add_argument("--reason", metavar="REASON",
                   help="CRL reason: keyCompromise, cACompromise, affiliationChanged, superseded, "
                        "cessationOfOperation, certificateHold, privilegeWithdrawn, aACompromise, unspecified "
                        "(default: none given)")
    C.add_json_argument(p)
    p.set_defaults(func=_cmd_ca_revoke)


def _register_crl_and_audit(csub: Any) -> None:
    p = CA.parser(csub, "crl", "a CRL of every revocation, signed by the CA key on its token",
                  "  strongroom ca crl device-ca --ca-pin-source file:user.pin -o crl.pem\n"
                  "  openssl verify -crl_check -CAfile ca.pem -CRLfile crl.pem dev-0001.pem\n")
    p.add_argument("name", help="the CA")
    p.add_argument("-o", "--output", metavar="FILE", help="write the CRL PEM here (default stdout)")
    p.add_argument("--days", type=int, default=7, metavar="N", help="days until nextUpdate (default 7)")
    p.add_argument("--der", action="store_true", help="DER instead of PEM")
    CA.ca_pin_arguments(p)
    p.set_defaults(func=_cmd_ca_crl)

    p = CA.parser(csub, "audit", "the CA's audit log", "  strongroom ca audit verify device-ca\n")
    asub = p.add_subparsers(dest="audit_command", metavar="AUDIT_COMMAND", required=True)
    v = CA.parser(asub, "verify", "check the hash chain and that issued/ holds exactly the certificates it records",
                  "  strongroom ca audit verify device-ca\n  strongroom ca audit verify device-ca --restore\n")
    v.add_argument("name", help="the CA")
    v.add_argument("--restore", action="store_true",
                   help="first rewrite issued/ files the log records but the directory lacks, from the "
                        "certificates the log carries (a changed file is left as evidence)")
    C.add_json_argument(v)
    v.set_defaults(func=_cmd_ca_audit_verify)


def _cmd_ca_init(args: argparse.Namespace) -> int:
    from ..ca import profile as P
    from ..ca.authority import Authority, check_name, init_ca

    with CA.exit_codes():
        check_name(args.name)
        P.parse_subject(args.subject)
        if args.name in Authority.names():
            C.fail(f"a CA named {args.name!r} already exists", C.EXIT_USAGE)
        parent = CA.load_ca(args.parent) if args.parent else None
        with C.open_token(args) as token:
            parent_token = None
            try:
                if parent is not None and not CA.same_token(parent, token):
                    from ..api import open as api_open
                    from ..pinsource import resolve_pin

                    pin = resolve_pin(args.parent_pin, args.parent_pin_source, allow_prompt=False) \
                        or C.user_pin(args, prompt=f"User PIN of CA {parent.name}'s token: ")
                    parent_token = api_open(parent.token_target, pin=pin, module=parent.module)
                ca = init_ca(args.name, token, subject=args.subject, kind=args.key_type,
                             validity_days=args.validity_days, path_length=args.path_length,
                             parent=parent, parent_token=parent_token or token,
                             module=str(Path(args.module).resolve()) if args.module else None)
            finally:
                if parent_token is not None:
                    parent_token.close()
    C.emit(args, ca.summary(), _render_ca)
    return C.EXIT_OK


def _cmd_ca_issue(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives import serialization

    from ..ca import profile as P
    from ..ca.authority import serial_hex, store_certificate

    with CA.exit_codes():
        if args.path_length is not None and not args.sub_ca:
            C.fail("--path-length needs --ca", C.EXIT_USAGE)
        if args.csr:
            given = [opt for opt, value in (("--token", args.token), ("--module", args.module),
                                            ("--cert-label", args.cert_label)) if value is not None]
            if given:
                C.fail(f"{', '.join(given)} only apply with --key (with --csr nothing is stored on a token)",
                       C.EXIT_USAGE)
        prof = CA.profile(args, is_ca=args.sub_ca, path_length=args.path_length)
        subject = P.parse_subject(args.subject) if args.subject else None
        if args.key and subject is None:
            C.fail("--subject is required with --key", C.EXIT_USAGE)
        ca = CA.load_ca(args.name)
        ca.require_sound_audit()
        stored = None
        if args.csr:
            source = "<stdin>" if args.csr == "-" else args.csr
            try:
                data = sys.stdin.buffer.read() if args.csr == "-" else Path(args.csr).read_bytes()
            except FileNotFoundError:
                C.fail(f"{args.csr}: no such file", C.EXIT_NOT_FOUND)
            csr = P.load_csr(data, source)
            with CA.open_ca_token(ca, args) as ca_token:
                cert = ca.issue(ca_token, csr, prof, key_id=None, source=f"csr:{source}", subject=subject)
        else:
            with C.open_token(args) as token:
                ref = token.find(args.key, type="private")
                if not ref.id:
                    C.fail(f"key {args.key!r} has no CKA_ID, so a certificate cannot be stored beside it; "
                           "give it one or use 'strongroom req' and 'ca issue --csr'", C.EXIT_USAGE)
                key = token.private_key(args.key)
                assert subject is not None          # checked above: --key needs --subject
                csr = P.build_csr(key, subject, ())
                ca_token = token if CA.same_token(ca, token) else CA.open_ca_token(ca, args)
                try:
                    cert = ca.issue(ca_token, csr, prof, key_id=ref.id, source=f"key:{ref.uri}")
                finally:
                    if ca_token is not token:
                        ca_token.close()
                label = args.cert_label or ref.label or "certificate"
                store_certificate(token, cert, key_id=ref.id, label=label)
                stored = {"token": token.info.get("label"), "id": ref.id.hex(), "label": label}
    pem = cert.public_bytes(serialization.Encoding.PEM)
    if args.output:
        CA.write_output(args.output, pem)
    path = ca.issued_dir / f"{serial_hex(cert)}.pem"
    data = {"ca": ca.name, "serial": serial_hex(cert), "subject": cert.subject.rfc4514_string(),
            "not_after": cert.not_valid_after_utc.isoformat(), "file": str(path), "stored": stored}
    if args.output == "-" and not args.json:
        return C.EXIT_OK
    C.emit(args, data, lambda d: (f"issued serial {d['serial']} to {d['subject']} (until {d['not_after']})\n"
                                  f"  certificate: {d['file']}"
                                  + (f"\n  stored on token {d['stored']['token']!r} as {d['stored']['label']!r}, "
                                     f"id {d['stored']['id']}" if d["stored"] else "")))
    return C.EXIT_OK


def _render_ca(d: dict[str, Any]) -> str:
    lines = [f"CA {d['name']}", f"  subject:   {d['subject']}", f"  issuer:    {d['issuer']}",
             f"  serial:    {d['serial']}", f"  valid:     {d['not_before']} .. {d['not_after']}",
             f"  path len:  {'none' if d['path_length'] is None else d['path_length']}",
             f"  key:       {d['key_kind']} id {d['key_id']} label {d['key_label']!r} on token {d['token']!r}",
             f"  token URI: {d['token_uri']}", f"  issued:    {d['issued']}",
             f"  revoked:   {d.get('revoked', 0)}", f"  directory: {d['directory']}"]
    if d.get("parent"):
        lines.insert(3, f"  parent:    {d['parent']}")
    if d.get("key_problem"):
        lines.insert(1, f"  BROKEN: {_key_problem_line(d)}")
    return "\n".join(lines)


def _key_problem_line(d: dict[str, Any]) -> str:
    return f"CA {d['name']}: {d['key_problem']}; it cannot sign certificates or CRLs"


def _key_status(ca: Authority, pin: str | None) -> str | None:
    """Open the CA's token (read-only; logged in only when a CA PIN was given) and say
    what is missing, or None."""
    from ..api import open as api_open
    from ..api.errors import StrongroomError, TokenNotFound

    try:
        token = api_open(ca.token_target, pin=pin, module=ca.module, rw=False)
    except TokenNotFound:
        return ca.key_problem(None)
    except (StrongroomError, OSError) as exc:             # a wrong PIN, a module that will not load
        return f"cannot check its key: {' '.join(str(exc).split()) or type(exc).__name__}"
    with token:
        return ca.key_problem(token)


def _checked_summary(ca: Authority, pin: str | None = None) -> dict[str, Any]:
    data = ca.summary()
    data["revoked"] = len(ca.revocations())
    data["key_problem"] = _key_status(ca, pin)
    return data


def _cmd_ca_list(args: argparse.Namespace) -> int:
    from ..ca.authority import Authority

    with CA.exit_codes():
        cas = [_checked_summary(Authority.load(name)) for name in Authority.names()]
    C.emit(args, cas, lambda rows: "\n".join(
        f"{r['name']}\t{r['subject']}\t{r['issued']} issued\tuntil {r['not_after'][:10]}"
        + (f"\n  BROKEN: {_key_problem_line(r)}" if r["key_problem"] else "") for r in rows) or "no CAs")
    return C.EXIT_OK if not any(r["key_problem"] for r in cas) else C.EXIT_FAILURE


def _cmd_ca_show(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives import serialization

    from ..pinsource import resolve_pin

    with CA.exit_codes():
        ca = CA.load_ca(args.name)
        if args.pem and not args.json:
            sys.stdout.write(ca.certificate.public_bytes(serialization.Encoding.PEM).decode())
            return C.EXIT_OK
        data = _checked_summary(ca, resolve_pin(args.ca_pin, args.ca_pin_source, allow_prompt=False))
    C.emit(args, data, _render_ca)
    return C.EXIT_OK if not data["key_problem"] else C.EXIT_FAILURE


def _cmd_ca_revoke(args: argparse.Namespace) -> int:
    with CA.exit_codes():
        ca = CA.load_ca(args.name)
        record = ca.revoke(args.serial, args.reason)
    data = {"ca": ca.name, "serial": record["serial"], "subject": record.get("subject"),
            "reason": record.get("reason"), "revoked_at": record["revoked_at"]}
    C.emit(args, data, lambda d: f"revoked serial {d['serial']} ({d['subject']}) of CA {d['ca']}"
                                 f"{', reason ' + d['reason'] if d['reason'] else ''}; "
                                 f"publish it with 'strongroom ca crl {d['ca']}'")
    return C.EXIT_OK


def _cmd_ca_crl(args: argparse.Namespace) -> int:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    with CA.exit_codes():
        ca = CA.load_ca(args.name)
        if args.days < 1:
            C.fail(f"--days must be at least 1, not {args.days}", C.EXIT_USAGE)
        ca.require_sound_audit()                    # before asking for a PIN
        with CA.open_ca_token(ca, args) as token:
            crl = ca.crl(token, days=args.days)
    encoding = serialization.Encoding.DER if args.der else serialization.Encoding.PEM
    data = crl.public_bytes(encoding)
    if args.output in (None, "-"):
        if args.der:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        else:
            CA.write_output(None, data)
    else:
        Path(args.output).write_bytes(data)
        next_update = crl.next_update_utc            # ca.crl() always sets one
        print(f"CRL {crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number} of CA "
              f"{ca.name}: {len(crl)} revoked, next update {next_update.isoformat() if next_update else '-'}; "
              f"written to {args.output}", file=sys.stderr)
    return C.EXIT_OK


def _cmd_ca_audit_verify(args: argparse.Namespace) -> int:
    with CA.exit_codes():
        ca = CA.load_ca(args.name)
        restored = ca.restore_missing() if args.restore else []
        result = ca.verify_state()
    result["ca"] = ca.name
    result["restored"] = restored
    for serial in restored if not args.json else ():
        print(f"restored issued/{serial}.pem from the audit log")
    C.emit(args, result, lambda r: (f"audit log of CA {r['ca']}: ok, {r['count']} records"
                                    if r["ok"] else
                                    f"audit log of CA {r['ca']}: BROKEN"
                                    + (f" at line {r['line']}" if r.get("line") else "")
                                    + f": {r['error']}"))
    return C.EXIT_OK if result["ok"] else C.EXIT_FAILURE
