"""Unique tokens without a system call.

`uuid.uuid4()` and `secrets` read the kernel's random source. That call releases the
GIL, and while the driver's threads (motor runs PyMongo in a thread pool) keep the GIL
busy, the event loop then waits up to a switch interval (5 ms) to take it back: under
load, 8 % of the event loop's samples were in `uuid4`. The tokens made here need to be
unique, not unguessable — lease and batch tokens, request ids, ids of orders and
receipts, which grant nothing — so they come from the interpreter's Mersenne Twister,
seeded from the kernel at start-up and again in every forked child. Secrets (webhook
signing keys, API keys) keep using `secrets`.
"""

from __future__ import annotations

import random


def token(bits: int = 128) -> str:
    """`bits` random bits as lower-case hex, zero-padded (`bits` a multiple of 4)."""
    return f"{random.getrandbits(bits):0{bits // 4}x}"
