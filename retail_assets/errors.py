"""Errors that tell the user which input or setting is wrong and how to fix it."""


class RetailAssetsError(Exception):
    """Base class for errors this project raises on purpose."""


class SetupError(RetailAssetsError):
    """A service or setting the pipeline depends on is missing, unreachable or misconfigured."""


class InputError(RetailAssetsError):
    """A user-supplied input (video, NDJSON line, object key) is invalid."""


STACK_HINT = 'start the embedded stack with `retail-assets stack up` and load its settings with `eval "$(retail-assets stack env)"`'


def redact_uri(uri: object) -> str:
    """`uri` with any password (or token) in its user-info part replaced by `***`.

    Endpoints and catalog URIs are put into error messages so the user sees what was tried, but a
    SQL catalog's URI is a DSN such as `postgresql://user:secret@host/db`, and an error raised in
    an asset lands in the Dagster event log: every URI that goes into a message goes through here.
    """
    text = str(uri)
    scheme, sep, rest = text.partition("://")
    if not sep:
        return text
    # The authority ends at the first '/', '?' or '#'; its user info at the authority's last '@'.
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    userinfo, at, host = authority.rpartition("@")
    if not at:
        return text
    user = userinfo.split(":", 1)[0] if ":" in userinfo else ""
    redacted = f"{user}:***" if user else "***"
    return f"{scheme}://{redacted}@{host}{tail}"


def redact_text(text: str, uri: object) -> str:
    """`text` (an exception's message, say) with `uri` and its password replaced as `redact_uri` does.

    A driver's own error may quote the URI it was given; this keeps that quote out of messages too.
    """
    raw = str(uri)
    safe = redact_uri(raw)
    if safe == raw:
        return text
    text = text.replace(raw, safe)
    scheme_rest = raw.partition("://")[2]
    userinfo = scheme_rest[: scheme_rest.rfind("@")] if "@" in scheme_rest else ""
    secret = userinfo.split(":", 1)[1] if ":" in userinfo else userinfo
    return text.replace(secret, "***") if secret else text
