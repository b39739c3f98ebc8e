"""The one exception type users see.

Anything raised as `GankitError` is a problem with the user's input or environment
(bad config key, missing data file, corrupt download).  The CLI prints its message as a
single line and exits with code 2; every other exception is a bug and keeps its traceback.
"""


class GankitError(Exception):
    """A user-facing error: the message says what, where, and how to fix it."""
