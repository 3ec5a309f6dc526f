"""Camera geometry: the counting lines and zones a store operator draws on each camera's frame.

One YAML document per store (`<store_id>.yaml`) holds dated versions; a store-day is computed with
the latest version whose `valid_from` is on or before the day, so moving a camera (a new version)
never rewrites the days before it. Documents live under the location `RVA_GEOMETRY_URI` names
(`s3://bucket/prefix/` or a local directory; default `s3://<detections bucket>/_geometry/`).

Validation is in two steps: the JSON Schema `geometry.schema.json` (shape, types, unknown fields)
and the semantic checks a schema cannot express (zero-length lines, polygons that cross
themselves, coordinates outside the declared frame, repeated names or dates). Every problem is
reported, each naming the document, the store, the camera and the field.

Coordinates are pixels of the camera's frame, x to the right and y DOWN. A line is directed from
`start` to `end`; `in_side` says which side is "inside": `left` is the side on your left hand when
you walk from `start` to `end` as the line is drawn on the image.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from retail_assets.errors import InputError, SetupError

Point = tuple[float, float]
WHOLE_FRAME = "*"  # the occupancy "zone" that is the whole frame; no drawn zone may use the name
SCHEMA_FILE = "geometry.schema.json"
DOCUMENT_SUFFIX = ".yaml"


class GeometryError(InputError):
    """A geometry document is invalid; the message names the source, store, camera and field."""


@dataclass(frozen=True)
class CountingLine:
    name: str
    start: Point
    end: Point
    in_side: Literal["left", "right"]
    entrance: bool = False

    @property
    def in_sign(self) -> int:
        """Sign of the cross product (end - start) x (p - start) for a point p on the in side.

        With y down, a point on the left of the walk start -> end has a negative cross product."""
        return -1 if self.in_side == "left" else 1


@dataclass(frozen=True)
class Zone:
    name: str
    polygon: tuple[Point, ...]


@dataclass(frozen=True)
class CameraGeometry:
    camera_id: str
    width: int
    height: int
    lines: tuple[CountingLine, ...] = ()
    zones: tuple[Zone, ...] = ()


@dataclass(frozen=True)
class StoreGeometry:
    store_id: str
    valid_from: date
    cameras: Mapping[str, CameraGeometry] = field(default_factory=dict)

    def camera(self, camera_id: str) -> CameraGeometry | None:
        return self.cameras.get(camera_id)

    @property
    def version(self) -> str:
        """The version's name as silver rows record it: its `valid_from` date."""
        return self.valid_from.isoformat()

    def fingerprint(self) -> str:
        """A stable hash of the version's content (key order and number formatting do not matter)."""
        text = json.dumps(_version_dict(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class GeometryDocument:
    store_id: str
    source: str
    versions: tuple[StoreGeometry, ...]  # sorted by valid_from

    def for_day(self, day: date) -> StoreGeometry | None:
        """The latest version with `valid_from <= day`; None before the first one."""
        chosen = None
        for version in self.versions:
            if version.valid_from <= day:
                chosen = version
        return chosen


def _version_dict(version: StoreGeometry) -> dict[str, Any]:
    return {
        "valid_from": version.valid_from.isoformat(),
        "cameras": {
            cid: {
                "width": cam.width,
                "height": cam.height,
                "lines": [
                    {
                        "name": line.name,
                        "start": [float(v) for v in line.start],
                        "end": [float(v) for v in line.end],
                        "in_side": line.in_side,
                        "entrance": line.entrance,
                    }
                    for line in cam.lines
                ],
                "zones": [
                    {"name": z.name, "polygon": [[float(v) for v in p] for p in z.polygon]} for z in cam.zones
                ],
            }
            for cid, cam in sorted(version.cameras.items())
        },
    }


def document_dict(document: GeometryDocument) -> dict[str, Any]:
    """The document as plain data (what `parse_geometry` accepts, dumped as YAML or JSON)."""
    return {"store_id": document.store_id, "versions": [_version_dict(v) for v in document.versions]}


# --- parsing and validation ---------------------------------------------------------------------


@cache
def geometry_schema() -> dict[str, Any]:
    return json.loads(resources.files("retail_assets.analytics").joinpath(SCHEMA_FILE).read_text())


class _Loader(yaml.SafeLoader):
    """YAML without implicit timestamps: `valid_from: 2026-02-30` stays text, so the date check
    (not the YAML parser) reports it with its place."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _plain(value: Any) -> Any:
    """Mapping keys as text (a camera named `1` is the id "1")."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class _Where:
    """Names the place of a problem: source, store, camera, field."""

    def __init__(self, source: str, data: Any) -> None:
        self.source = source
        self.store = data.get("store_id") if isinstance(data, dict) else None

    def __call__(self, path: list[Any], message: str, data: Any = None) -> str:
        camera = None
        field_parts: list[str] = []
        version = None
        parts = list(path)
        if len(parts) >= 2 and parts[0] == "versions" and isinstance(parts[1], int):
            version = parts[1]
            valid_from = _get(data, ["versions", version, "valid_from"])
            version = f"valid_from {valid_from}" if isinstance(valid_from, str) else f"versions[{version}]"
            parts = parts[2:]
            if len(parts) >= 2 and parts[0] == "cameras":
                camera = parts[1]
                parts = parts[2:]
        # lines[0].start -> lines[0]('door').start: the item's name helps find it in a long file
        absolute = list(path[: len(path) - len(parts)])
        for part in parts:
            absolute.append(part)
            if isinstance(part, int) and field_parts:
                field_parts[-1] += f"[{part}]"
                name = _get(data, [*absolute, "name"])
                if isinstance(name, str) and len(absolute) == 6:  # a line or zone of a camera
                    field_parts[-1] += f"({name!r})"
            else:
                field_parts.append(str(part))
        store = f"store {self.store}" if isinstance(self.store, str) else "store ?"
        where = [f"geometry {self.source}", store]
        if version:
            where.append(version)
        if camera is not None:
            where.append(f"camera {camera}")
        where.append(f"field {'.'.join(field_parts) if field_parts else '(document)'}")
        return f"{', '.join(where)}: {message}"


def _get(data: Any, path: list[Any]) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def parse_geometry(text: str, source: str) -> GeometryDocument:
    """YAML text -> validated document; GeometryError lists every problem, each with its place."""
    try:
        raw = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise GeometryError(f"geometry {source}: not valid YAML ({exc})") from None
    data = _plain(raw)
    where = _Where(source, data)
    problems = _schema_problems(data, where)
    if problems:
        raise GeometryError("\n".join(problems))
    problems = list(_semantic_problems(data, where))
    if problems:
        raise GeometryError("\n".join(problems))
    return _build(data, source)


def _schema_problems(data: Any, where: _Where) -> list[str]:
    import jsonschema

    validator = jsonschema.Draft202012Validator(geometry_schema())
    problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        problems.append(where(list(error.absolute_path), _schema_message(error), data))
    return problems


def _schema_message(error: Any) -> str:
    if error.validator == "required":
        return error.message.replace("is a required property", "is required")
    if error.validator == "minItems" and isinstance(error.instance, list):
        return f"has {len(error.instance)} item(s), needs at least {error.validator_value}"
    if error.validator == "maxItems" and isinstance(error.instance, list):
        return f"has {len(error.instance)} items, at most {error.validator_value} allowed"
    return error.message


def _semantic_problems(data: dict[str, Any], where: _Where) -> Iterator[str]:
    seen_dates: dict[str, int] = {}
    for vi, version in enumerate(data["versions"]):
        text = version["valid_from"]
        try:
            date.fromisoformat(text)
        except ValueError:
            yield where(["versions", vi, "valid_from"], f"{text!r} is not a calendar date (YYYY-MM-DD)", data)
        if text in seen_dates:
            yield where(
                ["versions", vi, "valid_from"], f"{text} repeats versions[{seen_dates[text]}]'s date", data
            )
        seen_dates.setdefault(text, vi)
        for camera_id, camera in version["cameras"].items():
            base = ["versions", vi, "cameras", camera_id]
            width, height = camera["width"], camera["height"]

            def outside(point: list[float], w: int = width, h: int = height) -> bool:
                return not (0 <= point[0] <= w and 0 <= point[1] <= h)

            names: dict[str, int] = {}
            for li, line in enumerate(camera.get("lines", [])):
                path = [*base, "lines", li]
                if line["name"] in names:
                    yield where([*path, "name"], f"line name {line['name']!r} is used twice", data)
                names.setdefault(line["name"], li)
                for end in ("start", "end"):
                    if outside(line[end]):
                        yield where(
                            [*path, end],
                            f"point {line[end]} is outside the {width}x{height} frame",
                            data,
                        )
                if line["start"] == line["end"]:
                    yield where(
                        path, "the line has one point (start == end): it needs two distinct points", data
                    )
            zone_names: dict[str, int] = {}
            for zi, zone in enumerate(camera.get("zones", [])):
                path = [*base, "zones", zi]
                if zone["name"] == WHOLE_FRAME:
                    yield where([*path, "name"], f"{WHOLE_FRAME!r} is reserved for the whole frame", data)
                if zone["name"] in zone_names:
                    yield where([*path, "name"], f"zone name {zone['name']!r} is used twice", data)
                zone_names.setdefault(zone["name"], zi)
                polygon = [tuple(p) for p in zone["polygon"]]
                for pi, point in enumerate(zone["polygon"]):
                    if outside(point):
                        yield where(
                            [*path, "polygon", pi],
                            f"point {point} is outside the {width}x{height} frame",
                            data,
                        )
                problem = polygon_problem(polygon)
                if problem:
                    yield where([*path, "polygon"], problem, data)


def polygon_problem(polygon: list[Point] | tuple[Point, ...]) -> str | None:
    """Why `polygon` is not a simple polygon with an area, or None."""
    points = list(polygon)
    if len(points) < 3:
        return f"a zone needs at least 3 points, has {len(points)}"
    if len(set(points)) != len(points):
        return "a point repeats (a zone's outline must not visit a point twice)"
    n = len(points)
    edges = [(points[i], points[(i + 1) % n]) for i in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            if j == i + 1 or (i == 0 and j == n - 1):
                continue  # neighbouring edges share a point
            if _segments_intersect(*edges[i], *edges[j]):
                return f"the outline crosses itself (edge {i} and edge {j})"
    area = sum(
        points[i][0] * points[(i + 1) % len(points)][1] - points[(i + 1) % len(points)][0] * points[i][1]
        for i in range(len(points))
    )
    if area == 0:
        return "the points are on one line: the zone has no area"
    return None


def _orientation(a: Point, b: Point, c: Point) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _on_segment(a: Point, b: Point, c: Point) -> bool:
    return min(a[0], b[0]) <= c[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= c[1] <= max(a[1], b[1])


def _segments_intersect(p1: Point, p2: Point, q1: Point, q2: Point) -> bool:
    d1, d2 = _orientation(q1, q2, p1), _orientation(q1, q2, p2)
    d3, d4 = _orientation(p1, p2, q1), _orientation(p1, p2, q2)
    if ((d1 > 0 > d2) or (d1 < 0 < d2)) and ((d3 > 0 > d4) or (d3 < 0 < d4)):
        return True
    return (
        (d1 == 0 and _on_segment(q1, q2, p1))
        or (d2 == 0 and _on_segment(q1, q2, p2))
        or (d3 == 0 and _on_segment(p1, p2, q1))
        or (d4 == 0 and _on_segment(p1, p2, q2))
    )


def _point(value: list[float]) -> Point:
    return (float(value[0]), float(value[1]))


def _build(data: dict[str, Any], source: str) -> GeometryDocument:
    versions = []
    for version in data["versions"]:
        cameras = {}
        for camera_id, camera in version["cameras"].items():
            cameras[camera_id] = CameraGeometry(
                camera_id=camera_id,
                width=int(camera["width"]),
                height=int(camera["height"]),
                lines=tuple(
                    CountingLine(
                        name=line["name"],
                        start=_point(line["start"]),
                        end=_point(line["end"]),
                        in_side=line["in_side"],
                        entrance=bool(line.get("entrance", False)),
                    )
                    for line in camera.get("lines", [])
                ),
                zones=tuple(
                    Zone(name=zone["name"], polygon=tuple(_point(p) for p in zone["polygon"]))
                    for zone in camera.get("zones", [])
                ),
            )
        versions.append(
            StoreGeometry(
                store_id=data["store_id"],
                valid_from=date.fromisoformat(version["valid_from"]),
                cameras=cameras,
            )
        )
    versions.sort(key=lambda v: v.valid_from)
    return GeometryDocument(store_id=data["store_id"], source=source, versions=tuple(versions))


def shipped_geometry_text(store_id: str) -> str | None:
    """The text of the geometry the package ships for `store_id` (`geometries/<store_id>.yaml`:
    the demo store's, drawn for OpenCV's vtest.avi), or None."""
    document = resources.files("retail_assets.analytics").joinpath(
        "geometries", f"{store_id}{DOCUMENT_SUFFIX}"
    )
    return document.read_text(encoding="utf-8") if document.is_file() else None


def read_geometry_file(path: str | Path) -> GeometryDocument:
    """A local YAML file -> validated document (GeometryError / InputError name the file)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"geometry {path}: file does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"geometry {path}: cannot be read ({exc})") from None
    return parse_geometry(text, str(path))


# --- where documents live -----------------------------------------------------------------------


def _split_location(location: str) -> tuple[str | None, str]:
    """(bucket, key prefix ending in '/') for s3:// locations, (None, directory) for local ones."""
    if location.startswith("s3://"):
        bucket, _, prefix = location[len("s3://") :].partition("/")
        if not bucket:
            raise InputError(f"RVA_GEOMETRY_URI {location!r}: an s3:// location needs a bucket")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return bucket, prefix
    return None, location


def document_uri(location: str, store_id: str) -> str:
    bucket, prefix = _split_location(location)
    name = f"{store_id}{DOCUMENT_SUFFIX}"
    return f"s3://{bucket}/{prefix}{name}" if bucket else str(Path(prefix) / name)


def _client(s3_client: Any) -> Any:
    if s3_client is not None:
        return s3_client
    from retail_assets.objectstore import make_s3_client
    from retail_assets.settings import Settings

    settings = Settings.from_env()
    return make_s3_client(settings.s3_endpoint_url, settings.s3_region)


def _read_text(location: str, store_id: str, s3_client: Any) -> str | None:
    from botocore.exceptions import ClientError

    from retail_assets.objectstore import is_not_found

    bucket, prefix = _split_location(location)
    if bucket is None:
        path = Path(prefix) / f"{store_id}{DOCUMENT_SUFFIX}"
        return path.read_text(encoding="utf-8") if path.is_file() else None
    try:
        body = _client(s3_client).get_object(Bucket=bucket, Key=f"{prefix}{store_id}{DOCUMENT_SUFFIX}")
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise _s3_error(document_uri(location, store_id), "read", exc) from None
    return body["Body"].read().decode("utf-8")


def _s3_error(uri: str, action: str, exc: Exception) -> SetupError:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
    return SetupError(
        f"geometry {uri}: S3 refused to {action} it ({code}); check RVA_GEOMETRY_URI and the S3 keys"
    )


def load_geometry(location: str, store_id: str, s3_client: Any = None) -> GeometryDocument | None:
    """The store's validated document from `location`, or None when the store has none."""
    text = _read_text(location, store_id, s3_client)
    if text is None:
        return None
    uri = document_uri(location, store_id)
    document = parse_geometry(text, uri)
    if document.store_id != store_id:
        raise GeometryError(
            f"geometry {uri}, store {document.store_id}, field store_id: the document is named for "
            f"store {store_id} but declares store {document.store_id}"
        )
    return document


def list_geometry_versions(location: str, s3_client: Any = None) -> dict[str, str]:
    """store_id -> sha256 of its document's bytes, for every `<store_id>.yaml` under `location`.

    A change of any document changes its hash: Dagster's observable source uses it as the data
    version, so a new geometry makes the store's downstream assets stale."""
    bucket, prefix = _split_location(location)
    found: dict[str, str] = {}
    if bucket is None:
        directory = Path(prefix)
        if not directory.is_dir():
            return found
        for path in sorted(directory.glob(f"*{DOCUMENT_SUFFIX}")):
            found[path.name[: -len(DOCUMENT_SUFFIX)]] = hashlib.sha256(path.read_bytes()).hexdigest()
        return found
    from retail_assets.objectstore import iter_objects

    client = _client(s3_client)
    for item in iter_objects(client, bucket, prefix):
        name = item["Key"][len(prefix) :]
        if "/" in name or not name.endswith(DOCUMENT_SUFFIX):
            continue
        body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        found[name[: -len(DOCUMENT_SUFFIX)]] = hashlib.sha256(body).hexdigest()
    return found


def put_geometry(location: str, document: GeometryDocument, text: str, s3_client: Any = None) -> str:
    """Store the validated document's text as `<store_id>.yaml` under `location`; returns its URI."""
    bucket, prefix = _split_location(location)
    uri = document_uri(location, document.store_id)
    if bucket is None:
        Path(prefix).mkdir(parents=True, exist_ok=True)
        Path(uri).write_text(text, encoding="utf-8")
        return uri
    from botocore.exceptions import ClientError

    try:
        _client(s3_client).put_object(
            Bucket=bucket,
            Key=f"{prefix}{document.store_id}{DOCUMENT_SUFFIX}",
            Body=text.encode("utf-8"),
            ContentType="application/yaml",
        )
    except ClientError as exc:
        raise _s3_error(uri, "write", exc) from None
    return uri


def line_length(line: CountingLine) -> float:
    return math.hypot(line.end[0] - line.start[0], line.end[1] - line.start[1])
