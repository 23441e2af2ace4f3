"""CLI for the CA: ``req``, ``ca init|issue|list|show|audit verify`` and ``provision``.

Token arguments (--token/--pin/...) name the token holding the key being certified (or,
for ``ca init``, the token that will hold the CA key). The CA's own token is recorded in
its ca.json; its PIN comes from --ca-pin/--ca-pin-source, else the --pin given, else a
prompt on a terminal.
"""
from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Iterator

from . import common as C


def register(subparsers: Any) -> None:
    _register_req(subparsers)
    _register_ca(subparsers)
    _register_provision(subparsers)


# -- argument groups -------------------------------------------------------------------
def _profile_arguments(parser: argparse.ArgumentParser, *, default_days: int, default_eku: str) -> None:
    g = parser.add_argument_group("certificate profile")
    g.add_argument("--validity-days", type=int, default=default_days, metavar="DAYS",
                   help=f"validity in days (default {default_days}; never beyond the CA's own)")
    g.add_argument("--key-usage", metavar="LIST",
                   help="comma list, e.g. digitalSignature,keyEncipherment (default by key type)")
    g.add_argument("--eku", default=default_eku, metavar="LIST",
                   help=f"extended key usage, comma list of clientAuth,serverAuth,codeSigning,... "
                        f"(default {default_eku or 'none'}; '' for none)")
    g.add_argument("--san", action="append", default=[], metavar="TYPE:VALUE",
                   help="subjectAltName DNS:name, IP:addr, URI:uri or email:addr (repeatable)")
    g.add_argument("--no-csr-san", action="store_true", help="do not copy the CSR's own SANs")


def _ca_pin_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("CA token")
    g.add_argument("--ca-pin", metavar="PIN", help="user PIN of the CA's token (default: --pin)")
    g.add_argument("--ca-pin-source", metavar="SRC", help="file:/path or env:NAME holding the CA token's PIN")


def _profile(args: argparse.Namespace, *, is_ca: bool = False, path_length: int | None = None) -> Any:
    from ..ca import profile as P

    return P.Profile(validity_days=args.validity_days,
                     key_usage=P.parse_list(args.key_usage) or None if args.key_usage is not None else None,
                     extended_key_usage=P.parse_list(args.eku), san=tuple(args.san), is_ca=is_ca,
                     path_length=path_length, copy_csr_san=not args.no_csr_san)


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
    from ..abi import module_path

    info = token.info
    return (info.get("label") == ca.config.get("token_label")
            and info.get("serial") == ca.config.get("token_serial")
            and Path(ca.module or module_path()).resolve() == Path(token.module_path).resolve())


@contextmanager
def _ca_exit_codes() -> Iterator[None]:
    """CAError carries its own exit code; the CLI framework knows the rest."""
    from ..ca.errors import CAError

    try:
        yield
    except CAError as exc:
        C.fail(str(exc), exc.code)


def _write_output(path: str | None, data: bytes) -> None:
    if path in (None, "-"):
        sys.stdout.write(data.decode())
        sys.stdout.flush()
    else:
        Path(path).write_bytes(data)


# -- req -----------------------------------------------------------------------------------
def _register_req(sub: Any) -> None:
    p = sub.add_parser("req", help="a PKCS#10 certificate request signed by a token key")
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
    ca = sub.add_parser("ca", help="a certificate authority whose key stays on a token")
    csub = ca.add_subparsers(dest="ca_command", metavar="CA_COMMAND", required=True)

    p = csub.add_parser("init", help="generate a CA key on a token and its certificate")
    p.add_argument("name", help="CA name (its state goes to $STRONGROOM_HOME/ca/NAME)")
    C.add_token_arguments(p)
    C.add_json_argument(p)
    p.add_argument("--subject", required=True, help="e.g. 'CN=Acme Device CA,O=Acme'")
    p.add_argument("--key-type", default="ec:p384",
                   help="ec:p256, ec:p384 (default), ec:p521, rsa:2048|3072|4096, ed25519")
    p.add_argument("--validity-days", type=int, default=3650, metavar="DAYS")
    p.add_argument("--path-length", type=int, metavar="N", help="basicConstraints pathLenConstraint")
    p.add_argument("--parent", metavar="NAME", help="have this existing CA sign the new one (a sub-CA)")
    p.add_argument("--parent-pin", metavar="PIN", help="user PIN of the parent CA's token (default: --pin)")
    p.add_argument("--parent-pin-source", metavar="SRC")
    p.set_defaults(func=_cmd_ca_init)

    p = csub.add_parser("issue", help="sign a CSR (file) or certify a token key (--key)")
    p.add_argument("name", help="the CA")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--csr", metavar="FILE", help="PKCS#10 request, PEM or DER ('-' for stdin)")
    src.add_argument("--key", metavar="SELECTOR",
                     help="a private key on --token (URI or label): build its CSR now, store the "
                          "certificate beside it")
    p.add_argument("--subject", help="subject (required with --key; overrides the CSR's with --csr)")
    C.add_token_arguments(p)
    _ca_pin_arguments(p)
    _profile_arguments(p, default_days=365, default_eku="")
    p.add_argument("--ca", dest="sub_ca", action="store_true", help="issue a sub-CA certificate")
    p.add_argument("--path-length", type=int, metavar="N", help="path length for a sub-CA")
    p.add_argument("--cert-label", metavar="LABEL", help="label of the certificate stored on the token "
                                                          "(default: the key's label)")
    p.add_argument("-o", "--output", metavar="FILE", help="also write the certificate PEM here ('-': stdout)")
    C.add_json_argument(p)
    p.set_defaults(func=_cmd_ca_issue)

    p = csub.add_parser("list", help="the CAs in this home")
    C.add_json_argument(p)
    p.set_defaults(func=_cmd_ca_list)

    p = csub.add_parser("show", help="one CA's details")
    p.add_argument("name")
    p.add_argument("--pem", action="store_true", help="print the CA certificate PEM")
    C.add_json_argument(p)
    p.set_defaults(func=_cmd_ca_show)

    p = csub.add_parser("audit", help="the CA's audit log")
    asub = p.add_subparsers(dest="audit_command", metavar="AUDIT_COMMAND", required=True)
    v = asub.add_parser("verify", help="check the hash chain and the issued certificates")
    v.add_argument("name")
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
             f"  directory: {d['directory']}"]
    if d.get("parent"):
        lines.insert(3, f"  parent:    {d['parent']}")
    return "\n".join(lines)


