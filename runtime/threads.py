"""Threads that stop when asked, and a helper that signals a thread and waits for it.

A background loop written as ``while True:`` ignores shutdown; one that checks a flag but is
never joined may still be running when its owner has "stopped". This module gives the two
pieces that make both easy to get right::

    from zmqlint_runtime.threads import StoppableThread, stop_and_join

    def pump(stop):                       # receives the thread's stop event
        while not stop.is_set():
            do_one_step()
            stop.wait(0.05)               # sleeps, but wakes at once on stop()

    worker = StoppableThread(pump, name="pump")
    worker.start()
    ...
    worker.stop(timeout=5.0)              # set the event, join, True if it ended

    # for threads you manage yourself:
    stop_and_join(self._stop_event, self._thread, timeout=5.0)

`PeriodicWorker` runs a function every ``interval`` seconds until stopped.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, Union

__all__ = ["PeriodicWorker", "StoppableThread", "stop_and_join"]

logger = logging.getLogger(__name__)

ThreadsArg = Union[None, threading.Thread, Iterable[Optional[threading.Thread]]]


def stop_and_join(
    event: Optional[threading.Event],
    threads: ThreadsArg,
    timeout: Optional[float] = 5.0,
) -> bool:
    """Set ``event`` (if given), then join ``threads`` within ``timeout`` seconds in total.

    ``threads`` is one thread, None, or an iterable of threads (None entries are skipped).
    Threads never started, and the calling thread itself, are skipped rather than joined
    (joining them would raise). Returns True when every thread has ended; the ones still
    running after the timeout are logged and make it return False.
    """
    if event is not None:
        event.set()
    if threads is None:
        pending: Sequence[Optional[threading.Thread]] = ()
    elif isinstance(threads, threading.Thread):
        pending = (threads,)
    else:
        pending = tuple(threads)
    deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
    current = threading.current_thread()
    ended = True
    for thread in pending:
        if thread is None or thread is current or thread.ident is None:
            continue
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        thread.join(remaining)
        if thread.is_alive():
            logger.warning("thread %s still running after %.3g s", thread.name, timeout)
            ended = False
    return ended


class StoppableThread(threading.Thread):
    """A thread with its own stop event; ``stop()`` sets it and joins.

    Give a ``target`` (called as ``target(stop_event, *args, **kwargs)``), or subclass and
    override ``run()``, checking :meth:`stopped` and sleeping with :meth:`wait`. Usable as a
    context manager: ``with StoppableThread(fn) as worker:`` starts it and stops it on exit.
    Daemon by default, so a forgotten thread cannot keep the process alive; ``stop()`` is
    still what ends it cleanly.
    """

    def __init__(
        self,
        target: Optional[Callable[..., Any]] = None,
        *,
        args: Sequence[Any] = (),
        kwargs: Optional[Mapping[str, Any]] = None,
        name: Optional[str] = None,
        daemon: bool = True,
        join_timeout: Optional[float] = 5.0,
    ) -> None:
        super().__init__(name=name, daemon=daemon)
        self.stop_event = threading.Event()
        self.join_timeout = join_timeout
        self._work = target
        self._work_args = tuple(args)
        self._work_kwargs = dict(kwargs or {})
        #: The exception that ended ``run()``, if one did.
        self.error: Optional[BaseException] = None

    def run(self) -> None:
        if self._work is None:
            return
        try:
            self._work(self.stop_event, *self._work_args, **self._work_kwargs)
        except BaseException as exc:  # kept for the owner, and logged with its traceback
            self.error = exc
            logger.exception("thread %s failed", self.name)
        finally:
            # Break reference cycles through the target, as threading.Thread does.
            self._work = None
            self._work_args = ()
            self._work_kwargs = {}

    def stopped(self) -> bool:
        """True once :meth:`stop` was called."""
        return self.stop_event.is_set()

    def wait(self, timeout: Optional[float]) -> bool:
        """Sleep up to ``timeout`` seconds, waking early on stop; True when stop was requested."""
        return self.stop_event.wait(timeout)

    def stop(self, timeout: Optional[float] = None) -> bool:
        """Ask the thread to stop and wait for it (``join_timeout`` by default).

        Safe to call more than once, before ``start()``, and from the thread itself (which is
        then not joined). Returns True when the thread is no longer running.
        """
        return stop_and_join(self.stop_event, self, self.join_timeout if timeout is None else timeout)

    def __enter__(self) -> "StoppableThread":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class PeriodicWorker(StoppableThread):
    """Calls ``function(*args, **kwargs)`` every ``interval`` seconds until stopped.

    The first call happens at once (``run_immediately=True``) or after one interval. An
    exception from ``function`` is logged and the loop goes on. ``stop()`` waits at most for the
    call in progress: the wait between calls ends as soon as the stop event is set.
    """

    def __init__(
        self,
        function: Callable[..., Any],
        interval: float,
        *,
        args: Sequence[Any] = (),
        kwargs: Optional[Mapping[str, Any]] = None,
        name: Optional[str] = None,
        daemon: bool = True,
        join_timeout: Optional[float] = 5.0,
        run_immediately: bool = True,
    ) -> None:
        if not interval > 0:
            raise ValueError(f"interval must be positive, got {interval!r}")
        super().__init__(name=name, daemon=daemon, join_timeout=join_timeout)
        self.function = function
        self.interval = float(interval)
        self.run_immediately = run_immediately
        self._call_args = tuple(args)
        self._call_kwargs = dict(kwargs or {})
        #: How many times ``function`` has run.
        self.calls = 0

    def run(self) -> None:
        if not self.run_immediately and self.stop_event.wait(self.interval):
            return
        while not self.stop_event.is_set():
            try:
                self.function(*self._call_args, **self._call_kwargs)
            except Exception:
                logger.exception("periodic task %s failed", self.name)
            self.calls += 1
            if self.stop_event.wait(self.interval):
                return
