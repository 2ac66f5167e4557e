"""The `mercato` command: the composition root that declares and runs the whole system.

`topology` declares the services (ports, start order, environment, app factories);
`supervisor` runs them as separate processes, `nats` the embedded broker, and
`cli` is the thin argparse front end (`mercato up`, `mercato run SERVICE`, ...).
This is the only package allowed to import every service.
"""

from mercato.launcher.errors import LauncherError, StartupError

__all__ = ["LauncherError", "StartupError"]