def _cmd_ca_list(args: argparse.Namespace) -> int:
    from ..ca.authority import Authority

    with _ca_exit_codes():
        cas = [Authority.load(name).summary() for name in Authority.names()]
    C.emit(args, cas, lambda rows: "\n".join(f"{r['name']}\t{r['subject']}\t{r['issued']} issued\t"
                                             f"until {r['not_after'][:10]}" for r in rows) or "no CAs")
    return C.EXIT_OK


def _cmd_ca_show(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives import serialization

    with _ca_exit_codes():
        ca = _load_ca(args.name)
    if args.pem and not args.json:
        sys.stdout.write(ca.certificate.public_bytes(serialization.Encoding.PEM).decode())
        return C.EXIT_OK
    C.emit(args, ca.summary(), _render_ca)
    return C.EXIT_OK


def _cmd_ca_audit_verify(args: argparse.Namespace) -> int:
    with _ca_exit_codes():
        ca = _load_ca(args.name)
        result = ca.verify_state()
    result["ca"] = ca.name
    C.emit(args, result, lambda r: (f"audit log of CA {r['ca']}: ok, {r['count']} records"
                                    if r["ok"] else
                                    f"audit log of CA {r['ca']}: BROKEN"
                                    + (f" at line {r['line']}" if r.get("line") else "")
                                    + f": {r['error']}"))
    return C.EXIT_OK if result["ok"] else C.EXIT_FAILURE


# -- provision -----------------------------------------------------------------------------
def _register_provision(sub: Any) -> None:
    p = sub.add_parser("provision", help="device key on its token -> CSR -> CA certificate stored beside "
                                         "the key; one device or a batch; idempotent and resumable")
    p.add_argument("--ca", required=True, metavar="NAME", help="the issuing CA")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--device", metavar="ID", help="one device")
    which.add_argument("--count", type=int, metavar="N", help="N devices named PREFIX0001..")
    which.add_argument("--devices", metavar="FILE.csv", help="a CSV with a device_id (or device, id) column")
    p.add_argument("--prefix", default="dev-", help="device id prefix with --count (default dev-)")
    p.add_argument("--start", type=int, default=1, help="first number with --count (default 1)")
    p.add_argument("--column", help="CSV column holding the device id")
    C.add_token_arguments(p, so=True)
    _ca_pin_arguments(p)
    p.add_argument("--key-type", default="ec:p256", help="device key type (default ec:p256)")
    p.add_argument("--subject", default="CN={device}", help="subject template (default 'CN={device}')")
    _profile_arguments(p, default_days=825, default_eku="clientAuth,serverAuth")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    C.add_json_argument(p)
    p.set_defaults(func=_cmd_provision)


def _cmd_provision(args: argparse.Namespace) -> int:
    from ..ca import provision as PV

    with _ca_exit_codes():
        prof = _profile(args)
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
                                       subject=args.subject, san=args.san, progress=progress)
        finally:
            closer()
    data = summary.as_dict()
    data["ca"] = ca.name
    C.emit(args, data, _render_summary)
    return C.EXIT_OK if data["failed"] == 0 else C.EXIT_FAILURE


def _render_summary(d: dict[str, Any]) -> str:
    text = (f"provisioned {d['total']} device(s) with CA {d['ca']}: issued {d['issued']}, "
            f"skipped {d['skipped']}, resumed {d['resumed']}, failed {d['failed']}")
    for r in d["devices"]:
        if r["status"] == "failed":
            text += f"\n  {r['device']}: failed: {r['detail']}"
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
