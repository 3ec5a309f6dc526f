"""The naive reference: bronze -> silver -> gold one row at a time in plain Python.

It states the rules of `sql/*.sql` a second time, the obvious way (json.loads per payload, a loop
per track, a dict per frame), so a test can hold the columnar code to the same answers on the same
input, and the benchmark can show what the columnar path buys. Not used by the pipeline.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa

from retail_assets.analytics.geometry import WHOLE_FRAME, StoreGeometry
from retail_assets.analytics.gold import GOLD_SCHEMAS, GoldTables, fall_frame_uri_prefix
from retail_assets.analytics.rules import DEFAULT_RULES, Rules
from retail_assets.analytics.silver import SILVER_OCCUPANCY_SCHEMA, SILVER_TRACKS_SCHEMA, SilverTables
from retail_assets.contracts.store_day import StoreDay

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MINUTE_US = 60_000_000
_HOUR_US = 3_600_000_000


def _us(ts: datetime) -> int:
    delta = ts - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _ts(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def naive_detections(bronze: pa.Table) -> list[dict]:
    """Bronze rows -> detection dicts, one json.loads per payload."""
    rows = []
    for payload, video_key, event_id in zip(
        bronze.column("payload").to_pylist(),
        bronze.column("video_key").to_pylist(),
        bronze.column("event_id").to_pylist(),
        strict=True,
    ):
        event = json.loads(payload)
        bbox = event["bbox"]
        rows.append(
            {
                "store_id": event["store_id"],
                "camera_id": event["camera_id"],
                "video_key": video_key,
                "event_id": event_id,
                "track_id": event["track_id"],
                "frame_index": event["frame_index"],
                "ts_us": _us(datetime.fromisoformat(event["ts"])),
                "x1": float(bbox["x1"]),
                "x2": float(bbox["x2"]),
                "y2": float(bbox["y2"]),
                "confidence": float(event["confidence"]),
                "fallen": (event.get("attributes") or {}).get("posture") == "fallen",
            }
        )
    return rows


def naive_detections_from_table(detections: pa.Table) -> list[dict]:
    """DETECTIONS_SCHEMA rows (e.g. synthetic or ground truth) as the naive code's dicts."""
    rows = detections.to_pylist()
    for row in rows:
        row["ts_us"] = _us(row.pop("ts"))
    return rows


def _inside(x: float, y: float, polygon: tuple[tuple[float, float], ...]) -> bool:
    xs = [p[0] for p in polygon]
    ys = [p[1] for p in polygon]
    if not (min(xs) <= x <= max(xs) and min(ys) <= y <= max(ys)):
        return False
    crossings = 0
    n = len(polygon)
    for i in range(n):
        (ax, ay), (bx, by) = polygon[i], polygon[(i + 1) % n]
        if (ay > y) != (by > y) and x < (bx - ax) * (y - ay) / (by - ay) + ax:
            crossings += 1
    return crossings % 2 == 1


def _crossings(observations: list[dict], camera, rules: Rules) -> list[dict]:
    found = []
    for line in camera.lines if camera else ():
        (sx, sy), (ex, ey) = line.start, line.end
        len2 = (ex - sx) * (ex - sx) + (ey - sy) * (ey - sy)
        length = len2**0.5
        margin_t = rules.line_margin_px / length
        runs: list[dict] = []
        for obs in observations:
            ax, ay = obs["ax"], obs["ay"]
            t = ((ax - sx) * (ex - sx) + (ay - sy) * (ey - sy)) / len2
            inward = float(line.in_sign) * ((ex - sx) * (ay - sy) - (ey - sy) * (ax - sx)) / length
            if not (-margin_t <= t <= 1 + margin_t) or abs(inward) <= rules.dead_band_px:
                continue
            side = 1 if inward > 0 else -1
            if runs and runs[-1]["side"] == side:
                runs[-1]["n"] += 1
                runs[-1]["reach"] = max(runs[-1]["reach"], abs(inward))
            else:
                runs.append({"side": side, "n": 1, "reach": abs(inward), "ts_us": obs["ts_us"]})
        state = None
        for i, run in enumerate(runs):
            confirmed = (
                i == 0 or run["n"] >= rules.confirm_observations or run["reach"] >= rules.confirm_distance_px
            )
            if not confirmed:
                continue
            if state is not None and run["side"] != state:
                found.append(
                    {
                        "line": line.name,
                        "direction": "in" if run["side"] == 1 else "out",
                        "ts_us": run["ts_us"],
                    }
                )
            state = run["side"]
    found.sort(key=lambda c: (c["ts_us"], c["line"]))
    return [{"line": c["line"], "direction": c["direction"], "ts": _ts(c["ts_us"])} for c in found]


