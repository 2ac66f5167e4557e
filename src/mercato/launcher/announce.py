"""What `mercato up` says once the system is ready: the start time and where things are.

`announcement` gives both forms: the launcher's lines as it has always written them
(what scripts and CI read, `ready in 7.3 s` first), and the short list of URLs the
terminal's panel shows. The shop and the operations console are pages of the
gateway (`/` and `/ops`); API documents, metrics and the events' document are on the
gateway's operator port.
"""

from __future__ import annotations

from mercato.chassis.events.names import DEFAULT_NAMESPACE
from mercato.launcher import observe
from mercato.launcher.console import Announcement, without_password
from mercato.launcher.topology import HOST, SERVICES, Layout, service

__all__ = ["announcement", "gateway_url", "operator_url"]


def gateway_url(layout: Layout) -> str:
    """The gateway's public URL."""
    return f"{layout.scheme}://{HOST}:{layout.port}"


def operator_url(layout: Layout) -> str:
    """The gateway's operator URL (metrics, detailed health, API documents)."""
    return f"http://{HOST}:{layout.operator_port(layout.instances(service('gateway'))[0])}"


def _lines(layout: Layout, seconds: float, observed: list[tuple[str, str]]) -> list[str]:
    gateway = gateway_url(layout)
    operator = operator_url(layout)
    width = max(len(name) for name in [*(s.name for s in SERVICES), *dict(observed)]) + 2
    _, *gateways = layout.instances(service("gateway"))
    also = f"  (replicas on {', '.join(str(i.port) for i in gateways)})" if gateways else ""
    lines = [
        f"ready in {seconds:.1f} s",
        f"  {'gateway':<{width}}{gateway}{also}",
        f"  {'shop':<{width}}{gateway}/",
        f"  {'console':<{width}}{gateway}/ops",
        f"  {'JWKS':<{width}}{gateway}/.well-known/jwks.json",
        f"  {'operator':<{width}}{operator}/metrics, {operator}/health",
        f"  {'events':<{width}}{operator}/asyncapi.json",
    ]
    for svc in SERVICES:
        if svc.is_gateway:
            continue
        first, *others = layout.instances(svc)
        more = f"  (replicas on {', '.join(str(i.port) for i in others)})" if others else ""
        docs = f"/api/{svc.name}/docs" if svc.name in _documented() else ""  # web: pages
        lines.append(f"  {svc.name:<{width}}{first.url}{docs}{more}")
    lines.append(f"  {'broker':<{width}}{_broker(layout)}")
    if layout.tls_files is not None:
        lines.append(f"  {'TLS CA':<{width}}{layout.tls_files.ca} (curl --cacert, or trust it)")
    lines += [f"  {what:<{width}}{where}" for what, where in observed]
    lines.append(f"data in {layout.data_dir}; press Ctrl-C to stop")
    return lines


def _documented() -> list[str]:
    """The services with an API document: all but the gateway and the storefront's pages."""
    return [s.name for s in SERVICES if not s.is_gateway and s.name != "web"]


def _broker(layout: Layout) -> str:
    namespace = (
        f"  (namespace {layout.bus_namespace})" if layout.bus_namespace != DEFAULT_NAMESPACE else ""
    )
    return f"{without_password(layout.broker_url)}{namespace}"


def _urls(layout: Layout, observed: list[tuple[str, str]]) -> list[tuple[str, str]]:
    gateway = gateway_url(layout)
    operator = operator_url(layout)
    documented = _documented()
    urls = [
        ("shop", f"{gateway}/"),
        ("console", f"{gateway}/ops"),
        ("gateway", gateway),
        ("docs", f"{operator}/api/<service>/docs  ({', '.join(documented)})"),
        ("events", f"{operator}/asyncapi.json"),
        ("metrics", f"{operator}/metrics"),
        ("broker", _broker(layout)),
    ]
    if layout.tls_files is not None:
        urls.append(("TLS CA", str(layout.tls_files.ca)))
    return urls + observed


def announcement(layout: Layout, seconds: float) -> Announcement:
    """What to say when the system has become ready `seconds` after the command."""
    observed = observe.describe(layout) if layout.observe else []
    return Announcement(
        seconds=seconds,
        lines=_lines(layout, seconds, observed),
        urls=_urls(layout, observed),
        footer=f"data in {layout.data_dir} · Ctrl-C or `mercato stop` stops it",
    )
