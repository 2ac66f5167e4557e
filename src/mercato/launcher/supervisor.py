"""Process supervision: start, watch, restart with backoff, stop in order.

A `Child` is one OS process (a service instance or the embedded broker) that the
launcher keeps running:

- it runs in its own process group, so a Ctrl-C at the terminal reaches only the
  launcher, which then stops the children itself, in order;
- its output (stdout and stderr) is passed on line by line with its name in front;
- its pid is written to `<run_dir>/<name>.pid` while it runs, and its state (pid,
  port, start time, restarts, phase) to `<run_dir>/<name>.json` whenever its phase
  changes (`launcher.state`), which the console is told too;
- it may start on hold (`MERCATO_LAUNCHER_HOLD=1`, only on its first start):
  `mercato run` then imports and builds its service and waits for a line on stdin
  before serving, so that the slow part (imports) of every process runs at once
  while the start order is still kept (`Child.release`);
- when it exits unexpectedly after having been ready it is restarted after a delay
  that doubles on each crash (1 s up to 30 s, back to 1 s once it ran for 30 s);
  before it was ever ready, exit code 2 (a configuration error) or a third crash
  ends the start instead, since trying again cannot help.

`Supervisor.stop` sends SIGTERM tier by tier (the highest first: the gateway, then
the services, the broker last), waits up to a grace period, then sends SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mercato.chassis.security.private_files import private_directory, private_file
from mercato.launcher.console import Console
from mercato.launcher.errors import StartupError
from mercato.launcher.state import Phase, ProcessState, remove_state, write_state

__all__ = ["HOLD_VARIABLE", "Child", "Probe", "ProcessSpec", "Supervisor", "describe_exit"]

HOLD_VARIABLE = "MERCATO_LAUNCHER_HOLD"  # "1" in the environment of a process on hold
EXIT_CONFIG = 2
START_ATTEMPTS = 3
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0
STABLE_SECONDS = 30.0
POLL_SECONDS = 0.1
LINE_LIMIT = 1 << 20
CHUNK_BYTES = 1 << 16
# What a service logs when it applies a schema migration (Alembic's logger and words).
MIGRATION_LOGGER = b'"logger":"alembic.runtime.migration"'
MIGRATION_STEP = b"Running upgrade "

Probe = Callable[[], Awaitable[bool]]


@dataclass(frozen=True)
class ProcessSpec:
    """What to run: a name, a command line, its full environment and a readiness probe."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    probe: Probe
    tier: int = 0
    hold: bool = False  # started on hold: it waits for a line on stdin (see `release`)
    service: str = ""  # what it is an instance of (its name when it is the only one)
    port: int | None = None
    health: str = ""  # the probe as a URL, for `mercato status`


def describe_exit(code: int) -> str:
    """`exited with code 3` or `was killed by SIGKILL`."""
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


