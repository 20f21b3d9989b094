"""The restoring session of a rollback: `.restore`, what the database holds right after it, the
checkpoint that folds the -wal back, and, after any failure, the database's own word on whether it
was restored (DESIGN rule 7)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from ops import hostfs
from ops.context import Run, Step
from ops.errors import OpsError
from ops.journal import BackupRecord
from ops.reporter import Status
from ops.schema import DbState, read_state_retrying, state_from_events, state_sql
from ops.sqlite_cli import (
    SqlRun,
    busy,
    disk_full,
    dot_quote,
    emit,
    io_trouble,
    require_sqlite,
    run_sql,
    sql_literal,
    tmp_name,
)
from ops.targets.base import phase_timeout_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Restored:
    """The database right after `.restore`, read in the restoring session (or after its failure)."""

    state: DbState
    app_wrote: dict[str, int]  # rows per table the app changed between the restore and the read


def rows_written_since(record: BackupRecord, now: DbState) -> dict[str, int]:
    """Rows per table gained (or lost) since the database was the backup: the app's writes."""
    return {t: now.counts.get(t, 0) - n for t, n in record.counts.items() if now.counts.get(t, 0) != n}


def restore_body(backup_path: str, tmp: str) -> str:
    """`.restore`, then, in the same session, what the database now holds: one read transaction
    bracketed by `PRAGMA data_version`, which changes only when another connection (the app)
    commits. Equal values prove the counts read are exactly what the restore wrote.

    The backup API commits without running the WAL hook, so no checkpoint follows `.restore`: the
    app, whose commit waited for the restore's lock, would fold the whole database back inside its
    next commit (measured at 1 GiB: its worst commit 6.1 s against a 5.1 s restore). A PASSIVE
    checkpoint the moment the restore commits takes that over (it blocks no writer: the app's
    commits go on, and its own checkpoint finds this one running and skips)."""
    version = "(SELECT data_version FROM pragma_data_version)"
    return (f"{emit('data_version', at=sql_literal('before'), v=version)}\n"
            f".restore {dot_quote(backup_path)}\n"
            f"{emit('restored')}\n"
            "PRAGMA wal_checkpoint(PASSIVE);\n"
            f"{emit('checkpointed')}\n"
            "BEGIN;\n" + state_sql(tmp, counts=True, fk=False)
            + f"{emit('data_version', at=sql_literal('after'), v=version)}\nCOMMIT;\n")


async def fold_back_wal(run: Run) -> None:
    """`.restore` leaves the whole database in the -wal (WAL mode): fold it back now, in a session
    of its own, rather than on the app's next commit. The restore is already confirmed: a
    checkpoint that cannot finish (the app reading, a full volume) is said and changes nothing."""
    engine = run.engine
    try:
        # PASSIVE first copies the frames while the app goes on writing; TRUNCATE then blocks
        # writers only for what they added meanwhile, and empties the -wal.
        sql = await run_sql(engine.target, engine.db_path,
                            "PRAGMA wal_checkpoint(PASSIVE);\nPRAGMA wal_checkpoint(TRUNCATE);\n",
                            busy_timeout_ms=engine.busy_timeout_ms, timeout=engine.phase_timeout_s)
    except OpsError as exc:
        run.step("checkpoint", Status.WARNING, f"the -wal was not folded back ({exc.message}): the app's next "
                                               "commit will")
        return
    if not sql.result.ok:
        run.step("checkpoint", Status.WARNING, f"the -wal was not folded back ({_sqlite_error(sql)}): the app's "
                                               "next commit will")
        return
    # The TRUNCATE's own answer, busy|frames in the -wal|frames copied back: busy is no error to
    # sqlite3, but with frames left over the -wal is not folded back (a reader of the app's kept it).
    answers = re.findall(r"^(\d+)\|(-?\d+)\|(-?\d+)$", sql.result.stdout, re.MULTILINE)
    busy_, frames, copied = (int(x) for x in answers[-1]) if answers else (1, 0, 0)
    if not answers or (busy_ and copied < frames):
        run.step("checkpoint", Status.WARNING, f"the -wal was folded back only in part ({max(copied, 0):,} of "
                                               f"{max(frames, 0):,} pages; the app was reading): the app's next "
                                               "commits will finish it")
        return
    run.step("checkpoint", Status.DONE, "the -wal is folded back into the database"
             + (" (its file is emptied once the app stops reading)" if busy_ else ""))


