"""Run a producer of batches in a background thread, at most a fixed number of batches ahead.

Two stages of different kinds then share two cores: the bronze writer reads messages from Pulsar
(Python-bound) while the previous batch is parsed and written as Parquet (Arrow and the S3 upload
release the GIL); the detection pipeline decodes and detects the next frame (OpenCV and OpenVINO
release the GIL) while the current one is embedded and tracked. The queue is bounded, so memory
stays a few items, whatever the input's size.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


@dataclass(frozen=True)
class _Failed:
    error: BaseException


def prefetched(
    make_items: Callable[[], Iterable[T]], depth: int = 1, name: str = "prefetch"
) -> Generator[T, None, None]:
    """Yield the items of `make_items()`, produced in a thread up to `depth` items ahead.

    An exception in the producer is raised here, in the consumer. When the consumer stops early
    (an exception, or closing this generator), the producer stops at its next item and its
    iterable is closed in its own thread (so e.g. a Pulsar reader is closed).
    """
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        source = make_items()
        try:
            for item in source:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, which raises it
            put(_Failed(exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while True:
            item = items.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join(timeout=30)
