"""The target for the history tests: the tiny router of the test repository, as installed."""

from tinyrouter import app

__all__ = ["app"]
