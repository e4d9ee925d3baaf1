"""Notebook helpers: the health view of a client."""

from .display import show_html
from .health_view import Health, health

__all__ = ["Health", "health", "show_html"]
