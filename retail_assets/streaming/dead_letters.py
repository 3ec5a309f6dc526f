"""Dead letters: NDJSON lines that cannot be published, with the reason and where they came from.

Nothing is dropped silently: every rejected line becomes one dead letter (an NDJSON record),
is counted in the publish receipt, and can be inspected or replayed. Two sinks share one
record format: S3 (`contracts.layout.dead_letter_key`:
`_dead_letters/<YYYY-MM-DD>/<store>/<video key>.ndjson` in the detections bucket, used by the
pipeline) and a local file (used by the command line).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from retail_assets.contracts.layout import DEAD_LETTERS_PREFIX, dead_letter_key
from retail_assets.contracts.store_day import StoreDay
from retail_assets.errors import SetupError

# A dead letter keeps the start of the line, enough to recognise it without storing megabytes.
PREVIEW_BYTES = 2048


@dataclass(frozen=True)
class DeadLetter:
    reason: str
    source: str
    line_number: int
    size_bytes: int
    line_preview: str  # first PREVIEW_BYTES of the line, decoded leniently
    store_day: StoreDay
    run_id: str
    video_key: str
    rejected_at: str

    @classmethod
    def from_line(
        cls,
        line: bytes,
        *,
        reason: str,
        source: str,
        line_number: int,
        store_day: StoreDay,
        run_id: str,
        video_key: str,
    ) -> DeadLetter:
        return cls(
            reason=reason,
            source=source,
            line_number=line_number,
            size_bytes=len(line),
            line_preview=line[:PREVIEW_BYTES].decode("utf-8", errors="replace"),
            store_day=store_day,
            run_id=run_id,
            video_key=video_key,
            rejected_at=datetime.now(UTC).isoformat(),
        )

    def to_json(self) -> str:
        fields = asdict(self)
        del fields["store_day"]
        fields["partition_key"] = self.store_day.key
        return json.dumps(fields, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> DeadLetter:
        fields = json.loads(text)
        fields["store_day"] = StoreDay.parse(fields.pop("partition_key"))
        return cls(**fields)


class DeadLetterSink(Protocol):
    """Where rejected lines go. `close()` makes them durable; `location` names where they are."""

    @property
    def count(self) -> int: ...

    @property
    def location(self) -> str: ...

    def add(self, letter: DeadLetter) -> None: ...

    def close(self) -> None: ...


class S3DeadLetterSink:
    """Collects a publish's dead letters and writes them as one NDJSON object on `close()`.

    One object per video and partition, replaced by each publish of that video: a re-publish
    with fixed input leaves no stale dead letters (an empty publish deletes the object).
    Letters keep only a preview of the line, so holding them until `close()` stays small.
    """

    def __init__(
        self,
        s3_client: Any,
        bucket: str,
        store_day: StoreDay,
        video_key: str,
        prefix: str = DEAD_LETTERS_PREFIX,
    ) -> None:
        self._s3 = s3_client
        self._bucket = bucket
        self._key = dead_letter_key(store_day, video_key, prefix)
        self._letters: list[DeadLetter] = []

    @property
    def count(self) -> int:
        return len(self._letters)

    @property
    def location(self) -> str:
        return f"s3://{self._bucket}/{self._key}"

    def add(self, letter: DeadLetter) -> None:
        self._letters.append(letter)

    def close(self) -> None:
        try:
            if self._letters:
                body = "".join(letter.to_json() + "\n" for letter in self._letters).encode()
                self._s3.put_object(
                    Bucket=self._bucket, Key=self._key, Body=body, ContentType="application/x-ndjson"
                )
            else:
                self._s3.delete_object(Bucket=self._bucket, Key=self._key)
        except (BotoCoreError, ClientError) as exc:
            raise SetupError(
                f"cannot write dead letters to {self.location} ({type(exc).__name__}: {exc}); "
                "check that the object store is up and run again"
            ) from exc


class LocalDeadLetterSink:
    """Appends dead letters to a local NDJSON file (created on the first letter)."""

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._count = 0
        self._file: Any = None

    @property
    def count(self) -> int:
        return self._count

    @property
    def location(self) -> str:
        return str(self._path)

    def add(self, letter: DeadLetter) -> None:
        if self._file is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self._path.open("a", encoding="utf-8")
        self._file.write(letter.to_json() + "\n")
        self._count += 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_dead_letters(s3_client: Any, bucket: str, store_day: StoreDay, video_key: str) -> list[DeadLetter]:
    """The dead letters of one video's latest publish (empty when there are none)."""
    try:
        body = s3_client.get_object(Bucket=bucket, Key=dead_letter_key(store_day, video_key))["Body"].read()
    except s3_client.exceptions.NoSuchKey:
        return []
    return [DeadLetter.from_json(line) for line in body.splitlines() if line.strip()]
