"""Where a pipeline's time goes: wall seconds accumulated per stage of the frame loop."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

STAGES = ("decode", "detect", "embed", "track", "serialize")


class StageClock:
    """Accumulates `perf_counter` seconds per stage; cheap enough to leave on in production."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = dict.fromkeys(STAGES, 0.0)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

    def timed_iter(self, name: str, items: Iterator) -> Iterator:
        """Yield from `items`, charging the time spent producing each one to `name`."""
        while True:
            started = time.perf_counter()
            try:
                item = next(items)
            except StopIteration:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
                return
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
            yield item