async def restore(run: Run, backup_path: str, record: BackupRecord, live: DbState, *, named: str = "") -> Restored:
    """`.restore`; after any failure, the database itself says whether it was restored (rule 7).
    ``named``: the backup as people name it, when ``backup_path`` is a temporary upload of its
    off-host copy (removed afterwards: a hint must not name that)."""
    engine = run.engine
    tmp = tmp_name("restore")
    async with Step(run, "restore", f".restore from {backup_path}") as step:
        try:
            sql = await run_sql(engine.target, engine.db_path, restore_body(backup_path, tmp), tmpfiles=(tmp,),
                                busy_timeout_ms=engine.busy_timeout_ms, timeout=engine.phase_timeout_s)
        except OpsError as exc:  # the target timed out or the host was unreachable: fate unknown
            failure, locked, full = phase_timeout_text(exc, engine.phase_timeout_s), False, False
            committed = False
        else:
            require_sqlite(sql, "the restore")
            versions = [e["v"] for e in sql.of("data_version")]
            if sql.result.ok and len(versions) == 2 and sql.first("meta"):
                now = state_from_events(sql.events)
                quiet = versions[0] == versions[1]
                if now.fingerprint == record.fingerprint and (now.counts == record.counts or not quiet):
                    wrote = rows_written_since(record, now)
                    step.detail = "schema and row counts match the backup" + (
                        "" if not wrote else " (with the app's writes since the restore)")
                    return Restored(now, wrote)
                failure = ("after .restore, the database does not match the backup "
                           f"({'schema' if now.fingerprint != record.fingerprint else 'row counts'} differ)")
                step.fail(failure)
                raise OpsError(failure, hint="Run verify now and compare with the backup's row counts; do not roll "
                                             "back again before you know what the database holds.")
            # Past the `restored` mark the restore had committed: what failed came after it.
            committed = bool(sql.of("restored"))
            what = (".restore" if not committed else "the checkpoint after .restore" if not sql.of("checkpointed")
                    else "reading the database after .restore")
            failure = (f"{what}: the connection to the host was lost" if sql.result.session_lost
                       else f"{what} failed: {_sqlite_error(sql)}")
            locked = busy(sql.result.stderr)
            full = disk_full(sql.result.stderr) or (io_trouble(sql.result.stderr) and await hostfs.full_volume(
                engine.target, engine.db_path, below=record.bytes) is not None)
            if full:
                failure = f"{what} failed: the volume is full ({_sqlite_error(sql)})"
        step.fail(failure)
    return await confirm_restore(run, named or backup_path, record, live, failure, wait=not locked, full=full,
                                 committed=committed)


def _sqlite_error(sql: SqlRun) -> str:
    return sql.error_text or "exit " + str(sql.result.exit_code)


async def confirm_restore(run: Run, backup_path: str, record: BackupRecord, live: DbState, failure: str, *,
                          wait: bool, full: bool = False, committed: bool = False) -> Restored:
    """Return when the database is the backup after all; otherwise raise saying which it is.

    `.restore` writes in one transaction, so the database is either the backup or as it was. After a
    dropped connection the remote sqlite3 may still be writing: with ``wait`` the read takes the
    write lock first, so it sees the state after that writer finished. The app may have written
    since, so the schema decides where it can (the backup's and the live one differ); row counts
    only where the schema cannot tell.
    """
    engine = run.engine
    retry = f"Roll back again (--backup {backup_path})"
    async with Step(run, "confirm restore", "re-read the database after the failed .restore") as step:
        try:
            now = await read_state_retrying(
                engine.target, engine.db_path, after_writers=wait, timeout=engine.phase_timeout_s,
                busy_timeout_ms=int(engine.phase_timeout_s * 1000) if wait else engine.busy_timeout_ms,
                delays=engine.read_retry_delays)
        except OpsError as exc:
            first = ("Free space on the volume first (old backups: `backups` lists them; or "
                     f"{engine.target.grow_volume_text()}): until then the database cannot even be read. Then run "
                     "verify" if full else "When the host answers, run verify")
            raise OpsError(
                f"{failure}; whether the database was restored is NOT known: it could not be read "
                f"afterwards ({exc.message})",
                hint=f"It is one transaction: the database is either the backup or as it was, never half. {first} "
                     "and compare with the backup's row counts before doing anything else: rolling back again "
                     "would throw away every write made since.",
            ) from exc
        schema_tells = record.fingerprint != live.fingerprint
        if now.fingerprint == record.fingerprint and (schema_tells or now.counts == record.counts):
            step.detail = "the database is the backup: the restore completed despite the error"
            run.step("restore", Status.WARNING, f"{failure} — but the database now matches the backup")
            return Restored(now, rows_written_since(record, now))
        if now.fingerprint == live.fingerprint and (schema_tells or now.counts == live.counts):
            step.detail = "the database is as it was before the rollback: it was not restored"
            hint = (f"Nothing was restored. {retry} when the host is reachable"
                    + (" (the app held the write lock: pick a quieter moment or raise BUSY_TIMEOUT_MS)." if not wait
                       else "."))
            if full:
                hint = "Nothing was restored. Free space on the volume (delete old backups) or extend it, then " \
                       "roll back again."
            run.outcome_on_error = "unchanged"
            raise OpsError(f"{failure}; checked afterwards: the database is as it was, so nothing was restored "
                           "(.restore is one transaction)", hint=hint)
        if committed and now.fingerprint == record.fingerprint:
            # The session said the restore committed (its mark after `.restore`): the rows that differ
            # from the backup's are the app's writes since.
            step.detail = "the restore committed (the session said so before it failed); the app has written since"
            run.step("restore", Status.WARNING, f"{failure} — but the restore had committed")
            return Restored(now, rows_written_since(record, now))
        step.fail("cannot tell: the schema is the same in the backup and before the rollback, and the app "
                  "has written since")
        raise OpsError(
            f"{failure}; whether the database was restored cannot be told from it: the schema is the same as the "
            "backup's and as before, and the row counts match neither (the app is writing)",
            hint="Run verify and compare the row counts with the backup's and with the app's own logs. Rolling "
                 "back again would throw away every write made since the first attempt.")
