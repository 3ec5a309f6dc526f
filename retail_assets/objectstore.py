"""S3 access (SeaweedFS in development, MinIO in production) with errors that say what to fix."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from retail_assets.errors import STACK_HINT, SetupError, redact_uri


def make_s3_client(
    endpoint_url: str | None = None,
    region: str = "us-east-1",
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
) -> Any:
    """A boto3 S3 client; credentials default to boto3's own chain (environment first)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=Config(
            connect_timeout=5,
            read_timeout=120,
            retries={"max_attempts": 4, "mode": "standard"},
            s3={"addressing_style": "path"},
        ),
    )


def describe_endpoint(client: Any) -> str:
    """The client's endpoint as errors may show it (any user info in the URL redacted)."""
    return redact_uri(client.meta.endpoint_url)


def check_bucket(client: Any, bucket: str, setting: str = "bucket") -> None:
    """Raise SetupError naming the endpoint, bucket and fix when `bucket` cannot be used."""
    endpoint = describe_endpoint(client)
    try:
        client.head_bucket(Bucket=bucket)
    except EndpointConnectionError as exc:
        raise SetupError(
            f"S3 endpoint {endpoint} is unreachable ({exc}). Check AWS_ENDPOINT_URL_S3, or {STACK_HINT}."
        ) from exc
    except NoCredentialsError as exc:
        raise SetupError(
            f"No S3 credentials for {endpoint}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            f"(for the embedded stack: {STACK_HINT})."
        ) from exc
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = exc.response.get("Error", {}).get("Code")
        if status == 404 or code in {"404", "NoSuchBucket"}:
            raise SetupError(
                f"S3 bucket '{bucket}' does not exist at {endpoint} ({setting}). Create it, point "
                f"{setting} at an existing bucket, or {STACK_HINT}."
            ) from exc
        if status in (401, 403):
            raise SetupError(
                f"S3 at {endpoint} rejected the credentials for bucket '{bucket}' (HTTP {status}): "
                "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
            ) from exc
        raise SetupError(f"S3 at {endpoint} failed on bucket '{bucket}': {exc}") from exc


def is_not_found(exc: ClientError) -> bool:
    """Whether S3 answered that the object is not there: `NoSuchKey` for a GET, a bare 404 for a
    HEAD (which has no body to name the cause)."""
    return exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}


def head_object_or_none(client: Any, bucket: str, key: str) -> dict | None:
    """The object's HEAD response, or None when it does not exist; other errors are raised."""
    try:
        return client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise


def iter_objects(client: Any, bucket: str, prefix: str = "", start_after: str = "") -> Iterator[dict]:
    """Objects under `prefix` in key order, starting strictly after `start_after`."""
    paginator = client.get_paginator("list_objects_v2")
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    if start_after:
        kwargs["StartAfter"] = start_after
    for page in paginator.paginate(**kwargs):
        yield from page.get("Contents", [])


def split_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/key` -> (bucket, key)."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or not key:
        raise ValueError(f"S3 URI needs a bucket and a key: {uri!r}")
    return bucket, key
