"""Peers: the Stripe simulators users would otherwise pick, measured in the same run with the
same harness (wrk, threads, connections, duration) as payflow, so the report can compare.

localstripe (PyPI) is installed at a pinned version into a virtual environment of its own,
never payflow's: `~/.cache/payflow-bench/localstripe-<version>` (or under
`$XDG_CACHE_HOME`), made on the first run and reused after. If it cannot be installed or
started, the phase records why and its goals read "not measured"; no figure is made up.
It runs through bench/localstripe_main.py, which listens on 127.0.0.1 only and keeps the
store file in the run's folder (see that file); what a request does is localstripe's own.

Two measurements, each on a freshly started localstripe (an empty store):
- create: POST /v1/payment_intents with confirm=true and pm_card_visa, one request per
  PaymentIntent created and paid (lua/localstripe.lua), for as long as payflow's create
  phase, after the same warm-up.
- paid and notified: a webhook endpoint registered for `payment_intent.succeeded`, then
  `INTENTS` PaymentIntents created and confirmed as fast as wrk sends them; the rate is
  the intents notified divided by the time from the first request to the last webhook
  received, like payflow's end-to-end paid/s. The receiver (`python -m bench.peers
  receive`, a bare asyncio HTTP server in its own process) checks each Stripe signature
  and counts each intent once.

localstripe pickles its whole store to a file on every write: a confirmed PaymentIntent
stores seven objects, and every POST dumps once more, so eight dumps a request, each
longer as the store grows. Its rates depend on how many intents were made, and the
report gives those counts next to them. That is also why fewer intents are made here
than payflow's end-to-end orders: 600 took 40 s in a full run, and the time grows with
the square of the count (4,000 would take half an hour); the smaller count favours it.

stripe-mock, the other common choice, is a Go binary distributed outside the package
registries this machine reaches (PyPI, Debian, npm): it is not measured (`STRIPE_MOCK`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from bench import procs
from payflow import signing
from payflow.database_process import free_port

if TYPE_CHECKING:
    from bench.run import Context

LOCALSTRIPE_VERSION = "1.15.10"
LAUNCHER = procs.ROOT / "bench" / "localstripe_main.py"
AUTH = {"Authorization": "Bearer sk_test_payflowbench"}
INTENTS = {"quick": 200, "full": 600}  # paid-and-notified run; see the module docstring
INSTALL_TIMEOUT_S = 240.0
STAMP = ".payflow-bench-installed"  # written last: an interrupted install is made again
STRIPE_MOCK = (
    "stripe-mock is not measured: it is a Go binary distributed outside the package "
    "registries this machine reaches (PyPI, Debian, npm)."
)


class PeerUnavailable(Exception):
    """The peer could not be installed or started; the message says why."""


def environment_dir() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "payflow-bench" / f"localstripe-{LOCALSTRIPE_VERSION}"


def install(env_dir: Path, timeout: float) -> Path:
    """The interpreter of localstripe's own environment, made on the first run only.

    Anything in `env_dir` without the stamp (an interrupted install) is made anew.
    """
    python = env_dir / "bin" / "python"
    if installed(env_dir):
        return python
    shutil.rmtree(env_dir, ignore_errors=True)
    try:
        env_dir.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PeerUnavailable(f"cannot make {env_dir.parent}: {exc.strerror}") from None
    started = time.monotonic()
    steps = (
        [sys.executable, "-m", "venv", str(env_dir)],
        [
            str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            f"localstripe=={LOCALSTRIPE_VERSION}",
        ],
    )  # fmt: skip
    for step in steps:
        left = timeout - (time.monotonic() - started)
        try:
            done = subprocess.run(  # noqa: S603 - fixed arguments
                step, capture_output=True, text=True, timeout=max(left, 1), check=False
            )
        except subprocess.TimeoutExpired:
            raise PeerUnavailable(
                f"installing localstripe {LOCALSTRIPE_VERSION} took over {timeout:.0f} s"
            ) from None
        if done.returncode != 0:
            raise PeerUnavailable(
                f"`{' '.join(step[1:4])} …` failed installing localstripe "
                f"{LOCALSTRIPE_VERSION}: {_last_words(done.stderr + done.stdout)}"
            )
    (env_dir / STAMP).write_text(LOCALSTRIPE_VERSION)
    return python


def installed(env_dir: Path) -> bool:
    stamp = env_dir / STAMP
    return (env_dir / "bin" / "python").exists() and (
        stamp.exists() and stamp.read_text() == LOCALSTRIPE_VERSION
    )


def _last_words(output: str) -> str:
    """The end of pip's output, less this machine's warnings about mirrors that are absent."""
    lines = [
        line.strip()
        for line in output.splitlines()
        if line.strip() and "is ignored: it is neither a file nor a directory" not in line
    ]
    return " / ".join(lines[-3:]) or "no output"


@contextmanager
def localstripe(python: Path, ctx: Context, name: str) -> Iterator[procs.Server]:
    """A localstripe with an empty store on a free loopback port, answering requests."""
    port = free_port()
    store = ctx.logs / f"localstripe-{name}.pickle"
    server = procs.launch(
        "localstripe", [str(python), str(LAUNCHER), "--port", str(port), "--store", str(store)],
        f"http://{procs.HOST}:{port}", "/v1/payment_intents?limit=1",
        ctx.logs / f"localstripe-{name}.log", cwd=ctx.logs, headers=AUTH,
    )  # fmt: skip
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def receiver(ctx: Context, secret: str) -> Iterator[procs.Server]:
    port = free_port()
    server = procs.launch(
        "receiver",
        [sys.executable, "-m", "bench.peers", "receive", "--port", str(port), "--secret", secret],
        f"http://{procs.HOST}:{port}", "/count", ctx.logs / "receiver.log",
    )  # fmt: skip
    try:
        yield server
    finally:
        server.stop()


def intents_in_store(server: procs.Server) -> int:
    answer = httpx.get(
        f"{server.base_url}/v1/payment_intents", params={"limit": 1}, headers=AUTH, timeout=60
    )
    answer.raise_for_status()
    count: int = answer.json()["total_count"]
    return count


def run(ctx: Context, results: dict[str, Any]) -> None:
    """The peers phase: `results["peers"]`, and what the report must say in the notes."""
    notes: list[str] = results["meta"]["notes"]
    notes.append(STRIPE_MOCK)
    env_dir = environment_dir()
    peer: dict[str, Any] = {"version": LOCALSTRIPE_VERSION, "environment": str(env_dir)}
    results.setdefault("peers", {})["localstripe"] = peer
    try:
        ctx.progress(f"localstripe {LOCALSTRIPE_VERSION}: its environment")
        started = time.monotonic()
        fresh = not installed(env_dir)
        python = install(env_dir, min(INSTALL_TIMEOUT_S, ctx.budget.left() - 10))
        peer["install_s"] = round(time.monotonic() - started, 1)
        peer["create"] = _create(ctx, python)
        peer["notified"] = _notified(ctx, python)
    except (PeerUnavailable, RuntimeError, httpx.HTTPError) as exc:
        peer["error"] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        notes.append(f"localstripe {LOCALSTRIPE_VERSION}: not measured: {peer['error']}")
        ctx.console.say(f"  localstripe not measured: {peer['error']}")
        return
    made = f"installed in this run in {peer['install_s']} s" if fresh else "reused"
    notes.append(
        f"localstripe {LOCALSTRIPE_VERSION} ran in its own virtual environment ({env_dir}, "
        f"{made}), one process on 127.0.0.1 (bench/localstripe_main.py)."
    )
    create, notified = peer["create"], peer["notified"]
    ctx.console.say(
        f"  localstripe create+confirm {create['rps']:8,.1f} req/s  p50 {create['p50_ms']:.1f} ms"
        f"  p99 {create['p99_ms']:.1f} ms ({create['intents_in_store']:,} intents at the end)"
    )
    ctx.console.say(
        f"  localstripe {notified['notified']:,}/{notified['created']:,} notified; "
        f"{notified.get('notified_per_s')} paid and notified/s"
    )


def _create(ctx: Context, python: Path) -> dict[str, Any]:
    with localstripe(python, ctx, "create") as server:
        script = "localstripe.lua"
        ctx.wrk(server, script, [f"w{ctx.run_id}"], "localstripe (warm-up)", ctx.warmup())
        row = ctx.wrk(server, script, [f"c{ctx.run_id}"], "localstripe", ctx.duration)
        return {**row.as_dict(), "intents_in_store": intents_in_store(server)}


def _notified(ctx: Context, python: Path) -> dict[str, Any]:
    count = INTENTS["quick" if ctx.args.quick else "full"]
    limit = min(ctx.budget.left() - 5, 40.0 if ctx.args.quick else 120.0)
    secret = signing.generate_secret(signing.Scheme.STRIPE)
    with localstripe(python, ctx, "notified") as server, receiver(ctx, secret) as sink:
        registered = httpx.post(
            f"{server.base_url}/_config/webhooks/bench",
            data={
                "url": f"{sink.base_url}/webhooks",
                "secret": secret,
                "events[]": "payment_intent.succeeded",
            },
            timeout=30,
        )
        registered.raise_for_status()
        started = time.time()
        t0 = time.monotonic()
        ctx.wrk(
            server, "localstripe.lua", [f"n{ctx.run_id}", str(math.ceil(count / ctx.args.threads))],
            f"localstripe: creating {count:,}", limit, tally=ctx.tally("localstripe", count),
        )  # fmt: skip
        create_seconds = time.monotonic() - t0
        created = intents_in_store(server)

        def tally() -> dict[str, Any]:
            answer: dict[str, Any] = httpx.get(f"{sink.base_url}/count", timeout=10).json()
            return answer

        procs.wait_until(
            lambda: tally()["notified"] >= created,
            deadline=t0 + limit,
            label="localstripe: webhooks",
            progress=ctx.progress,
        )
        seen = tally()
    out: dict[str, Any] = {
        "intents": count,
        "created": created,
        "notified": seen["notified"],
        "rejected": seen["rejected"],
        "create_seconds": round(create_seconds, 2),
        "create_rps": round(created / create_seconds, 1) if create_seconds else None,
    }
    if seen["last"] is not None:
        last = seen["last"] - started
        out.update(
            first_notified_s=round(seen["first"] - started, 2),
            last_notified_s=round(last, 2),
            notified_per_s=round(seen["notified"] / last, 1) if last > 0 else None,
        )
    return out


def markdown(results: dict[str, Any]) -> list[str]:
    """The report's section on peers (nothing when the phase did not run)."""
    peer = (results.get("peers") or {}).get("localstripe")
    if not peer:
        return []
    lines = ["", "## Peers (same harness, same run)", ""]
    version = f"localstripe {peer['version']}"
    if peer.get("error"):
        lines += [f"{version}: not measured: {peer['error']}", ""]
    create, notified = peer.get("create"), peer.get("notified")
    if create:
        lines += [
            f"{version}, one process in its own virtual environment ({peer['environment']}). "
            "Create and confirm a PaymentIntent (pm_card_visa, one request): "
            f"**{create['rps']:,.1f} req/s**, p50 {create['p50_ms']:.1f} ms, "
            f"p99 {create['p99_ms']:.1f} ms; {create['intents_in_store']:,} intents in its "
            "store at the end (warm-up included).",
            "",
        ]
    if notified:
        rate = notified.get("notified_per_s")
        rejected = notified.get("rejected")
        bad = f"; {rejected} webhooks with a bad signature." if rejected else "."
        lines += [
            f"Paid and notified: {notified['notified']:,} of {notified['created']:,} intents "
            f"({notified['intents']:,} sent) notified by a signed `payment_intent.succeeded` "
            f"webhook, the last {notified.get('last_notified_s', '—')} s after the first "
            f"request (created at {notified.get('create_rps')} /s): "
            f"**{'—' if rate is None else f'{rate:,.1f}'} paid and notified/s**{bad}",
            "",
        ]
    if create or notified:
        lines.append(
            "localstripe pickles its whole store to a file on every write, so its rates fall "
            "as the store grows: they hold for the counts above, from an empty store."
        )
    orders = (results.get("e2e") or {}).get("orders")
    if notified and orders and orders > notified["intents"]:
        lines[-1] += (
            f" Its {notified['intents']:,} intents are fewer than payflow's {orders:,} "
            "end-to-end orders, which favours localstripe."
        )
    return lines if lines[-1] else lines[:-1]


