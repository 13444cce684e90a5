"""Errors a user can cause (missing file, unreadable audio, bad option)."""

__all__ = ["SpeechseqError", "SpeechseqWarning"]


class SpeechseqError(Exception):
    """A user-facing error: the CLI prints its message as one line and exits non-zero."""


class SpeechseqWarning(UserWarning):
    """Something a user should know that does not stop the work (a truncated file decoded as far as it goes):
    the CLI prints its message as one "speechseq: warning:" line."""
