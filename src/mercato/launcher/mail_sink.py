"""The development mail sink: an SMTP server on the loopback that keeps every mail.

When no SMTP server is given (`MERCATO_NOTIFICATIONS_SMTP_URL`, or `MERCATO_SMTP_URL`),
`mercato up` runs aiosmtpd on 127.0.0.1:(P + 225) with its `Mailbox` handler, which
writes each mail it accepts into the maildir `<data_dir>/mail` (`new/`, one file per
mail, readable by any mail client or `cat`), and points the notifications service at
it. Nothing leaves the machine. It starts with the broker, before any service, and
stops last.
"""

from __future__ import annotations

import os
import sys
from functools import partial
from pathlib import Path

from mercato.chassis.security.private_files import private_directory
from mercato.launcher.probe import smtp_ok
from mercato.launcher.supervisor import ProcessSpec
from mercato.launcher.topology import HOST, Layout

__all__ = ["MAIL_DIR", "NAME", "command", "mail_directory", "sink_spec"]

NAME = "mail"
MAIL_DIR = "mail"  # in the data directory: a maildir
SINK_TIER = 0  # with the broker: up before the services, down after them


def mail_directory(layout: Layout) -> Path:
    """The maildir the sink writes into."""
    return layout.data_dir / MAIL_DIR


def command(layout: Layout) -> list[str]:
    """aiosmtpd's command line: no setuid, the loopback port, the maildir handler."""
    return [
        sys.executable,
        "-m",
        "aiosmtpd",
        "--nosetuid",
        "--listen",
        f"{HOST}:{layout.mail_sink_port}",
        "--class",
        "aiosmtpd.handlers.Mailbox",
        str(mail_directory(layout)),
    ]


def sink_spec(layout: Layout) -> ProcessSpec:
    """How to run the sink of `layout` (its maildir made, owner-only)."""
    # The maildir's three folders made here: the handler makes them only in a
    # directory it creates itself, and this one is created owner-only first.
    for folder in ("tmp", "new", "cur"):
        private_directory(mail_directory(layout) / folder)
    return ProcessSpec(
        name=NAME,
        argv=command(layout),
        env=dict(os.environ),
        probe=partial(smtp_ok, HOST, layout.mail_sink_port),
        tier=SINK_TIER,
        port=layout.mail_sink_port,
        health=f"smtp://{HOST}:{layout.mail_sink_port}",
    )
