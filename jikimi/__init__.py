"""Jikimi (지킴이): a Korean assistant for students against sexual deepfakes."""

__version__ = "0.1.0"
