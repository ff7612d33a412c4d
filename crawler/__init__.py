"""stemwatch: watch stem-cell clinic websites and keep what they said, and when."""

__version__ = "0.1.0"
