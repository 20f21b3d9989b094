"""The Discord side of an approval request, for every kind (migration, code revert): post the card
so that it is found again after a 5xx, keep one copy, edit its top line when its state changes.
Who may decide what is ops.requests' business; this module only shows it."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable

import discord

from bot.render import clip, without_host_paths
from bot.states import LOOKS, retitle
from ops.approvals import Approval, Approvals
from ops.errors import OpsError
from ops.requests import APPROVAL_EMOJI

log = logging.getLogger(__name__)

# Edits of one request card are read-modify-write: one at a time, so a note cannot put back the
# state another edit just changed.
_EDITING: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)


def request_marker(approval_id: int) -> str:
    """The footer that ties a request message to its journal row (found again after a 5xx)."""
    return f"opsbot request #{approval_id}"


async def post_request(client: discord.Client, approvals: Approvals, channel: discord.abc.Messageable,
                       approval_id: int, embed: discord.Embed, *, retry_hint: str, ping_role: int = 0,
                       files: list[discord.File] | None = None) -> discord.Message:
    """Post the request card with its marker and the ✅/❌ reactions; returns the one copy kept.
    ``ping_role`` is mentioned in the message's content (a mention inside an embed notifies no one),
    and only that role may be notified."""
    embed.set_footer(text=request_marker(approval_id))
    content = f"<@&{ping_role}> an approval is needed" if ping_role else None
    mentions = discord.AllowedMentions(everyone=False, users=False, replied_user=False,
                                       roles=[discord.Object(ping_role)] if ping_role else False)
    try:
        message: discord.Message | None = await channel.send(content=content, embed=embed, files=files or [],
                                                              allowed_mentions=mentions)
    except discord.HTTPException as exc:
        # A 5xx may come after Discord stored the message: look before calling it lost.
        message = await posted_copy(client, channel, approval_id)
        if message is None:
            await approvals.transition(approval_id, "unposted", f"Discord answered {exc.status}")
            raise OpsError(f"Discord did not take the request message (HTTP {exc.status}), so nothing was "
                           "requested", hint=retry_hint) from exc
    assert message is not None
    # Attached at once, so a ✅ that arrives while duplicates are looked for still counts.
    await approvals.attach_message(approval_id, message.channel.id, message.id)
    kept = await keep_one(client, channel, approval_id, message)
    if kept.id != message.id:
        await approvals.attach_message(approval_id, kept.channel.id, kept.id)
    for emoji in APPROVAL_EMOJI:
        await kept.add_reaction(emoji)
    return kept


async def posted_copies(client: discord.Client, channel: discord.abc.Messageable,
                        approval_id: int) -> list[discord.Message]:
    """The bot's recent messages carrying this request's marker, oldest first."""
    marker, found = request_marker(approval_id), []
    async for m in channel.history(limit=25):
        if client.user and m.author.id == client.user.id and m.embeds and m.embeds[0].footer.text == marker:
            found.append(m)
    return sorted(found, key=lambda m: m.id)


async def posted_copy(client: discord.Client, channel: discord.abc.Messageable,
                      approval_id: int) -> discord.Message | None:
    try:
        copies = await posted_copies(client, channel, approval_id)
    except discord.HTTPException as exc:
        log.warning("could not read the channel back for request #%s: %s", approval_id, exc)
        return None
    return copies[0] if copies else None


async def keep_one(client: discord.Client, channel: discord.abc.Messageable, approval_id: int,
                   message: discord.Message) -> discord.Message:
    """discord.py retries a 5xx: when Discord had stored the first try, the request is in the
    channel twice. Keep the first one (the one people saw first) and delete the others."""
    try:
        copies = await posted_copies(client, channel, approval_id)
    except discord.HTTPException as exc:
        log.warning("could not check request #%s for duplicates: %s", approval_id, exc)
        return message
    if len(copies) <= 1:
        return message
    keep, extra = copies[0], copies[1:]
    for m in extra:
        try:
            await m.delete()
        except discord.HTTPException as exc:
            log.warning("could not delete a duplicate of request #%s: %s", approval_id, exc)
    log.info("request #%s was posted %d times (a retried 5xx); kept %s", approval_id, len(copies), keep.id)
    return keep


CardChange = Callable[[discord.Embed | None], discord.Embed | None]


async def _change_card(client: discord.Client, a: Approval, change: CardChange, what: str,
                       content: str | None = None) -> None:
    """Read the request's card, change its embed (and its text, when ``content`` is given), write it
    back: one edit of a card at a time."""
    if not a.message_id or not a.channel_id:
        return
    try:
        async with _EDITING[a.message_id]:
            message = await client.get_partial_messageable(a.channel_id).fetch_message(a.message_id)
            embed = change(message.embeds[0] if message.embeds else None)
            if embed is not None and content is not None:
                # An edit notifies no one: the approver role's ping is replaced by the state in words.
                await message.edit(content=content, embed=embed, allowed_mentions=discord.AllowedMentions.none())
            elif embed is not None:
                await message.edit(embed=embed)
    except discord.HTTPException as exc:
        log.warning("could not %s the message of request #%s: %s", what, a.id, exc)


async def note_on_request(client: discord.Client, a: Approval, line: str) -> None:
    """Add a line under the request's top line without changing its state (an ignored ✅)."""
    def note(embed: discord.Embed | None) -> discord.Embed | None:
        if embed is not None:
            embed.description = clip(f"{embed.description or ''}\n{line}", 4000)
        return embed

    await _change_card(client, a, note, "note on")


async def edit_request(client: discord.Client, a: Approval, line: str, *, state: str, summary: str = "") -> None:
    """Show the request's state (bot.states: title, colour, no expiry once decided) and put the
    latest decision or outcome at the top of its message. Once it is no longer waiting, the message's
    text ("<@&approvers> an approval is needed") says its state in words instead, with ``summary``
    ("run #4")."""
    def show(embed: discord.Embed | None) -> discord.Embed:
        embed = retitle(embed or discord.Embed(title=f"{a.kind} {a.subject}"), state)
        embed.description = clip(f"{without_host_paths(line)}\n\n{embed.description or ''}", 4000)
        return embed

    await _change_card(client, a, show, "edit", content=None if state == "pending" else state_words(state, summary))


def state_words(state: str, summary: str = "") -> str:
    """``"✅ Applied — run #4"``: a request's state as its message's text."""
    look = LOOKS[state]
    return f"{look.icon} {look.word}" + (f" — {summary}" if summary else "")
