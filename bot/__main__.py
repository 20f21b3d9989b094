"""`python -m bot`: validate settings (exit 2 with one line per problem), then run."""

from __future__ import annotations

import asyncio
import logging
import sys

from bot.settings import load_bot_settings
from ops.cli import open_engine
from ops.errors import UsageError
from ops.redact import install_log_redaction, register_secret


async def run() -> None:
    from bot.app import OpsBot

    settings = load_bot_settings()
    register_secret(settings.discord_token)
    engine = await open_engine(settings.engine)
    bot = OpsBot(settings=settings, engine=engine)
    try:
        async with bot:
            await bot.start(settings.discord_token)
    finally:
        await engine.journal.close()


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_redaction()
    try:
        asyncio.run(run())
    except UsageError as exc:
        print(exc.message, file=sys.stderr)
        print(f"→ {exc.hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
