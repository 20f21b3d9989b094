"""Buttons that outlive a restart (dynamic items: the run id lives in the custom_id), and the
invoker-only confirmation for a rollback."""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

import discord

if TYPE_CHECKING:
    from cogs.migrate import MigrateCog


async def guarded(interaction: discord.Interaction, action: Awaitable[None]) -> None:
    """Buttons are not app commands: route their errors to the bot's one error handler too."""
    try:
        await action
    except Exception as exc:  # noqa: BLE001 - every error becomes an ephemeral reply
        await interaction.client.on_tree_error(interaction, exc)  # type: ignore[attr-defined]


def _cog(interaction: discord.Interaction) -> MigrateCog:
    cog = interaction.client.get_cog("migrate")  # type: ignore[attr-defined]
    assert cog is not None
    return cog  # type: ignore[return-value]


class RollbackButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"opsbot:rollback:(?P<run>\d+)"):
    def __init__(self, run_id: int) -> None:
        super().__init__(discord.ui.Button(label="Rollback", style=discord.ButtonStyle.danger, emoji="⏪",
                                           custom_id=f"opsbot:rollback:{run_id}"))
        self.run_id = run_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button[Any],
                             match: re.Match[str]) -> RollbackButton:
        return cls(int(match["run"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await guarded(interaction, _cog(interaction).rollback_button(interaction, self.run_id))


class VerifyButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"opsbot:verify:(?P<run>\d+)"):
    def __init__(self, run_id: int) -> None:
        super().__init__(discord.ui.Button(label="Verify", style=discord.ButtonStyle.secondary, emoji="🔍",
                                           custom_id=f"opsbot:verify:{run_id}"))
        self.run_id = run_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button[Any],
                             match: re.Match[str]) -> VerifyButton:
        return cls(int(match["run"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await guarded(interaction, _cog(interaction).verify_button(interaction, self.run_id))


def run_buttons(run_id: int, *, rollback: bool = True, verify: bool = False) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    if rollback:
        view.add_item(RollbackButton(run_id))
    if verify:
        view.add_item(VerifyButton(run_id))
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


class EmergencyStopButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"opsbot:estop:(?P<run>\d+)"):
    def __init__(self, run_id: int) -> None:
        super().__init__(discord.ui.Button(label="Emergency stop", style=discord.ButtonStyle.danger, emoji="🛑",
                                           custom_id=f"opsbot:estop:{run_id}"))
        self.run_id = run_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button[Any],
                             match: re.Match[str]) -> EmergencyStopButton:
        return cls(int(match["run"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await guarded(interaction, _cog(interaction).estop_button(interaction, self.run_id))


class LogsButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"opsbot:logs:(?P<run>\d+)"):
    def __init__(self, run_id: int) -> None:
        super().__init__(discord.ui.Button(label="Logs", style=discord.ButtonStyle.secondary, emoji="📜",
                                           custom_id=f"opsbot:logs:{run_id}"))
        self.run_id = run_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button[Any],
                             match: re.Match[str]) -> LogsButton:
        return cls(int(match["run"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await guarded(interaction, _cog(interaction).logs_button(interaction, self.run_id))


class ChecklistButton(discord.ui.DynamicItem[discord.ui.Button[Any]],
                      template=r"opsbot:tick:(?P<run>\d+):(?P<idx>\d+)"):
    def __init__(self, run_id: int, idx: int, label: str = "", ticked: bool = False) -> None:
        super().__init__(discord.ui.Button(
            label=(("✔ " if ticked else "☐ ") + label)[:80] or "item", disabled=ticked,
            style=discord.ButtonStyle.success if ticked else discord.ButtonStyle.secondary,
            custom_id=f"opsbot:tick:{run_id}:{idx}"))
        self.run_id, self.idx = run_id, idx

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button[Any],
                             match: re.Match[str]) -> ChecklistButton:
        return cls(int(match["run"]), int(match["idx"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await guarded(interaction, _cog(interaction).tick_button(interaction, self.run_id, self.idx))


EMERGENCY_STEPS = (
    "**Migration failed**: stop the app at once (🛑), restore from the backup (⏪), analyse and fix, then re-run "
    "or stay rolled back.",
    "**App fails to start**: read the logs (📜), check database integrity (🔍), fix the schema if needed, "
    "recover step by step.",
    "**Features broken**: check each basic feature, the settings and environment variables; fix step by step.",
)


def emergency_view(run_id: int) -> discord.ui.View:
    """The runbook's emergency steps that have an action, as buttons (the rest is text)."""
    view = discord.ui.View(timeout=None)
    for item in (RollbackButton(run_id), EmergencyStopButton(run_id), VerifyButton(run_id), LogsButton(run_id)):
        view.add_item(item)
    return view


def checklist_view(run_id: int, items: list[Any], *, rollback: bool = True) -> discord.ui.View:
    """Rollback on the first row, then one button per human checklist item (5 a row)."""
    view = discord.ui.View(timeout=None)
    if rollback:
        view.add_item(RollbackButton(run_id))
    for n, item in enumerate(items):
        button = ChecklistButton(run_id, item.idx, item.text, item.ticked)
        button.item.row = 1 + n // 5
        view.add_item(button)
    return view
