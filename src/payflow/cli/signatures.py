"""`payflow sign` and `payflow verify`: webhook signatures from the shell.

Both read the body from a file or stdin and share `payflow.signing` with the
server, so what `verify` accepts is exactly what the receiver accepts.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from payflow import signing
from payflow.cli.output import error
from payflow.ids import token


def add_commands(commands: Any) -> None:
    sign = commands.add_parser(
        "sign",
        help="print the signature header(s) for a webhook body",
        description="Print the headers that sign BODY, one v1 signature per --secret.",
    )
    _signature_options(sign)
    sign.add_argument(
        "--id",
        default="",
        help="message id (Standard Webhooks scheme; default: a new msg_… id)",
    )
    sign.set_defaults(handler=run_sign)

    verify = commands.add_parser(
        "verify",
        help="check a webhook body against a signature header",
        description="Check BODY against received headers; exit 0 when valid, 1 when not.",
    )
    _signature_options(verify)
    verify.add_argument(
        "--header",
        action="append",
        required=True,
        metavar="NAME: VALUE",
        help="a received header, e.g. 'X-Signature: t=…,v1=…' (repeat for Standard Webhooks)",
    )
    verify.add_argument(
        "--tolerance",
        type=int,
        default=signing.DEFAULT_TOLERANCE_SECONDS,
        help="seconds a timestamp may be off (default: %(default)s)",
    )
    verify.set_defaults(handler=run_verify)


def _signature_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scheme",
        choices=[s.value for s in signing.Scheme],
        default=signing.Scheme.PAYFLOW.value,
        help="signature scheme (default: %(default)s)",
    )
    parser.add_argument("--secret", action="append", required=True, help="secret (repeatable)")
    parser.add_argument("--timestamp", type=int, help="unix seconds (default: now)")
    parser.add_argument("body", nargs="?", default="-", help="file with the body, or - for stdin")


def _read_body(source: str) -> bytes:
    return sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()


def run_sign(args: argparse.Namespace) -> int:
    timestamp = args.timestamp if args.timestamp is not None else int(time.time())
    scheme = signing.Scheme(args.scheme)
    message_id = args.id or (f"msg_{token()}" if scheme is signing.Scheme.STANDARD else "")
    try:
        headers = signing.sign(scheme, _read_body(args.body), args.secret, timestamp, message_id)
    except (ValueError, OSError) as exc:
        error(f"cannot sign: {exc}")
        return 2
    for name, value in headers.items():
        print(f"{name}: {value}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    headers: dict[str, str] = {}
    for item in args.header:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            error(f"header {item!r} is not 'Name: value'")
            return 2
        headers[name.strip()] = value.strip()
    now = args.timestamp if args.timestamp is not None else int(time.time())
    try:
        timestamp = signing.verify(
            signing.Scheme(args.scheme),
            _read_body(args.body),
            headers,
            args.secret,
            now,
            args.tolerance,
        )
    except signing.SignatureError as exc:
        print(f"✗ invalid ({exc.reason}): {exc}")
        return 1
    except (ValueError, OSError) as exc:
        error(f"cannot verify: {exc}")
        return 2
    print(f"✓ valid signature, timestamp {timestamp}")
    return 0
