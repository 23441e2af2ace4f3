"""CLI for the CA: ``req``, ``ca init|issue|list|show|audit verify`` and ``provision``.

Token arguments (--token/--pin/...) name the token holding the key being certified (or,
for ``ca init``, the token that will hold the CA key). The CA's own token is recorded in
its ca.json; its PIN comes from --ca-pin/--ca-pin-source, else the --pin given, else a
prompt on a terminal.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from . import common as C


def register(subparsers: Any) -> None:
    _register_req(subparsers)
    _register_ca(subparsers)
    _register_provision(subparsers)


# the EKU of a leaf certificate when --eku is not given, for `ca issue` and `provision` alike
# (a device identity is used as a TLS client and server); a sub-CA (--ca) gets none by default
LEAF_EKU = "clientAuth,serverAuth"


def _parser(sub: Any, name: str, help: str, examples: str) -> argparse.ArgumentParser:
    """A subcommand whose --help ends with its examples."""
    return sub.add_parser(name, help=help, description=help[:1].upper() + help[1:] + ".",
                          epilog="examples:\n" + examples,
                          formatter_class=argparse.RawDescriptionHelpFormatter)


# -- argument groups -------------------------------------------------------------------
def _profile_arguments(parser: argparse.ArgumentParser, *, default_days: int, templates: bool = False,
                       csr: bool = True) -> None:
    g = parser.add_argument_group("certificate profile")
    g.add_argument("--validity-days", type=int, default=default_days, metavar="DAYS",
                   help=f"validity in days (default {default_days}; never beyond the CA's own)")
    g.add_argument("--key-usage", metavar="LIST",
                   help="comma list, e.g. digitalSignature,keyEncipherment (default: keyCertSign,cRLSign "
                        "for a CA; digitalSignature, plus keyEncipherment for RSA)")
    g.add_argument("--eku", default=None, metavar="LIST",
                   help=f"extended key usage, comma list of clientAuth,serverAuth,codeSigning,... "
                        f"(default {LEAF_EKU}" + ("; none with --ca" if not templates else "")
                        + "; '' for none)")
    if templates:
        g.add_argument("--san", action="append", default=[], metavar="TYPE:VALUE",
                       help="subjectAltName DNS:name, IP:addr, URI:uri or email:addr (repeatable); "
                            "{device} is replaced by each device's id, e.g. 'DNS:{device}.local' gives "
                            "dev-0001 the name dev-0001.local")
    else:
        g.add_argument("--san", action="append", default=[], metavar="TYPE:VALUE",
                       help="subjectAltName DNS:name, IP:addr, URI:uri or email:addr (repeatable)")
    if csr:
        g.add_argument("--no-csr-san", action="store_true",
                       help="do not copy the SANs the CSR asks for (only --san ones go in)")


def _ca_pin_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("CA token")
    g.add_argument("--ca-pin", metavar="PIN", help="user PIN of the CA's token (default: --pin; "
                                                     "prefer --ca-pin-source: argv is visible to others)")
    g.add_argument("--ca-pin-source", metavar="SRC", help="file:/path or env:NAME holding the CA token's PIN")


def _profile(args: argparse.Namespace, *, is_ca: bool = False, path_length: int | None = None,
             san: tuple[str, ...] | None = None) -> Any:
    """The profile the options describe; ``san`` overrides --san (provision passes () and
    expands its --san templates per device)."""
    from ..ca import profile as P

    eku = args.eku if args.eku is not None else ("" if is_ca else LEAF_EKU)
    return P.Profile(validity_days=args.validity_days,
                     key_usage=P.parse_list(args.key_usage) or None if args.key_usage is not None else None,
                     extended_key_usage=P.parse_list(eku), san=tuple(args.san) if san is None else san,
                     is_ca=is_ca, path_length=path_length,
                     copy_csr_san=not getattr(args, "no_csr_san", False))


# -- token plumbing ------------------------------------------------------------------------
def _pin(value: str | None, source: str | None, prompt: str) -> str | None:
    from ..pinsource import resolve_pin

    return resolve_pin(value, source, prompt=prompt)


def _ca_pin(args: argparse.Namespace, ca_name: str) -> str:
    from ..pinsource import resolve_pin

    pin = resolve_pin(args.ca_pin, args.ca_pin_source, allow_prompt=False)
    if pin is None:
        pin = resolve_pin(getattr(args, "pin", None), getattr(args, "pin_source", None),
                          prompt=f"User PIN of CA {ca_name}'s token: ")
    if pin is None:
        C.fail(f"no PIN for CA {ca_name!r}'s token: give --ca-pin-source, --ca-pin or --pin", C.EXIT_AUTH)
    return pin


def _open_ca_token(ca: Any, args: argparse.Namespace) -> Any:
    import strongroom

    # ca.module None means strongroom's own module, whatever --module names for the device token
    return strongroom.open(ca.token_target, pin=_ca_pin(args, ca.name), module=ca.module)


def _load_ca(name: str) -> Any:
    from ..ca.authority import Authority

    return Authority.load(name)


def _same_token(ca: Any, token: Any) -> bool:
    """Is ``token`` (already open and logged in) the one holding the CA key? Then it is
    used as is, rather than opening and logging in a second time."""
    from ..modules import module_path

    info = token.info
    return (info.get("label") == ca.config.get("token_label")
            and info.get("serial") == ca.config.get("token_serial")
            and Path(ca.module or module_path()).resolve() == Path(token.module_path).resolve())


@contextmanager
def _ca_exit_codes() -> Iterator[None]:
    """A CAError leaves with its class's exit code (main.py's table); the CLI framework
    knows the rest."""
    from ..ca.errors import CAError
    from .main import ca_exit_code

    try:
        yield
    except CAError as exc:
        C.fail(str(exc), ca_exit_code(exc))


def _write_output(path: str | None, data: bytes) -> None:
    if path in (None, "-"):
        sys.stdout.write(data.decode())
        sys.stdout.flush()
    else:
        Path(path).write_bytes(data)


# -- req -----------------------------------------------------------------------------------
def _register_req(sub: Any) -> None:
    p = _parser(sub, "req", "a PKCS#10 certificate request signed by a token key",
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

    with _ca_exit_codes():
        P.parse_subject(args.subject)
        for entry in args.san:
            P.parse_san(entry)
        with C.open_token(args) as token:
            key = token.private_key(args.key)
            csr = P.build_csr(key, args.subject, args.san)
    _write_output(args.output, csr.public_bytes(serialization.Encoding.PEM))
    return C.EXIT_OK


# -- ca ------------------------------------------------------------------------------------
def _register_ca(sub: Any) -> None:
    ca = _parser(sub, "ca", "a certificate authority whose key stays on a token",
                 "  strongroom ca init device-ca --subject 'CN=Acme Device CA' --token ca-token "
                 "--pin-source file:user.pin\n  strongroom ca list\n")
    csub = ca.add_subparsers(dest="ca_command", metavar="CA_COMMAND", required=True)

    p = _parser(csub, "init", "generate a CA key on a token and its certificate",
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

    p = _parser(csub, "issue", "sign a CSR (file) or certify a token key (--key)",
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
    _ca_pin_arguments(p)
    _profile_arguments(p, default_days=365)
    p.add_argument("--ca", dest="sub_ca", action="store_true", help="issue a sub-CA certificate")
    p.add_argument("--path-length", type=int, metavar="N", help="path length for a sub-CA")
    p.add_argument("--cert-label", metavar="LABEL", help="label of the certificate stored on the token "
                                                          "(with --key; default: the key's label)")
    p.add_argument("-o", "--output", metavar="FILE", help="also write the certificate PEM here ('-': stdout)")
    C.add_json_argument(p)
    p.set_defaults(func=_cmd_ca_issue)

    p = _parser(csub, "list", "the CAs in this home, and whether each one's key is still on its token",
                "  strongroom ca list\n  strongroom ca list --json\n")
    C.add_json_argument(p)
    p.set_defaults(func=_cmd_ca_list)

    p = _parser(csub, "show", "one CA's details, and whether its key is still on its token",
                "  strongroom ca show device-ca\n  strongroom ca show device-ca --pem > ca.pem\n"
                "Without a CA PIN the check sees the CA's public key; with --ca-pin-source the private key too.\n")
    p.add_argument("name", help="the CA")
    p.add_argument("--pem", action="store_true", help="print the CA certificate PEM (no key check)")
    _ca_pin_arguments(p)
    C.add_json_argument(p)
    p.set_defaults(func=_cmd_ca_show)

    p = _parser(csub, "revoke", "record in the audit log that a certificate the CA issued is revoked",
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

    p = _parser(csub, "crl", "a CRL of every revocation, signed by the CA key on its token",
                "  strongroom ca crl device-ca --ca-pin-source file:user.pin -o crl.pem\n"
                "  openssl verify -crl_check -CAfile ca.pem -CRLfile crl.pem dev-0001.pem\n")
    p.add_argument("name", help="the CA")
    p.add_argument("-o", "--output", metavar="FILE", help="write the CRL PEM here (default stdout)")
    p.add_argument("--days", type=int, default=7, metavar="N", help="days until nextUpdate (default 7)")
    p.add_argument("--der", action="store_true", help="DER instead of PEM")
    _ca_pin_arguments(p)
    p.set_defaults(func=_cmd_ca_crl)

    p = _parser(csub, "audit", "the CA's audit log", "  strongroom ca audit verify device-ca\n")
    asub = p.add_subparsers(dest="audit_command", metavar="AUDIT_COMMAND", required=True)
    v = _parser(asub, "verify", "check the hash chain and that issued/ holds exactly the certificates it records",
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

    with _ca_exit_codes():
        check_name(args.name)
        P.parse_subject(args.subject)
        if args.name in Authority.names():
            C.fail(f"a CA named {args.name!r} already exists", C.EXIT_USAGE)
        parent = _load_ca(args.parent) if args.parent else None
        with C.open_token(args) as token:
            parent_token = None
            try:
                if parent is not None and not _same_token(parent, token):
                    import strongroom

                    from ..pinsource import resolve_pin

                    pin = resolve_pin(args.parent_pin, args.parent_pin_source, allow_prompt=False) \
                        or C.user_pin(args, prompt=f"User PIN of CA {parent.name}'s token: ")
                    parent_token = strongroom.open(parent.token_target, pin=pin, module=parent.module)
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

    with _ca_exit_codes():
        if args.path_length is not None and not args.sub_ca:
            C.fail("--path-length needs --ca", C.EXIT_USAGE)
        if args.csr:
            given = [opt for opt, value in (("--token", args.token), ("--module", args.module),
                                            ("--cert-label", args.cert_label)) if value is not None]
            if given:
                C.fail(f"{', '.join(given)} only apply with --key (with --csr nothing is stored on a token)",
                       C.EXIT_USAGE)
        prof = _profile(args, is_ca=args.sub_ca, path_length=args.path_length)
        subject = P.parse_subject(args.subject) if args.subject else None
        if args.key and subject is None:
            C.fail("--subject is required with --key", C.EXIT_USAGE)
        ca = _load_ca(args.name)
        ca.require_sound_audit()
        stored = None
        if args.csr:
            source = "<stdin>" if args.csr == "-" else args.csr
            try:
                data = sys.stdin.buffer.read() if args.csr == "-" else Path(args.csr).read_bytes()
            except FileNotFoundError:
                C.fail(f"{args.csr}: no such file", C.EXIT_NOT_FOUND)
            csr = P.load_csr(data, source)
            with _open_ca_token(ca, args) as ca_token:
                cert = ca.issue(ca_token, csr, prof, key_id=None, source=f"csr:{source}", subject=subject)
        else:
            with C.open_token(args) as token:
                ref = token.find(args.key, type="private")
                if not ref.id:
                    C.fail(f"key {args.key!r} has no CKA_ID, so a certificate cannot be stored beside it; "
                           "give it one or use 'strongroom req' and 'ca issue --csr'", C.EXIT_USAGE)
                key = token.private_key(args.key)
                csr = P.build_csr(key, subject, ())
                ca_token = token if _same_token(ca, token) else _open_ca_token(ca, args)
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
        _write_output(args.output, pem)
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


def _key_status(ca: Any, pin: str | None) -> str | None:
    """Open the CA's token (read-only; logged in only when a CA PIN was given) and say
    what is missing, or None."""
    import strongroom

    from ..api.errors import StrongroomError, TokenNotFound

    try:
        token = strongroom.open(ca.token_target, pin=pin, module=ca.module, rw=False)
    except TokenNotFound:
        return ca.key_problem(None)
    except (StrongroomError, OSError) as exc:             # a wrong PIN, a module that will not load
        return f"cannot check its key: {' '.join(str(exc).split()) or type(exc).__name__}"
    with token:
        return ca.key_problem(token)


def _checked_summary(ca: Any, pin: str | None = None) -> dict[str, Any]:
    data = ca.summary()
    data["revoked"] = len(ca.revocations())
    data["key_problem"] = _key_status(ca, pin)
    return data


def _cmd_ca_list(args: argparse.Namespace) -> int:
    from ..ca.authority import Authority

    with _ca_exit_codes():
        cas = [_checked_summary(Authority.load(name)) for name in Authority.names()]
    C.emit(args, cas, lambda rows: "\n".join(
        f"{r['name']}\t{r['subject']}\t{r['issued']} issued\tuntil {r['not_after'][:10]}"
        + (f"\n  BROKEN: {_key_problem_line(r)}" if r["key_problem"] else "") for r in rows) or "no CAs")
    return C.EXIT_OK if not any(r["key_problem"] for r in cas) else C.EXIT_FAILURE


def _cmd_ca_show(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives import serialization

    from ..pinsource import resolve_pin

    with _ca_exit_codes():
        ca = _load_ca(args.name)
        if args.pem and not args.json:
            sys.stdout.write(ca.certificate.public_bytes(serialization.Encoding.PEM).decode())
            return C.EXIT_OK
        data = _checked_summary(ca, resolve_pin(args.ca_pin, args.ca_pin_source, allow_prompt=False))
    C.emit(args, data, _render_ca)
    return C.EXIT_OK if not data["key_problem"] else C.EXIT_FAILURE


def _cmd_ca_revoke(args: argparse.Namespace) -> int:
    with _ca_exit_codes():
        ca = _load_ca(args.name)
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

    with _ca_exit_codes():
        ca = _load_ca(args.name)
        if args.days < 1:
            C.fail(f"--days must be at least 1, not {args.days}", C.EXIT_USAGE)
        ca.require_sound_audit()                    # before asking for a PIN
        with _open_ca_token(ca, args) as token:
            crl = ca.crl(token, days=args.days)
    encoding = serialization.Encoding.DER if args.der else serialization.Encoding.PEM
    data = crl.public_bytes(encoding)
    if args.output in (None, "-"):
        if args.der:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        else:
            _write_output(None, data)
    else:
        Path(args.output).write_bytes(data)
        print(f"CRL {crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number} of CA "
              f"{ca.name}: {len(crl)} revoked, next update {crl.next_update_utc.isoformat()}; "
              f"written to {args.output}", file=sys.stderr)
    return C.EXIT_OK


def _cmd_ca_audit_verify(args: argparse.Namespace) -> int:
    with _ca_exit_codes():
        ca = _load_ca(args.name)
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


# -- provision -----------------------------------------------------------------------------
def _register_provision(sub: Any) -> None:
    p = _parser(sub, "provision", "device key on its token -> CSR -> CA certificate stored beside "
                                  "the key; one device or a batch; idempotent and resumable",
                "  strongroom provision --ca device-ca --ca-pin-source file:user.pin --count 3 \\\n"
                "      --token fleet --pin-source file:user.pin --san 'DNS:{device}.local'\n"
                "  strongroom provision --ca device-ca --ca-pin-source file:user.pin --devices fleet.csv \\\n"
                "      --so-pin-source file:so.pin --pin-source file:user.pin --keep-going\n"
                "Without --token each device gets its own token labelled with its id (created with the\n"
                "SO PIN when missing). A run stops at the first failed device unless --keep-going; a\n"
                "re-run of the same command resumes: finished devices are skipped, a key pair or\n"
                "certificate an interrupted run left is reused.\n")
    p.add_argument("--ca", required=True, metavar="NAME", help="the issuing CA")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--device", metavar="ID", help="one device")
    which.add_argument("--count", type=int, metavar="N", help="N devices named PREFIX0001..")
    which.add_argument("--devices", metavar="FILE.csv", help="a CSV with a device_id (or device, id) column")
    p.add_argument("--prefix", default="dev-", help="device id prefix with --count (default dev-)")
    p.add_argument("--start", type=int, default=1, help="first number with --count (default 1)")
    p.add_argument("--column", help="CSV column holding the device id (with --devices)")
    C.add_token_arguments(p, so=True)
    _ca_pin_arguments(p)
    p.add_argument("--key-type", default="ec:p256", help="device key type (default ec:p256)")
    p.add_argument("--subject", default="CN={device}",
                   help="subject template; {device} is replaced by the device id (default 'CN={device}')")
    _profile_arguments(p, default_days=825, templates=True, csr=False)
    # the CSR is built here from --san, so there is nothing else to copy: accepted for old scripts
    p.add_argument("--no-csr-san", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--keep-going", action="store_true",
                   help="go on with the next device after a failure (default: stop at the first)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    C.add_json_argument(p)
    p.set_defaults(func=_cmd_provision)


def _cmd_provision(args: argparse.Namespace) -> int:
    from ..ca import provision as PV

    with _ca_exit_codes():
        prof = _profile(args, san=())
        for entry in args.san:
            PV.render(entry, "x")
        if args.device:
            devices = [PV.check_device_id(args.device)]
        elif args.count is not None:
            devices = PV.devices_from_count(args.count, args.prefix, args.start)
        else:
            devices = PV.devices_from_csv(Path(args.devices), args.column)
        ca = _load_ca(args.ca)
        opener, closer, shared = _device_tokens(args)
        progress = PV.Progress(len(devices), sys.stderr, quiet=args.quiet or args.json)
        try:
            # devices on the CA's own token: one session serves both (a second login fails)
            same = shared is not None and _same_token(ca, shared)
            with (nullcontext(shared) if same else _open_ca_token(ca, args)) as ca_token:
                summary = PV.provision(ca, ca_token, devices, opener, kind=args.key_type, profile=prof,
                                       subject=args.subject, san=args.san, progress=progress,
                                       keep_going=args.keep_going)
        finally:
            closer()
        progress.stopped()
    data = summary.as_dict()
    data["ca"] = ca.name
    C.emit(args, data, _render_summary)
    return C.EXIT_OK if data["failed"] == 0 else C.EXIT_FAILURE


def _render_summary(d: dict[str, Any]) -> str:
    """The counts on one line; after a failure, what each failed device kept and how to
    resume."""
    text = (f"provision with CA {d['ca']}: attempted {d['attempted']} of {d['planned']}, "
            f"issued {d['issued']}, reused {d['reused']} (skipped {d['skipped']}, resumed {d['resumed']}), "
            f"failed {d['failed']}, not attempted {d['not_attempted']}, {d['elapsed_s']:.2f} s")
    failed = [r for r in d["devices"] if r["status"] == "failed"]
    for r in failed:
        text += f"\n  {r['device']}: failed: {r['detail']}"
        text += (f"\n  {r['device']}: kept {r['kept']}" if r.get("kept")
                 else f"\n  {r['device']}: nothing was stored for it")
    if failed:
        done = d["attempted"] - d["failed"]
        text += (f"\n  kept: the {done} finished device(s) keep their keys and certificates; "
                 "re-run the same command to resume (finished devices are skipped, kept work is reused)")
    return text


def _device_tokens(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """(opener(device) -> context manager yielding its token, closer(), the shared token
    or None). With --token every
    device shares one token (one open for the batch); otherwise each device has its own
    token labelled with its id, created with --so-pin/--pin when missing."""

    if args.token:
        shared = C.open_token(args)

        @contextmanager
        def shared_opener(device: str) -> Iterator[Any]:
            yield shared

        return shared_opener, shared.close, shared
    from ..ca.tokens import open_or_create

    user_pin = _pin(args.pin, args.pin_source, "User PIN for the device tokens: ")
    if user_pin is None:
        C.fail("no user PIN for the device tokens: give --pin or --pin-source", C.EXIT_AUTH)
    so_pin_cache: dict[str, str | None] = {}

    def so_pin() -> str | None:
        if "v" not in so_pin_cache:
            so_pin_cache["v"] = _pin(args.so_pin, args.so_pin_source, "SO PIN for new device tokens: ")
        return so_pin_cache["v"]

    @contextmanager
    def opener(device: str) -> Iterator[Any]:
        token = open_or_create(device, user_pin=user_pin, so_pin=so_pin, module=args.module)
        try:
            yield token
        finally:
            token.close()

    return opener, lambda: None, None
