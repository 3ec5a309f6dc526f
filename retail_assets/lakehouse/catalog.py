"""Loading the Iceberg catalog through pyiceberg's own configuration (`PYICEBERG_CATALOG__*`)."""

from __future__ import annotations

from typing import Any

from pyiceberg.catalog import Catalog, load_catalog
from pyiceberg.utils.config import Config

from retail_assets.errors import STACK_HINT, SetupError, redact_text, redact_uri


def _env_prefix(name: str) -> str:
    return f"PYICEBERG_CATALOG__{name.upper().replace('-', '_')}__"


def open_catalog(name: str = "lakehouse", **overrides: Any) -> Catalog:
    """Load catalog `name` and prove it answers; errors name the catalog and its settings."""
    # pyiceberg snapshots its configuration at import; re-read it so a changed environment counts.
    properties = {**(Config().get_catalog_config(name) or {}), **overrides}
    try:
        catalog = load_catalog(name, **properties)
    except ValueError as exc:
        raise SetupError(
            f"Iceberg catalog '{name}' is not configured ({redact_text(str(exc), properties.get('uri', ''))}). "
            f"Set {_env_prefix(name)}URI and "
            f"friends (pyiceberg's own settings), or {STACK_HINT}."
        ) from exc
    except Exception as exc:  # a REST catalog is contacted while loading
        raise _unreachable(name, properties.get("uri", "?"), exc) from exc
    try:
        catalog.list_namespaces()
    except Exception as exc:
        raise _unreachable(name, catalog.properties.get("uri", "?"), exc) from exc
    return catalog


def _unreachable(name: str, uri: str, exc: Exception) -> SetupError:
    # A SQL catalog's URI is a DSN with its password: only the redacted form goes in the message.
    return SetupError(
        f"Iceberg catalog '{name}' at {redact_uri(uri)} is unreachable "
        f"({type(exc).__name__}: {redact_text(str(exc), uri)}). "
        f"Check {_env_prefix(name)}URI, or {STACK_HINT}."
    )
