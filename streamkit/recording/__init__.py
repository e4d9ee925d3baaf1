"""Record raw frames with their receive times; replay them through the same protocol adapter.

A recording gives the same records as the live stream did:

>>> import shutil, tempfile, streamkit as sk
>>> from pathlib import Path
>>> from streamkit.sim import MistSimulator
>>> folder = Path(tempfile.mkdtemp())
>>> with MistSimulator(seed=1, interval=0.05, sites=1, aps=2) as sim:
...     channel = sim.channel("device_stats")
...     with sk.mist(url=sim.url, token=sim.token, record=folder / "devices.jsonl.gz") as mist:
...         live = sk.collect(mist.subscribe(channel), count=3, timeout=10)
>>> with sk.replay(folder / "devices.jsonl.gz", speed=None) as again:
...     sk.collect(again.subscribe(channel), timeout=10)[:3] == live
True
>>> shutil.rmtree(folder)
"""

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
