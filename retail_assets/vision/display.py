"""`--display 1`: a live window with boxes, track ids and fps, when the machine has a display."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TextIO

from retail_assets.vision.drawing import annotate
from retail_assets.vision.tracker import TrackedDetection
from retail_assets.vision.video_source import Frame

WINDOW = "retail-assets ingest"


class LiveDisplay:
    """Shows each processed frame; without a display it says so once and does nothing."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self.available = False
        reason = self._unavailable_reason()
        if reason is None:
            try:
                import cv2

                cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL)
                self.available = True
            except Exception as exc:  # OpenCV raises cv2.error, or a headless build lacks GUI support
                reason = f"OpenCV cannot open a window ({exc})"
        if not self.available:
            print(f"--display 1: no display available ({reason}); continuing without it", file=self._stream)

    @staticmethod
    def _unavailable_reason() -> str | None:
        if sys.platform.startswith("linux") and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        ):
            return "neither DISPLAY nor WAYLAND_DISPLAY is set"
        return None

    def show(self, frame: Frame, tracked: Sequence[TrackedDetection], fps: float) -> None:
        if not self.available:
            return
        import cv2

        cv2.imshow(WINDOW, annotate(frame.image, tracked, fps))
        cv2.waitKey(1)

    def close(self) -> None:
        if self.available:
            import cv2

            cv2.destroyWindow(WINDOW)
            self.available = False
