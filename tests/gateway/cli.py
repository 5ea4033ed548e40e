"""The ``gateway`` commands run in tests through Typer's runner, 200 columns wide; with the
`gateway_register` fixture (tests/conftest.py) for their register and store."""

from __future__ import annotations

from typer.testing import CliRunner

from ketenherstel.cli import app

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    """``ketenherstel ARGS``: its exit code, standard output and standard error."""
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr
