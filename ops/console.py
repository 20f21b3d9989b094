"""The terminal Reporter: one line per step as it happens, and row-count tables (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from ops.reporter import Status

ICONS = {
    Status.PENDING: "[dim]·[/]",
    Status.RUNNING: "[cyan]…[/]",
    Status.DONE: "[green]✔[/]",
    Status.FAILED: "[bold red]✘[/]",
    Status.SKIPPED: "[dim]-[/]",
    Status.WARNING: "[yellow]![/]",
}


class ConsoleReporter:
    def __init__(self, console: Console | None = None, *, show_running: bool = True) -> None:
        self.console = console or Console(highlight=False)
        self.show_running = show_running

    def step(self, name: str, status: Status, detail: str = "") -> None:
        if status == Status.RUNNING and not self.show_running:
            return
        text = f"  {ICONS.get(status, '?')} [bold]{name}[/]"
        if detail:
            text += f"  {_escape(detail)}"
        self.console.print(text)

    async def run_started(self, run_id: int) -> None:
        pass

    def table(self, title: str, columns: list[str], rows: list[list[Any]]) -> None:
        table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
        for i, col in enumerate(columns):
            table.add_column(col, justify="right" if 0 < i < 4 else "left")
        for row in rows:
            cells = [_escape(str(c)) for c in row]
            if any(c == "LOST ROWS" for c in cells):
                cells = [f"[bold red]{c}[/]" for c in cells]
            table.add_row(*cells)
        self.console.print(table)


def _escape(text: str) -> str:
    return text.replace("[", "\\[")
