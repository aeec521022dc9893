"""Typed errors of the harness: each stage raises its own, with what went wrong."""

from __future__ import annotations


class HarnessError(Exception):
    """Base of every error the harness reports to the user."""


class ConfigError(HarnessError):
    """A request that cannot be satisfied as given (unknown profile, missing tool...)."""


class CommandError(HarnessError):
    """A command exited non-zero or timed out; carries its output."""

    def __init__(self, argv: list[str], returncode: int | None, output: str) -> None:
        self.argv = argv
        self.returncode = returncode
        self.output = output
        status = "timed out" if returncode is None else f"exited {returncode}"
        super().__init__(f"{argv[0]} {status}")


class KernelFetchError(HarnessError):
    """A kernel could not be resolved, downloaded or unpacked."""


class BuildError(HarnessError):
    """kbuild failed or warned; carries the compiler output."""

    def __init__(self, message: str, output: str) -> None:
        self.output = output
        super().__init__(message)


class LintError(HarnessError):
    """A linter reported problems."""
