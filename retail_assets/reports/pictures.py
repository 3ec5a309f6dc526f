"""PNG pictures of a store-day: where people walked (heatmap) and when they came (hourly chart).

Plain functions from Arrow/NumPy inputs to PNG bytes (matplotlib's Agg renderer, no display), used
by the Dagster layer for materialization metadata and stored in the object store under the keys of
`contracts/layout.py` (`report_key`).

The heatmap counts the silver tracks' path points (feet: the bottom-centre of each box, thinned to
a few points a second) over the camera's frame: the video's preview JPEG when one exists (people in
it pixelated), else a blank frame. The camera's counting lines (with an arrow to their "in" side)
and zones are drawn on top, so a reader sees at once whether the lines sit where people walk.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

import cv2
import matplotlib

matplotlib.use("Agg")  # no display: pictures are rendered to bytes only

import matplotlib.pyplot as plt
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Point = tuple[float, float]
HEATMAP_BINS = 48  # cells along the frame's width; rows keep the frame's aspect
DPI = 100


class _Line(Protocol):
    name: str
    start: Point
    end: Point
    in_side: str  # "left" | "right" of start -> end (image coordinates, y down)
    entrance: bool


class _Zone(Protocol):
    name: str
    polygon: Sequence[Point]


class CameraDrawing(Protocol):
    """What the pictures need of a camera's geometry (`analytics.geometry.CameraGeometry`)."""

    camera_id: str
    width: int
    height: int
    lines: Sequence[_Line]
    zones: Sequence[_Zone]


def path_points(tracks: pa.Table, camera_id: str) -> np.ndarray:
    """The (x, y) path points of one camera's silver tracks, as an (n, 2) array."""
    rows = tracks.filter(pc.equal(tracks["camera_id"], camera_id)).column("path").combine_chunks()
    points = pc.list_flatten(rows)
    if len(points) == 0:
        return np.zeros((0, 2))
    xs = points.field("x").to_numpy(zero_copy_only=False)
    ys = points.field("y").to_numpy(zero_copy_only=False)
    return np.column_stack([xs, ys]).astype(float)


def _background(jpeg: bytes | None, width: int, height: int) -> np.ndarray:
    if jpeg:
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        if image is not None:
            if image.shape[1] != width or image.shape[0] != height:
                image = cv2.resize(image, (width, height))
            # Dimmed and grey, so the heat colours read clearly over it.
            grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
            return np.dstack([grey] * 3).astype(float) / 255.0 * 0.8
    return np.full((height, width, 3), 0.92)


def _in_arrow(line: _Line, length: float) -> tuple[Point, Point]:
    """From the line's middle, a short arrow pointing to its "in" side."""
    (x1, y1), (x2, y2) = line.start, line.end
    mx, my = (x1 + x2) / 2, (y1 + y2) / 2
    dx, dy = x2 - x1, y2 - y1
    norm = float(np.hypot(dx, dy)) or 1.0
    # With y pointing down, the "left" of the direction (dx, dy) as seen on screen is (dy, -dx).
    nx, ny = (dy / norm, -dx / norm) if line.in_side == "left" else (-dy / norm, dx / norm)
    return (mx, my), (mx + nx * length, my + ny * length)


def heatmap_png(
    points: np.ndarray,
    *,
    width: int,
    height: int,
    geometry: CameraDrawing | None = None,
    background_jpeg: bytes | None = None,
    title: str = "",
) -> bytes:
    """Foot positions as a heatmap over the camera's frame, lines and zones drawn; PNG bytes."""
    if width <= 0 or height <= 0:
        raise ValueError(f"frame size must be positive, got {width}x{height}")
    figure, axes = plt.subplots(figsize=(width / DPI * 1.0, height / DPI * 1.0 + 0.4), dpi=DPI)
    try:
        axes.imshow(_background(background_jpeg, width, height), extent=(0, width, height, 0))
        if len(points):
            rows = max(1, round(HEATMAP_BINS * height / width))
            counts, _, _ = np.histogram2d(
                points[:, 1], points[:, 0], bins=(rows, HEATMAP_BINS), range=((0, height), (0, width))
            )
            # A little smoothing: the path is thinned to a few points a second, so a walk leaves
            # dots a cell or two apart; the heat should read as where people walk.
            smooth = cv2.GaussianBlur(counts.astype(np.float32), (0, 0), sigmaX=1.0)
            masked = np.ma.masked_less_equal(smooth, smooth.max() * 0.05)
            shown = axes.imshow(
                masked, extent=(0, width, height, 0), cmap="inferno", alpha=0.7, interpolation="nearest"
            )
            figure.colorbar(shown, ax=axes, fraction=0.03, pad=0.01, label="foot positions (smoothed)")
        if geometry is not None:
            for zone in geometry.zones:
                polygon = np.array([*zone.polygon, zone.polygon[0]], dtype=float)
                axes.plot(polygon[:, 0], polygon[:, 1], color="#00b7ff", linewidth=2)
                axes.fill(polygon[:, 0], polygon[:, 1], color="#00b7ff", alpha=0.12)
                cx, cy = polygon[:-1].mean(axis=0)
                axes.text(cx, cy, zone.name, color="#00b7ff", ha="center", va="center", fontsize=9,
                          bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none", "pad": 1})  # fmt: skip
            for line in geometry.lines:
                (x1, y1), (x2, y2) = line.start, line.end
                colour = "#2ecc40" if line.entrance else "#ffdc00"
                axes.plot([x1, x2], [y1, y2], color=colour, linewidth=3)
                start, tip = _in_arrow(line, min(width, height) * 0.06)
                axes.annotate(
                    "", xy=tip, xytext=start, arrowprops={"arrowstyle": "->", "color": colour, "lw": 2}
                )
                axes.text(tip[0], tip[1], f"{line.name} (in)", color="black", fontsize=8,
                          bbox={"facecolor": colour, "alpha": 0.8, "edgecolor": "none", "pad": 1})  # fmt: skip
        axes.set_xlim(0, width)
        axes.set_ylim(height, 0)
        axes.set_axis_off()
        axes.set_title(title or f"{len(points)} foot positions", fontsize=10)
        return _png(figure)
    finally:
        plt.close(figure)


def footfall_chart_png(
    hours: Sequence[datetime], ins: Sequence[int], outs: Sequence[int], title: str
) -> bytes:
    """People in (up) and out (down) per hour, as bars; PNG bytes. The three sequences align."""
    if not (len(hours) == len(ins) == len(outs)):
        raise ValueError("hours, ins and outs must have the same length")
    figure, axes = plt.subplots(figsize=(8, 3.2), dpi=DPI)
    try:
        labels = [hour.strftime("%H:00") for hour in hours]
        positions = np.arange(len(hours))
        axes.bar(positions, list(ins), width=0.6, color="#2ecc40", label="in")
        axes.bar(positions, [-v for v in outs], width=0.6, color="#ff4136", label="out")
        axes.set_xlim(-1, max(len(hours), 1))
        axes.axhline(0, color="black", linewidth=0.8)
        axes.set_xticks(positions, labels, rotation=45 if len(labels) > 12 else 0, fontsize=8)
        axes.set_ylabel("people (out below 0)")
        axes.set_xlabel("hour (UTC)")
        axes.set_title(title, fontsize=10)
        if len(hours):
            axes.legend(loc="upper right", fontsize=8)
        else:
            axes.text(0.5, 0.5, "no line crossings", transform=axes.transAxes, ha="center", va="center")
        figure.tight_layout()
        return _png(figure)
    finally:
        plt.close(figure)


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return buffer.getvalue()
