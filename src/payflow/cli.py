"""The `payflow` command: `serve`, and `sign` / `verify` for webhook signatures.

Run `payflow <command> --help` for each command's options.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from payflow import __version__, signing


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    result: int = args.handler(args)
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="payflow", description="payflow: a webhook-driven payment gateway simulator."
    )
    parser.add_argument("--version", action="version", version=f"payflow {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    serve = commands.add_parser(
        "serve", help="run the API, the worker and (by default) the database"
    )
    serve.add_argument("--host", help="bind address (default from config: 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default from config: 8000)")
    serve.set_defaults(handler=_serve)

    sign = commands.add_parser("sign", help="print the signature header(s) for a webhook body")
    _signature_options(sign)
    sign.add_argument("--id", default="", help="message id (Standard Webhooks scheme)")
    sign.set_defaults(handler=_sign)

    verify = commands.add_parser("verify", help="check a webhook body against a signature header")
    _signature_options(verify)
    verify.add_argument(
        "--header",
        action="append",
        required=True,
        metavar="NAME: VALUE",
        help="a received header, e.g. 'X-Signature: t=…,v1=…' (repeat for Standard Webhooks)",
    )
    verify.add_argument(
        "--tolerance", type=int, default=signing.DEFAULT_TOLERANCE_SECONDS, help="seconds"
    )
    verify.set_defaults(handler=_verify)
    return parser


def _signature_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scheme", choices=[s.value for s in signing.Scheme], default=signing.Scheme.PAYFLOW.value
    )
    parser.add_argument("--secret", action="append", required=True, help="secret (repeatable)")
    parser.add_argument("--timestamp", type=int, help="unix seconds (default: now)")
    parser.add_argument("body", nargs="?", default="-", help="file with the body, or - for stdin")


def _read_body(source: str) -> bytes:
    return sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()


def _sign(args: argparse.Namespace) -> int:
    timestamp = args.timestamp if args.timestamp is not None else int(time.time())
    headers = signing.sign(
        signing.Scheme(args.scheme), _read_body(args.body), args.secret, timestamp, args.id
    )
    for name, value in headers.items():
        print(f"{name}: {value}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    headers: dict[str, str] = {}
    for item in args.header:
        name, sep, value = item.partition(":")
        if not sep:
            print(f"✗ header {item!r} is not 'Name: value'", file=sys.stderr)
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
    print(f"✓ valid signature, timestamp {timestamp}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from payflow.app import create_app
    from payflow.config import load_settings

    settings = load_settings()
    if args.host:
        settings.server.host = args.host
    if args.port is not None:
        settings.server.port = args.port
    config = uvicorn.Config(
        create_app(settings),
        host=settings.server.host,
        port=settings.server.port,
        lifespan="on",
        log_config=None,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
