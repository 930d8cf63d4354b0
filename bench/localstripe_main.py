"""Start localstripe as `localstripe --from-scratch` does, with two differences that change
where it listens and where it writes, not what it does per request.

Run by the peer's own interpreter (bench/peers.py installs localstripe in a virtual
environment of its own), so it imports nothing of payflow or the bench:

    <peer venv>/bin/python bench/localstripe_main.py --port PORT --store FILE

- It listens on 127.0.0.1 only: `localstripe` binds `::`, every interface of the machine.
- Its store goes to FILE instead of the fixed `/tmp/localstripe.pickle`, so a run never
  overwrites the state of a localstripe someone runs on the same machine, nor another
  run's. localstripe still pickles its whole store to that file on every write, exactly
  as it always does (that cost is part of what is measured).
"""

from __future__ import annotations

import argparse
import builtins
import logging
from typing import Any

FIXED_STORE = "/tmp/localstripe.pickle"  # noqa: S108 - the path localstripe hard-codes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--store", required=True, help="file localstripe pickles its store to")
    args = parser.parse_args()

    from aiohttp import web
    from localstripe import resources, server

    def store_open(file: Any, *rest: Any, **kwargs: Any) -> Any:
        return builtins.open(args.store if file == FIXED_STORE else file, *rest, **kwargs)

    # A module global shadows the builtin for the store's own `open` calls, and only them.
    resources.open = store_open  # type: ignore[attr-defined]
    # As `localstripe.server.start` sets up its access log (one line per request).
    logger = logging.getLogger("aiohttp.access")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(logging.StreamHandler())
    web.run_app(server.app, host="127.0.0.1", port=args.port, access_log=logger, print=None)


if __name__ == "__main__":
    main()
