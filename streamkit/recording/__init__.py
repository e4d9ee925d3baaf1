"""Record raw frames with their receive times; replay them through the same protocol adapter."""

from .playback import ReplayClient, ReplayReport, read_recording, replay
from .recorder import FORMAT, Recorder, record, safe_url

__all__ = ["FORMAT", "Recorder", "ReplayClient", "ReplayReport", "read_recording", "record", "replay", "safe_url"]
