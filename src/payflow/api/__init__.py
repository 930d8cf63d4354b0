"""payflow's HTTP API: one package per resource, a few shared HTTP pieces.

A resource is a package `api/<resource>/` holding
- `controller.py`: its Litestar Controller(s); handlers take typed parameters and the
  dependencies they use (`dependencies = provide(...)`, `api.dependencies`), and
  return Structs, so OpenAPI comes from the types;
- `schemas.py`: its wire shapes (camelCase msgspec Structs) and their converters;
- `docs.py`, when needed: the OpenAPI the types cannot say (a body read as raw bytes,
  named examples);
- `__init__.py`: exports its controller(s) only (`__all__`).
A new resource starts as a copy of `api/refunds/`.

Shared pieces, one job each: `idempotent` (every POST with an Idempotency-Key),
`paging` (cursor pages), `body` (the request codec: JSON object → Struct or 400),
`responses` (returned values encoded by `payflow.codec`), `problems` (which problems a
route documents), `openapi` (the rest of the hand-written OpenAPI), `dependencies`
(the providers), `access` (API keys, rate limits, CORS), `routing` (case-insensitive
paths) and `request_log`.
"""
