"""Notebook helpers: the health view of a client."""

from .health_view import Health, health

__all__ = ["Health", "health"]
