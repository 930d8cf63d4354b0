"""The floor app: what the same server, driver and database do with no payflow in between.

Three endpoints, each the least a request of that kind can do:
- `POST /floor/insert`: decode the JSON body, one journaled `insert_one` keyed by the
  request's `Idempotency-Key` (unique index), answer 201 with the document as JSON;
- `GET /floor/find/{key}`: one `find_one` by that unique key, answer the document;
- `POST /floor/echo`: the body back, no database at all.

It is served like payflow (`payflow.serving`: same runner options, same worker count),
opens its client like payflow (`payflow.store.mongo.client`: same options and pool) and
writes with the same `WriteConcern(j=True)`, on the same database server. So payflow's
create over the insert floor, and its replay over the find floor, measure payflow's own
work. Run it with `python -m bench.floors [--host H] [--port P] [--workers N]`; settings
(database URI and name) come from the environment, as payflow's do.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import msgspec
from litestar import Litestar, Request, Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath
from pymongo import WriteConcern

from payflow.config import Settings, load_settings
from payflow.store.mongo.client import open_client

JOURNALED = WriteConcern(w=1, j=True)
JSON = "application/json"
COLLECTION = "floor"

_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


@post("/floor/insert", status_code=201)
async def insert(request: Request[Any, Any, Any], state: State) -> Response[bytes]:
    doc = {
        "key": request.headers.get("idempotency-key", ""),
        **_decoder.decode(await request.body()),
    }
    await state.collection.insert_one(doc)
    doc.pop("_id", None)
    return Response(_encoder.encode(doc), status_code=201, media_type=JSON)


@get("/floor/find/{key:str}")
async def find(key: FromPath[str], state: State) -> Response[bytes]:
    doc = await state.collection.find_one({"key": key}, {"_id": 0})
    return Response(_encoder.encode(doc), status_code=200 if doc else 404, media_type=JSON)


@post("/floor/echo", status_code=200)
async def echo(request: Request[Any, Any, Any]) -> Response[bytes]:
    return Response(await request.body(), media_type=JSON)


@get("/floor/ready")
async def ready() -> Response[bytes]:
    return Response(b"{}", media_type=JSON)


def create_app(settings: Settings | None = None) -> Litestar:
    """The floor app on the database `settings` name (an empty URI is refused: no embedding)."""
    settings = settings or load_settings()
    if not settings.mongo.uri:
        raise SystemExit("the floor app needs MONGO_URI (scripts/bench starts the database)")

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        client = open_client(settings.mongo.uri)
        try:
            db = client[settings.mongo.database]
            app.state.collection = db.get_collection(COLLECTION, write_concern=JOURNALED)
            await app.state.collection.create_index("key", unique=True)
            yield
        finally:
            client.close()

    return Litestar(route_handlers=[insert, find, echo, ready], lifespan=[lifespan], debug=False)


def main(
    argv: Sequence[str] | None = None,
    target: str = "bench.floors:create_app",
    build: Callable[[Settings], Litestar] = create_app,
    description: str | None = __doc__,
) -> int:
    """Serve `build` (import path `target`) as payflow is served; the payment floor too."""
    from payflow.serving import serve

    prog = f"python -m {target.partition(':')[0]}"
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    settings = load_settings()
    settings.server.host, settings.server.port = args.host, args.port
    serve(target, settings, build, workers=args.workers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
