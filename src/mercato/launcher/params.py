"""The command line's shared options and the choices it offers, with their completion.

`--port` and `--data-dir` are accepted wherever a user puts them: before the command
(`mercato --data-dir D status`), after a group (`mercato dead-letters --port P list`)
or after the command (`mercato dead-letters list --port P`); the one nearest the
command wins (`Shared`). Their variables and defaults are `launcher.options`'s.

A choice (`SERVICE`) is checked by its own parser, so that `--help` lists exactly
what works (`mercato migrate` offers only the services that have a database) and the
shell completes the same names.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from mercato.launcher.errors import LauncherError
from mercato.launcher.options import DEFAULT_DATA_DIR, DEFAULT_PORT
from mercato.launcher.topology import SERVICES

__all__ = [
    "DataDir",
    "LogFormat",
    "LogFormatOption",
    "Port",
    "Shared",
    "choice_argument",
    "flag",
    "migratable",
    "service_names",
    "shared",
    "unknown_service",
]

LogFormat = Literal["json", "pretty"]
_SHARED = "mercato.shared"


def service_names() -> list[str]:
    """Every service the launcher runs."""
    return [s.name for s in SERVICES]


def migratable() -> list[str]:
    """The services with a database to migrate: those whose package has migrations.

    Read from the packages' files, not by importing them (seconds for all of them),
    so that `--help` and completion stay fast; a unit test holds it equal to what
    each service's spec declares.
    """
    found = []
    for name in service_names():
        spec = importlib.util.find_spec(f"mercato.{name}")
        folders = list(spec.submodule_search_locations or []) if spec is not None else []
        if any((Path(folder) / "migrations" / "env.py").is_file() for folder in folders):
            found.append(name)
    return found


def _parser(names: list[str], refuse: Callable[[str], str]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in names:
            raise LauncherError(refuse(value))
        return value

    return parse


def _completer(names: list[str]) -> Callable[[str], list[str]]:
    def complete(incomplete: str) -> list[str]:
        return [name for name in names if name.startswith(incomplete)]

    return complete


def _port(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise LauncherError(f"--port: must be a port number, got {value!r}") from None


def flag(name: str, text: str) -> Any:
    """A typer option that is on when given (its help shows no `<bool>` type)."""
    return typer.Option(name, help=text, metavar=" ")


def choice_argument(metavar: str, names: list[str], text: str, refuse: Callable[[str], str]) -> Any:
    """A typer argument that takes one of `names` (listed in its help, completed).

    Another value is refused in one line, `refuse(value)`, exit 2.
    """
    return typer.Argument(
        parser=_parser(names, refuse),
        autocompletion=_completer(names),
        metavar=metavar,
        help=f"{text}: {', '.join(names)}",
        show_default=False,
    )


def unknown_service(names: list[str]) -> Callable[[str], str]:
    """The refusal of a name that is none of `names`."""
    return lambda value: f"unknown service {value!r} (one of {', '.join(names)})"


Port = Annotated[
    int | None,
    typer.Option(
        "--port",
        parser=_port,
        metavar="P",
        help=f"the gateway's port P; services use P+110.. (env MERCATO_PORT, {DEFAULT_PORT})",
        show_default=False,
    ),
]
DataDir = Annotated[
    str | None,
    typer.Option(
        "--data-dir",
        metavar="DIR",
        help=f"databases, broker store, secrets, logs (env MERCATO_DATA_DIR, {DEFAULT_DATA_DIR})",
        show_default=False,
    ),
]
LogFormatOption = Annotated[
    LogFormat | None,
    typer.Option(
        "--log-format",
        envvar="MERCATO_LOG_FORMAT",
        help="pretty: readable and coloured; json: the processes' JSON lines as they are"
        " (default: pretty on a terminal, else json)",
        show_default=False,
    ),
]


@dataclass(frozen=True)
class Shared:
    """The shared options as given at one level of the command line."""

    port: int | None = None
    data_dir: str | None = None

    def over(self, outer: Shared) -> Shared:
        """These values, else the outer level's."""
        return Shared(
            port=self.port if self.port is not None else outer.port,
            data_dir=self.data_dir if self.data_dir is not None else outer.data_dir,
        )


def shared(ctx: typer.Context, port: int | None, data_dir: str | None) -> Shared:
    """Record this level's shared options; what applies here, the nearest level's first."""
    outer = ctx.meta.get(_SHARED, Shared())
    merged = Shared(port, data_dir).over(outer)
    ctx.meta[_SHARED] = merged
    return merged
