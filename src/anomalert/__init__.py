"""anomalert: learn what normal looks like per series, raise few self-explaining alerts."""

__version__ = "0.1.0"
