"""Sinks: where finished frames go (PNG stills, video files, the pygame window)."""
