"""How a client of payflow's HTTP API words a problem reply, in one line.

Shared by the `payflow` command (`cli/client.py`) and the pytest fixture
(`payflow.testing`), which both talk to payflow over HTTP only and must not import
each other.
"""

from __future__ import annotations

import httpx
import msgspec

_decoder = msgspec.json.Decoder()


def problem_text(response: httpx.Response) -> str:
    """`409 Order already exists: …` from a problem+json body, or the bare status."""
    try:
        problem = _decoder.decode(response.content)
    except msgspec.DecodeError:
        problem = None
    if isinstance(problem, dict) and "title" in problem:
        detail = problem.get("detail")
        text = f"{response.status_code} {problem['title']}"
        return f"{text}: {detail}" if detail else text
    return f"HTTP {response.status_code}"
