"""GPU memory leases with a reserve, a time-to-live, and no over-allocation window.

A model worker leases VRAM before loading a model and releases it when it unloads; a lease
that is neither renewed nor released expires after ``ttl_s`` so a crashed worker cannot hold
memory forever. ``LeaseManager`` keeps the invariant

    sum of granted, unexpired leases  <=  capacity_mb * (1 - reserve_fraction)

under any interleaving of threads: every operation runs under one lock, and expired leases
are reaped *on every acquire*, so a new lease never waits for a sweeper to notice that old
ones are gone (the field report's sweeper ran once a second and let VRAM over-allocate for up
to a second). A background sweeper still reaps idle managers; ``close()`` stops it and joins
it, and the manager is a context manager::

    from zmqlint_runtime.leases import LeaseManager, CapacityError

    with LeaseManager(capacity_mb=24_000, reserve_fraction=0.05, ttl_s=60) as leases:
        lease = leases.acquire(8_000, owner="llama-7b")
        ...
        leases.renew(lease.lease_id)
        leases.release(lease.lease_id)
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
from dataclasses import dataclass, replace
from typing import Callable, Dict, List, Optional

__all__ = ["CapacityError", "Lease", "LeaseError", "LeaseManager", "UnknownLease"]

logger = logging.getLogger(__name__)


class LeaseError(Exception):
    """Base class of lease errors."""


class CapacityError(LeaseError):
    """Not enough free memory for the requested lease."""


class UnknownLease(LeaseError, KeyError):
    """The lease does not exist: never granted, released, or expired."""


@dataclass(frozen=True)
class Lease:
    """A grant of ``size_mb`` to ``owner`` until ``expires_at`` (on the manager's clock)."""

    lease_id: str
    size_mb: float
    owner: str
    granted_at: float
    expires_at: float


class LeaseManager:
    """Grants memory leases against ``capacity_mb`` minus a ``reserve_fraction`` kept free.

    ``ttl_s`` is the default lifetime of a lease; ``renew`` extends it. ``sweep_interval_s``
    paces the background sweeper (reaping also happens on every acquire, so it only matters
    for how soon idle memory shows as free). ``clock`` is a monotonic clock in seconds
    (injectable for tests); ``start_sweeper=False`` runs without the background thread.
    """

    def __init__(
        self,
        capacity_mb: float,
        reserve_fraction: float = 0.0,
        ttl_s: float = 60.0,
        *,
        sweep_interval_s: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        start_sweeper: bool = True,
    ) -> None:
        if not (math.isfinite(capacity_mb) and capacity_mb > 0):
            raise ValueError(f"capacity_mb must be a positive number, got {capacity_mb!r}")
        if not 0.0 <= reserve_fraction < 1.0:
            raise ValueError(f"reserve_fraction must be in [0, 1), got {reserve_fraction!r}")
        if not (math.isfinite(ttl_s) and ttl_s > 0):
            raise ValueError(f"ttl_s must be a positive number, got {ttl_s!r}")
        if not sweep_interval_s > 0:
            raise ValueError(f"sweep_interval_s must be positive, got {sweep_interval_s!r}")
        self.capacity_mb = float(capacity_mb)
        self.reserve_fraction = float(reserve_fraction)
        self.ttl_s = float(ttl_s)
        self.sweep_interval_s = float(sweep_interval_s)
        #: What may be granted at most: capacity minus the reserve.
        self.usable_mb = self.capacity_mb * (1.0 - self.reserve_fraction)
        self._clock = clock
        self._lock = threading.Lock()
        self._leases: Dict[str, Lease] = {}
        self._ids = itertools.count(1)
        self._closed = False
        self._stop = threading.Event()
        self._sweeper: Optional[threading.Thread] = None
        if start_sweeper:
            self._sweeper = threading.Thread(target=self._sweep, name="lease-sweeper", daemon=True)
            self._sweeper.start()

    # -- leases ----------------------------------------------------------------------------

    def acquire(self, size_mb: float, *, owner: str = "anonymous", ttl_s: Optional[float] = None) -> Lease:
        """Grant ``size_mb`` for ``ttl_s`` seconds (default: the manager's), or raise
        `CapacityError`. Expired leases are reaped first, under the same lock."""
        if not (isinstance(size_mb, (int, float)) and math.isfinite(size_mb) and size_mb > 0):
            raise ValueError(f"size_mb must be a positive number, got {size_mb!r}")
        lifetime = self._lifetime(ttl_s)
        with self._lock:
            if self._closed:
                raise LeaseError("the lease manager is closed")
            now = self._clock()
            self._reap_locked(now)
            free = self.usable_mb - self._granted_locked()
            if size_mb > free:
                raise CapacityError(f"{size_mb:g} MB requested, {max(free, 0.0):g} MB free of {self.usable_mb:g} MB")
            lease = Lease(f"lease-{next(self._ids)}", float(size_mb), owner, now, now + lifetime)
            self._leases[lease.lease_id] = lease
            return lease

    def renew(self, lease_id: str, ttl_s: Optional[float] = None) -> Lease:
        """Extend a live lease to ``ttl_s`` from now; `UnknownLease` if it is gone or expired."""
        lifetime = self._lifetime(ttl_s)
        with self._lock:
            now = self._clock()
            self._reap_locked(now)
            lease = self._leases.get(lease_id)
            if lease is None:
                raise UnknownLease(lease_id)
            renewed = replace(lease, expires_at=now + lifetime)
            self._leases[lease_id] = renewed
            return renewed

    def release(self, lease_id: str) -> bool:
        """Give a lease back; False when it was already gone (released or expired)."""
        with self._lock:
            return self._leases.pop(lease_id, None) is not None

    def reap(self) -> List[Lease]:
        """Drop expired leases now; returns them."""
        with self._lock:
            return self._reap_locked(self._clock())

    # -- questions -------------------------------------------------------------------------

    def granted_mb(self) -> float:
        """Memory held by live leases (expired ones are not counted, reaped or not)."""
        with self._lock:
            now = self._clock()
            return math.fsum(lease.size_mb for lease in self._leases.values() if lease.expires_at > now)

    def available_mb(self) -> float:
        return max(0.0, self.usable_mb - self.granted_mb())

    def leases(self) -> List[Lease]:
        """The live leases, oldest first."""
        with self._lock:
            now = self._clock()
            return sorted((x for x in self._leases.values() if x.expires_at > now), key=lambda x: x.granted_at)

    # -- lifecycle -------------------------------------------------------------------------

    def close(self, timeout: Optional[float] = 5.0) -> bool:
        """Stop the sweeper and join it; refuse new leases. Idempotent. True when the
        sweeper has ended (or never ran)."""
        with self._lock:
            self._closed = True
        self._stop.set()
        sweeper = self._sweeper
        if sweeper is None or sweeper is threading.current_thread():
            return True
        sweeper.join(timeout)
        if sweeper.is_alive():
            logger.warning("lease sweeper still running after %.3g s", timeout)
            return False
        return True

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> "LeaseManager":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------

    def _lifetime(self, ttl_s: Optional[float]) -> float:
        lifetime = self.ttl_s if ttl_s is None else ttl_s
        if not (isinstance(lifetime, (int, float)) and math.isfinite(lifetime) and lifetime > 0):
            raise ValueError(f"ttl_s must be a positive number, got {ttl_s!r}")
        return float(lifetime)

    def _granted_locked(self) -> float:
        return math.fsum(lease.size_mb for lease in self._leases.values())

    def _reap_locked(self, now: float) -> List[Lease]:
        expired = [lease for lease in self._leases.values() if lease.expires_at <= now]
        for lease in expired:
            del self._leases[lease.lease_id]
        return expired

    def _sweep(self) -> None:
        while not self._stop.wait(self.sweep_interval_s):
            expired = self.reap()
            if expired:
                logger.info("reaped %d expired lease(s)", len(expired))
