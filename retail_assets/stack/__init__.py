"""The embedded development stack (SeaweedFS + Pulsar Lite + Iceberg SQL catalog)."""

from retail_assets.stack.services import EmbeddedStack, StackError

__all__ = ["EmbeddedStack", "StackError"]
