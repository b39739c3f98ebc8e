"""The one exception type users see.

Anything raised as `GankitError` is a problem with the user's input or environment
(bad config key, missing data file, corrupt download).  The CLI prints its message as a
single line and exits with code 2; every other exception is a bug and keeps its traceback.
"""


class GankitError(Exception):
    """A user-facing error: the message says what, where, and how to fix it."""


class GankitWarning(UserWarning):
    """A warning gankit itself raises (e.g. FID/KID from too few samples); the CLI shows every
    warning as one line, `gankit: warning: ...` (cli/__init__.py)."""


def did_you_mean(name: str, choices) -> str:
    """" (did you mean X?)" for the closest of `choices` to a mistyped `name`, else ""."""
    import difflib

    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1)
    return f" (did you mean {close[0]}?)" if close else ""
