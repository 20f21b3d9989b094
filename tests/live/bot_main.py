"""The real `python -m bot` entry point, pointed at a test's loopback Discord stand-in.

    python -m tests.live.bot_main API_BASE GATEWAY_URL

Only the two URLs discord.py has no setting for are swapped (as the test plugin's
`discord_pointed_at` does); everything else — settings from the environment, `Engine.open`,
the journal, OpsBot, the cogs — is what `python -m bot` runs on a server.
"""

from __future__ import annotations

import sys

import discord.gateway
import discord.http
import yarl

from bot.__main__ import main

if __name__ == "__main__":
    discord.http.Route.BASE = sys.argv[1]
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(sys.argv[2])
    sys.exit(main([]))
