"""The embedded stack's two S3 identities: the pipeline may only read the videos it processes.

Real SeaweedFS, real S3 requests. The admin client (`s3`) plays the cameras and the operator;
`pipeline_s3` has the keys `stack env` exports as AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
That the whole pipeline runs with those keys is shown by every Dagster test, whose resources
(`stack_resources`) use them (e.g. `retail_assets_tests/dagster/test_assets.py`).
"""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

KEY = "store-lp1/cam-1/2026-11-28/090000.mp4"


def _refused(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as refused:
        call(*args, **kwargs)
    return refused.value.response["Error"]["Code"]


@pytest.mark.parametrize("bucket_name", ["videos", "videos-{suffix}"])
def test_the_pipeline_reads_videos_but_cannot_write_or_delete_them(s3, pipeline_s3, bucket_name) -> None:
    # "videos-{suffix}" is a bucket made later by an operator (or a test): `videos*` covers it.
    bucket = bucket_name.format(suffix=uuid.uuid4().hex[:10])
    if bucket != "videos":
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=KEY, Body=b"camera bytes")

    assert pipeline_s3.get_object(Bucket=bucket, Key=KEY)["Body"].read() == b"camera bytes"
    assert [
        o["Key"] for o in pipeline_s3.list_objects_v2(Bucket=bucket, Prefix="store-lp1/")["Contents"]
    ] == [KEY]
    assert _refused(pipeline_s3.put_object, Bucket=bucket, Key=KEY, Body=b"overwritten") == "AccessDenied"
    other = KEY.replace("090000", "100000")
    assert _refused(pipeline_s3.put_object, Bucket=bucket, Key=other, Body=b"new") == "AccessDenied"
    assert _refused(pipeline_s3.delete_object, Bucket=bucket, Key=KEY) == "AccessDenied"
    # Nothing changed: the video is there with its bytes, the refused upload is not.
    assert s3.get_object(Bucket=bucket, Key=KEY)["Body"].read() == b"camera bytes"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix=other)
    s3.delete_object(Bucket=bucket, Key=KEY)


def test_the_pipeline_writes_and_deletes_detections_and_the_warehouse_and_nothing_else(
    s3, pipeline_s3
) -> None:
    suffix = uuid.uuid4().hex[:10]
    detections = f"detections-{suffix}"
    s3.create_bucket(Bucket=detections)
    for bucket in (detections, "detections", "warehouse"):
        key = f"_receipts/lp-{suffix}.json"
        pipeline_s3.put_object(Bucket=bucket, Key=key, Body=b"{}")
        assert pipeline_s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"{}"
        # Deleting is part of Write in SeaweedFS (receipts of deleted videos, replaced dead letters).
        pipeline_s3.delete_object(Bucket=bucket, Key=key)
        assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix=key)

    # No bucket creation, and no bucket outside its grants.
    assert _refused(pipeline_s3.create_bucket, Bucket=f"videos-{suffix}") == "AccessDenied"
    unrelated = f"other-{suffix}"
    s3.create_bucket(Bucket=unrelated)
    s3.put_object(Bucket=unrelated, Key="x", Body=b"private")
    assert _refused(pipeline_s3.get_object, Bucket=unrelated, Key="x") == "AccessDenied"
    assert _refused(pipeline_s3.put_object, Bucket=unrelated, Key="y", Body=b"y") == "AccessDenied"
