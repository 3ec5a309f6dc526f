"""Fixtures for the Dagster layer: fresh buckets, a short real clip, resources bound to the stack."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from retail_assets.benchmarks.video_files import cut_clip
from retail_assets.defs.resources import IcebergCatalogResource, ObjectStoreResource, PulsarResource

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
CLIP_FRAMES = 30


@pytest.fixture(scope="session")
def short_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first frames of OpenCV's vtest.avi (PETS 2009, people walking) as a small MJPG .avi."""
    if not VTEST.exists():
        pytest.fail(f"{VTEST} is missing: install Debian's opencv-doc package (make system-deps)")
    return _write_clip(tmp_path_factory.mktemp("clip") / "clip.avi", 0, CLIP_FRAMES)


def _write_clip(out: Path, first_frame: int, frames: int = 8) -> Path:
    """Frames [first_frame, first_frame + frames) of vtest.avi as an MJPG .avi (distinct bytes per offset)."""
    return cut_clip(VTEST, first_frame, frames, out)


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three 8-frame clips of vtest.avi (frames 0, 100 and 200 on): people in each, different bytes."""
    if not VTEST.exists():
        pytest.fail(f"{VTEST} is missing: install Debian's opencv-doc package (make system-deps)")
    root = tmp_path_factory.mktemp("clips")
    return {
        name: _write_clip(root / f"{name}.avi", first) for name, first in (("a", 0), ("b", 100), ("c", 200))
    }


@pytest.fixture
def fresh_buckets(stack, s3) -> Iterator[tuple[str, str]]:
    """A new (videos, detections) bucket pair, so a test sees only its own objects."""
    suffix = uuid.uuid4().hex[:10]
    names = (f"videos-{suffix}", f"detections-{suffix}")
    for name in names:
        s3.create_bucket(Bucket=name)
    yield names


def stack_resources(stack, videos_bucket: str, detections_bucket: str, topic: str) -> dict[str, object]:
    """The code location's resources with explicit values taken from the stack's environment.

    S3 runs with the stack's pipeline identity (read-only on videos), as `dagster dev` does: every
    test materializing with these resources runs the pipeline with least privilege.
    """
    env = stack.env()
    return {
        "object_store": ObjectStoreResource(
            endpoint_url=env["AWS_ENDPOINT_URL_S3"],
            region=env["AWS_REGION"],
            access_key_id=env["AWS_ACCESS_KEY_ID"],
            secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            videos_bucket=videos_bucket,
            detections_bucket=detections_bucket,
        ),
        "pulsar": PulsarResource(service_url=env["PULSAR_SERVICE_URL"], topic=topic),
        "lakehouse": IcebergCatalogResource(catalog_name=env["RVA_CATALOG"], namespace=env["RVA_NAMESPACE"]),
    }


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst
