"""Credentials never reach log records, whatever the log level."""

from __future__ import annotations

import logging

import streamkit as sk
from streamkit.sim import MistSimulator, SmcSimulator


def test_debug_logs_carry_no_token_cookie_or_password(caplog):
    caplog.set_level(logging.DEBUG)
    with MistSimulator(seed=1, interval=0.05) as mist_sim, SmcSimulator(seed=1, interval=0.05) as smc_sim:
        mist = sk.mist(url=mist_sim.url, token=mist_sim.token)
        assert sk.collect(mist.subscribe("/test"), count=1, timeout=5)
        mist.close()
        basic = sk.mist(url=mist_sim.url, email=mist_sim.email, password=mist_sim.password)
        assert sk.collect(basic.subscribe("/test"), count=1, timeout=5)
        basic.close()
        smc = sk.smc(url=smc_sim.url, login=smc_sim.login, password=smc_sim.password)
        assert sk.collect(smc.subscribe(context="fw_single"), count=1, timeout=5)
        cookie = smc.session.cookie
        smc.close()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "> Authorization: <redacted>" in text  # websockets did log the header line, without its value
    for secret in (mist_sim.token, mist_sim.password, smc_sim.password, cookie):
        assert secret not in text


def test_redact_patterns():
    from streamkit.connection.redact import redact

    assert redact("> Authorization: Token abc") == "> Authorization: <redacted>"
    assert redact("< Set-Cookie: JSESSIONID=abc; Path=/") == "< Set-Cookie: <redacted>"
    assert "abc" not in redact("[(b'Cookie', b'JSESSIONID=abc'), (b'Host', b'h')]")
    assert (
        redact("POST http://h/7.2/lms_login?login=me&pwd=abc") == "POST http://h/7.2/lms_login?login=me&pwd=<redacted>"
    )
    assert redact("nothing secret here") == "nothing secret here"
