"""Client-credentials secrets for service-to-service calls, kept in the data directory.

`mercato up` gives every service a random secret (and auth the whole list) so that a
service can obtain service tokens from auth. The secrets are generated once and
stored in `<data_dir>/secrets.json` (mode 0600), so that they survive restarts; a
service added later gets its secret on the next start.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from mercato.chassis.private_files import private_directory
from mercato.launcher.errors import LauncherError

__all__ = ["SECRETS_FILE", "client_secrets"]

SECRETS_FILE = "secrets.json"


def _read(path: Path) -> dict[str, str]:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise LauncherError(f"{path}: cannot read the secrets file ({exc})") from None
    clients = doc.get("clients") if isinstance(doc, dict) else None
    if not isinstance(clients, dict) or not all(isinstance(v, str) and v for v in clients.values()):
        raise LauncherError(f"{path}: not a Mercato secrets file; move it away to regenerate")
    return {str(k): v for k, v in clients.items()}


def _write(path: Path, clients: dict[str, str]) -> None:
    private_directory(path.parent)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"clients": clients}, out, indent=2, sort_keys=True)
        out.write("\n")
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def client_secrets(data_dir: Path, services: Iterable[str]) -> dict[str, str]:
    """The secret of each service, generating and persisting the missing ones."""
    path = data_dir / SECRETS_FILE
    clients = _read(path)
    missing = [name for name in services if name not in clients]
    for name in missing:
        clients[name] = secrets.token_urlsafe(32)
    if missing or not path.exists():
        _write(path, clients)
    elif path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    return clients
