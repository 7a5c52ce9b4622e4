"""Limits shared by every entry point (batch runner, CLI, HTTP service), in a module that imports nothing heavy."""

#: Longest note text (characters) annotated by default; longer notes are refused with a clear error.
MAX_NOTE_CHARS = 2_000_000
