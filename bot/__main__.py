"""`python -m bot`: validate settings (exit 2 with one line per problem), then run.

`python -m bot check` validates the settings the same way, then checks the deployment
without starting the bot (see bot/check.py): exit 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from bot.settings import load_bot_settings
from ops.context import Engine
from ops.errors import OpsError, UsageError
from ops.history import adopt_all
from ops.redact import install_log_redaction, register_secret


async def run() -> None:
    from bot.app import OpsBot

    settings = load_bot_settings()
    register_secret(settings.discord.token)
    first, *others = settings.environments or (None,)
    engine = await Engine.open(settings.ops, env=first.name if first else "", policy=first.policy if first else None)
    try:
        more = [await Engine.open(e.settings, env=e.name, policy=e.policy, journal=engine.journal) for e in others]
        await adopt_all(engine.journal, settings.environments)  # a history kept under an old key (ops.history)
        bot = OpsBot(settings=settings, engine=engine, engines=tuple(more))
        async with bot:
            await bot.start(settings.discord.token)
    finally:
        await engine.journal.close()


USAGE = "usage: python -m bot [check]\n  (no command) run the bot\n  check        check the deployment, then exit"


async def check() -> int:
    from bot.check import report, run_checks

    logging.getLogger("discord").setLevel(logging.ERROR)  # its voice-support notices are noise here
    settings = load_bot_settings()
    findings = await run_checks(settings)
    print(report(findings), flush=True)
    return 0 if all(f.ok for f in findings) else 1


def configure_logging(level: int) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # APScheduler logs two INFO lines for every scheduled health check: only its warnings matter.
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
    install_log_redaction()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if args not in ([], ["check"]):
        print(USAGE, file=sys.stderr)
        return 2
    configure_logging(logging.WARNING if args else logging.INFO)  # the check prints its own findings
    try:
        if args:
            return asyncio.run(check())
        asyncio.run(run())
    except UsageError as exc:
        print(exc.message, file=sys.stderr)
        print(f"→ {exc.hint}", file=sys.stderr)
        return 2
    except OpsError as exc:  # before it could start, e.g. a journal newer than this code
        print(exc.message, file=sys.stderr)
        if exc.hint:
            print(f"→ {exc.hint}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - a refused token is one line, not a traceback
        import discord

        if not isinstance(exc, discord.LoginFailure):
            raise
        print("Discord refused DISCORD_TOKEN (401 Unauthorized): it was reset, revoked or copied wrong.",
              file=sys.stderr)
        print("→ Developer Portal → your app → Bot → Reset Token; put the new one in DISCORD_TOKEN "
              "(fly secrets set DISCORD_TOKEN=… on Fly), then start the bot again.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
