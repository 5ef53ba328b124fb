"""Lumina Mural: a generative bioluminescent mural driven by emotion streams."""

__version__ = "0.1.0"
