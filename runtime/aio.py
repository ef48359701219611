"""Start and stop components whether their ``start()`` / ``stop()`` are sync or async.

Services often own a mix of servers: some with ``async def start()``, some whose ``start()``
is a plain method that spawns a thread. Passing the latter to ``asyncio.create_task`` or
``asyncio.gather`` raises ``TypeError`` (a sync method returns ``None``, not a coroutine).
These helpers take either kind::

    from zmqlint_runtime import aio

    async def run(self):
        await aio.start(self.zmq_server, self.rest_api)      # sync or async start()
        try:
            await self.shutdown_requested.wait()
        finally:
            await aio.stop(self.rest_api, self.zmq_server, timeout=5)

A sync method runs on a worker thread (``asyncio.to_thread``), so a blocking ``stop()`` that
joins a thread does not freeze the event loop; an ``async def`` method is awaited; a sync
method that returns an awaitable has that awaitable awaited too.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, Callable, List, Optional, Sequence

__all__ = ["call", "start", "stop", "StopError"]


class StopError(Exception):
    """One or more components failed to stop; ``errors`` pairs each component with its error."""

    def __init__(self, errors: Sequence[tuple]) -> None:
        self.errors = list(errors)
        names = ", ".join(f"{type(c).__name__}: {type(e).__name__}: {e}" for c, e in self.errors)
        super().__init__(f"{len(self.errors)} component(s) failed to stop ({names})")


async def call(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Call ``func`` with the arguments and return its result, awaiting it if it is async.

    Coroutine functions are awaited on the event loop; plain callables run on a worker thread
    (``asyncio.to_thread``) and, should they return an awaitable, that is awaited as well.
    """
    if inspect.iscoroutinefunction(func):
        return await func(*args, **kwargs)
    result = await asyncio.to_thread(func, *args, **kwargs)
    if inspect.isawaitable(result):
        return await result
    return result


async def start(*components: Any, method: str = "start") -> List[Any]:
    """Start the components one after another, in order; return what each ``start()`` returned.

    Order matters when starting (a server before the clients that use it), so unlike `stop`
    this does not run them concurrently. The first failure propagates; components started
    before it stay started (stop them in your ``finally``).
    """
    results = []
    for component in components:
        results.append(await call(getattr(component, method)))
    return results


async def stop(
    *components: Any,
    method: str = "stop",
    timeout: Optional[float] = None,
) -> List[Any]:
    """Stop every component concurrently and wait for all of them; return their results.

    Every component is asked to stop even if another one fails or times out (``timeout``
    seconds each, None for no limit); afterwards a `StopError` lists every failure, a
    ``TimeoutError`` included. Sync ``stop()`` methods run on worker threads: a timed-out
    one keeps running on its thread, it cannot be interrupted.
    """

    async def one(component: Any) -> Any:
        pending = call(getattr(component, method))
        return await (asyncio.wait_for(pending, timeout) if timeout is not None else pending)

    outcomes = await asyncio.gather(*(one(c) for c in components), return_exceptions=True)
    errors = [
        (component, outcome)
        for component, outcome in zip(components, outcomes)
        if isinstance(outcome, BaseException) and not isinstance(outcome, asyncio.CancelledError)
    ]
    cancelled = [o for o in outcomes if isinstance(o, asyncio.CancelledError)]
    if errors:
        raise StopError(errors)
    if cancelled:
        raise cancelled[0]
    return list(outcomes)
