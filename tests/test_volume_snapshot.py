"""The platform's own volume snapshot before a migration (issue 15), through the stand-in flyctl,
which takes exactly flyctl's forms of `volumes list` and `volumes snapshots create` (flyctl
internal/command/volumes/list.go and snapshots/create.go; fly-go's Volume)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import make_db
from tests.fakefly.plugin import APP, FakeFly
from tests.test_cli_emergency import fly_env
from tests.test_offsite import ops

VOLUMES = [{"id": "vol_other", "attached_machine_id": "e000000000000e"},
           {"id": "vol_data123", "attached_machine_id": "148e21ea3e0d89", "size_gb": 3},
           {"id": "vol_gone", "state": "pending_destroy", "attached_machine_id": "148e21ea3e0d89"}]


def test_the_standin_takes_flyctls_volume_commands_as_flyctl_does(fakefly: FakeFly) -> None:
    fakefly.set_volumes(VOLUMES)
    listed = fakefly.run("volumes", "list", "--app", APP, "--json")
    assert listed.returncode == 0, listed.stderr
    volumes = json.loads(listed.stdout)
    assert [v["id"] for v in volumes] == ["vol_other", "vol_data123"], "destroyed ones are hidden without --all"
    assert list(volumes[1]) == ["id", "name", "state", "size_gb", "region", "zone", "encrypted",
                                "attached_machine_id", "attached_alloc_id", "created_at", "host_dedication_id",
                                "snapshot_retention", "auto_backup_enabled"]
    assert len(json.loads(fakefly.run("vol", "ls", "-a", APP, "-j", "--all").stdout)) == 3
    done = fakefly.run("volumes", "snapshots", "create", "vol_data123", "--app", APP)
    assert done.returncode == 0 and done.stdout == "Scheduled to snapshot volume vol_data123\n"
    assert [s["status"] for s in fakefly.snapshots("vol_data123")] == ["created"]
    for bad in (["volumes", "snapshots", "create"], ["volumes", "snapshots", "create", "a", "b"]):
        refused = fakefly.run(*bad, "--app", APP)
        assert refused.returncode == 1 and "accepts 1 arg(s)" in refused.stderr
    unknown = fakefly.run("volumes", "list", "--app", APP, "--org", "x")
    assert unknown.returncode == 1, "volumes list has no --org flag"


def test_a_migration_asks_fly_to_snapshot_the_attached_volume_when_set(tmp_path: Path, fakefly: FakeFly) -> None:
    fakefly.set_volumes(VOLUMES)
    db = tmp_path / "volume" / "app.db"
    make_db(db)
    env = {**fly_env(fakefly, tmp_path), "DB_PATH": str(db), "VOLUME_SNAPSHOT": "true",
           "MIGRATIONS_DIR": str(Path(__file__).resolve().parent.parent / "migrations")}
    done = ops(env, tmp_path, "migrate", "0001_remove_suspend.sql", "--yes")
    assert done["ok"] and "snapshot of volume vol_data123 scheduled" in done["volume_snapshot"]
    assert len(fakefly.snapshots("vol_data123")) == 1 and fakefly.snapshots("vol_other") == []
    assert ["volumes", "snapshots", "create", "vol_data123", "--app", APP] in fakefly.argvs()
    # Without a volume attached to the machine it is said, and the migration is not stopped by it.
    fakefly.set_volumes([{"id": "vol_other", "attached_machine_id": "e000000000000e"}])
    ops(env, tmp_path, "rollback", "--yes")
    again = ops(env, tmp_path, "migrate", "0001_remove_suspend.sql", "--yes")
    assert again["ok"] and again["volume_snapshot"] == ""
