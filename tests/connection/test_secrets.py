"""Credentials never reach log records, whatever the log level."""

from __future__ import annotations

import logging

import pytest

import streamkit as sk
from streamkit.connection import CONNECTORS
from streamkit.sim import MistSimulator, SmcSimulator


@pytest.mark.parametrize("transport", sorted(CONNECTORS))
def test_debug_logs_carry_no_token_cookie_or_password(caplog, transport):
    caplog.set_level(logging.DEBUG)
    with MistSimulator(seed=1, interval=0.05) as mist_sim, SmcSimulator(seed=1, interval=0.05) as smc_sim:
        mist = sk.mist(url=mist_sim.url, token=mist_sim.token, transport=transport)
        assert sk.collect(mist.subscribe("/test"), count=1, timeout=5)
        mist.close()
        basic = sk.mist(url=mist_sim.url, email=mist_sim.email, password=mist_sim.password, transport=transport)
        assert sk.collect(basic.subscribe("/test"), count=1, timeout=5)
        basic.close()
        smc = sk.smc(url=smc_sim.url, login=smc_sim.login, password=smc_sim.password, transport=transport)
        assert sk.collect(smc.subscribe(context="fw_single"), count=1, timeout=5)
        cookie = smc.session.cookie
        smc.close()
    text = "\n".join(r.getMessage() for r in caplog.records)
    if transport == "websockets":
        assert "> Authorization: <redacted>" in text  # websockets did log the header line, without its value
    for secret in (mist_sim.token, mist_sim.password, smc_sim.password, cookie):
        assert secret not in text


def test_redact_patterns():
    from streamkit._redact import redact

    assert redact("> Authorization: Token abc") == "> Authorization: <redacted>"
    assert redact("< Set-Cookie: JSESSIONID=abc; Path=/") == "< Set-Cookie: <redacted>"
    assert "abc" not in redact("[(b'Cookie', b'JSESSIONID=abc'), (b'Host', b'h')]")
    assert (
        redact("POST http://h/7.2/lms_login?login=me&pwd=abc") == "POST http://h/7.2/lms_login?login=me&pwd=<redacted>"
    )
    assert redact("nothing secret here") == "nothing secret here"


def test_no_credential_in_any_repr_log_exception_recording_report_or_notebook_output(caplog, tmp_path):
    """One sweep over everything a user can see or keep, for every kind of credential streamkit takes."""
    import gzip
    import json
    import traceback

    import nbformat
    from nbclient import NotebookClient

    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    with MistSimulator(seed=2, interval=0.05) as mist_sim, SmcSimulator(seed=2, interval=0.05) as smc_sim:
        mist = sk.mist(url=mist_sim.url, token=mist_sim.token, record=tmp_path / "mist.jsonl.gz")
        smc = sk.smc(url=smc_sim.url, login=smc_sim.login, password=smc_sim.password, record=tmp_path / "smc.jsonl.gz")
        keyed = sk.smc(url=smc_sim.url, api_key=smc_sim.api_key)
        devices = sk.LiveFrame(mist.subscribe(mist_sim.channel("device_stats")))
        assert sk.collect(smc.subscribe(context="fw_single"), count=1, timeout=5)
        assert sk.collect(keyed.subscribe(context="fw_single"), count=1, timeout=5)
        assert sk.collect(mist.subscribe(mist_sim.channel("client_stats")), count=1, timeout=5)
        cookie = smc.session.cookie
        for thing in (mist, smc, keyed, smc.session, keyed.session, mist.recorder, mist.stats, devices, smc.stats):
            seen += [repr(thing), str(thing)]
        seen += [json.dumps(c.health().snapshot(), default=str) for c in (mist, smc)]
        seen.append(str(sk.report(devices, path=tmp_path / "r.html", source=[mist, smc]).read_text()))
        for wrong in (sk.mist(url=mist_sim.url, token=mist_sim.token + "x"),
                      sk.smc(url=smc_sim.url, login=smc_sim.login, password=smc_sim.password + "x")):  # fmt: skip
            topic = mist_sim.channel("device_stats") if isinstance(wrong, sk.MistClient) else None
            try:
                sk.collect(
                    wrong.subscribe(topic) if topic else wrong.subscribe(context="fw_single"), count=1, timeout=5
                )
            except sk.AuthenticationError as exc:
                seen += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
            else:
                raise AssertionError("a wrong credential was accepted")
            wrong.close()
        for client in (mist, smc, keyed):
            client.close()
        secrets = [mist_sim.token, mist_sim.token + "x", smc_sim.password, smc_sim.password + "x", smc_sim.api_key,
                   cookie]  # fmt: skip
        book = nbformat.v4.new_notebook()
        book.cells = [nbformat.v4.new_code_cell(src) for src in (
            f"import streamkit as sk\nmist = sk.mist(url={mist_sim.url!r}, token={mist_sim.token!r})\nmist",
            f"rows = sk.collect(mist.subscribe({mist_sim.channel('device_stats')!r}), count=2, timeout=10)\n"
            "mist.health()",
            "print(mist.stats, list(mist.problems)); mist.close()",
        )]  # fmt: skip
        NotebookClient(book, kernel_name="python3", timeout=60).execute()
    outputs = json.dumps([cell.outputs for cell in book.cells])
    assert "Mist" in outputs
    seen.append(outputs)
    for path in (tmp_path / "mist.jsonl.gz", tmp_path / "smc.jsonl.gz"):
        seen.append(gzip.decompress(path.read_bytes()).decode())
    # log records of the libraries on the wire (the kernel client in this process logs the cells' own source)
    libraries = ("streamkit", "websockets", "httpx", "httpcore", "aiohttp")
    seen += [r.getMessage() for r in caplog.records if r.name.startswith(libraries)]
    text = "\n".join(seen)
    assert len(text) > 10_000
    for secret in secrets:
        assert secret not in text
