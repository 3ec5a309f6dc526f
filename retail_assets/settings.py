"""Connection settings, read only from the environment.

The same names serve the embedded stack (printed by `retail-assets stack env`) and production
(`.env.example`). Iceberg is configured through pyiceberg's own `PYICEBERG_CATALOG__<NAME>__*`
variables, so only the catalog name lives here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_TOPIC = "persistent://retail/metadata/events"
DEFAULT_CATALOG = "lakehouse"
DEFAULT_NAMESPACE = "rva"


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    s3_endpoint_url: str | None
    s3_region: str
    videos_bucket: str
    detections_bucket: str
    warehouse_bucket: str
    pulsar_service_url: str
    pulsar_topic: str
    catalog_name: str
    namespace: str

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            # boto3 reads AWS_ENDPOINT_URL_S3 natively; we read it too so errors can name it.
            s3_endpoint_url=_env("AWS_ENDPOINT_URL_S3") or _env("AWS_ENDPOINT_URL"),
            s3_region=_env("AWS_REGION", "us-east-1") or "us-east-1",
            videos_bucket=_env("RVA_VIDEOS_BUCKET", "videos") or "videos",
            detections_bucket=_env("RVA_DETECTIONS_BUCKET", "detections") or "detections",
            warehouse_bucket=_env("RVA_WAREHOUSE_BUCKET", "warehouse") or "warehouse",
            pulsar_service_url=_env("PULSAR_SERVICE_URL", "pulsar://127.0.0.1:6650")
            or "pulsar://127.0.0.1:6650",
            pulsar_topic=_env("PULSAR_TOPIC", DEFAULT_TOPIC) or DEFAULT_TOPIC,
            catalog_name=_env("RVA_CATALOG", DEFAULT_CATALOG) or DEFAULT_CATALOG,
            namespace=_env("RVA_NAMESPACE", DEFAULT_NAMESPACE) or DEFAULT_NAMESPACE,
        )
