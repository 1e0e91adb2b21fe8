"""The one exception type that reaches the user as a single line."""


class LoadgenError(Exception):
    """A problem with the user's input or environment, reported in one line with exit code 2."""
