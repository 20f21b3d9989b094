"""Real migration folders (tests/corpus, see SOURCES.md for where each comes from and its licence),
replayed on real databases: what opsbot applies must equal what the folder's own tool applies.

For each folder, database A gets each migration the way its tool runs it (Python's sqlite3, the up
part only, in the tool's order: the oracle, written here from the tools' documented rules and
independent of opsbot's reader); database B gets the same migration through opsbot's engine
(``load`` + ``apply_migration``: the sqlite3 CLI in -safe mode, one transaction, guards). After
every step both must have the same schema, user_version, row counts and foreign-key violations,
and B must pass integrity_check. A file opsbot refuses must leave B exactly as it was; which files
are refused, and why, is pinned below. Rows are added to every table after each step (the same in
A and B) so that table rebuilds carry data through the row-loss guard.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from ops.apply import apply_migration, describe_failure
from ops.layouts import discover
from ops.migrations import load
from ops.schema import read_state
from ops.targets.local import LocalTarget

CORPUS = Path(__file__).resolve().parent / "corpus"
FOLDERS = sorted(p.name for p in CORPUS.iterdir() if (p / "corpus.json").is_file())

# (folder, migration name) → why opsbot refuses it. Everything else must apply and match.
REFUSED = {
    ("prisma--cmintey-wishlist", "20250912200907_sqlite_wal_mode"): "PRAGMA journal_mode",
}
# Data migrations that delete rows on purpose: the row-loss guard stops them until the operator
# allows it for those tables at request time (what --allow-row-loss / allow_row_loss pass).
ROW_LOSS = {
    ("plain--grocy-grocy", "0021.sql"): ("locations", "quantity_units", "products"),
    ("prisma--cmintey-wishlist", "20240118052807_fix_initial_config_generation"): ("system_config",),
    ("prisma--stonith404-pingvin-share", "20230303091601_v0_11_0"): ("Config",),
}


def oracle_order(tool: str, root: Path) -> list[Path]:
    """The files the tool applies, in its order (from each tool's own loader)."""
    sql = sorted(root.glob("*.sql"))
    if tool == "goose":
        return sorted(sql, key=lambda p: int(p.name.split("_", 1)[0]))
    if tool in ("dbmate", "atlas"):
        return [p for p in sql if re.match(r"^\d+", p.name)]  # a string sort of file names
    if tool == "golang-migrate":
        return sorted((p for p in sql if p.name.endswith(".up.sql")), key=lambda p: int(p.name.split("_", 1)[0]))
    if tool == "sqlx":
        return sorted((p for p in sql if not p.name.endswith(".down.sql")), key=lambda p: int(p.name.split("_")[0]))
    if tool == "flyway":
        versioned = [p for p in sql if re.match(r"^V[0-9._]+__", p.name)]
        return sorted(versioned, key=lambda p: [int(x) for x in re.split(r"[._]", p.name[1:].split("__")[0]) if x])
    if tool == "prisma":
        return [d / "migration.sql" for d in sorted(root.iterdir()) if (d / "migration.sql").is_file()]
    if tool == "diesel":
        return [d / "up.sql" for d in sorted(root.iterdir(), key=lambda d: d.name.split("_")[0].replace("-", ""))
                if (d / "up.sql").is_file()]
    if tool == "drizzle":
        journal = json.loads((root / "meta" / "_journal.json").read_text())
        return [root / f"{e['tag']}.sql" for e in journal["entries"]]
    raise AssertionError(f"no oracle order for {tool}")


def oracle_up(tool: str, path: Path) -> str:
    text = path.read_text(encoding="utf-8-sig")
    if tool == "goose":
        lines = text.splitlines()
        marks = [i for i, ln in enumerate(lines) if ln.strip().startswith("--") and "+goose" in ln]
        up = next(i for i in marks if lines[i].lower().replace("-", "").replace("+goose", "").strip() == "up")
        down = next((i for i in marks if i > up and "down" in lines[i].lower()), len(lines))
        return "\n".join(lines[up + 1:down])
    if tool == "dbmate":
        return re.split(r"(?m)^--\s*migrate:down", re.split(r"(?m)^--\s*migrate:up.*$", text)[1])[0]
    if tool == "drizzle":
        # drizzle's migrator runs the parts between breakpoints inside one transaction
        return "BEGIN;\n" + "\n".join(text.split("--> statement-breakpoint")) + "\nCOMMIT;"
    return text


def run_tool(db: Path, tool: str, path: Path) -> str | None:
    """Apply the file as its tool would; the error text if the tool fails (its database then as it was)."""
    up = oracle_up(tool if tool in ("goose", "dbmate", "drizzle") else "plain", path)
    # One transaction per file, as most tools do; a file with its own BEGIN (or drizzle's, already
    # wrapped) runs as written.
    script = up if tool == "drizzle" or re.search(r"\bBEGIN\b", up, re.I) else f"BEGIN;\n{up}\n;\nCOMMIT;"
    con = sqlite3.connect(db)
    try:
        con.executescript(script)
        return None
    except sqlite3.Error as exc:
        con.rollback()
        return str(exc)
    finally:
        con.close()


def snapshot(db: Path) -> dict:
    con = sqlite3.connect(db)
    try:
        schema = sorted(con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master "
                                    "WHERE name NOT LIKE 'sqlite_stat%'").fetchall(), key=repr)
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' AND "
                                            "coalesce(sql,'') NOT LIKE 'CREATE VIRTUAL%' AND name NOT LIKE 'sqlite%'")]
        counts = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
        return {"schema": schema, "user_version": con.execute("PRAGMA user_version").fetchone()[0],
                "counts": counts, "fk": len(con.execute("PRAGMA foreign_key_check").fetchall())}
    finally:
        con.close()


