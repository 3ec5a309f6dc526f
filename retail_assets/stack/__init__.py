"""The embedded development stack (SeaweedFS + Apache Pulsar standalone + Iceberg SQL catalog)."""

from retail_assets.stack.services import EmbeddedStack, StackError

__all__ = ["EmbeddedStack", "StackError"]
