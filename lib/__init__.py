"""Helpers every app may use. Nothing here imports an app of this project (tests/test_layers.py checks)."""
