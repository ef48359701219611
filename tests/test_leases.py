"""zmqlint_runtime.leases: capacity with a reserve, TTLs, reaping on acquire, a joined sweeper.

The invariant under test everywhere: memory granted to leases never exceeds
``capacity_mb * (1 - reserve_fraction)``, whatever the interleaving of threads.
"""

from __future__ import annotations

import math
import threading
import time

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule

from zmqlint_runtime.leases import CapacityError, LeaseError, LeaseManager, UnknownLease


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def stored_mb(manager: LeaseManager) -> float:
    """Everything the manager holds, expired-but-not-yet-reaped leases included: the strong
    form of the invariant (white-box, under the manager's own lock)."""
    with manager._lock:
        return manager._granted_locked()


# -- behaviour --------------------------------------------------------------------------------


def test_grants_up_to_capacity_minus_reserve():
    with LeaseManager(1000, reserve_fraction=0.1, ttl_s=60, start_sweeper=False) as leases:
        assert leases.usable_mb == pytest.approx(900)
        first = leases.acquire(600, owner="a")
        assert leases.acquire(300, owner="b").size_mb == 300
        with pytest.raises(CapacityError, match="1 MB requested, 0 MB free"):
            leases.acquire(1)
        assert leases.granted_mb() == 900
        assert leases.release(first.lease_id) is True
        assert leases.release(first.lease_id) is False
        assert leases.available_mb() == 600


def test_expired_leases_are_reaped_by_the_next_acquire_without_a_sweeper():
    clock = FakeClock()
    with LeaseManager(100, ttl_s=5, clock=clock, start_sweeper=False) as leases:
        old = leases.acquire(100)
        with pytest.raises(CapacityError):
            leases.acquire(10)
        clock.advance(5.0)
        assert leases.granted_mb() == 0  # expired: no longer counted, even before reaping
        new = leases.acquire(100)  # no window: the expired lease is gone at once
        assert [lease.lease_id for lease in leases.leases()] == [new.lease_id]
        with pytest.raises(UnknownLease):
            leases.renew(old.lease_id)


def test_renew_extends_from_now():
    clock = FakeClock()
    with LeaseManager(100, ttl_s=5, clock=clock, start_sweeper=False) as leases:
        lease = leases.acquire(10, ttl_s=2)
        clock.advance(1.5)
        renewed = leases.renew(lease.lease_id, ttl_s=2)
        assert renewed.expires_at == clock.now + 2
        clock.advance(1.5)
        assert leases.granted_mb() == 10
        clock.advance(0.5)
        assert leases.granted_mb() == 0
        assert isinstance(UnknownLease("x"), KeyError)


def test_sweeper_reaps_idle_leases_and_is_joined_on_close():
    leases = LeaseManager(100, ttl_s=0.02, sweep_interval_s=0.01)
    sweeper = leases._sweeper
    assert sweeper is not None and sweeper.is_alive()
    leases.acquire(50)
    deadline = time.monotonic() + 2
    while stored_mb(leases) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert stored_mb(leases) == 0
    assert leases.close() is True
    assert not sweeper.is_alive()
    assert leases.close() is True  # idempotent
    with pytest.raises(LeaseError, match="closed"):
        leases.acquire(1)


def test_context_manager_closes_and_joins():
    with LeaseManager(10) as leases:
        sweeper = leases._sweeper
    assert leases.closed
    assert not sweeper.is_alive()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"capacity_mb": 0},
        {"capacity_mb": float("nan")},
        {"capacity_mb": 10, "reserve_fraction": 1.0},
        {"capacity_mb": 10, "reserve_fraction": -0.1},
        {"capacity_mb": 10, "ttl_s": 0},
        {"capacity_mb": 10, "sweep_interval_s": 0},
    ],
)
def test_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError):
        LeaseManager(**kwargs, start_sweeper=False)


@pytest.mark.parametrize("size", [0, -1, float("inf"), float("nan"), "10"])
def test_rejects_bad_sizes(size):
    with LeaseManager(10, start_sweeper=False) as leases:
        with pytest.raises(ValueError):
            leases.acquire(size)


# -- stress: many threads, real clock, short TTLs ----------------------------------------------


