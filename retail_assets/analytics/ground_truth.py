"""Counts against ground truth: the same rules applied to the pipeline's tracks and to MOT boxes.

Ground-truth boxes become detections (feet = x + w/2, y + h; conf-0 rows are already left out by
`load_mot_ground_truth`; every ground-truth id is a confirmed track), then both sides go through
`build_silver` with the same geometry and rules, and the line crossings and zone occupancy are
compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from retail_assets.analytics.detections import DETECTIONS_SCHEMA
from retail_assets.analytics.geometry import WHOLE_FRAME, CameraGeometry, StoreGeometry
from retail_assets.analytics.rules import DEFAULT_RULES, Rules
from retail_assets.analytics.silver import SilverTables, build_silver
from retail_assets.vision.evaluation import GroundTruth

GT_VIDEO_KEY = "ground-truth"


def ground_truth_detections(
    gt: GroundTruth,
    store_id: str,
    camera_id: str,
    frame_w: int,
    frame_h: int,
    seconds_per_frame: float,
    start: datetime = datetime(1970, 1, 1, tzinfo=UTC),
) -> pa.Table:
    """The ground truth's counted boxes as detections of one video (frame f at start + f * spf)."""
    rows = []
    for frame, boxes in sorted(gt.counted.items()):
        ts = start + timedelta(microseconds=round(frame * seconds_per_frame * 1_000_000))
        for box in boxes:
            rows.append(
                {
                    "store_id": store_id,
                    "camera_id": camera_id,
                    "video_key": GT_VIDEO_KEY,
                    "event_id": f"gt-{frame}-{box.object_id}",
                    "track_id": box.object_id,
                    "frame_index": frame,
                    "ts": ts,
                    "x1": box.x1,
                    "y1": box.y1,
                    "x2": box.x2,
                    "y2": box.y2,
                    "frame_w": frame_w,
                    "frame_h": frame_h,
                    "confidence": 1.0,
                    "fallen": False,
                }
            )
    return pa.Table.from_pylist(rows, DETECTIONS_SCHEMA)


@dataclass(frozen=True)
class LineCounts:
    line: str
    entrance: bool
    pipeline_in: int
    pipeline_out: int
    truth_in: int
    truth_out: int


@dataclass(frozen=True)
class ZoneOccupancy:
    zone: str
    pipeline_mean: float
    pipeline_peak: int
    truth_mean: float
    truth_peak: int


@dataclass(frozen=True)
class CountComparison:
    lines: tuple[LineCounts, ...]
    zones: tuple[ZoneOccupancy, ...]  # the drawn zones, then "*" (whole frame)

    def as_dict(self) -> dict[str, object]:
        return {
            "lines": [vars(line) for line in self.lines],
            "zones": [
                {k: round(v, 4) if isinstance(v, float) else v for k, v in vars(z).items()}
                for z in self.zones
            ],
        }


def crossings_by_line(tracks: pa.Table) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for crossings in tracks.column("crossings").to_pylist():
        for crossing in crossings:
            per_line = counts.setdefault(crossing["line"], {"in": 0, "out": 0})
            per_line[crossing["direction"]] += 1
    return counts


def occupancy_by_zone(occupancy: pa.Table) -> dict[str, tuple[float, int]]:
    """zone -> (mean people per frame, most people in one frame) over the whole video."""
    found: dict[str, tuple[float, int]] = {}
    for zone in pc.unique(occupancy.column("zone")).to_pylist():
        rows = occupancy.filter(pc.equal(occupancy.column("zone"), zone))
        frames = pc.sum(rows.column("frames")).as_py() or 0
        people = pc.sum(rows.column("people_sum")).as_py() or 0
        found[zone] = (people / frames if frames else 0.0, pc.max(rows.column("people_max")).as_py() or 0)
    return found


def compare_counts(
    pipeline: pa.Table,
    truth: pa.Table,
    geometry: StoreGeometry,
    camera: CameraGeometry,
    day: date,
    rules: Rules = DEFAULT_RULES,
) -> CountComparison:
    """Crossings per line and occupancy per zone of the pipeline's detections and of the truth's."""
    ours: SilverTables = build_silver(pipeline, geometry, day, rules)
    theirs: SilverTables = build_silver(truth, geometry, day, rules)
    our_lines, their_lines = crossings_by_line(ours.tracks), crossings_by_line(theirs.tracks)
    our_zones, their_zones = occupancy_by_zone(ours.occupancy), occupancy_by_zone(theirs.occupancy)
    lines = tuple(
        LineCounts(
            line=line.name,
            entrance=line.entrance,
            pipeline_in=our_lines.get(line.name, {}).get("in", 0),
            pipeline_out=our_lines.get(line.name, {}).get("out", 0),
            truth_in=their_lines.get(line.name, {}).get("in", 0),
            truth_out=their_lines.get(line.name, {}).get("out", 0),
        )
        for line in camera.lines
    )
    zones = tuple(
        ZoneOccupancy(
            zone=name,
            pipeline_mean=our_zones.get(name, (0.0, 0))[0],
            pipeline_peak=our_zones.get(name, (0.0, 0))[1],
            truth_mean=their_zones.get(name, (0.0, 0))[0],
            truth_peak=their_zones.get(name, (0.0, 0))[1],
        )
        for name in [zone.name for zone in camera.zones] + [WHOLE_FRAME]
    )
    return CountComparison(lines=lines, zones=zones)
