"""Exceptions whose message is shown to the user as one line.

The CLI prints ``str(error)`` of these without a traceback; anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations


class WeightzooError(Exception):
    """Base class of errors caused by user input, files or the environment."""

    exit_code = 1


class ConfigError(WeightzooError, ValueError):
    """A user-written config or override is invalid; names the field."""

    exit_code = 2


class ZooFormatError(WeightzooError):
    """A zoo on disk is missing, corrupt, truncated or of an unknown version."""


class ZooExistsError(WeightzooError):
    """The output directory holds a different zoo or other files."""