# The receiver: `python -m bench.peers receive --port P --secret S`.


class Sink:
    """What the receiver has seen: one arrival time per intent notified, bad signatures."""

    def __init__(self, secret: str, clock: Callable[[], float] = time.time) -> None:
        self.secret = secret
        self.clock = clock  # wall-clock seconds: the bench compares them with its own
        self.arrivals: list[float] = []
        self.intents: set[str] = set()
        self.rejected = 0

    def webhook(self, body: bytes, headers: dict[str, str]) -> int:
        try:
            now = int(self.clock())
            signing.verify(signing.Scheme.STRIPE, body, headers, [self.secret], now)
        except signing.SignatureError:
            self.rejected += 1
            return 400
        event = json.loads(body)
        if event.get("type") == "payment_intent.succeeded":
            intent = event["data"]["object"]["id"]
            if intent not in self.intents:
                self.intents.add(intent)
                self.arrivals.append(self.clock())
        return 200

    def count(self) -> bytes:
        return json.dumps(
            {
                "notified": len(self.arrivals),
                "rejected": self.rejected,
                "first": self.arrivals[0] if self.arrivals else None,
                "last": self.arrivals[-1] if self.arrivals else None,
            }
        ).encode()


async def _serve(port: int, sink: Sink) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                request_line, *header_lines = head.split("\r\n")
                method = request_line.split(" ", 1)[0]
                headers = {}
                for line in header_lines:
                    name, sep, value = line.partition(":")
                    if sep:
                        headers[name.strip()] = value.strip()
                length = next(
                    (int(v) for k, v in headers.items() if k.lower() == "content-length"), 0
                )
                body = await reader.readexactly(length)
                if method == "GET":
                    status, answer = 200, sink.count()
                else:
                    status, answer = sink.webhook(body, headers), b""
                reason = "OK" if status == 200 else "Bad Request"
                top = f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                writer.write(f"{top}Content-Length: {len(answer)}\r\n\r\n".encode() + answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, procs.HOST, port)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description="the bench's bare webhook receiver for peers")
    parser.add_argument("command", choices=["receive"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    args = parser.parse_args()
    asyncio.run(_serve(args.port, Sink(args.secret)))


if __name__ == "__main__":
    main()
