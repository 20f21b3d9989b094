"""pytest plugin: the `discord_standin` fixture (add "tests.discord_standin.plugin" to
pytest_plugins).

The fixture points discord.py's REST base and gateway URL at a fresh loopback stand-in and
puts them back afterwards. At teardown it fails the test if the bot sent a request that
breaks Discord's OpenAPI spec (when DISCORD_API_SPEC names it), hit a route Discord does not
have, was refused by a Discord rule, or acknowledged an interaction late. A test that
provokes such a thing on purpose asserts on it and calls `clear_problems()`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import pytest

from .standin import DiscordStandIn
from .validation import spec_path_from_env

TRANSCRIPT_ENV = "OPSBOT_TRANSCRIPT"


def write_transcript(standin: DiscordStandIn, test: str) -> None:
    """With OPSBOT_TRANSCRIPT=FILE, append what the ops channel showed at the end of the test
    (each message's final text, with its buttons, and the thread started from it, indented):
    material for closing notes and reviews."""
    path = os.environ.get(TRANSCRIPT_ENV)
    if not path:
        return
    from . import constants as c

    lines = [f"## {test}", ""]
    for msg in standin.channel_messages(c.OPS_CHANNEL_ID):
        buttons = [comp.get("label", "") for comp in msg.iter_components()]
        lines.append(f"--- message {msg.id} ({len(msg.edits)} edits)")
        lines.append(msg.text())
        if buttons:
            lines.append("[buttons: " + " | ".join(buttons) + "]")
        if msg.reactions:
            lines.append("[reactions: " + " ".join(f"{e}×{len(u)}" for e, u in msg.reactions.items()) + "]")
        thread = standin.thread_of(msg.id)
        if thread is not None:
            posts = standin.thread_messages(thread.id)
            state = "locked" if thread.locked else "archived" if thread.archived else "active"
            lines.append(f"    === thread {thread.name!r} ({state}, {len(posts)} messages)")
            for post in posts:
                lines.append(f"    --- message {post.id} ({len(post.edits)} edits)")
                lines.extend("    " + line for line in post.text().splitlines())
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n\n")


@contextmanager
def discord_pointed_at(standin: DiscordStandIn) -> Iterator[None]:
    """Swap discord.py's class-level URLs for the stand-in's; always restore them."""
    import discord.gateway
    import discord.http
    import yarl

    saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    discord.http.Route.BASE = standin.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(standin.gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


@pytest.fixture
async def discord_standin(request: pytest.FixtureRequest) -> AsyncIterator[DiscordStandIn]:
    standin = DiscordStandIn(spec_path=spec_path_from_env())
    await standin.start()
    try:
        with discord_pointed_at(standin):
            yield standin
    finally:
        await standin.stop()
        write_transcript(standin, request.node.name)
    problems = standin.problems()
    if problems and standin.fail_on_problems:
        listing = "\n  ".join(problems)
        pytest.fail(f"the Discord stand-in recorded {len(problems)} problem(s):\n  {listing}",
                    pytrace=False)
