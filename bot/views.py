"""Buttons that outlive a restart, and the invoker-only confirmation for a rollback.

Every run button is one dynamic item, ``RunAction``: its custom_id carries the action and the run
id (``opsbot:rollback:12``, ``opsbot:tick:12:3``), so a button on a message posted before a restart
still works. A press is dispatched through the bot's ``run_actions`` registry (action → handler),
filled by the cogs that own the actions: no button looks a cog up by name.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import discord

log = logging.getLogger(__name__)

# (interaction, run id, the action's extra number or None)
RunActionHandler = Callable[[discord.Interaction, int, int | None], Awaitable[None]]


@dataclass(frozen=True)
class ActionLook:
    label: str
    emoji: str
    style: discord.ButtonStyle


LOOKS = {
    "rollback": ActionLook("Rollback", "⏪", discord.ButtonStyle.danger),
    "verify": ActionLook("Verify", "🔍", discord.ButtonStyle.secondary),
    "estop": ActionLook("Emergency stop", "🛑", discord.ButtonStyle.danger),
    "logs": ActionLook("Logs", "📜", discord.ButtonStyle.secondary),
}


async def guarded(interaction: discord.Interaction, action: Awaitable[None]) -> None:
    """Buttons are not app commands: route their errors to the bot's one error handler too."""
    try:
        await action
    except Exception as exc:  # noqa: BLE001 - every error becomes an ephemeral reply
        await interaction.client.on_tree_error(interaction, exc)  # type: ignore[attr-defined]


class RunAction(discord.ui.DynamicItem[discord.ui.Button[Any]],
                template=r"opsbot:(?P<action>[a-z]+):(?P<run>\d+)(?::(?P<arg>\d+))?"):
    def __init__(self, action: str, run_id: int, arg: int | None = None, *, label: str = "",
                 style: discord.ButtonStyle | None = None, emoji: str | None = None,
                 disabled: bool = False) -> None:
        look = LOOKS.get(action)
        custom_id = f"opsbot:{action}:{run_id}" + (f":{arg}" if arg is not None else "")
        super().__init__(discord.ui.Button(
            label=label or (look.label if look else action), custom_id=custom_id, disabled=disabled,
            style=style or (look.style if look else discord.ButtonStyle.secondary),
            emoji=emoji if emoji is not None else (look.emoji if look else None)))
        self.action, self.run_id, self.arg = action, run_id, arg

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button[Any],
                             match: re.Match[str]) -> RunAction:
        arg = match["arg"]
        return cls(match["action"], int(match["run"]), int(arg) if arg is not None else None)

    async def callback(self, interaction: discord.Interaction) -> None:
        handler = interaction.client.run_actions.get(self.action)  # type: ignore[attr-defined]
        if handler is None:
            log.warning("no handler for button action %r (run #%s)", self.action, self.run_id)
            await guarded(interaction, _unavailable(interaction))
            return
        await guarded(interaction, handler(interaction, self.run_id, self.arg))


async def _unavailable(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("✘ This button's action is not available in this opsbot.",
                                            ephemeral=True)


def tick_button(run_id: int, idx: int, label: str, ticked: bool) -> RunAction:
    return RunAction("tick", run_id, idx, label=(("✔ " if ticked else "☐ ") + label)[:80] or "item",
                     style=discord.ButtonStyle.success if ticked else discord.ButtonStyle.secondary,
                     disabled=ticked)


def run_buttons(run_id: int, *, rollback: bool = True, verify: bool = False) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    if rollback:
        view.add_item(RunAction("rollback", run_id))
    if verify:
        view.add_item(RunAction("verify", run_id))
    return view


EMERGENCY_STEPS = (
    "**Migration failed**: stop the app at once (🛑), restore from the backup (⏪), analyse and fix, then re-run "
    "or stay rolled back.",
    "**App fails to start**: read the logs (📜), check database integrity (🔍), fix the schema if needed, "
    "recover step by step.",
    "**Features broken**: check each basic feature, the settings and environment variables; fix step by step.",
)


EMERGENCY_ACTIONS = ("rollback", "estop", "verify", "logs")


def emergency_view(run_id: int, view: discord.ui.View | None = None, *, row: int | None = None,
                   rollback_label: str = "") -> discord.ui.View:
    """The runbook's emergency steps that have an action, as buttons (the rest is text); added to
    ``view`` when given (an alert's), on ``row``."""
    view = view or discord.ui.View(timeout=None)
    for action in EMERGENCY_ACTIONS:
        button = RunAction(action, run_id, label=rollback_label[:80] if action == "rollback" else "")
        button.item.row = row
        view.add_item(button)
    return view


def checklist_view(run_id: int, items: list[Any], *, rollback: bool = True) -> discord.ui.View:
    """Rollback on the first row, then one button per human checklist item (5 a row)."""
    view = discord.ui.View(timeout=None)
    if rollback:
        view.add_item(RunAction("rollback", run_id))
    for n, item in enumerate(items):
        button = tick_button(run_id, item.idx, item.text, item.ticked)
        button.item.row = 1 + n // 5
        view.add_item(button)
    return view


class ConfirmView(discord.ui.View):
    """Only the person who asked can confirm (RoboDanny's invoker-only confirmation)."""

    def __init__(self, invoker_id: int, *, timeout: float = 120) -> None:
        super().__init__(timeout=timeout)
        self.invoker_id = invoker_id
        self.confirmed: bool | None = None
        self.interaction: discord.Interaction | None = None

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id != self.invoker_id:
            await interaction.response.send_message("✘ Only the person who asked can confirm.", ephemeral=True)
            return False
        return True

    @discord.ui.button(label="Roll back now", style=discord.ButtonStyle.danger)
    async def confirm(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        self.confirmed, self.interaction = True, interaction
        self.stop()

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        self.confirmed, self.interaction = False, interaction
        self.stop()


def alert_view(incident_id: int, *, rollback_run: int | None = None, rollback_label: str = "") -> discord.ui.View:
    """An alert you can own: Acknowledge (reminders stop), Silence 30 min / 2 h, and inside the watch
    window after a migration the runbook's emergency buttons, the Rollback one naming the migration."""
    view = discord.ui.View(timeout=None)
    view.add_item(RunAction("ack", incident_id, label="Acknowledge", emoji="👀", style=discord.ButtonStyle.primary))
    view.add_item(RunAction("silence", incident_id, 30, label="Silence 30 min", emoji="🔕"))
    view.add_item(RunAction("silence", incident_id, 120, label="Silence 2 h", emoji="🔕"))
    if rollback_run:
        emergency_view(rollback_run, view, row=1, rollback_label=rollback_label)
    return view
