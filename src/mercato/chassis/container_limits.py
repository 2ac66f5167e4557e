"""The CPUs and memory this process may use: the cgroup's limits, not the node's.

In a container `os.cpu_count()` is the node's core count and the memory is the
node's too, while the cgroup may allow two CPUs and 512 MiB. Work sized from the
node (a pool of argon2 hashes at 64 MiB each, one per core) then exceeds the
container's limit and is OOM-killed. `read_limits` reads

- cgroup v2 (`/proc/self/cgroup` has the line `0::<path>`): `cpu.max` ("max 100000"
  or "<quota> <period>") and `memory.max` ("max" or bytes) in `<root>/<path>` and
  each of its parents up to the root, the tightest winning;
- cgroup v1 (lines `N:cpu,cpuacct:<path>`, `N:memory:<path>`): `cpu.cfs_quota_us`
  (-1 for none) over `cpu.cfs_period_us`, and `memory.limit_in_bytes` (a number near
  2^63 for none), in `<root>/<controller>/<path>` or, as a container mounts them,
  `<root>/<controller>`;

and the CPUs this process may run on (`os.sched_getaffinity`). Anything it cannot
read counts as no limit. `root` and `proc_cgroup` are parameters so that tests can
point them at files of their own.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ContainerLimits", "available_cpus", "read_limits"]

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")
# cgroup v1 writes "no limit" as the largest page-aligned 64-bit value; anything at or
# beyond this is no limit in practice.
UNLIMITED_BYTES = 1 << 62


@dataclass(frozen=True, slots=True)
class ContainerLimits:
    """What the cgroup allows: CPUs (fractional) and memory in bytes; None for no limit."""

    cpus: float | None = None
    memory_bytes: int | None = None


def available_cpus() -> int:
    """The CPUs this process may be scheduled on (its affinity), else the node's."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _v2_cpus(text: str | None) -> float | None:
    if not text:
        return None
    quota, _, period = text.partition(" ")
    try:
        return int(quota) / int(period or "100000") if quota != "max" else None
    except (ValueError, ZeroDivisionError):
        return None


def _bytes(text: str | None) -> int | None:
    if not text or text == "max":
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    return value if 0 < value < UNLIMITED_BYTES else None


def _v1_cpus(directory: Path) -> float | None:
    try:
        quota = int(_read(directory / "cpu.cfs_quota_us") or "-1")
        period = int(_read(directory / "cpu.cfs_period_us") or "100000")
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _tightest(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None and v > 0]
    return min(known) if known else None


def _lineage(root: Path, relative: str) -> list[Path]:
    """`root/relative` and each parent up to `root` (a container may see only `root`)."""
    path = root / relative.strip("/")
    chain = [path]
    while path != root and root in path.parents:
        path = path.parent
        chain.append(path)
    return chain


def _controllers(proc_cgroup: Path) -> dict[str, str]:
    """Controller name -> cgroup path; the v2 hierarchy is under the name ""."""
    found: dict[str, str] = {}
    for line in (_read(proc_cgroup) or "").splitlines():
        _, _, rest = line.partition(":")
        names, _, path = rest.partition(":")
        for name in names.split(",") if names else [""]:
            found.setdefault(name, path)
    return found


def read_limits(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> ContainerLimits:
    """The cgroup's CPU and memory limits of this process (see the module docstring)."""
    controllers = _controllers(proc_cgroup)
    cpus: list[float | None] = []
    memory: list[float | None] = []
    if "" in controllers and (root / "cgroup.controllers").exists():
        for directory in _lineage(root, controllers[""]):
            cpus.append(_v2_cpus(_read(directory / "cpu.max")))
            memory.append(_bytes(_read(directory / "memory.max")))
    for name in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
        if "cpu" in controllers and (root / name).is_dir():
            for base in {root / name / controllers["cpu"].strip("/"), root / name}:
                cpus.append(_v1_cpus(base))
    if "memory" in controllers and (root / "memory").is_dir():
        for base in {root / "memory" / controllers["memory"].strip("/"), root / "memory"}:
            memory.append(_bytes(_read(base / "memory.limit_in_bytes")))
    tightest_memory = _tightest(memory)
    return ContainerLimits(
        cpus=_tightest(cpus),
        memory_bytes=None if tightest_memory is None else math.floor(tightest_memory),
    )
