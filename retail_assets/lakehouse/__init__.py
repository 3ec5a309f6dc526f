"""The Iceberg lakehouse: catalog access and the bronze table."""
