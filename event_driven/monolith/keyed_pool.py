"""A bounded pool of worker threads that keeps order per key: what a keyed group's lanes hand their events to.

``submit(key, task)`` queues ``task`` behind the tasks of ``key`` already submitted: the tasks of one key
run one at a time, in submission order (the next starts only once the previous returned); the tasks of
different keys run at the same time, as many as there are workers. A worker only ever takes a task it can
run now: a key whose task is running is not offered to the others until that task returned, so a slow key
holds one worker, never the pool. Keys that are ready wait in the order they became ready (no key is
starved). Whoever submits bounds how many tasks are queued (a lane takes at most ``in_flight`` events).

A task that raises is logged; the worker goes on. ``discard`` drops the queued tasks of some keys that
have not started (a lane handing its partition over returns those). Shared by the in-memory bus and the
RabbitMQ bus's consumer.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Any

log = logging.getLogger("event_driven.bus")

Task = Callable[[], None]


class KeyedPool:
    """``workers`` threads named ``bus-NAME-K``; ``on_thread`` runs first on each (marks it as the bus's)."""

    def __init__(self, name: str, workers: int, on_thread: Callable[[], None] | None = None):
        if workers < 1:
            raise ValueError("a pool needs at least one worker")
        self.name = name
        self._on_thread = on_thread
        self._cond = threading.Condition()
        self._queued: dict[Hashable, deque[Task]] = {}  # a key is here while it has a task queued or running
        self._ready: deque[Hashable] = deque()  # keys with a task queued and none running, oldest first
        self._stopping = False
        self._threads = [threading.Thread(target=self._work, name=f"bus-{name}-{index}", daemon=True)
                         for index in range(workers)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def submit(self, key: Hashable, task: Task) -> None:
        """Run ``task`` once every task submitted before it with the same ``key`` has returned."""
        with self._cond:
            if self._stopping:
                raise RuntimeError(f"pool {self.name} is stopped")
            tasks = self._queued.get(key)
            if tasks is None:
                self._queued[key] = deque([task])
                self._ready.append(key)
                self._cond.notify()
            else:
                tasks.append(task)  # its turn comes when the running or earlier ones of the key are done

    def discard(self, where: Callable[[Any], bool]) -> int:
        """Drop the queued tasks (not the running ones) of the keys ``where`` accepts; how many were dropped."""
        with self._cond:
            dropped = 0
            for key in [key for key in self._queued if where(key)]:
                tasks = self._queued[key]
                dropped += len(tasks)
                tasks.clear()
                if key in self._ready:  # none of it is running
                    self._ready.remove(key)
                    del self._queued[key]
            return dropped

    def stop(self, deadline: float) -> None:
        """Let the workers finish every task submitted, then stop them (wait at most until ``deadline``, monotonic)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def stopped_workers(self) -> list[str]:
        """The workers that died (none should) or stopped, while the pool is meant to run."""
        with self._cond:
            if self._stopping:
                return []
        return [thread.name for thread in self._threads if thread.ident is not None and not thread.is_alive()]

    def _work(self) -> None:
        if self._on_thread is not None:
            self._on_thread()
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._ready or (self._stopping and not self._queued))
                if not self._ready:
                    return  # stopping, and nothing queued or running anywhere
                key = self._ready.popleft()
                task = self._queued[key].popleft()
            try:
                task()
            except Exception:  # noqa: BLE001 - a worker never dies
                log.exception("event bus: unexpected error in a task of %s", self.name)
            finally:
                with self._cond:
                    if self._queued[key]:
                        self._ready.append(key)  # the key's next task, behind the keys already waiting
                        self._cond.notify()
                    else:
                        del self._queued[key]
                        if self._stopping and not self._queued:
                            self._cond.notify_all()
