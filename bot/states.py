"""One look per state, the same on every card: an icon and a word in the title, and a colour.

A card's title is ``"<icon> <word>: <what>"`` (``"⏳ Awaiting approval: migrate 0001_x.sql"``), so
the state can be read at a glance in the channel list, and ``retitle`` can change the state of a
card already posted without knowing what it was about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import discord

from ops.outcome import CHANGED, DONE, UNCHANGED, UNKNOWN


@dataclass(frozen=True)
class Look:
    icon: str
    word: str
    colour: discord.Colour


LOOKS: dict[str, Look] = {
    "pending": Look("⏳", "Awaiting approval", discord.Colour.gold()),
    "running": Look("🔄", "Running", discord.Colour.blurple()),
    DONE: Look("✅", "Applied", discord.Colour.green()),
    UNCHANGED: Look("❌", "Failed, database unchanged", discord.Colour.red()),
    "unhealthy": Look("⚠", "Applied, but the app is unhealthy", discord.Colour.orange()),
    CHANGED: Look("⚠", "Changed, but a later step failed", discord.Colour.orange()),
    UNKNOWN: Look("⚠", "Outcome unknown: verify first", discord.Colour.orange()),
    "interrupted": Look("⚠", "Interrupted", discord.Colour.orange()),
    "rolled_back": Look("⏪", "Rolled back", discord.Colour.light_grey()),
    "expired": Look("⌛", "Expired", discord.Colour.dark_grey()),
    "cancelled": Look("🚫", "Cancelled", discord.Colour.dark_grey()),
    "stale": Look("♻", "Stale", discord.Colour.dark_grey()),
    # The phases that change nothing (preflight, verify) and the backup.
    "passed": Look("✅", "Passed", discord.Colour.green()),
    "failed": Look("❌", "Failed", discord.Colour.red()),
    "backed_up": Look("✅", "Backed up", discord.Colour.green()),
}
FINISHED = frozenset(LOOKS) - {"pending", "running"}
# Cards posted before these looks were titled "Approval needed: …".
_PREFIX = re.compile(r"^(?:Approval needed: |" + "|".join(re.escape(f"{look.icon} {look.word}: ")
                                                           for look in LOOKS.values()) + ")")
# The sentence of a pending request that says when it expires (dropped once it is decided).
EXPIRY = re.compile(r"\s*Expires <t:\d+:R>\.")


def title(state: str, what: str) -> str:
    look = LOOKS[state]
    return f"{look.icon} {look.word}: {what}"[:256]


def phase_title(ok: bool, what: str) -> str:
    """A preflight's or a verify's finished card: ✅ Passed or ❌ Failed."""
    return title("passed" if ok else "failed", what)


def run_state(outcome: str, *, ok: bool, health_ok: bool | None = None) -> str:
    """The look of a finished run: its outcome, and "unhealthy" when it applied but the app's
    health check then failed (never a green ✅ for that)."""
    if ok and health_ok is False:
        return "unhealthy"
    return outcome if outcome in LOOKS else (DONE if ok else UNCHANGED)


def retitle(embed: discord.Embed, state: str) -> discord.Embed:
    """Show ``state`` on a card already posted: title, colour, and no expiry once it is decided."""
    what = _PREFIX.sub("", embed.title or "")
    embed.title = title(state, what)
    embed.colour = LOOKS[state].colour
    if state in FINISHED and embed.description:
        embed.description = EXPIRY.sub("", embed.description)
    return embed


def what_of(embed: discord.Embed) -> str:
    """The card's subject without its state (``migrate 0001_x.sql``)."""
    return _PREFIX.sub("", embed.title or "")
