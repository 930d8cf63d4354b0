"""The in-process queue: order ids (never payloads) on a bounded anyio channel.

Orders carry their own due time (created + simulated delay). `schedule` keeps
not-yet-due ids in a heap and a timer task moves them onto the channel when due,
so a 5 s delay occupies no worker. The channel is bounded and `schedule` never
blocks: an id that does not fit is simply dropped here, because MongoDB still has
the job and the poller feeds it back. `known` holds the ids waiting here (in the heap
or on the channel) and stops the poller from queueing one twice; once a worker takes
an id it leaves `known`, and the job's lease in MongoDB guards it instead — so a job
that schedules its own retry puts it back here and it stays known until due.
"""

from __future__ import annotations

import heapq
import math
from datetime import datetime

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from payflow.timefmt import Clock


class WorkQueue:
    def __init__(self, capacity: int, clock: Clock) -> None:
        send, receive = anyio.create_memory_object_stream[str](max_buffer_size=capacity)
        self._send: MemoryObjectSendStream[str] = send
        self.receive: MemoryObjectReceiveStream[str] = receive
        self._clock = clock
        self._capacity = capacity
        self._heap: list[tuple[datetime, str]] = []
        self._waiting: dict[str, datetime] = {}  # ids in the heap → the due time that counts
        self._wake = anyio.Event()
        self._poll = anyio.Event()
        self.known: set[str] = set()

    @property
    def depth(self) -> int:
        return len(self.known)

    @property
    def ready(self) -> int:
        """Due ids on the channel, waiting for a worker."""
        return self.receive.statistics().current_buffer_used

    @property
    def room(self) -> int:
        return self._capacity - len(self.known)

    def schedule(self, item: str, due_at: datetime) -> bool:
        """Queue `item` for `due_at`; False when this process is full (the poller retries).

        An id already queued keeps its place, unless it is now due earlier (a canceled
        order's job is due at once, not at the end of its payment delay): then it moves up,
        and its old heap entry is skipped when its time comes.
        """
        if item in self.known:
            waiting = self._waiting.get(item)
            if waiting is None or due_at >= waiting:
                return True
            del self._waiting[item]
        elif len(self.known) >= self._capacity:
            return False
        else:
            self.known.add(item)
        if due_at <= self._clock():
            return self._put(item)
        self._waiting[item] = due_at
        heapq.heappush(self._heap, (due_at, item))
        self._wake.set()
        return True

    def done(self, item: str) -> None:
        """`item` left this process's queue: a worker took it (its lease guards it now)."""
        self.known.discard(item)

    def wake(self) -> None:
        """Make the timer look at the clock again now.

        The timer sleeps until the earliest due time as measured when it last looked; if
        the clock has moved since (a step, or a test's injected clock), an id that is due
        would otherwise wait out that sleep. The poller calls this every round.
        """
        self._wake.set()

    def nudge(self) -> None:
        """The time has jumped (a test clock's advance): look at due work now, not later.

        Wakes the timer, and the poller's wait (`until_next_poll`), so work that became due
        in the database runs promptly instead of after the rest of a poll interval.
        """
        self._wake.set()
        self._poll.set()

    async def until_next_poll(self, interval: float) -> None:
        """Wait `interval` seconds, or less if `nudge` is called meanwhile."""
        with anyio.move_on_after(interval):
            await self._poll.wait()
        self._poll = anyio.Event()

    def _put(self, item: str) -> bool:
        try:
            self._send.send_nowait(item)
        except anyio.WouldBlock:
            self.known.discard(item)
            return False
        return True

    async def run_timer(self) -> None:
        """Move due ids from the heap onto the channel; runs for the life of the worker."""
        while True:
            now = self._clock()
            while self._heap and self._heap[0][0] <= now:
                due_at, item = heapq.heappop(self._heap)
                if self._waiting.get(item) != due_at:
                    continue  # moved up and sent already
                del self._waiting[item]
                self._put(item)
            wait = math.inf
            if self._heap:
                wait = max((self._heap[0][0] - now).total_seconds(), 0.001)
            self._wake = anyio.Event()
            with anyio.move_on_after(wait):
                await self._wake.wait()

    async def aclose(self) -> None:
        await self._send.aclose()
        await self.receive.aclose()
