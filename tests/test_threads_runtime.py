"""zmqlint_runtime.threads: workers that stop when asked, and signal-then-join."""

from __future__ import annotations

import logging
import threading
import time

from zmqlint_runtime.threads import PeriodicWorker, StoppableThread, stop_and_join


def test_stoppable_thread_wakes_from_its_wait_and_is_joined():
    steps = []

    def pump(stop, label, *, every):
        while not stop.is_set():
            steps.append(label)
            stop.wait(every)

    worker = StoppableThread(pump, args=("tick",), kwargs={"every": 10.0}, name="pump")
    worker.start()
    deadline = time.monotonic() + 2
    while not steps and time.monotonic() < deadline:
        time.sleep(0.001)
    started = time.monotonic()
    assert worker.stop() is True
    assert time.monotonic() - started < 0.5  # the 10 s wait ends at once
    assert not worker.is_alive()
    assert steps[0] == "tick"
    assert worker.daemon


def test_stop_is_safe_before_start_twice_and_from_inside():
    idle = StoppableThread(name="never-started")
    assert idle.stop() is True
    assert idle.stopped()

    results = []

    def stops_itself(stop):
        results.append(threading.current_thread().stop(timeout=1))

    worker = StoppableThread(stops_itself)
    worker.start()
    worker.join(timeout=5)
    assert results == [True]  # the thread is not joined by itself ("cannot join current thread")
    assert worker.error is None
    assert not worker.is_alive()
    assert worker.stop() is True and worker.stop() is True


def test_errors_are_kept_and_logged(caplog):
    def broken(stop):
        raise ValueError("boom")

    with caplog.at_level(logging.ERROR, logger="zmqlint_runtime.threads"):
        with StoppableThread(broken, name="broken") as worker:
            worker.join(timeout=5)
    assert isinstance(worker.error, ValueError)
    assert "thread broken failed" in caplog.text


def test_subclass_uses_stopped_and_wait():
    class Counter(StoppableThread):
        def __init__(self):
            super().__init__(name="counter")
            self.count = 0

        def run(self):
            while not self.stopped():
                self.count += 1
                self.wait(0.001)

    with Counter() as counter:
        deadline = time.monotonic() + 2
        while counter.count < 3 and time.monotonic() < deadline:
            time.sleep(0.001)
    assert counter.count >= 3
    assert not counter.is_alive()


def test_periodic_worker_runs_every_interval_survives_errors_and_stops_promptly(caplog):
    calls = []

    def task():
        calls.append(time.monotonic())
        if len(calls) == 2:
            raise RuntimeError("transient")

    worker = PeriodicWorker(task, 0.01, name="periodic")
    with caplog.at_level(logging.ERROR, logger="zmqlint_runtime.threads"):
        worker.start()
        deadline = time.monotonic() + 2
        while len(calls) < 4 and time.monotonic() < deadline:
            time.sleep(0.002)
    assert worker.stop() is True
    assert len(calls) >= 4 and worker.calls >= 4
    assert "periodic task periodic failed" in caplog.text

    slow = PeriodicWorker(lambda: None, 30.0, run_immediately=False)
    slow.start()
    started = time.monotonic()
    assert slow.stop() is True
    assert time.monotonic() - started < 0.5
    assert slow.calls == 0


def test_stop_and_join_bounds_the_total_wait_and_reports_stragglers(caplog):
    event = threading.Event()
    release = threading.Event()
    polite = threading.Thread(target=event.wait)
    stubborn = threading.Thread(target=lambda: release.wait(10))
    polite.start()
    stubborn.start()
    try:
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="zmqlint_runtime.threads"):
            assert stop_and_join(event, [polite, None, stubborn], timeout=0.2) is False
        assert time.monotonic() - started < 1.0
        assert not polite.is_alive()
        assert "still running" in caplog.text
    finally:
        release.set()
        stubborn.join(timeout=5)
    assert stop_and_join(None, stubborn) is True
    assert stop_and_join(None, None) is True
    assert stop_and_join(None, threading.Thread(target=lambda: None)) is True  # never started
