"""Errors a user can cause (missing file, unreadable audio, bad option)."""

__all__ = ["SpeechseqError"]


class SpeechseqError(Exception):
    """A user-facing error: the CLI prints its message as one line and exits non-zero."""
