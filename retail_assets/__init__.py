"""retail-video-analytics: store camera videos -> tracked detections -> Pulsar -> Iceberg bronze."""

__version__ = "0.1.0"
