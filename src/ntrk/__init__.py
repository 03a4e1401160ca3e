"""ntrk — wrap a command; later, ask how any file was made."""

__version__ = "0.2.0"
