"""Where NDJSON comes from: a local file, standard input, or an S3 object (streamed)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from retail_assets.errors import InputError, SetupError
from retail_assets.objectstore import describe_endpoint, is_not_found, split_s3_uri

READ_CHUNK = 1024 * 1024


def iter_file_lines(path: str | Path) -> Iterator[bytes]:
    """Lines of a local file (or `-` for standard input), terminators kept."""
    if str(path) == "-":
        yield from sys.stdin.buffer
        return
    file_path = Path(path)
    if not file_path.is_file():
        raise InputError(f"NDJSON file {str(path)!r} does not exist or is not a file")
    with file_path.open("rb") as handle:
        yield from handle


def iter_s3_lines(s3_client: Any, uri: str) -> Iterator[bytes]:
    """Lines of an S3 object, streamed in 1 MiB reads (memory stays flat for large objects).

    Splits on b"\\n" only, so each line's bytes stay exactly as stored.
    """
    bucket, key = split_s3_uri(uri)
    try:
        body = s3_client.get_object(Bucket=bucket, Key=key)["Body"]
        pending = b""
        while chunk := body.read(READ_CHUNK):
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for line in complete:
                yield line + b"\n"
        if pending:
            yield pending
    except ClientError as exc:
        if is_not_found(exc):
            raise InputError(f"NDJSON object {uri} does not exist") from exc
        raise SetupError(f"reading {uri} from {describe_endpoint(s3_client)} failed: {exc}") from exc
    except BotoCoreError as exc:
        raise SetupError(
            f"reading {uri} from {describe_endpoint(s3_client)} failed part-way ({type(exc).__name__}: {exc}); "
            "check that the object store is up and run again"
        ) from exc


def iter_source_lines(source: str, s3_client: Any | None = None) -> Iterator[bytes]:
    """Lines of `source`: `s3://bucket/key`, a file path, or `-`."""
    if source.startswith("s3://"):
        if s3_client is None:
            raise InputError(f"{source} is an S3 object but no S3 client was configured")
        return iter_s3_lines(s3_client, source)
    return iter_file_lines(source)
