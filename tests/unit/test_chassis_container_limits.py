"""The cgroup's CPU and memory limits, read from files a test writes (v2 and v1)."""

from __future__ import annotations

from pathlib import Path

from mercato.chassis.container_limits import ContainerLimits, read_limits

MIB = 1024 * 1024


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")


def v2(tmp_path: Path, cgroup: str = "/") -> tuple[Path, Path]:
    root = tmp_path / "cgroup"
    write(root / "cgroup.controllers", "cpu memory pids")
    proc = tmp_path / "proc-self-cgroup"
    write(proc, f"0::{cgroup}")
    return root, proc


def test_v2_quota_and_memory_of_a_container(tmp_path: Path) -> None:
    root, proc = v2(tmp_path)
    write(root / "cpu.max", "150000 100000")
    write(root / "memory.max", str(512 * MIB))
    assert read_limits(root, proc) == ContainerLimits(cpus=1.5, memory_bytes=512 * MIB)


def test_v2_without_limits(tmp_path: Path) -> None:
    root, proc = v2(tmp_path)
    write(root / "cpu.max", "max 100000")
    write(root / "memory.max", "max")
    assert read_limits(root, proc) == ContainerLimits()


def test_v2_nested_cgroup_takes_the_tightest_of_its_lineage(tmp_path: Path) -> None:
    root, proc = v2(tmp_path, "/kubepods/pod1/app")
    write(root / "kubepods" / "cpu.max", "400000 100000")
    write(root / "kubepods" / "pod1" / "memory.max", str(1024 * MIB))
    write(root / "kubepods" / "pod1" / "app" / "cpu.max", "200000 100000")
    write(root / "kubepods" / "pod1" / "app" / "memory.max", "max")
    assert read_limits(root, proc) == ContainerLimits(cpus=2.0, memory_bytes=1024 * MIB)


def test_v2_garbage_is_no_limit(tmp_path: Path) -> None:
    root, proc = v2(tmp_path)
    write(root / "cpu.max", "lots 0")
    write(root / "memory.max", "-5")
    assert read_limits(root, proc) == ContainerLimits()


def test_v1_quota_and_memory(tmp_path: Path) -> None:
    root = tmp_path / "cgroup"
    proc = tmp_path / "proc-self-cgroup"
    write(proc, "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc")
    # As a container mounts them: its own cgroup at the controller's root.
    write(root / "cpu,cpuacct" / "cpu.cfs_quota_us", "50000")
    write(root / "cpu,cpuacct" / "cpu.cfs_period_us", "100000")
    write(root / "memory" / "memory.limit_in_bytes", str(256 * MIB))
    assert read_limits(root, proc) == ContainerLimits(cpus=0.5, memory_bytes=256 * MIB)


def test_v1_unlimited(tmp_path: Path) -> None:
    root = tmp_path / "cgroup"
    proc = tmp_path / "proc-self-cgroup"
    write(proc, "5:memory:/x\n2:cpu,cpuacct:/x")
    write(root / "cpu,cpuacct" / "cpu.cfs_quota_us", "-1")
    write(root / "cpu,cpuacct" / "cpu.cfs_period_us", "100000")
    write(root / "memory" / "memory.limit_in_bytes", "9223372036854771712")
    assert read_limits(root, proc) == ContainerLimits()


def test_nothing_readable_is_no_limit(tmp_path: Path) -> None:
    assert read_limits(tmp_path / "none", tmp_path / "missing") == ContainerLimits()
