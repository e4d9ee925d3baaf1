"""The only place that opens network connections: transports, auth flows and the retry policy."""

from .transport import Transport, WebSocketTransport

__all__ = ["Transport", "WebSocketTransport"]
