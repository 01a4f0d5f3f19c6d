"""Attune: real-time HRV biofeedback for therapy."""

__version__ = "0.1.0"
