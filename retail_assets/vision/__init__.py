"""Video -> tracked person detections, with no Dagster inside.

Modules, in the order a frame flows through them:
`video_source` (decode, local or s3://) -> `sampling` (which frames to process) ->
`detector` (YOLO behind a small interface) -> `embedder` (appearance features) ->
`tracker` (DeepSort) -> `events` (NDJSON v1 lines, written atomically). `pipeline` wires
them for one video; `evaluation` scores the result against MOTChallenge ground truth.
`config` holds the settings and their fingerprint; `backends` and `trackers` pick the
implementations (`openvino_detector`, `openvino_embedder`, `ultralytics_trackers`) they name.
"""

import os

# Ultralytics reads this when it is first imported; it must never reach for the network.
os.environ["YOLO_OFFLINE"] = "true"
