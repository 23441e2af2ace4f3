"""``strongroom provision``: device key on its token -> CSR -> CA certificate stored
beside the key, for one device or a batch (the work itself is ca/provision.py)."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from . import ca_shared as CA
from . import common as C


def register(sub: Any) -> None:
    p = CA.parser(sub, "provision", "device key on its token -> CSR -> CA certificate stored beside "
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
    CA.ca_pin_arguments(p)
    p.add_argument("--key-type", default="ec:p256", help="device key type (default ec:p256)")
    p.add_argument("--subject", default="CN={device}",
                   help="subject template; {device} is replaced by the device id (default 'CN={device}')")
    CA.profile_arguments(p, default_days=825, templates=True, csr=False)
    # the CSR is built here from --san, so there is nothing else to copy: accepted for old scripts
    p.add_argument("--no-csr-san", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--keep-going", action="store_true",
                   help="go on with the next device after a failure (default: stop at the first)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    C.add_json_argument(p)
    p.set_defaults(func=_cmd_provision)


def _cmd_provision(args: argparse.Namespace) -> int:
    from ..ca import provision as PV

    with CA.exit_codes():
        prof = CA.profile(args, san=())
        for entry in args.san:
            PV.render(entry, "x")
        if args.device:
            devices = [PV.check_device_id(args.device)]
        elif args.count is not None:
            devices = PV.devices_from_count(args.count, args.prefix, args.start)
        else:
            devices = PV.devices_from_csv(Path(args.devices), args.column)
        ca = CA.load_ca(args.ca)
        opener, closer, shared = _device_tokens(args)
        progress = PV.Progress(len(devices), sys.stderr, quiet=args.quiet or args.json)
        try:
            # devices on the CA's own token: one session serves both (a second login fails)
            same = shared is not None and CA.same_token(ca, shared)
            with (nullcontext(shared) if same else CA.open_ca_token(ca, args)) as ca_token:
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

    user_pin = CA.prompted_pin(args.pin, args.pin_source, "User PIN for the device tokens: ")
    if user_pin is None:
        C.fail("no user PIN for the device tokens: give --pin or --pin-source", C.EXIT_AUTH)
    so_pin_cache: dict[str, str | None] = {}

    def so_pin() -> str | None:
        if "v" not in so_pin_cache:
            so_pin_cache["v"] = CA.prompted_pin(args.so_pin, args.so_pin_source, "SO PIN for new device tokens: ")
        return so_pin_cache["v"]

    @contextmanager
    def opener(device: str) -> Iterator[Any]:
        token = open_or_create(device, user_pin=user_pin, so_pin=so_pin, module=args.module)
        try:
            yield token
        finally:
            token.close()

    return opener, lambda: None, None
