"""Errors that tell the user which input or setting is wrong and how to fix it."""


class RetailAssetsError(Exception):
    """Base class for errors this project raises on purpose."""


class SetupError(RetailAssetsError):
    """A service or setting the pipeline depends on is missing, unreachable or misconfigured."""


class InputError(RetailAssetsError):
    """A user-supplied input (video, NDJSON line, object key) is invalid."""


STACK_HINT = 'start the embedded stack with `retail-assets stack up` and load its settings with `eval "$(retail-assets stack env)"`'
