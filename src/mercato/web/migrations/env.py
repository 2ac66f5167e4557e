"""Alembic environment of the web service: its metadata, run by the chassis."""

from mercato.chassis.data.migrations import run_alembic_env
from mercato.web.models import WebBase

run_alembic_env(WebBase.metadata)