def add_rows(db: Path) -> None:
    """One more row in every table that takes one with its defaults (the same in A and B)."""
    con = sqlite3.connect(db)
    try:
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite%' "
                                    "AND coalesce(sql,'') NOT LIKE 'CREATE VIRTUAL%' ORDER BY name").fetchall():
            try:
                con.execute(f'INSERT INTO "{table}" DEFAULT VALUES')
                con.commit()
            except sqlite3.Error:
                con.rollback()
    finally:
        con.close()


def plan(folder: Path) -> list[tuple[Path, str, Path]]:
    """(MIGRATIONS_DIR, opsbot's name, the file the tool runs) for every migration, in apply order."""
    meta = json.loads((folder / "corpus.json").read_text())
    if "order" in meta:  # plain folders: the project's code decides the order; opsbot must list each file
        steps = []
        for rel in meta["order"]:
            path = folder / rel
            names = {s.path: s.name for s in discover(path.parent)}
            assert path in names, f"opsbot does not list {rel}"
            steps.append((path.parent, names[path], path))
        return steps
    root = folder / "migrations"
    sources = discover(root)
    assert [s.path for s in sources] == oracle_order(meta["tool"], root), "opsbot orders them as the tool does"
    return [(root, s.name, s.path) for s in sources]


async def replay(name: str, workdir: Path, *, seed: bool) -> tuple[int, dict, bool]:
    """(migrations applied and matched, opsbot's refusals, whether both stopped on the added rows)."""
    folder = CORPUS / name
    tool = json.loads((folder / "corpus.json").read_text())["tool"]
    workdir.mkdir()
    a, b = workdir / "tool.db", workdir / "opsbot.db"
    for db in (a, b):
        sqlite3.connect(db).close()
    applied, refused = 0, {}
    for directory, mig_name, path in plan(folder):
        migration = load(directory, mig_name)
        before = snapshot(b)
        if migration.errors:
            refused[(name, mig_name)] = "; ".join(f.message for f in migration.errors)
            return applied, refused, False
        state = await read_state(LocalTarget(), str(b), counts=False)
        outcome = await apply_migration(LocalTarget(), str(b), migration, before=state, busy_timeout_ms=5000,
                                        timeout=120)
        allowed = ROW_LOSS.get((name, mig_name), ())
        if allowed:
            assert outcome.failed_step == "row_loss", "the guard stops rows lost without the operator's word"
            assert snapshot(b) == before
            outcome = await apply_migration(LocalTarget(), str(b), migration, before=state, busy_timeout_ms=5000,
                                            timeout=120, allow_row_loss=allowed)
        tool_error = run_tool(a, tool, path)
        if not outcome.committed:
            assert snapshot(b) == before, "a refused migration leaves the database exactly as it was"
            if tool_error is None:
                refused[(name, mig_name)] = describe_failure(outcome, migration)
            return applied, refused, tool_error is not None
        assert tool_error is None, f"opsbot applied {mig_name}, which {tool} refuses: {tool_error}"
        assert snapshot(b) == snapshot(a), f"{mig_name}: opsbot's result differs from {tool}'s"
        assert sqlite3.connect(b).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        if seed:
            add_rows(a)
            add_rows(b)
        applied += 1
    return applied, refused, False


@pytest.mark.parametrize("name", FOLDERS)
async def test_corpus_folder_applies_as_its_tool_does(name: str, tmp_path: Path) -> None:
    applied, refused, both_failed = await replay(name, tmp_path / "seeded", seed=True)
    if both_failed:  # the rows this test added broke the tool too: the folder must still go through without them
        applied, refused, both_failed = await replay(name, tmp_path / "plain", seed=False)
        assert not both_failed, "the folder's own tool fails on it"
    expected = {k: v for k, v in REFUSED.items() if k[0] == name}
    assert set(refused) == set(expected), refused
    for key, why in expected.items():
        assert why in refused[key], refused[key]
    total = len(plan(CORPUS / name))
    assert applied == total - len(expected) or (expected and applied < total)
    print(f"{name}: {applied} of {total} applied as its tool does, {len(refused)} refused")
