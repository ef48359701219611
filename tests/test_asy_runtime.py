"""zmqlint_runtime.aio: one call starts or stops components whose methods are sync or async."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from zmqlint_runtime import aio


class SyncServer:
    def __init__(self):
        self.started_on = None
        self.stopped_on = None
        self.events = []

    def start(self):
        self.started_on = threading.current_thread()
        self.events.append("start")
        return "sync-started"

    def stop(self):
        time.sleep(0.05)  # a blocking stop: must not freeze the loop
        self.stopped_on = threading.current_thread()
        self.events.append("stop")


class AsyncServer:
    def __init__(self):
        self.events = []
        self.loop_thread = None

    async def start(self):
        self.loop_thread = threading.current_thread()
        self.events.append("start")
        return "async-started"

    async def stop(self):
        await asyncio.sleep(0.01)
        self.events.append("stop")


class LazyServer:
    """A sync method that returns a coroutine: the coroutine is awaited too."""

    def __init__(self):
        self.events = []

    async def _stop(self):
        self.events.append("stop")

    def stop(self):
        return self._stop()


class FailingServer:
    def stop(self):
        raise RuntimeError("socket already closed")


class HangingServer:
    async def stop(self):
        await asyncio.sleep(30)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 10))


def test_start_accepts_sync_and_async_start_in_order():
    sync, asynchronous = SyncServer(), AsyncServer()
    results = run(aio.start(sync, asynchronous))
    assert results == ["sync-started", "async-started"]
    assert sync.started_on is not threading.main_thread()  # a worker thread
    assert asynchronous.loop_thread is threading.main_thread()  # on the event loop


class RendezvousServer:
    """A blocking stop() that only returns when its twin is stopping at the same time and the
    event loop has run meanwhile: stops run one after another, or on the loop, would fail."""

    def __init__(self, barrier, loop_ran):
        self.barrier = barrier
        self.loop_ran = loop_ran
        self.events = []

    def stop(self):
        self.barrier.wait(timeout=5)
        if not self.loop_ran.wait(timeout=5):
            raise RuntimeError("the event loop was blocked")
        self.events.append("stop")


def test_stop_stops_everything_concurrently_without_blocking_the_loop():
    barrier, loop_ran = threading.Barrier(2), threading.Event()
    servers = [RendezvousServer(barrier, loop_ran), RendezvousServer(barrier, loop_ran), AsyncServer(), LazyServer()]

    async def main():
        async def tick():
            await asyncio.sleep(0.01)
            loop_ran.set()

        ticker = asyncio.create_task(tick())
        await aio.stop(*servers)
        await ticker

    run(main())
    assert all(s.events == ["stop"] for s in servers)


def test_a_failing_stop_does_not_prevent_the_others_and_is_reported():
    ok = SyncServer()
    with pytest.raises(aio.StopError) as caught:
        run(aio.stop(FailingServer(), ok))
    assert ok.events == ["stop"]
    (component, error), = caught.value.errors
    assert isinstance(component, FailingServer) and isinstance(error, RuntimeError)
    assert "socket already closed" in str(caught.value)


def test_stop_timeout_is_reported_and_does_not_hang():
    ok = AsyncServer()
    started = time.monotonic()
    with pytest.raises(aio.StopError) as caught:
        run(aio.stop(HangingServer(), ok, timeout=0.1))
    assert time.monotonic() - started < 5
    assert ok.events == ["stop"]
    assert isinstance(caught.value.errors[0][1], asyncio.TimeoutError)


def test_call_passes_arguments_to_either_kind():
    async def add(a, b=0):
        return a + b

    def mul(a, b=1):
        return a * b

    assert run(aio.call(add, 2, b=3)) == 5
    assert run(aio.call(mul, 2, b=3)) == 6
