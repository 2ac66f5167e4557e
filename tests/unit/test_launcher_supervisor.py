"""The supervisor with real child processes: output, pid files, restarts, stop order."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mercato.launcher.console import Console
from mercato.launcher.errors import StartupError
from mercato.launcher.supervisor import Probe, ProcessSpec, Supervisor, describe_exit

SLEEPER = "import sys, time; print('hello from', sys.argv[1], flush=True); time.sleep(60)"


async def always() -> bool:
    return True


async def never() -> bool:
    return False


def spec(name: str, code: str = SLEEPER, tier: int = 0, probe: Probe = always) -> ProcessSpec:
    return ProcessSpec(
        name=name,
        argv=[sys.executable, "-c", code, name],
        env=dict(os.environ),
        probe=probe,
        tier=tier,
    )


async def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll `condition` (output and pids change in other processes: nothing to await)."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


@pytest.fixture
def out() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def supervisor(out: io.StringIO, tmp_path: Path) -> Supervisor:
    return Supervisor(Console(out, color=False), tmp_path / "run")


async def test_output_is_prefixed_and_the_pid_file_written(
    supervisor: Supervisor, out: io.StringIO, tmp_path: Path
) -> None:
    supervisor.console.register(["alpha-1"])
    child = supervisor.launch(spec("alpha-1"))
    await child.wait_ready(10)
    await eventually(lambda: "hello from alpha-1" in out.getvalue())

    pid_file = tmp_path / "run" / "alpha-1.pid"
    assert pid_file.read_text().strip() == str(child.pid)
    assert "alpha-1 | hello from alpha-1\n" in out.getvalue()

    await supervisor.stop(grace=5)
    assert not pid_file.exists()
    assert child.pid is None


CHATTY = (
    "import sys, time\n"
    "out = sys.stdout\n"
    "out.write('one\\ntwo\\nthr'); out.flush(); time.sleep(0.2)\n"
    "out.write('ee\\n' + 'x' * 200000 + '\\nlast words'); out.flush()\n"
)


async def test_output_split_across_writes_comes_out_as_whole_prefixed_lines(
    supervisor: Supervisor, out: io.StringIO
) -> None:
    supervisor.console.register(["chatty-1"])
    child = supervisor.launch(spec("chatty-1", code=CHATTY))
    await child.wait_ready(10)
    await eventually(lambda: "last words" in out.getvalue())
    await supervisor.stop(grace=5)
    lines = [line for line in out.getvalue().splitlines() if line.startswith("chatty-1 |")]
    assert lines[:5] == [
        "chatty-1 | one",
        "chatty-1 | two",
        "chatty-1 | three",
        "chatty-1 | " + "x" * 200000,
        "chatty-1 | last words",
    ]


async def test_a_crashed_process_is_restarted_and_announced(
    supervisor: Supervisor, out: io.StringIO
) -> None:
    child = supervisor.launch(spec("beta-1"))
    await child.wait_ready(10)
    first = child.pid
    assert first is not None

    os.kill(first, signal.SIGKILL)
    await eventually(lambda: child.pid not in (None, first))

    text = out.getvalue()
    assert "beta-1 was killed by SIGKILL; restarting in 1.0 s" in text
    await eventually(lambda: "beta-1 is ready again" in out.getvalue())
    await supervisor.stop(grace=5)


async def test_a_configuration_error_before_ready_ends_the_start(supervisor: Supervisor) -> None:
    child = supervisor.launch(spec("gamma-1", "raise SystemExit(2)", probe=never))

    with pytest.raises(StartupError, match=r"^gamma-1 exited with code 2 before it was ready$"):
        await child.wait_ready(10)
    await supervisor.stop(grace=5)


async def test_stop_goes_from_the_highest_tier_down(
    supervisor: Supervisor, out: io.StringIO, tmp_path: Path
) -> None:
    log = tmp_path / "order.log"
    code = (
        "import signal, sys, time\n"
        "def bye(*_):\n"
        f"    open({str(log)!r}, 'a').write(sys.argv[1] + '\\n'); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\n"
        "print('up', flush=True)\n"
        "time.sleep(60)\n"
    )
    children = [
        supervisor.launch(spec(name, code, tier))
        for name, tier in [("broker", 0), ("service", 1), ("gateway", 2)]
    ]
    for child in children:
        await child.wait_ready(10)
    await eventually(lambda: out.getvalue().count("| up") == 3)

    await supervisor.stop(grace=5)

    assert log.read_text().split() == ["gateway", "service", "broker"]


async def test_a_process_ignoring_sigterm_is_killed_after_the_grace(
    supervisor: Supervisor, out: io.StringIO
) -> None:
    code = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('stubborn', flush=True)\n"
        "time.sleep(60)\n"
    )
    child = supervisor.launch(spec("delta-1", code))
    await child.wait_ready(10)
    await eventually(lambda: "stubborn" in out.getvalue())

    await supervisor.stop(grace=0.5)

    assert "delta-1 did not stop within 0.5 s; killing it" in out.getvalue()
    assert child.pid is None


def test_exit_descriptions() -> None:
    assert describe_exit(3) == "exited with code 3"
    assert describe_exit(-9) == "was killed by SIGKILL"


async def test_a_process_that_keeps_crashing_before_ready_fails_on_the_third_try(
    supervisor: Supervisor, out: io.StringIO
) -> None:
    child = supervisor.launch(spec("eps-1", "raise SystemExit(1)", probe=never))

    with pytest.raises(StartupError, match=r"^eps-1 exited with code 1 before it was ready$"):
        await child.wait_ready(20)
    assert out.getvalue().count("eps-1 exited with code 1; restarting") == 2
    await supervisor.stop(grace=5)
