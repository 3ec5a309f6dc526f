"""new_video_sensor when something is wrong: a damaged or old cursor, the object store down.

A tick that raises is what the daemon records as a failed tick: the error is shown on the
sensor's page and the stored cursor is not replaced, so the next good tick starts where the
last good one ended.
"""

from __future__ import annotations

import json
import socket

import dagster as dg
import pytest

from retail_assets.contracts.layout import parse_video_key
from retail_assets.definitions import defs
from retail_assets.defs.names import RAW_VIDEOS_OP
from retail_assets.defs.sensors import batch_run_requests
from retail_assets.inventory.bucket_scan import NewVideo
from retail_assets_tests.dagster.conftest import stack_resources

SENSOR = "new_video_sensor"
KEY = "store-flt01/cam-1/2026-06-10/090000.mp4"


def _sensor() -> dg.SensorDefinition:
    return defs.get_sensor_def(SENSOR)


def _tick(instance: dg.DagsterInstance, resources: dict, cursor: str | None) -> dg.SensorResult:
    result = _sensor()(dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources))
    assert isinstance(result, dg.SensorResult)
    return result


def _videos_of(request: dg.RunRequest) -> list[str]:
    return request.run_config["ops"][RAW_VIDEOS_OP]["config"]["video_keys"]


def _closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("cursor", "problem"),
    [
        ("store-001/cam-1/2026-06-10/090000.mp4", "not JSON"),  # a plain "last key" cursor
        ("{truncated", "not JSON"),
        (json.dumps({"v": 0, "cameras": {}, "stray": []}), "unknown format"),  # an older version
        (json.dumps({"cameras": {"store-001/cam-1/": "x"}}), "unknown format"),  # no version at all
        (json.dumps(["store-001/cam-1/"]), "unknown format"),  # JSON, but not an object
    ],
)
def test_a_cursor_the_sensor_cannot_read_fails_the_tick_naming_the_problem_and_the_remedy(
    stack, s3, fresh_buckets, instance: dg.DagsterInstance, cursor: str, problem: str
) -> None:
    videos_bucket, detections_bucket = fresh_buckets
    s3.put_object(Bucket=videos_bucket, Key=KEY, Body=b"x")
    resources = stack_resources(stack, videos_bucket, detections_bucket, "unused")
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)

    with pytest.raises(Exception, match="sensor cursor") as err:
        _sensor()(context)

    message = str(err.value)
    assert problem in message  # what is wrong with it
    assert "reset" in message and "dagster sensor cursor" in message  # what to do about it, and how
    # Nothing was requested or registered from a cursor it could not read, and the cursor stands.
    assert context.cursor == cursor
    assert instance.get_dynamic_partitions("stores") == []


def test_a_reset_cursor_starts_over_with_the_same_run_keys(
    stack, s3, fresh_buckets, instance: dg.DagsterInstance
) -> None:
    """The remedy the error names: with the cursor reset (None) the tick works again and requests
    the bucket's videos under the same run keys as before (they name the store-day and the
    videos' keys and etags), which Dagster never launches twice (docs/dagster.md), so a reset does
    not re-run what already ran."""
    videos_bucket, detections_bucket = fresh_buckets
    s3.put_object(Bucket=videos_bucket, Key=KEY, Body=b"x")
    etag = s3.head_object(Bucket=videos_bucket, Key=KEY)["ETag"].strip('"')
    resources = stack_resources(stack, videos_bucket, detections_bucket, "unused")
    before = _tick(instance, resources, None)
    assert _tick(instance, resources, before.cursor).run_requests == []
    after_reset = _tick(instance, resources, None)
    assert [r.run_key for r in after_reset.run_requests] == [r.run_key for r in before.run_requests]
    [request] = after_reset.run_requests
    assert request.run_key == batch_run_requests([NewVideo(parse_video_key(KEY), etag, 0)])[0].run_key
    assert json.loads(after_reset.cursor)["v"] == 1


def test_an_object_store_outage_fails_the_tick_naming_the_endpoint_and_loses_no_video(
    stack, s3, fresh_buckets, instance: dg.DagsterInstance
) -> None:
    videos_bucket, detections_bucket = fresh_buckets
    resources = stack_resources(stack, videos_bucket, detections_bucket, "unused")
    s3.put_object(Bucket=videos_bucket, Key=KEY, Body=b"first")
    first = _tick(instance, resources, None)
    assert [_videos_of(r) for r in first.run_requests] == [[KEY]]
    for request in first.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))

    # A video arrives while the sensor cannot reach S3 (an endpoint with nothing listening).
    later = "store-flt01/cam-1/2026-06-10/100000.mp4"
    s3.put_object(Bucket=videos_bucket, Key=later, Body=b"second")
    port = _closed_port()
    good = resources["object_store"]
    down = {
        **resources,
        "object_store": type(good)(
            endpoint_url=f"http://127.0.0.1:{port}",
            region=good.region,
            access_key_id=good.access_key_id,
            secret_access_key=good.secret_access_key,
            videos_bucket=good.videos_bucket,
            detections_bucket=good.detections_bucket,
        ),
    }
    context = dg.build_sensor_context(instance=instance, cursor=first.cursor, resources=down)
    with pytest.raises(Exception) as err:
        _sensor()(context)
    message = str(err.value)
    assert f"127.0.0.1:{port}" in message, message  # which endpoint could not be reached
    assert "connect" in message.lower(), message
    assert "AWS_ENDPOINT_URL_S3" in message, message  # what to check
    assert context.cursor == first.cursor  # the tick produced no new cursor

    # S3 is back: the next tick, from the last good cursor, requests the video of the outage once.
    back = _tick(instance, resources, first.cursor)
    assert [_videos_of(r) for r in back.run_requests] == [[later]]
    again = _tick(instance, resources, back.cursor)
    assert again.run_requests == []
