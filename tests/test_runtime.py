"""Which loop runs things in scripts: one background loop thread, shared by clients and time-based operators."""

from __future__ import annotations

import asyncio
import threading

import reactivex
from reactivex import operators as rx

import streamkit as sk
from streamkit import runtime


def test_scheduler_timers_fire_on_streamkits_loop_thread():
    fired: list[str] = []
    done = threading.Event()

    def on_next(_: object) -> None:
        fired.append(threading.current_thread().name)
        done.set()

    reactivex.timer(0.05, scheduler=sk.scheduler()).subscribe(on_next)
    assert done.wait(2)
    assert fired == ["streamkit-loop"]


def test_time_based_operator_on_the_loop_scheduler():
    values = sk.collect(
        reactivex.interval(0.01, scheduler=sk.scheduler()).pipe(rx.buffer_with_time(0.1, scheduler=sk.scheduler())),
        count=2,
        timeout=5,
    )
    assert len(values) == 2 and all(isinstance(v, list) for v in values)


def test_run_and_submit_from_a_script_thread():
    async def where() -> str:
        await asyncio.sleep(0)
        return threading.current_thread().name

    assert runtime.run(where()) == "streamkit-loop"
    assert runtime.submit(where(), timeout=2) == "streamkit-loop"
    assert runtime.get_loop() is runtime.get_loop()