def _episodes(times: list[int], gap_us: int) -> list[list[int]]:
    """Indexes of `times` grouped into runs whose neighbours are at most `gap_us` apart."""
    groups: list[list[int]] = []
    for i, ts in enumerate(times):
        if groups and ts - times[groups[-1][-1]] <= gap_us:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def naive_silver(
    rows: list[dict], geometry: StoreGeometry | None, store_day: StoreDay | date, rules: Rules = DEFAULT_RULES
) -> SilverTables:
    event_date = store_day.day if isinstance(store_day, StoreDay) else store_day
    version = geometry.version if geometry else ""
    for row in rows:
        row["ax"] = (row["x1"] + row["x2"]) / 2
        row["ay"] = row["y2"]
    by_track: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for row in rows:
        if row["track_id"] is not None:
            by_track[(row["video_key"], row["track_id"])].append(row)
    # people per (video, frame, zone)
    presence: dict[tuple[str, int, str], set[int]] = defaultdict(set)
    tracks_out = []
    for (video_key, track_id), obs in sorted(by_track.items()):
        obs.sort(key=lambda r: (r["frame_index"], r["event_id"]))
        camera = geometry.camera(obs[0]["camera_id"]) if geometry else None
        times = [o["ts_us"] for o in obs]
        length = 0.0
        for a, b in itertools.pairwise(obs):
            length += math.sqrt(
                (b["ax"] - a["ax"]) * (b["ax"] - a["ax"]) + (b["ay"] - a["ay"]) * (b["ay"] - a["ay"])
            )
        path, buckets = [], set()
        for o in obs:
            bucket = o["ts_us"] // rules.path_step_us
            if bucket not in buckets:
                buckets.add(bucket)
                path.append({"ts": _ts(o["ts_us"]), "x": o["ax"], "y": o["ay"]})
        path.sort(key=lambda p: p["ts"])
        visits = []
        for zone in camera.zones if camera else ():
            inside = [o for o in obs if _inside(o["ax"], o["ay"], zone.polygon)]
            for o in inside:
                presence[(video_key, o["frame_index"], zone.name)].add(track_id)
            for group in _episodes([o["ts_us"] for o in inside], rules.zone_grace_us):
                enter, leave = inside[group[0]]["ts_us"], inside[group[-1]]["ts_us"]
                seconds = (leave - enter) / 1000000.0
                if seconds >= rules.min_visit_s:
                    visits.append(
                        {"zone": zone.name, "enter_ts": _ts(enter), "exit_ts": _ts(leave), "seconds": seconds}
                    )
        visits.sort(key=lambda v: (v["enter_ts"], v["zone"]))
        for o in obs:
            presence[(video_key, o["frame_index"], WHOLE_FRAME)].add(track_id)
        fallen = [o for o in obs if o["fallen"]]
        falls = []
        for group in _episodes([o["ts_us"] for o in fallen], rules.fall_gap_us):
            members = [fallen[i] for i in group]
            falls.append(
                {
                    "start_ts": _ts(members[0]["ts_us"]),
                    "end_ts": _ts(members[-1]["ts_us"]),
                    "seconds": (members[-1]["ts_us"] - members[0]["ts_us"]) / 1000000.0,
                    "confidence": sum(m["confidence"] for m in members) / len(members),
                    "start_event_id": members[0]["event_id"],
                    "start_frame_index": members[0]["frame_index"],
                }
            )
        tracks_out.append(
            {
                "track_uid": f"{video_key}#{track_id}",
                "store_id": obs[0]["store_id"],
                "camera_id": obs[0]["camera_id"],
                "event_date": event_date,
                "video_key": video_key,
                "track_id": track_id,
                "first_ts": _ts(min(times)),
                "last_ts": _ts(max(times)),
                "seconds_seen": (max(times) - min(times)) / 1000000.0,
                "detections": len(obs),
                "entry_x": obs[0]["ax"],
                "entry_y": obs[0]["ay"],
                "exit_x": obs[-1]["ax"],
                "exit_y": obs[-1]["ay"],
                "path_length_px": length,
                "path": path,
                "crossings": _crossings(obs, camera, rules),
                "zone_visits": visits,
                "fallen_seconds": sum(f["seconds"] for f in falls),
                "falls": falls,
                "geometry_version": version,
            }
        )
    return SilverTables(
        tracks=pa.Table.from_pylist(tracks_out, SILVER_TRACKS_SCHEMA),
        occupancy=pa.Table.from_pylist(
            _occupancy(rows, geometry, presence, event_date), SILVER_OCCUPANCY_SCHEMA
        ),
    )


