"""Unit tests of the development mail sink: when it runs, its command, its probe."""

from __future__ import annotations

import asyncio
import smtplib
import subprocess
import time
from email.message import EmailMessage
from pathlib import Path

from mercato.launcher import mail_sink
from mercato.launcher.options import build_layout
from mercato.launcher.probe import smtp_ok
from mercato.launcher.topology import MAIL_SINK_OFFSET, Layout
from tests.support.servers import closed_port


def test_the_sink_runs_only_without_an_smtp_server() -> None:
    assert build_layout(port=9000, environ={}).mail_sink
    given = {"MERCATO_NOTIFICATIONS_SMTP_URL": "smtp://mx.example.com"}
    assert not build_layout(port=9000, environ=given).mail_sink
    shared = {"MERCATO_SMTP_URL": "smtps://mx.example.com"}
    assert not build_layout(port=9000, environ=shared).mail_sink


def test_the_sink_keeps_each_mail_in_its_maildir(tmp_path: Path) -> None:
    """The real command line, run: a mail sent to its port lands in `<data_dir>/mail/new`."""
    port = closed_port()
    layout = Layout(port=port - MAIL_SINK_OFFSET, data_dir=tmp_path)
    spec = mail_sink.sink_spec(layout)
    assert spec.port == port and str(tmp_path / "mail") in spec.argv
    assert (tmp_path / "mail").stat().st_mode & 0o077 == 0  # owner-only
    process = subprocess.Popen(spec.argv, env=dict(spec.env))
    try:
        deadline = time.monotonic() + 20
        while not asyncio.run(smtp_ok("127.0.0.1", port)):
            assert time.monotonic() < deadline, "the sink did not greet"
            time.sleep(0.1)
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "a@example.com", "b@example.com", "Hi"
        message.set_content("order ord-42 is confirmed")
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
            client.send_message(message)
        [kept] = list((tmp_path / "mail" / "new").iterdir())
        assert "order ord-42 is confirmed" in kept.read_text()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_probe_says_no_where_nothing_greets() -> None:
    assert not asyncio.run(smtp_ok("127.0.0.1", closed_port()))
