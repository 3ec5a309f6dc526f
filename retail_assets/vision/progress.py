"""A small progress bar on stderr (frames done, fps, time left), redrawn at most twice a second."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    def __init__(self, total: int, label: str, stream: TextIO | None = None, width: int = 30) -> None:
        self.total = max(total, 0)
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self._start = time.monotonic()
        self._last_draw = 0.0
        self._done = 0

    def update(self, done: int) -> None:
        self._done = done
        now = time.monotonic()
        if now - self._last_draw >= 0.5:
            self._last_draw = now
            self._draw(now)

    def close(self) -> None:
        self._draw(time.monotonic())
        self.stream.write("\n")
        self.stream.flush()

    def _draw(self, now: float) -> None:
        elapsed = max(now - self._start, 1e-9)
        rate = self._done / elapsed
        if self.total:
            share = min(self._done / self.total, 1.0)
            filled = int(share * self.width)
            left = (self.total - self._done) / rate if rate > 0 else 0.0
            text = (
                f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] "
                f"{self._done}/{self.total} frames {rate:.1f} fps, {left:.0f}s left "
            )
        else:
            text = f"\r{self.label} {self._done} frames {rate:.1f} fps "
        self.stream.write(text)
        self.stream.flush()
