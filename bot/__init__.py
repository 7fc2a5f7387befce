"""The Z-API registration bot."""

__version__ = "0.2.0"
