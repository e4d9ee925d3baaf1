"""Record raw frames with their receive times; replay them through the same protocol adapter."""

from .playback import RecordingReader, ReplayClient, ReplaySummary, read_header, read_recording, replay
from .recorder import FORMAT, Entry, Recorder, record

__all__ = [
    "FORMAT",
    "Entry",
    "Recorder",
    "RecordingReader",
    "ReplayClient",
    "ReplaySummary",
    "read_header",
    "read_recording",
    "record",
    "replay",
]
