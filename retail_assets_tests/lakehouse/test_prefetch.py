"""The background reader of the bronze writer: order, bounded read-ahead, errors, early stop."""

from __future__ import annotations

import threading
import time

import pytest

from retail_assets.lakehouse.prefetch import prefetched


def test_items_arrive_in_order() -> None:
    assert list(prefetched(lambda: iter(range(1000)), depth=2)) == list(range(1000))


def test_the_producer_stays_at_most_depth_items_ahead() -> None:
    produced: list[int] = []

    def numbers():
        for i in range(100):
            produced.append(i)
            yield i

    consumer = prefetched(numbers, depth=2)
    assert next(consumer) == 0
    time.sleep(0.3)  # give the producer every chance to run ahead
    # one handed over, two queued, one waiting to be queued
    assert len(produced) <= 4
    consumer.close()


def test_a_producer_error_is_raised_in_the_consumer() -> None:
    def failing():
        yield 1
        raise ConnectionError("broker went away")

    consumer = prefetched(failing)
    assert next(consumer) == 1
    with pytest.raises(ConnectionError, match="broker went away"):
        next(consumer)


def test_stopping_early_closes_the_producer_in_its_thread() -> None:
    closed = threading.Event()

    def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    consumer = prefetched(endless)
    assert [next(consumer) for _ in range(3)] == [0, 1, 2]
    consumer.close()
    assert closed.wait(5)
