"""Group commit: many concurrent submissions share one transaction and one fsync.

Each submission still gets its own savepoint inside the store, so one rejected submission never
affects another, and every caller is answered only after the commit that holds its events.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass

from ketenherstel.store.ports import AcceptOutcome, AcceptRequest, Store

_STOP = object()


@dataclass(slots=True)
class _Job:
    request: AcceptRequest
    now: float
    future: Future[AcceptOutcome]


class GroupCommitter:
    """One writer thread that drains whatever submissions are waiting into one transaction."""

    def __init__(self, store: Store, *, max_group_events: int = 20_000) -> None:
        self._store = store
        self._max = max_group_events
        self._queue: queue.SimpleQueue[_Job | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.groups = 0
        self.submissions = 0

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join()

    @property
    def running(self) -> bool:
        return self._thread is not None

    def submit(self, request: AcceptRequest, now: float) -> AcceptOutcome:
        return self.submit_future(request, now).result()

    def submit_future(self, request: AcceptRequest, now: float) -> Future[AcceptOutcome]:
        """Queue a submission; the future is resolved after the commit that holds it."""
        future: Future[AcceptOutcome] = Future()
        self._queue.put(_Job(request, now, future))
        return future

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            assert isinstance(first, _Job)
            jobs = [first]
            size = len(first.request.messages)
            stop = False
            while size < self._max:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                assert isinstance(nxt, _Job)
                jobs.append(nxt)
                size += len(nxt.request.messages)
            self._commit(jobs)
            if stop:
                return

    def _commit(self, jobs: list[_Job]) -> None:
        try:
            outcomes = self._store.accept([j.request for j in jobs], now=jobs[-1].now)
        except BaseException as exc:  # every caller learns that its events were not kept
            for job in jobs:
                job.future.set_exception(exc)
            return
        self.groups += 1
        self.submissions += len(jobs)
        for job, outcome in zip(jobs, outcomes, strict=True):
            job.future.set_result(outcome)
