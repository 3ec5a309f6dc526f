"""The background reader of the bronze writer: order, bounded read-ahead, errors, early stop."""

from __future__ import annotations

import sys
import threading

import pytest

from retail_assets.prefetch import prefetched


def test_items_arrive_in_order() -> None:
    assert list(prefetched(lambda: iter(range(1000)), depth=2)) == list(range(1000))


def _waiting(thread: threading.Thread) -> bool:
    """Whether `thread` is parked in a wait of the threading module (a full queue, a condition)."""
    frame = sys._current_frames().get(thread.ident or -1)
    while frame is not None:
        if frame.f_code.co_name == "wait" and frame.f_code.co_filename == threading.__file__:
            return True
        frame = frame.f_back
    return False


def test_the_producer_stays_at_most_depth_items_ahead() -> None:
    depth = 2
    requested = 0  # items the consumer has asked for (counted before it asks)
    generated: list[tuple[int, int]] = []  # (item, items requested when the producer made it)
    consumer_holds_item_0 = threading.Event()
    at_the_limit = threading.Event()
    beyond_the_limit = threading.Event()

    def numbers():
        for i in range(100):
            if i == 1:  # start from a known state: the consumer has item 0 and asks for no more
                assert consumer_holds_item_0.wait(30)
            generated.append((i, requested))
            if i == depth + 1:
                at_the_limit.set()
            if i > requested + depth:
                beyond_the_limit.set()
            yield i

    consumer = prefetched(numbers, depth=depth, name="prefetch-under-test")

    def take() -> int:
        nonlocal requested
        requested += 1
        return next(consumer)

    assert take() == 0
    consumer_holds_item_0.set()
    # It reads ahead while the consumer holds item 0: `depth` items queued and one made and
    # waiting to be queued...
    assert at_the_limit.wait(30)
    (producer,) = [t for t in threading.enumerate() if t.name == "prefetch-under-test"]
    # ...and then it stops there: its thread parks in a wait, having made nothing beyond (a
    # producer running ahead would make item depth + 2 before it ever waits).
    while not (beyond_the_limit.is_set() or _waiting(producer)):
        assert producer.is_alive()
    assert generated == [(i, 1) for i in range(depth + 2)]
    assert [take() for _ in range(99)] == list(range(1, 100))
    # At every step item i was only made once item i - depth - 1 had been asked for.
    assert not beyond_the_limit.is_set(), [(i, asked) for i, asked in generated if i > asked + depth]
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
