"""Faults on demand: payflow failing on purpose, precisely and repeatably (DESIGN §8).

A request meets a fault in one of two ways: its own `Payflow-Fault` header, or a fault
rule (`POST /api/faults`) whose method and path glob match it and whose rate the
seeded generator grants. The pieces, each with one job:

- `payflow.domain.faults` (pure, below the store): what a fault is (`error-500`, `reset`,
  `after-commit:timeout`, …) and which rule, if any, applies (glob, method, rate, count).
- `cache`: the rules as this process knows them, re-read from the database at most once
  per `[faults] refresh_seconds`, and the atomic firing of a counted rule.
- `connection`: how a request's connection is closed unanswered (reset, timeout), and
  reading what is left of a request.
- `middleware`: the ASGI middleware that applies a fault to a request.

This package sits between `payflow.api` (whose `/api/faults` controller refreshes the
cache) and `payflow.lifespan`: it imports neither `payflow.api` nor `payflow.app`.
"""
