"""The one base of every user-facing error: the CLI shows any MuralError as one clean line."""


class MuralError(Exception):
    """Bad input or an impossible request, not a bug: the message says what and where."""
