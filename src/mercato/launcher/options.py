"""The options every command shares: base port, data directory, replicas, broker.

Each comes from its command-line flag, else a variable, else a default:

    --port       MERCATO_PORT           8000      the gateway; the rest is offset from it
    --data-dir   MERCATO_DATA_DIR       .mercato  databases, broker store, secrets, pid files
    --replicas   MERCATO_REPLICAS       none      "catalog=3,users=2"; "all=2" every service (the
                                              gateway too: gateway-2 on P+1); a service named
                                              beside `all` keeps its own count; flags win
                                              per service over the variable
    --tls        MERCATO_TLS            false     HTTPS everywhere, mutual TLS between services,
                                              certificates of a development CA in <data_dir>/tls
    --observe    MERCATO_OBSERVE        false     also run Prometheus (P+290) scraping every process
                 MERCATO_BROKER_URL     embedded  an external broker instead of the embedded NATS
                 MERCATO_BUS_NAMESPACE  MERCATO   prefix of the broker's streams and queues

A bad value raises `LauncherError` naming the flag or variable, in one line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from mercato.chassis.events.names import DEFAULT_NAMESPACE, check_namespace
from mercato.launcher.errors import LauncherError
from mercato.launcher.topology import (
    BROKER_OFFSET,
    MAX_REPLICAS,
    PROMETHEUS_OFFSET,
    SERVICES,
    SIMULATED_CARRIER_SECONDS,
    Layout,
)

__all__ = [
    "ALL",
    "DEFAULT_DATA_DIR",
    "DEFAULT_PORT",
    "build_layout",
    "data_directory",
    "parse_replicas",
]

DEFAULT_PORT = 8000
DEFAULT_DATA_DIR = ".mercato"
HIGHEST_BASE_PORT = 65535 - BROKER_OFFSET
HIGHEST_OBSERVED_BASE_PORT = 65535 - PROMETHEUS_OFFSET  # with --observe, P+290 must exist
ALL = "all"  # `--replicas all=2`: every service


def parse_replicas(items: Iterable[str], source: str = "--replicas") -> dict[str, int]:
    """Parse `SERVICE=N` items (each may hold several, comma-separated).

    `all=N` gives every service N instances (the gateway included: its replica i
    listens on P + i - 1, its operator port on P + 100 + i - 1); a service named
    explicitly keeps its own count, whichever comes first.
    """
    names = [s.name for s in SERVICES]
    explicit: dict[str, int] = {}
    every: int | None = None
    for item in items:
        for part in filter(None, (p.strip() for p in item.split(","))):
            name, sep, number = part.partition("=")
            name = name.strip()
            if not sep:
                raise LauncherError(f"{source}: expected SERVICE=N, got {part!r}")
            if name != ALL and name not in names:
                choices = ", ".join([*sorted(names), ALL])
                raise LauncherError(f"{source}: unknown service {name!r} (one of {choices})")
            count = _count(source, name, number)
            if name == ALL:
                every = count
            else:
                explicit[name] = count
    counts = dict.fromkeys(names, every) if every is not None else {}
    counts.update(explicit)
    return counts


def _count(source: str, name: str, number: str) -> int:
    try:
        count = int(number)
    except ValueError:
        raise LauncherError(
            f"{source}: {name} needs a whole number of replicas, got {number.strip()!r}"
        ) from None
    if not 1 <= count <= MAX_REPLICAS:
        raise LauncherError(
            f"{source}: {name} replicas must be between 1 and {MAX_REPLICAS}, got {count}"
        )
    return count


def _port(flag: int | None, environ: Mapping[str, str], highest: int) -> int:
    if flag is not None:
        port, source = flag, "--port"
    elif environ.get("MERCATO_PORT", "").strip():
        source = "MERCATO_PORT"
        try:
            port = int(environ["MERCATO_PORT"])
        except ValueError:
            raise LauncherError(
                f"MERCATO_PORT: must be a port number, got {environ['MERCATO_PORT']!r}"
            ) from None
    else:
        return DEFAULT_PORT
    if not 1 <= port <= highest:
        raise LauncherError(f"{source}: must be between 1 and {highest}, got {port}")
    return port


def _bus_namespace(environ: Mapping[str, str]) -> str:
    value = environ.get("MERCATO_BUS_NAMESPACE", "").strip() or DEFAULT_NAMESPACE
    try:
        return check_namespace(value)
    except ValueError as exc:
        raise LauncherError(f"MERCATO_BUS_NAMESPACE: {exc}") from None


CARRIER = "MERCATO_SHIPPING_SIMULATED_CARRIER_SECONDS"
MAX_CARRIER_SECONDS = 86400.0  # as shipping's settings bound it


def _carrier_seconds(environ: Mapping[str, str]) -> float:
    """The simulated carrier's delay: the operator's if set (0 turns it off), else ours."""
    value = environ.get(CARRIER, "").strip()
    if not value:
        return SIMULATED_CARRIER_SECONDS
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= MAX_CARRIER_SECONDS:  # NaN too
        raise LauncherError(f"{CARRIER}: must be seconds from 0 to 86400, got {value!r}")
    return seconds


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


def _switch(flag: bool, environ: Mapping[str, str], variable: str) -> bool:
    value = environ.get(variable, "").strip().lower()
    if value not in _TRUE + _FALSE:
        raise LauncherError(f"{variable}: must be true or false, got {value!r}")
    return flag or value in _TRUE


def data_directory(flag: str | None, environ: Mapping[str, str]) -> Path:
    """The data directory: `--data-dir`, else MERCATO_DATA_DIR, else `.mercato`; absolute."""
    directory = flag or environ.get("MERCATO_DATA_DIR", "").strip() or DEFAULT_DATA_DIR
    return Path(directory).expanduser().resolve()


def build_layout(
    *,
    port: int | None = None,
    data_dir: str | None = None,
    replicas: Iterable[str] = (),
    demo: bool = True,
    tls: bool = False,
    observe: bool = False,
    environ: Mapping[str, str],
) -> Layout:
    """The layout the flags and variables describe (without client secrets)."""
    counts = parse_replicas([environ.get("MERCATO_REPLICAS", "")], "MERCATO_REPLICAS")
    counts.update(parse_replicas(replicas))
    observed = _switch(observe, environ, "MERCATO_OBSERVE")
    highest = HIGHEST_OBSERVED_BASE_PORT if observed else HIGHEST_BASE_PORT
    return Layout(
        port=_port(port, environ, highest),
        data_dir=data_directory(data_dir, environ),
        replicas=counts,
        external_broker=environ.get("MERCATO_BROKER_URL", "").strip(),
        bus_namespace=_bus_namespace(environ),
        demo=demo,
        tls=_switch(tls, environ, "MERCATO_TLS"),
        observe=observed,
        mail_server=(
            environ.get("MERCATO_NOTIFICATIONS_SMTP_URL", "").strip()
            or environ.get("MERCATO_SMTP_URL", "").strip()
        ),
        carrier_seconds=_carrier_seconds(environ),
    )