class Child:
    """One supervised process."""

    def __init__(
        self,
        spec: ProcessSpec,
        console: Console,
        run_dir: Path,
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.console = console
        self.run_dir = run_dir
        self.pid_file = run_dir / f"{spec.name}.pid"
        self.process: asyncio.subprocess.Process | None = None
        self.ever_ready = False
        self.phase = Phase.STARTING
        self.restarts = 0
        self.started_at = time.time()
        self._released = not spec.hold
        self._on_failure = on_failure
        self._stopping = asyncio.Event()
        self._failure: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        """The pid of the current process, if one runs."""
        process = self.process
        return process.pid if process is not None and process.returncode is None else None

    def start(self) -> None:
        """Start the process and keep it running until `terminate`."""
        self._task = asyncio.create_task(self._supervise(), name=f"supervise-{self.name}")

    def release(self) -> None:
        """Let a process started on hold go on (a line on its stdin); later ones start free."""
        self._released = True
        if self.process is not None:
            self._go(self.process)

    @staticmethod
    def _go(process: asyncio.subprocess.Process) -> None:
        if process.stdin is not None and not process.stdin.is_closing():
            with contextlib.suppress(OSError):
                process.stdin.write(b"go\n")
                process.stdin.close()

    def state(self) -> ProcessState:
        """What `run/<name>.json` says about it."""
        return ProcessState(
            name=self.name,
            service=self.spec.service or self.name,
            pid=self.pid,
            port=self.spec.port,
            health=self.spec.health,
            started_at=self.started_at,
            restarts=self.restarts,
            phase=self.phase,
        )

    def _enter(self, phase: Phase) -> None:
        self.phase = phase
        state = self.state()
        with contextlib.suppress(OSError):  # status files are a courtesy
            write_state(self.run_dir, state)
        self.console.changed(state)

    def _fail(self, message: str) -> None:
        self._failure = message
        self._enter(Phase.FAILED)
        if self._on_failure is not None:
            self._on_failure(message)

    async def _spawn(self) -> asyncio.subprocess.Process:
        held = not self._released
        env = {k: v for k, v in self.spec.env.items() if k != HOLD_VARIABLE}
        if held:
            env[HOLD_VARIABLE] = "1"
        process = await asyncio.create_subprocess_exec(
            *self.spec.argv,
            env=env,
            stdin=asyncio.subprocess.PIPE if held else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            process_group=0,
            limit=LINE_LIMIT,
        )
        private_directory(self.pid_file.parent)
        private_file(self.pid_file).write_text(f"{process.pid}\n")
        self.process = process
        self.started_at = time.time()
        self._enter(Phase.RESTARTING if self.ever_ready else Phase.STARTING)
        self.console.say(f"started {self.name} (pid {process.pid})", routine=True)
        if held and self._released:  # release() came while we were spawning
            self._go(process)
        return process

    async def _pump(self, stream: asyncio.StreamReader) -> None:
        # Whole chunks, not line by line: a busy service writes an access log line per
        # request, and one write per chunk keeps the launcher's share of the CPU small.
        pending = b""
        while True:
            chunk = await stream.read(CHUNK_BYTES)
            if (
                self.phase is Phase.STARTING
                and MIGRATION_STEP in chunk
                and MIGRATION_LOGGER in chunk
            ):
                self._enter(Phase.MIGRATING)
            if not chunk:
                if pending:
                    self.console.line(self.name, pending.decode(errors="replace"))
                return
            *complete, pending = (pending + chunk).split(b"\n")
            if len(pending) >= LINE_LIMIT:  # no end in sight: pass on what there is
                complete.append(pending)
                pending = b""
            if complete:
                self.console.lines(self.name, (line.decode(errors="replace") for line in complete))

    async def _supervise(self) -> None:
        loop = asyncio.get_running_loop()
        delay = BACKOFF_FIRST
        failures = 0
        try:
            while not self._stopping.is_set():
                try:
                    process = await self._spawn()
                except OSError as exc:
                    self._fail(f"{self.name} could not be started: {exc}")
                    return
                self.process = process
                if self._stopping.is_set():  # terminate() came while we were spawning
                    self._signal(signal.SIGTERM)
                elif self.ever_ready:
                    self._watch = asyncio.create_task(self._announce_ready(process))
                started = loop.time()
                assert process.stdout is not None
                pump = asyncio.create_task(self._pump(process.stdout))
                code = await process.wait()
                await pump
                if self._stopping.is_set():
                    return
                what = describe_exit(code)
                if not self.ever_ready:
                    failures += 1
                    if code == EXIT_CONFIG or failures >= START_ATTEMPTS:
                        self._fail(f"{self.name} {what} before it was ready")
                        return
                elif loop.time() - started >= STABLE_SECONDS:
                    delay = BACKOFF_FIRST
                self.restarts += 1
                self._enter(Phase.RESTARTING)
                self.console.say(f"{self.name} {what}; restarting in {delay:.1f} s")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                delay = min(delay * 2, BACKOFF_MAX)
        finally:
            if self._watch is not None:
                self._watch.cancel()
            self.pid_file.unlink(missing_ok=True)
            remove_state(self.run_dir, self.name)

    async def _announce_ready(self, process: asyncio.subprocess.Process) -> None:
        while process.returncode is None and not self._stopping.is_set():
            if await self.spec.probe():
                self._enter(Phase.READY)
                self.console.say(f"{self.name} is ready again (pid {process.pid})")
                return
            await asyncio.sleep(POLL_SECONDS)

    async def wait_ready(self, timeout: float) -> None:
        """Return once the probe succeeds; StartupError if it fails for good or times out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._failure is not None:
                raise StartupError(self._failure)
            if self._stopping.is_set():
                raise StartupError(f"{self.name} was stopped before it was ready")
            if self.pid is not None and await self.spec.probe():
                self.ever_ready = True
                self._enter(Phase.READY)
                return
            if loop.time() >= deadline:
                raise StartupError(f"{self.name} was not ready within {timeout:.0f} s")
            await asyncio.sleep(POLL_SECONDS)

    def _signal(self, sig: signal.Signals) -> None:
        pid = self.pid
        if pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, sig)

    def terminate(self) -> None:
        """Stop restarting it and send SIGTERM."""
        self._stopping.set()
        if self.pid is not None and self.phase is not Phase.FAILED:
            self._enter(Phase.STOPPING)
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        """Stop restarting it and send SIGKILL."""
        self._stopping.set()
        self._signal(signal.SIGKILL)

    async def stopped(self, grace: float) -> None:
        """Wait until it has exited, killing it after `grace` seconds."""
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace)
        except TimeoutError:
            self.console.say(f"{self.name} did not stop within {grace:g} s; killing it")
            self.kill()
            await self._task


class Supervisor:
    """The set of children of one `mercato up`."""

    def __init__(self, console: Console, run_dir: Path) -> None:
        self.console = console
        self.run_dir = run_dir
        self.children: list[Child] = []
        self._failures: asyncio.Queue[str] = asyncio.Queue()

    def launch(self, spec: ProcessSpec) -> Child:
        """Start a child and supervise it."""
        child = Child(spec, self.console, self.run_dir, self._failures.put_nowait)
        self.children.append(child)
        child.start()
        return child

    async def failure(self) -> str:
        """Wait for a child to fail for good (see `Child.wait_ready`); its message."""
        return await self._failures.get()

    async def stop(self, grace: float) -> None:
        """Stop every child, highest tier first, each tier within `grace` seconds."""
        for tier in sorted({c.spec.tier for c in self.children}, reverse=True):
            group = [c for c in self.children if c.spec.tier == tier]
            for child in group:
                child.terminate()
            await asyncio.gather(*(child.stopped(grace) for child in group))

    def kill(self) -> None:
        """SIGKILL every child at once (a second Ctrl-C)."""
        for child in self.children:
            child.kill()
