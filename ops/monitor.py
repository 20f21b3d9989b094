"""The health monitor: a check every interval, incidents with thresholds, kept in the journal.

One alert per incident (after N consecutive failures), reminders while it stays down, one
recovery after M consecutive passes. Alerts are held while a pause is active or while a
migrate/rollback run holds the target's lock (failures are expected then); a held incident is
alerted when the hold ends if it is still down. A restart resumes from the journal: an open
incident stays open and is not alerted twice.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Any

import aiohttp

from ops.health import HealthResult, check_once
from ops.journal import Journal
from ops.journal_records import Incident, incident_record
from ops.outcome import CHANGED_DATABASE

log = logging.getLogger(__name__)
KEEP_CHECKS = 10_000


@dataclass(frozen=True)
class MonitorConfig:
    url: str
    interval_s: int = 60
    timeout_s: int = 10
    expect: str = ""
    failure_threshold: int = 3
    success_threshold: int = 2
    reminder_s: int = 1800
    watch_s: int = 900


@dataclass(frozen=True)
class MonitorEvent:
    kind: str  # "alert" | "reminder" | "recovered" | "held" | "resolved_unalerted" | "silence_ended"
    incident: Incident
    result: HealthResult
    held_because: str = ""
    pause: Pause | None = None  # for "silence_ended"


class HealthMonitor:
    def __init__(self, journal: Journal, config: MonitorConfig, target_name: str, env: str = "") -> None:
        """``target_name``: the environment's journal key (its runs and locks); ``env``: its name in
        opsbot.toml, which keys its checks, incidents and pauses ("" for the one environment)."""
        self.journal, self.db, self.config, self.target_name = journal, journal.db, config, target_name
        self.env = env

    async def check(self) -> HealthResult:
        async with aiohttp.ClientSession() as session:
            result = await check_once(session, self.config.url, self.config.timeout_s, self.config.expect)
        await self.db.execute(
            "INSERT INTO health_checks(at,ok,kind,status,latency_ms,error,env) VALUES(?,?,?,?,?,?,?)",
            (time.time(), int(result.ok), result.kind, result.status, result.latency_ms, result.error, self.env),
        )
        # An always-on bot checks every minute: keep the recent history, not years of it.
        await self.db.execute("DELETE FROM health_checks WHERE env=? AND rowid <= (SELECT rowid FROM health_checks "
                              "WHERE env=? ORDER BY rowid DESC LIMIT 1 OFFSET ?)", (self.env, self.env, KEEP_CHECKS))
        await self.db.commit()
        return result

    async def tick(self, now: float | None = None) -> list[MonitorEvent]:
        """One scheduled check: record it, then decide what (if anything) the channel hears."""
        result = await self.check()
        now = time.time() if now is None else now
        ended = await self._silence_ended(now)
        return ended + await self._after_check(result, now)

    async def _after_check(self, result: HealthResult, now: float) -> list[MonitorEvent]:
        fails, passes = await self.streaks()
        incident = await self.open_incident()
        hold = await self.hold_reason(now)
        if not result.ok:
            return await self._on_failure(result, incident, fails, hold, now)
        if incident and passes >= self.config.success_threshold:
            await self.db.execute("UPDATE incidents SET resolved_at=? WHERE id=?", (now, incident.id))
            await self.db.commit()
            resolved = replace(incident, resolved_at=now)
            return [MonitorEvent("recovered" if incident.alerted_at else "resolved_unalerted", resolved, result)]
        return []

    async def _on_failure(self, result: HealthResult, incident: Incident | None, fails: int, hold: str,
                          now: float) -> list[MonitorEvent]:
        if incident is None:
            if fails < self.config.failure_threshold:
                return []
            incident = await self._open(result, fails, now)
        if hold:
            return [MonitorEvent("held", incident, result, hold)]
        if incident.alerted_at is None:
            if incident.watch_run_id is None:  # a run that was still going when the incident opened
                incident = await self._set_watch(incident, now)
            return [MonitorEvent("alert", await self._alerted(incident, now), result)]
        if incident.acked_by:  # someone is on it: no reminders
            return []
        if self.config.reminder_s and now - (incident.last_alert_at or 0) >= self.config.reminder_s:
            return [MonitorEvent("reminder", await self._alerted(incident, now, first=False), result)]
        return []

    async def _open(self, result: HealthResult, fails: int, now: float) -> Incident:
        started = await self._streak_start() or now
        watch = await self.watch_run(now)
        cur = await self.db.execute(
            "INSERT INTO incidents(started_at,kind,error,watch_run_id,env) VALUES(?,?,?,?,?)",
            (started, result.kind, result.error, watch, self.env),
        )
        await self.db.commit()
        found = await self._incident("SELECT * FROM incidents WHERE id=?", (cur.lastrowid,))
        assert found is not None
        return found

    async def _set_watch(self, incident: Incident, now: float) -> Incident:
        watch = await self.watch_run(now)
        if watch is not None:
            await self.db.execute("UPDATE incidents SET watch_run_id=? WHERE id=?", (watch, incident.id))
            await self.db.commit()
        return replace(incident, watch_run_id=watch)

    async def _alerted(self, incident: Incident, now: float, *, first: bool = True) -> Incident:
        if first:
            await self.db.execute("UPDATE incidents SET alerted_at=?, last_alert_at=? WHERE id=?",
                                  (now, now, incident.id))
        else:
            await self.db.execute("UPDATE incidents SET last_alert_at=? WHERE id=?", (now, incident.id))
        await self.db.commit()
        return replace(incident, alerted_at=incident.alerted_at or now, last_alert_at=now)

    async def set_message(self, incident_id: int, channel_id: int, message_id: int) -> None:
        await self.db.execute("UPDATE incidents SET channel_id=?, message_id=? WHERE id=?",
                              (channel_id, message_id, incident_id))
        await self.db.commit()

    async def streaks(self) -> tuple[int, int]:
        """(consecutive failures, consecutive passes) at the end of the check history."""
        async with self.db.execute("SELECT ok FROM health_checks WHERE env=? ORDER BY rowid DESC LIMIT 200",
                                   (self.env,)) as cur:
            rows = [r[0] for r in await cur.fetchall()]
        if not rows:
            return 0, 0
        run = next((i for i, ok in enumerate(rows) if ok != rows[0]), len(rows))
        return (0, run) if rows[0] else (run, 0)

    async def _streak_start(self) -> float | None:
        async with self.db.execute(
            "SELECT min(at) FROM health_checks WHERE env=? AND ok=0 AND rowid > "
            "coalesce((SELECT max(rowid) FROM health_checks WHERE env=? AND ok=1), 0)", (self.env, self.env)
        ) as cur:
            row = await cur.fetchone()
        return row[0] if row else None

    async def open_incident(self) -> Incident | None:
        return await open_incident(self.journal, self.env)

    async def incidents(self, limit: int = 5) -> list[Incident]:
        async with self.db.execute("SELECT * FROM incidents WHERE env=? ORDER BY id DESC LIMIT ?",
                                   (self.env, limit)) as cur:
            return [incident_record(dict(r)) for r in await cur.fetchall()]

    async def recent_checks(self, limit: int = 10) -> list[CheckRecord]:
        async with self.db.execute("SELECT * FROM health_checks WHERE env=? ORDER BY rowid DESC LIMIT ?",
                                   (self.env, limit)) as cur:
            return [CheckRecord(r["at"], bool(r["ok"]), r["kind"], r["status"], r["latency_ms"], r["error"])
                    for r in await cur.fetchall()]

    async def hold_reason(self, now: float) -> str:
        pause = await self.active_pause(now)
        if pause:
            return f"alerts paused by {pause.by} until <t:{int(pause.until)}:t>"
        lock = await self.journal.lock_for(self.target_name)
        if lock and lock.phase in ("migrate", "rollback"):
            return f"{lock.phase} run #{lock.run_id} in progress"
        return ""

    async def active_pause(self, now: float | None = None) -> Pause | None:
        now = time.time() if now is None else now
        async with self.db.execute(
            "SELECT * FROM health_pauses WHERE env=? AND ended_at IS NULL AND until > ? ORDER BY id DESC LIMIT 1",
            (self.env, now)
        ) as cur:
            row = await cur.fetchone()
        return Pause(row["id"], row["by"], row["since"], row["until"]) if row else None

    async def pause(self, by: str, minutes: int) -> float:
        now = time.time()
        await self.db.execute("UPDATE health_pauses SET ended_at=? WHERE env=? AND ended_at IS NULL", (now, self.env))
        until = now + minutes * 60
        await self.db.execute("INSERT INTO health_pauses(by,since,until,env) VALUES(?,?,?,?)",
                              (by, now, until, self.env))
        await self.db.commit()
        return until

    async def _silence_ended(self, now: float) -> list[MonitorEvent]:
        """A silence (pause) that ran out by itself: said once, so alerts do not come back unannounced."""
        async with self.db.execute("SELECT * FROM health_pauses WHERE env=? AND ended_at IS NULL AND until <= ?",
                                   (self.env, now)) as cur:
            rows = await cur.fetchall()
        events = []
        for row in rows:
            cur = await self.db.execute("UPDATE health_pauses SET ended_at=? WHERE id=? AND ended_at IS NULL",
                                        (row["until"], row["id"]))
            if cur.rowcount == 1:
                pause = Pause(row["id"], row["by"], row["since"], row["until"])
                events.append(MonitorEvent("silence_ended", _NO_INCIDENT, _NO_RESULT, pause=pause))
        await self.db.commit()
        return events

    async def acknowledge(self, incident_id: int, by: str) -> Incident | None:
        """Someone is on it: once, while the incident is open; reminders stop. None when it was
        already acknowledged or has resolved."""
        cur = await self.db.execute(
            "UPDATE incidents SET acked_by=?, acked_at=? WHERE id=? AND acked_by IS NULL AND resolved_at IS NULL",
            (by, time.time(), incident_id))
        await self.db.commit()
        if cur.rowcount != 1:
            return None
        return await self._incident("SELECT * FROM incidents WHERE id=?", (incident_id,))

    async def resume(self) -> bool:
        cur = await self.db.execute(
            "UPDATE health_pauses SET ended_at=? WHERE env=? AND ended_at IS NULL AND until > ?",
            (time.time(), self.env, time.time()))
        await self.db.commit()
        return cur.rowcount > 0

    async def watch_run(self, now: float) -> int | None:
        """A migrate run that changed the database within the watch window, if any."""
        if not self.config.watch_s:
            return None
        run = await self.journal.last_finished(self.target_name, "migrate", now - self.config.watch_s)
        return run.id if run and run.outcome in CHANGED_DATABASE else None

    async def _incident(self, sql: str, args: tuple[Any, ...]) -> Incident | None:
        async with self.db.execute(sql, args) as cur:
            row = await cur.fetchone()
        return incident_record(dict(row)) if row else None


@dataclass(frozen=True)
class CheckRecord:
    """One health check as the journal recorded it."""

    at: float
    ok: bool
    kind: str
    status: int | None
    latency_ms: float | None
    error: str | None


@dataclass(frozen=True)
class Pause:
    """A hold on alerts for planned maintenance, until ``until`` unless resumed first."""

    id: int
    by: str
    since: float
    until: float


async def open_incident(journal: Journal, env: str = "") -> Incident | None:
    """The environment's incident not yet resolved, for status (the monitor need not be running)."""
    return await journal.open_incident(env)


# A "silence_ended" event is about a pause, not an incident or a check.
_NO_INCIDENT = Incident(0, 0.0, "", "", None, None, None, None, None, None)
_NO_RESULT = HealthResult(ok=True, url="", status=None, latency_ms=None, error="", body="", attempts=0, kind="")