def _occupancy(
    rows: list[dict], geometry: StoreGeometry | None, presence: dict, event_date: date
) -> list[dict]:
    seen: dict[str, dict[int, int]] = defaultdict(dict)  # video -> frame -> ts_us (the earliest)
    video_info: dict[str, tuple[str, str]] = {}
    for row in rows:
        frames = seen[row["video_key"]]
        frames[row["frame_index"]] = min(frames.get(row["frame_index"], row["ts_us"]), row["ts_us"])
        video_info.setdefault(row["video_key"], (row["store_id"], row["camera_id"]))
    out = []
    for video_key in sorted(seen):
        frames = seen[video_key]
        store_id, camera_id = video_info[video_key]
        ordered = sorted(frames)
        f0, f1 = ordered[0], ordered[-1]
        t0, t1 = frames[f0], frames[f1]
        stride = min((b - a for a, b in itertools.pairwise(ordered)), default=1)
        grid = set(range(f0, f1 + 1, stride)) | set(ordered)
        camera = geometry.camera(camera_id) if geometry else None
        zones = [WHOLE_FRAME] + [z.name for z in (camera.zones if camera else ())]
        minutes: dict[tuple[str, int], list[int]] = defaultdict(list)
        for frame in grid:
            ts_us = frames[frame] if frame in frames else t0 + (frame - f0) * (t1 - t0) // (f1 - f0)
            minute = ts_us - ts_us % _MINUTE_US
            for zone in zones:
                minutes[(zone, minute)].append(len(presence.get((video_key, frame, zone), ())))
        for (zone, minute), people in sorted(minutes.items()):
            out.append(
                {
                    "store_id": store_id,
                    "camera_id": camera_id,
                    "event_date": event_date,
                    "video_key": video_key,
                    "zone": zone,
                    "minute": _ts(minute),
                    "frames": len(people),
                    "people_sum": sum(people),
                    "people_max": max(people),
                }
            )
    return out


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    position = p * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _hour(ts: datetime) -> datetime:
    return _ts(_us(ts) - _us(ts) % _HOUR_US)


