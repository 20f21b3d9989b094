"""Human words on cards (issue 13): no sub-second timings, times as Discord timestamps; the CLI and
the journal keep what ops/ wrote."""

from __future__ import annotations

import calendar

from bot.render import without_host_paths
from bot.reporter import DiscordReporter, card_detail, discord_times, took
from ops.backup import run_backup
from ops.context import Engine
from ops.reporter import ListReporter, Status


def test_a_sub_second_timing_is_dropped_and_a_longer_one_rounded() -> None:
    assert card_detail("integrity ok (0.0s)") == "integrity ok"
    assert card_detail("integrity ok (0.9s)") == "integrity ok"
    assert card_detail("copied 2.0 GiB (12.4s)") == "copied 2.0 GiB (12s)"
    assert card_detail("(0.1s)") == ""
    # Control: a number in brackets that is not the step's trailing timing stays.
    assert card_detail("kept 3 (of 5s) rows") == "kept 3 (of 5s) rows"
    assert took(0.64) == "" and took(0.057, " · write lock ") == "" and took(3.2) == " · 3s"


def test_utc_times_become_discord_timestamps() -> None:
    epoch = calendar.timegm((2026, 12, 2, 15, 59, 28, 0, 0, 0))
    text = discord_times("Writes made after 2026-12-02 15:59:28 UTC (when the backup was taken) are lost.")
    assert text == f"Writes made after <t:{epoch}:f> (<t:{epoch}:R>) (when the backup was taken) are lost."
    assert discord_times("no time here: 2026-12-02") == "no time here: 2026-12-02"  # control: a date alone stays


async def test_the_card_drops_the_timing_the_cli_and_journal_keep(engine: Engine) -> None:
    cli = ListReporter()
    await run_backup(engine, label="timing", reporter=cli)
    done = [e for e in cli.events if e.status == Status.DONE]
    timed = [e for e in done if e.detail.endswith("s)")]
    assert len(timed) >= 3, "the terminal shows each timed step's time"
    stored = [s for s in await engine.journal.steps(cli.run_id) if s.status == "done"]
    assert len([s for s in stored if s.detail.endswith("s)")]) == len(timed)  # the journal keeps its text
    card = DiscordReporter(channel=None, title="backup")  # type: ignore[arg-type]  # no message: nothing is sent
    for e in cli.events:
        card.step(e.name, e.status, e.detail)
    assert "0.0s" not in card.steps_text() and "(0." not in card.steps_text()
    assert "verify backup** — ok, " in card.steps_text()  # the rest of the detail stays


def test_a_line_for_the_channel_carries_no_host_path() -> None:
    line = 'sqlite3 .backup "/data/app.db.pre-0001-20261202.opsbot-partial" failed; see /tmp/x/snapshot.db'
    assert without_host_paths(line) == 'sqlite3 .backup "(path in the thread)" failed; see (path in the thread)'
    # Controls: a link, mentions, a fraction and the ⇄ of a diff are not host paths.
    kept = "[run #2](https://discord.com/channels/1/2/3) <@&12> <#34> 3/4 done and/or"
    assert without_host_paths(kept) == kept
    # ...nor are the bot's own commands in a hint.
    hint = "Request again with `/migrate run`, or `/migrate unlock` first; `/health resume` ends the pause"
    assert without_host_paths(hint) == hint
