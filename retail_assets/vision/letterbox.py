"""How a frame enters the detector network: scaled to fit, padded to a stride multiple.

The same mapping as ultralytics' predict path (rectangular letterbox, grey padding centred), shared
by the OpenVINO detector and the INT8 calibration, which must see frames exactly as inference does.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

STRIDE = 32
PAD_VALUE = 114


@dataclass(frozen=True)
class Letterbox:
    """How a frame of one size maps into the network input: scale, then centred padding."""

    input_h: int
    input_w: int
    resized_w: int
    resized_h: int
    left: int
    top: int

    @classmethod
    def for_frame(cls, height: int, width: int, imgsz: int) -> Letterbox:
        ratio = min(imgsz / height, imgsz / width)
        resized_w, resized_h = max(round(width * ratio), 1), max(round(height * ratio), 1)
        # Pad only up to the next stride multiple (ultralytics' rectangular inference), not to a
        # square: a 4:3 frame runs at 640x480, a quarter less work than 640x640.
        pad_w = (imgsz - resized_w) % STRIDE
        pad_h = (imgsz - resized_h) % STRIDE
        return cls(
            input_h=resized_h + pad_h,
            input_w=resized_w + pad_w,
            resized_w=resized_w,
            resized_h=resized_h,
            left=round(pad_w / 2 - 0.1),
            top=round(pad_h / 2 - 0.1),
        )

    def blob(self, image: np.ndarray) -> np.ndarray:
        """BGR uint8 frame -> 1x3xHxW float32 RGB in [0, 1]."""
        height, width = image.shape[:2]
        if (width, height) != (self.resized_w, self.resized_h):
            image = cv2.resize(image, (self.resized_w, self.resized_h), interpolation=cv2.INTER_LINEAR)
        bottom = self.input_h - self.resized_h - self.top
        right = self.input_w - self.resized_w - self.left
        if self.top or bottom or self.left or right:
            image = cv2.copyMakeBorder(
                image, self.top, bottom, self.left, right, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3
            )
        return cv2.dnn.blobFromImage(image, scalefactor=1 / 255.0, swapRB=True)

    def to_frame(self, boxes: np.ndarray, height: int, width: int) -> np.ndarray:
        """Network-input xyxy boxes -> frame pixels, clipped to the frame."""
        boxes = boxes.copy()
        boxes[:, [0, 2]] = (boxes[:, [0, 2]] - self.left) * (width / self.resized_w)
        boxes[:, [1, 3]] = (boxes[:, [1, 3]] - self.top) * (height / self.resized_h)
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
        return boxes
