"""Backups that outlive the volume (issue 15): a second copy off the app host after every
pre-migration backup, and a rollback that restores from it when the host's copy is gone or
damaged. Through `python -m ops` on real databases."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from ops.context import Engine
from ops.errors import OpsError
from tests.conftest import dump, make_db
from tests.test_cli import cli, env_for

MIGRATION = "0001_remove_suspend.sql"


def ops(env: dict[str, str], cwd: Path, *args: str, code: int = 0) -> dict:  # type: ignore[type-arg]
    out = cli("--json", *args, env=env, cwd=cwd)
    assert out.returncode == code, out.stdout + out.stderr
    return json.loads(out.stdout)


def sha(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def migrated(tmp_path: Path) -> tuple[dict[str, str], Path, str, dict]:  # type: ignore[type-arg]
    db = tmp_path / "vol" / "app.db"
    make_db(db, users=60, logs=600)
    original = dump(db)
    env = env_for(tmp_path, db)
    done = ops(env, tmp_path, "migrate", MIGRATION, "--yes")
    return env, db, original, done


def test_every_migrate_keeps_a_matching_copy_off_the_host(tmp_path: Path) -> None:
    env, db, _, done = migrated(tmp_path)
    off = done["offsite"]
    assert off["path"].startswith(str(tmp_path / "state" / "backups" / "local"))
    assert off["sha256"] == sha(done["backup"]) == sha(off["path"])
    journal = sqlite3.connect(tmp_path / "state" / "j.db")
    [(path, sha256)] = journal.execute("SELECT offsite_path, offsite_sha256 FROM backups").fetchall()
    assert (path, sha256) == (off["path"], off["sha256"])
    assert not list(Path(off["path"]).parent.glob("*.partial"))
    # A backup asked for by hand gets one only when asked.
    plain = ops(env, tmp_path, "backup", "--label", "plain")
    assert plain["offsite"] is None
    kept = ops(env, tmp_path, "backup", "--label", "kept", "--offsite")
    assert sha(kept["offsite"]["path"]) == kept["sha256"]


def test_rollback_restores_from_the_copy_when_the_hosts_is_deleted(tmp_path: Path) -> None:
    env, db, original, done = migrated(tmp_path)
    Path(done["backup"]).unlink()  # the volume lost it
    listing = ops(env, tmp_path, "backups")["backups"]
    assert [(b["on_host"], b["offsite_path"]) for b in listing] == [(False, done["offsite"]["path"])]
    rolled = ops(env, tmp_path, "rollback", "--yes")
    assert rolled["ok"] and rolled["restored_from"] == "offsite"
    assert dump(db) == original
    assert not list(db.parent.glob("*.opsbot-offsite-*")), "the uploaded copy is removed"


def test_rollback_restores_from_the_copy_when_the_hosts_is_corrupt(tmp_path: Path) -> None:
    env, db, original, done = migrated(tmp_path)
    backup = Path(done["backup"])
    data = bytearray(backup.read_bytes())
    data[4096:8192] = b"\x00" * 4096  # a damaged page
    backup.write_bytes(bytes(data))
    rolled = ops(env, tmp_path, "rollback", "--yes")
    assert rolled["ok"] and rolled["restored_from"] == "offsite", rolled
    assert dump(db) == original and not list(db.parent.glob("*.opsbot-offsite-*"))


def test_a_good_host_copy_is_used_and_without_any_good_copy_nothing_changes(tmp_path: Path) -> None:
    env, db, original, done = migrated(tmp_path)
    Path(done["offsite"]["path"]).write_bytes(b"damaged")
    rolled = ops(env, tmp_path, "rollback", "--yes")
    assert rolled["restored_from"] == "host" and dump(db) == original
    # Control: migrate again, then lose both copies: the rollback refuses and changes nothing.
    again = ops(env, tmp_path, "migrate", MIGRATION, "--yes")
    Path(again["backup"]).unlink()
    Path(again["offsite"]["path"]).unlink()
    before = dump(db)
    refused = ops(env, tmp_path, "rollback", "--backup", Path(again["backup"]).name, "--yes", code=1)
    assert "the backup cannot be used" in refused["error"]["message"] and "gone from the host" in \
        refused["error"]["message"]
    assert refused["error"]["hint"].startswith("Nothing was changed. The newest backup that passes its checks now")
    assert dump(db) == before


def test_no_room_off_the_host_stops_the_migration_before_it_changes_anything(tmp_path: Path) -> None:
    db = tmp_path / "vol" / "app.db"
    make_db(db)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the backups folder should be")
    env = {**env_for(tmp_path, db), "OFFSITE_DIR": str(blocker)}
    refused = ops(env, tmp_path, "migrate", MIGRATION, "--yes", code=1)
    assert "the folder for off-host copies cannot be used" in refused["error"]["message"]
    assert "Nothing was changed" in refused["error"]["hint"]
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone() == (7,)


def test_over_flyctl_the_copy_is_fetched_and_uploaded_back_through_the_stand_in(tmp_path: Path, fakefly) -> None:  # type: ignore[no-untyped-def]
    from tests.test_cli_emergency import fly_env

    db = tmp_path / "volume" / "app.db"
    make_db(db)
    original = dump(db)
    env = {**fly_env(fakefly, tmp_path), "DB_PATH": str(db),
           "MIGRATIONS_DIR": env_for(tmp_path, db)["MIGRATIONS_DIR"]}
    done = ops(env, tmp_path, "migrate", MIGRATION, "--yes")
    assert sha(done["offsite"]["path"]) == done["offsite"]["sha256"] == sha(done["backup"])
    Path(done["backup"]).unlink()
    rolled = ops(env, tmp_path, "rollback", "--yes")
    assert rolled["restored_from"] == "offsite" and dump(db) == original
    assert not list(db.parent.glob("*.opsbot-offsite-*")) and not list(db.parent.glob("*.opsbot-partial"))
    # The upload went through `fly ssh console` with the file on stdin, never sftp's shell.
    argvs = fakefly.argvs()
    assert all(a[:2] != ["sftp", "shell"] for a in argvs)
    assert any(a[:2] == ["ssh", "console"] for a in argvs)


async def test_a_copy_fetched_beside_a_verification_that_fails_is_not_kept(engine: Engine) -> None:
    """The off-host copy is fetched while the backup is verified; when the verification fails the
    migration stops before any change and no copy of that backup stays off the host, whichever of the
    two finished first (a copy that finished first is the one a missing clean-up would leave)."""
    from ops.migrate import run_migrate
    from ops.targets.base import ShResult
    from ops.targets.local import LocalTarget
    from tests.faults.target import FaultyTarget

    def failing_check(script: str, result: ShResult) -> ShResult | None:
        if "integrity_check" in script and ".opsbot-partial" in script:
            return ShResult("", "Error: disk I/O error", 1, 0.0)
        return None

    before = dump(engine.db_path)
    engine.target = FaultyTarget(LocalTarget(), on_script=failing_check)
    with pytest.raises(OpsError, match="the migration did not run, because the backup failed"):
        await run_migrate(engine, "0001_remove_suspend.sql", confirmed=True)
    assert dump(engine.db_path) == before
    assert not engine.offsite_dir.exists() or not any(engine.offsite_dir.iterdir()), "no copy off the host"
    assert not list(Path(engine.db_path).parent.glob("*.pre-*")), "nor on the host"