def naive_gold(
    tracks: pa.Table,
    occupancy: pa.Table,
    store_day: StoreDay,
    geometry: StoreGeometry | None,
    frames_bucket: str,
) -> GoldTables:
    track_rows = tracks.to_pylist()
    footfall: dict[tuple, dict[str, int]] = defaultdict(lambda: {"in": 0, "out": 0})
    dwell: dict[tuple, list[float]] = defaultdict(list)
    alerts = []
    prefix = fall_frame_uri_prefix(frames_bucket)
    for t in track_rows:
        base = (t["store_id"], t["camera_id"], t["event_date"])
        for c in t["crossings"]:
            footfall[(*base, c["line"], _hour(c["ts"]))][c["direction"]] += 1
        for v in t["zone_visits"]:
            dwell[(*base, v["zone"], _hour(v["enter_ts"]))].append(v["seconds"])
        for f in t["falls"]:
            alerts.append(
                {
                    **dict(zip(("store_id", "camera_id", "event_date"), base, strict=True)),
                    "video_key": t["video_key"],
                    "track_uid": t["track_uid"],
                    "start_ts": f["start_ts"],
                    "seconds": f["seconds"],
                    "confidence": f["confidence"],
                    "start_event_id": f["start_event_id"],
                    "frame_uri": prefix + t["video_key"] + "/" + f["start_event_id"] + ".jpg",
                }
            )
    keys = ("store_id", "camera_id", "event_date")
    footfall_rows = [
        {**dict(zip((*keys, "line", "hour"), k, strict=True)), "people_in": v["in"], "people_out": v["out"]}
        for k, v in sorted(footfall.items())
    ]
    dwell_rows = [
        {
            **dict(zip((*keys, "zone", "hour"), k, strict=True)),
            "visits": len(v),
            "median_seconds": _percentile(v, 0.5),
            "p90_seconds": _percentile(v, 0.9),
        }
        for k, v in sorted(dwell.items())
    ]
    occ: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])  # frames, people_sum, people_max
    for row in occupancy.to_pylist():
        entry = occ[(row["store_id"], row["camera_id"], row["event_date"], row["zone"], row["minute"])]
        entry[0] += row["frames"]
        entry[1] += row["people_sum"]
        entry[2] = max(entry[2], row["people_max"])
    occupancy_rows = [
        {
            **dict(zip((*keys, "zone", "minute"), k, strict=True)),
            "mean_people": v[1] / v[0],
            "max_people": v[2],
            "frames": v[0],
        }
        for k, v in sorted(occ.items())
    ]
    entrances = {
        (camera.camera_id, line.name)
        for camera in (geometry.cameras.values() if geometry else ())
        for line in camera.lines
        if line.entrance
    }
    visitors = {"in": 0, "out": 0}
    day_visits: dict[tuple[str, str], list[float]] = defaultdict(list)
    for t in track_rows:
        for c in t["crossings"]:
            if (t["camera_id"], c["line"]) in entrances:
                visitors[c["direction"]] += 1
        for v in t["zone_visits"]:
            day_visits[(t["camera_id"], v["zone"])].append(v["seconds"])
    store_minutes: dict[datetime, int] = defaultdict(int)
    for row in occupancy_rows:
        if row["zone"] == WHOLE_FRAME:
            store_minutes[row["minute"]] += row["max_people"]
    peak = max(store_minutes.values(), default=0)
    daily = {
        "store_id": store_day.store_id,
        "event_date": store_day.day,
        "tracks": len(track_rows),
        "visitors_in": visitors["in"],
        "visitors_out": visitors["out"],
        "peak_occupancy": peak,
        "peak_minute": min((m for m, p in store_minutes.items() if p == peak), default=None),
        "median_dwell": [
            {"camera_id": cam, "zone": zone, "visits": len(v), "median_seconds": _percentile(v, 0.5)}
            for (cam, zone), v in sorted(day_visits.items())
        ],
        "falls": len(alerts),
    }
    alerts.sort(key=lambda a: (a["start_ts"], a["track_uid"]))
    tables = {
        "gold_footfall_hourly": footfall_rows,
        "gold_occupancy_minutely": occupancy_rows,
        "gold_dwell_hourly": dwell_rows,
        "gold_fall_alerts": alerts,
        "gold_store_daily": [daily],
    }
    return GoldTables(
        **{
            name[len("gold_") :]: pa.Table.from_pylist(rows, GOLD_SCHEMAS[name])
            for name, rows in tables.items()
        }
    )