def test_invariant_holds_under_thread_stress():
    leases = LeaseManager(1000, reserve_fraction=0.2, ttl_s=0.01, sweep_interval_s=0.002)
    usable = leases.usable_mb
    violations = []
    done = threading.Event()
    start = threading.Barrier(9, timeout=5)

    def worker(seed: int) -> None:
        start.wait()
        held = []
        for step in range(300):
            size = 50 + (seed * 37 + step * 11) % 200
            try:
                held.append(leases.acquire(size, ttl_s=0.001 + (step % 7) * 0.003).lease_id)
            except CapacityError:
                pass
            if step % 3 == 0 and held:
                leases.release(held.pop(0))
            if step % 5 == 0 and held:
                try:
                    leases.renew(held[-1])
                except UnknownLease:
                    held.pop()

    def sampler() -> None:
        start.wait()
        while not done.is_set():
            total = stored_mb(leases)
            if total > usable + 1e-9:
                violations.append(total)
            done.wait(0.0005)

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(8)]
    watcher = threading.Thread(target=sampler)
    for thread in [*threads, watcher]:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    done.set()
    watcher.join(timeout=5)
    assert leases.close()
    assert not any(t.is_alive() for t in [*threads, watcher])
    assert violations == []


# -- hypothesis: a model of the manager, with rounds of concurrent acquires ----------------------


class LeaseMachine(RuleBasedStateMachine):
    """Sequential operations are checked against a model; concurrent rounds only against the
    invariant and against what the threads report they were granted."""

    leases = Bundle("leases")

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.manager = LeaseManager(100, reserve_fraction=0.25, ttl_s=10, clock=self.clock, start_sweeper=False)
        self.model = {}  # lease_id -> (size, expires_at)

    def live_model(self) -> float:
        return math.fsum(size for size, expires in self.model.values() if expires > self.clock.now)

    @rule(target=leases, size=st.integers(1, 80), ttl=st.sampled_from([1.0, 5.0, 10.0]))
    def acquire(self, size, ttl):
        for lease_id, (_, expires) in list(self.model.items()):
            if expires <= self.clock.now:
                del self.model[lease_id]
        fits = self.live_model() + size <= self.manager.usable_mb
        try:
            lease = self.manager.acquire(size, ttl_s=ttl)
        except CapacityError:
            assert not fits
            return "missing"
        assert fits
        self.model[lease.lease_id] = (size, self.clock.now + ttl)
        return lease.lease_id

    @rule(lease_id=consumes(leases))
    def release(self, lease_id):
        live = lease_id in self.model and self.model[lease_id][1] > self.clock.now
        released = self.manager.release(lease_id)
        if live:
            assert released
        self.model.pop(lease_id, None)

    @rule(lease_id=leases)
    def renew(self, lease_id):
        live = lease_id in self.model and self.model[lease_id][1] > self.clock.now
        try:
            lease = self.manager.renew(lease_id, ttl_s=5.0)
        except UnknownLease:
            assert not live
            self.model.pop(lease_id, None)
            return
        assert live
        self.model[lease_id] = (self.model[lease_id][0], lease.expires_at)

    @rule(seconds=st.sampled_from([0.5, 2.0, 6.0]))
    def advance(self, seconds):
        self.clock.advance(seconds)

    @rule(sizes=st.lists(st.lists(st.integers(1, 60), min_size=1, max_size=4), min_size=2, max_size=4))
    def concurrent_round(self, sizes):
        """Several threads acquire at once (released together by a barrier); each records what
        it got. Afterwards the model takes the grants and the invariant must hold."""
        barrier = threading.Barrier(len(sizes), timeout=5)
        granted = [[] for _ in sizes]
        usable = self.manager.usable_mb
        seen_over = []

        def run(slot: int) -> None:
            barrier.wait()
            for size in sizes[slot]:
                try:
                    granted[slot].append(self.manager.acquire(size))
                except CapacityError:
                    pass
                if stored_mb(self.manager) > usable + 1e-9:
                    seen_over.append(slot)

        threads = [threading.Thread(target=run, args=(slot,)) for slot in range(len(sizes))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        assert not any(t.is_alive() for t in threads)
        assert seen_over == []
        for_slot = [lease for slot in granted for lease in slot]
        for lease in for_slot:
            self.model[lease.lease_id] = (lease.size_mb, lease.expires_at)
        assert len({lease.lease_id for lease in for_slot}) == len(for_slot)

    @invariant()
    def granted_never_exceeds_usable(self):
        assert stored_mb(self.manager) <= self.manager.usable_mb + 1e-9

    @invariant()
    def manager_agrees_with_model(self):
        assert self.manager.granted_mb() == pytest.approx(self.live_model())

    def teardown(self):
        assert self.manager.close()


TestLeaseMachine = LeaseMachine.TestCase
TestLeaseMachine.settings = settings(
    max_examples=25, stateful_step_count=20, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
