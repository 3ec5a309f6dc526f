"""Every setting of the pipeline, read only from the environment, in one place.

The same names serve the embedded stack (printed by `retail-assets stack env`) and production
(`.env.example`). Iceberg is configured through pyiceberg's own `PYICEBERG_CATALOG__<NAME>__*`
variables, so only the catalog name lives here. S3 keys are not read here: boto3 and the Dagster
resources take them from the environment when a client is made. The one secret read here, the
Pulsar token, is kept out of `repr` so a printed or logged `Settings` never shows it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from retail_assets.errors import InputError, SetupError

DEFAULT_SERVICE_URL = "pulsar://127.0.0.1:6650"
DEFAULT_TOPIC = "persistent://retail/metadata/events"
DEFAULT_CATALOG = "lakehouse"
DEFAULT_NAMESPACE = "rva"
DEFAULT_START_DATE = "2026-01-01"
DEFAULT_TIMEZONE = "UTC"
# People are pixelated in the images Dagster stores and shows (previews) unless switched off:
# those images reach every user of the UI, who need the boxes, not the faces.
DEFAULT_BLUR_PEOPLE = True
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


GEOMETRY_PREFIX = "_geometry/"


def default_geometry_uri(detections_bucket: str) -> str:
    """Where geometry documents live when RVA_GEOMETRY_URI is unset: beside the detections."""
    return f"s3://{detections_bucket}/{GEOMETRY_PREFIX}"


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return value if value else default


@dataclass(frozen=True)
class Settings:
    s3_endpoint_url: str | None
    s3_region: str
    videos_bucket: str
    detections_bucket: str
    pulsar_service_url: str
    pulsar_topic: str
    catalog_name: str
    namespace: str
    start_date: date  # the first store-day partition
    store_timezone: str  # IANA name; a store-day and a key's HHMMSS are read in it
    blur_people: bool = DEFAULT_BLUR_PEOPLE  # pixelate people in stored/shown preview images
    require_pulsar_auth: bool = False  # production: no Pulsar client without a token
    pulsar_auth_token: str | None = field(default=None, repr=False)
    # Where the stores' camera geometry documents live: s3://bucket/prefix/ or a local directory.
    geometry_uri: str = ""  # "" = s3://<detections_bucket>/_geometry/ (see geometry_location)

    @property
    def geometry_location(self) -> str:
        return self.geometry_uri or default_geometry_uri(self.detections_bucket)

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            # boto3 reads AWS_ENDPOINT_URL_S3 natively; we read it too so errors can name it.
            s3_endpoint_url=os.environ.get("AWS_ENDPOINT_URL_S3")
            or os.environ.get("AWS_ENDPOINT_URL")
            or None,
            s3_region=_env("AWS_REGION", "us-east-1"),
            videos_bucket=_env("RVA_VIDEOS_BUCKET", "videos"),
            detections_bucket=_env("RVA_DETECTIONS_BUCKET", "detections"),
            pulsar_service_url=_env("PULSAR_SERVICE_URL", DEFAULT_SERVICE_URL),
            pulsar_topic=_env("PULSAR_TOPIC", DEFAULT_TOPIC),
            catalog_name=_env("RVA_CATALOG", DEFAULT_CATALOG),
            namespace=_env("RVA_NAMESPACE", DEFAULT_NAMESPACE),
            start_date=_start_date(_env("RVA_START_DATE", DEFAULT_START_DATE)),
            store_timezone=_timezone(_env("RVA_STORE_TIMEZONE", DEFAULT_TIMEZONE)),
            blur_people=_flag("RVA_BLUR_PEOPLE", DEFAULT_BLUR_PEOPLE),
            require_pulsar_auth=require_pulsar_auth(),
            pulsar_auth_token=pulsar_auth_token(),
            geometry_uri=os.environ.get("RVA_GEOMETRY_URI", "").strip(),
        )


def require_pulsar_auth() -> bool:
    """RVA_REQUIRE_PULSAR_AUTH: true where the broker checks tokens (production), so a missing
    token fails before any work instead of as a refused connection part-way through a run."""
    return _flag("RVA_REQUIRE_PULSAR_AUTH", False)


def pulsar_auth_token() -> str | None:
    """The Pulsar token from PULSAR_AUTH_TOKEN, else from the file PULSAR_AUTH_TOKEN_FILE names.

    A file (a Docker/Kubernetes secret) keeps the token out of the process environment; its
    surrounding whitespace (the trailing newline of `echo token > file`) is not part of it.
    """
    token = os.environ.get("PULSAR_AUTH_TOKEN", "").strip()
    if token:
        return token
    path = os.environ.get("PULSAR_AUTH_TOKEN_FILE", "").strip()
    if not path:
        return None
    return read_token_file(path, "PULSAR_AUTH_TOKEN_FILE")


def read_token_file(path: str, setting: str) -> str:
    """The token held in `path`; SetupError naming `setting` (never the content) when unusable."""
    try:
        token = Path(path).read_text().strip()
    except OSError as exc:
        raise SetupError(f"{setting}={path} cannot be read ({exc.strerror or exc})") from None
    if not token:
        raise SetupError(f"{setting}={path} is empty: it must hold the Pulsar token")
    return token


def _start_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InputError(f"RVA_START_DATE={value!r} is not a date in YYYY-MM-DD form") from exc


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(
            f"RVA_STORE_TIMEZONE={value!r} is not a known timezone (use an IANA name such as 'Europe/Paris')"
        ) from exc
    return value


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InputError(f"{name}={os.environ[name]!r} is not a switch (use true or false)")


# -- lakehouse maintenance and raw-data retention (the `lakehouse_maintenance` job) ---------------
DEFAULT_SNAPSHOT_RETENTION_DAYS = 7.0
DEFAULT_SNAPSHOTS_KEEP_LAST = 10
DEFAULT_ORPHAN_WINDOW_HOURS = 72.0
DEFAULT_TARGET_FILE_MB = 128.0


@dataclass(frozen=True)
class MaintenanceSettings:
    """Table maintenance: snapshot retention, snapshots always kept, the orphan safety window and
    the compaction's target file size. Raw-data retention per kind of object, in days; None = kept
    for ever (the default: nothing is deleted until an operator sets a retention)."""

    snapshot_retention_days: float = DEFAULT_SNAPSHOT_RETENTION_DAYS
    snapshots_keep_last: int = DEFAULT_SNAPSHOTS_KEEP_LAST
    orphan_window_hours: float = DEFAULT_ORPHAN_WINDOW_HOURS
    target_file_mb: float = DEFAULT_TARGET_FILE_MB
    retain_videos_days: float | None = None
    retain_ndjson_days: float | None = None  # NDJSON and the preview and fall frames beside it
    retain_receipts_days: float | None = None
    retain_dead_letters_days: float | None = None

    @classmethod
    def from_env(cls) -> MaintenanceSettings:
        return cls(
            snapshot_retention_days=_number("RVA_SNAPSHOT_RETENTION_DAYS", DEFAULT_SNAPSHOT_RETENTION_DAYS),
            snapshots_keep_last=int(
                _number("RVA_SNAPSHOTS_KEEP_LAST", DEFAULT_SNAPSHOTS_KEEP_LAST, minimum=1)
            ),
            orphan_window_hours=_number("RVA_ORPHAN_WINDOW_HOURS", DEFAULT_ORPHAN_WINDOW_HOURS),
            target_file_mb=_number("RVA_TARGET_FILE_MB", DEFAULT_TARGET_FILE_MB, minimum=1),
            retain_videos_days=_optional_number("RVA_RETAIN_VIDEOS_DAYS"),
            retain_ndjson_days=_optional_number("RVA_RETAIN_NDJSON_DAYS"),
            retain_receipts_days=_optional_number("RVA_RETAIN_RECEIPTS_DAYS"),
            retain_dead_letters_days=_optional_number("RVA_RETAIN_DEAD_LETTERS_DAYS"),
        )


def _optional_number(name: str) -> float | None:
    return _number(name, None) if os.environ.get(name, "").strip() else None


def _number(name: str, default: float | None, minimum: float = 0) -> float:
    value = os.environ.get(name, "").strip()
    if not value:
        assert default is not None
        return default
    try:
        number = float(value)
    except ValueError:
        raise InputError(f"{name}={value!r} is not a number") from None
    if not number >= minimum:  # also refuses nan
        raise InputError(f"{name}={value!r} must be at least {minimum:g}")
    return number
