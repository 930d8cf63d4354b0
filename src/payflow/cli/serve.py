"""`payflow serve`: the API, the worker and (by default) the embedded database."""

from __future__ import annotations

import argparse
from typing import Any


def add_commands(commands: Any) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the API, the worker and (by default) the database",
        description="Run payflow. Settings come from config/payflow.toml and PAYFLOW_* "
        "environment variables; --host and --port win over both.",
    )
    serve.add_argument("--host", help="bind address (default from config: 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default from config: 8000)")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes sharing the port and one database (default 1; see the benchmark)",
    )
    serve.set_defaults(handler=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    from payflow.app import create_app
    from payflow.config import load_settings
    from payflow.serving import serve

    settings = load_settings()
    if args.host:
        settings.server.host = args.host
    if args.port is not None:
        settings.server.port = args.port
    return serve("payflow.app:create_app", settings, create_app, workers=args.workers)
