"""Dagster resources: thin, environment-configured handles on S3, Pulsar and the Iceberg catalog.

Every setting comes from the environment through `dg.EnvVar` (see `resources_from_env`), so
the embedded stack and production differ only in environment variables.
"""

from __future__ import annotations

import os
from typing import Any

import dagster as dg
from pydantic import Field

from retail_assets.lakehouse.analytics import table_identifier
from retail_assets.lakehouse.bronze import bronze_table_identifier
from retail_assets.lakehouse.catalog import open_catalog
from retail_assets.objectstore import make_s3_client
from retail_assets.settings import (
    DEFAULT_CATALOG,
    DEFAULT_NAMESPACE,
    DEFAULT_SERVICE_URL,
    DEFAULT_TOPIC,
    default_geometry_uri,
    read_token_file,
)
from retail_assets.streaming.connection import open_client


class ObjectStoreResource(dg.ConfigurableResource):
    """S3-compatible object store (SeaweedFS locally, MinIO in production)."""

    endpoint_url: str | None = Field(default=None, description="S3 endpoint; None = AWS")
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: str | None = None
    videos_bucket: str = "videos"
    detections_bucket: str = "detections"
    geometry_uri: str | None = Field(
        default=None,
        description="where the stores' geometry documents live (RVA_GEOMETRY_URI); "
        "None = s3://<detections bucket>/_geometry/",
    )

    def client(self) -> Any:
        return make_s3_client(self.endpoint_url, self.region, self.access_key_id, self.secret_access_key)

    def geometry_location(self) -> str:
        return self.geometry_uri or default_geometry_uri(self.detections_bucket)


class PulsarResource(dg.ConfigurableResource):
    """Pulsar broker (Apache Pulsar: standalone in the embedded stack, a cluster in production)."""

    service_url: str = DEFAULT_SERVICE_URL
    topic: str = DEFAULT_TOPIC
    auth_token: str | None = Field(
        default=None, description="Pulsar token; bind it to dg.EnvVar('PULSAR_AUTH_TOKEN'), never a literal"
    )
    auth_token_file: str | None = Field(
        default=None, description="file holding the Pulsar token (PULSAR_AUTH_TOKEN_FILE)"
    )

    def client(self) -> Any:
        token = self.auth_token or (
            read_token_file(self.auth_token_file, "PULSAR_AUTH_TOKEN_FILE") if self.auth_token_file else None
        )
        return open_client(self.service_url, auth_token=token)


class IcebergCatalogResource(dg.ConfigurableResource):
    """An Iceberg catalog configured by pyiceberg's own `PYICEBERG_CATALOG__<NAME>__*` settings."""

    catalog_name: str = DEFAULT_CATALOG
    namespace: str = Field(
        default=DEFAULT_NAMESPACE, description="namespace of the rva tables (RVA_NAMESPACE)"
    )

    def catalog(self) -> Any:
        return open_catalog(self.catalog_name)

    @property
    def bronze_table(self) -> str:
        return bronze_table_identifier(self.namespace)

    def table(self, name: str) -> str:
        """`<namespace>.<name>` of a silver or gold table."""
        return table_identifier(name, self.namespace)


def _optional_env(name: str) -> dg.EnvVar | None:
    # dg.EnvVar fails a run when its variable is unset, and the token is optional (the embedded
    # stack has none), so it is bound only where the code location's environment sets it.
    return dg.EnvVar(name) if os.environ.get(name) else None


def resources_from_env() -> dict[str, dg.ConfigurableResource]:
    """Resources bound to environment variables, resolved when a run starts (never stored)."""
    return {
        "object_store": ObjectStoreResource(
            endpoint_url=dg.EnvVar("AWS_ENDPOINT_URL_S3"),
            region=dg.EnvVar("AWS_REGION"),
            access_key_id=dg.EnvVar("AWS_ACCESS_KEY_ID"),
            secret_access_key=dg.EnvVar("AWS_SECRET_ACCESS_KEY"),
            videos_bucket=dg.EnvVar("RVA_VIDEOS_BUCKET"),
            detections_bucket=dg.EnvVar("RVA_DETECTIONS_BUCKET"),
            geometry_uri=_optional_env("RVA_GEOMETRY_URI"),
        ),
        "pulsar": PulsarResource(
            service_url=dg.EnvVar("PULSAR_SERVICE_URL"),
            topic=dg.EnvVar("PULSAR_TOPIC"),
            auth_token=_optional_env("PULSAR_AUTH_TOKEN"),
            auth_token_file=_optional_env("PULSAR_AUTH_TOKEN_FILE"),
        ),
        "lakehouse": IcebergCatalogResource(
            catalog_name=dg.EnvVar("RVA_CATALOG"),
            namespace=dg.EnvVar("RVA_NAMESPACE"),
        ),
    }
