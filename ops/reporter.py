"""Progress events from a phase. The CLI prints them, the bot edits a message, tests collect."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class Status(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    WARNING = "warning"


@dataclass(frozen=True)
class StepEvent:
    name: str
    status: Status
    detail: str = ""
    at: float = field(default_factory=time.monotonic)


class Reporter(Protocol):
    async def run_started(self, run_id: int) -> None:
        """The phase opened its journal run (the bot links its message to it)."""

    def step(self, name: str, status: Status, detail: str = "") -> None: ...

    def table(self, title: str, columns: list[str], rows: list[list[Any]]) -> None: ...


class NullReporter:
    async def run_started(self, run_id: int) -> None:
        pass

    def step(self, name: str, status: Status, detail: str = "") -> None:
        pass

    def table(self, title: str, columns: list[str], rows: list[list[Any]]) -> None:
        pass


@dataclass
class ListReporter:
    """Collects every event; what the tests read."""

    events: list[StepEvent] = field(default_factory=list)
    tables: list[tuple[str, list[str], list[list[Any]]]] = field(default_factory=list)
    run_id: int = 0

    async def run_started(self, run_id: int) -> None:
        self.run_id = run_id

    def step(self, name: str, status: Status, detail: str = "") -> None:
        self.events.append(StepEvent(name, status, detail))

    def table(self, title: str, columns: list[str], rows: list[list[Any]]) -> None:
        self.tables.append((title, columns, rows))

    def statuses(self, name: str) -> list[Status]:
        return [e.status for e in self.events if e.name == name]

