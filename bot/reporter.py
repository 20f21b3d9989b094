"""The Discord side of a Reporter: one message in the ops channel, edited in place.

Edits are coalesced: at most one edit per ``min_interval`` seconds, always showing the latest
state, so a phase with many quick steps never trips Discord's rate limits (5 edits / 5 s per
channel), and the final state is always sent.
"""

from __future__ import annotations

import asyncio
import calendar
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import discord

from ops.journal import Journal
from ops.redact import redact
from ops.reporter import Status

log = logging.getLogger(__name__)

ICONS = {Status.PENDING: "▫️", Status.RUNNING: "🔄", Status.DONE: "✅", Status.FAILED: "❌",
         Status.SKIPPED: "⏭️", Status.WARNING: "⚠️"}
COLOURS = {"running": discord.Colour.blurple(), "ok": discord.Colour.green(), "failed": discord.Colour.red(),
           "warning": discord.Colour.gold()}
# ops.context.Step ends a step's detail with how long it took ("… (0.0s)"); the CLI shows it, a card only
# when it is worth reading (a second or more).
_TOOK = re.compile(r"\s*\((\d+(?:\.\d+)?)s\)$")
# ops/ writes times for the terminal ("2026-12-02 15:59:28 UTC"); a card shows them in each reader's zone.
_UTC = re.compile(r"\b(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d) UTC\b")


def card_detail(detail: str) -> str:
    """A step's detail as a card shows it: no sub-second timing, times as Discord timestamps."""
    took = _TOOK.search(detail)
    if took:
        seconds = float(took.group(1))
        detail = detail[: took.start()] + (f" ({seconds:.0f}s)" if seconds >= 1 else "")
    return discord_times(detail)


def discord_times(text: str) -> str:
    """UTC times written as text by ops/ → ``<t:…:f> (<t:…:R>)``."""
    def stamp(m: re.Match[str]) -> str:
        epoch = calendar.timegm(tuple(int(g) for g in m.groups()) + (0, 0, 0))  # type: ignore[arg-type]
        return f"<t:{epoch}:f> (<t:{epoch}:R>)"

    return _UTC.sub(stamp, text)


def took(seconds: float, prefix: str = " · ") -> str:
    """How long something took, for a footer: nothing under a second (noise at 2 a.m.)."""
    return f"{prefix}{seconds:.0f}s" if seconds >= 1 else ""


class Place(Protocol):
    """Where a progress card goes: a channel, a thread, or the invoker's own answer."""

    async def send(self, *args: Any, **kwargs: Any) -> Any: ...


@dataclass
class StepLine:
    name: str
    status: Status
    detail: str
    started: float = field(default_factory=time.monotonic)


class DiscordReporter:
    def __init__(self, channel: Place, title: str, *, min_interval: float = 1.5,
                 journal: Journal | None = None, card: discord.Message | None = None) -> None:
        """``card``: the phase's one card in the ops channel when its progress goes into the card's
        thread (``channel``); it shows the phase's state in one line and is edited at the end."""
        self.channel, self.title, self.min_interval = channel, title, min_interval
        self.journal = journal
        self.card = card
        self.run_id = 0
        self.lines: list[StepLine] = []
        self.tables: list[tuple[str, list[str], list[list[Any]]]] = []
        self.message: discord.Message | None = None
        self.started = time.monotonic()
        self._last_edit = 0.0
        self._pending: asyncio.Task[None] | None = None
        self.edits = 0

    async def start(self, existing: discord.Message | None = None) -> discord.Message:
        """Post the progress card (or show it on ``existing``, a card already posted)."""
        if existing is not None:
            self.message = existing
            await self._edit(embed=self.embed("running"))
        else:
            self.message = await self.channel.send(embed=self.embed("running"))
        self._last_edit = time.monotonic()
        return self.message

    @property
    def shown(self) -> discord.Message | None:
        """The card people see in the ops channel: the one-line card, else the progress card."""
        return self.card or self.message

    async def run_started(self, run_id: int) -> None:
        """The phase opened its journal run: remember which message shows it, so a bot that
        restarts after a kill can edit this message instead of leaving it "running" forever."""
        self.run_id = run_id
        if self.journal is not None:
            for shown in (self.card, self.message):  # both are edited when the run's state changes later
                if shown is not None:
                    await self.journal.add_run_message(run_id, shown.channel.id, shown.id)

    def step(self, name: str, status: Status, detail: str = "") -> None:
        detail = card_detail(redact(detail))
        current = next((ln for ln in reversed(self.lines) if ln.name == name and ln.status == Status.RUNNING), None)
        if current and status != Status.RUNNING:
            current.status, current.detail = status, detail
        else:
            self.lines.append(StepLine(name, status, detail))
        self._schedule()

    def table(self, title: str, columns: list[str], rows: list[list[Any]]) -> None:
        self.tables.append((title, columns, rows))
        self._schedule()

    def _schedule(self) -> None:
        if self.message is None or (self._pending and not self._pending.done()):
            return
        self._pending = asyncio.get_running_loop().create_task(self._edit_later())

    async def _edit_later(self) -> None:
        wait = self._last_edit + self.min_interval - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        await self._edit(embed=self.embed("running"))

    async def _edit(self, **kwargs: Any) -> None:
        assert self.message is not None
        try:
            await self.message.edit(**kwargs)
            self.edits += 1
        except discord.HTTPException as exc:
            log.warning("could not edit the progress message: %s", exc)
        self._last_edit = time.monotonic()

    def close(self) -> None:
        """The bot is shutting down: drop a coalesced edit still waiting to be sent."""
        if self._pending and not self._pending.done():
            self._pending.cancel()

    async def finish(self, embed: discord.Embed, *, view: discord.ui.View | None = None,
                     attachments: list[discord.File] | None = None) -> None:
        if self._pending and not self._pending.done():
            self._pending.cancel()
        kwargs: dict[str, Any] = {"embed": embed}
        if view is not None:
            kwargs["view"] = view
        if attachments:
            kwargs["attachments"] = attachments
        await self._edit(**kwargs)
        if self.card is not None and self.message is not None:
            try:
                await self.card.edit(embed=one_line_card(embed, self.message.channel))
            except discord.HTTPException as exc:
                log.warning("could not edit the card of %s: %s", self.title, exc)

    def steps_text(self, limit: int = 3500) -> str:
        out = []
        for ln in self.lines:
            text = f"{ICONS.get(ln.status, '•')} **{ln.name}**"
            if ln.detail:
                text += f" — {ln.detail}"
            out.append(text[:300])
        text = "\n".join(out)
        return text if len(text) <= limit else "…\n" + text[-limit:]

    def embed(self, state: str) -> discord.Embed:
        elapsed = time.monotonic() - self.started
        embed = discord.Embed(title=self.title[:256], description=self.steps_text() or "starting…",
                              colour=COLOURS.get(state, COLOURS["running"]))
        embed.set_footer(text=f"{state}{took(elapsed)}")
        return embed


def one_line_card(embed: discord.Embed | None, thread: Any = None, *, title: str = "") -> discord.Embed:
    """A phase's card in the ops channel: its state (title and colour) and one line pointing at the
    thread that holds its steps and details, so no host path or file name reaches the channel."""
    where = f" <#{thread.id}>" if thread is not None else " below"
    state = (embed.title if embed is not None else "") or title
    return discord.Embed(title=state[:256], colour=embed.colour if embed is not None else COLOURS["running"],
                         description=f"Steps and details in its thread{where}.")
