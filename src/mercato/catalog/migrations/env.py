"""Alembic environment of the catalog; the chassis runs it on the service's engine."""

from mercato.catalog.models import CatalogBase
from mercato.chassis.data.migrations import run_alembic_env

run_alembic_env(CatalogBase.metadata)
