"""Helpers for testing Attune and projects around it: real processes, real browsers."""
