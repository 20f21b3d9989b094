"""A stand-in for the app that keeps writing: a process of its own that commits one row into
activity_logs every INTERVAL_MS until it is sent SIGTERM, like timelogger logging activity.

    python -m tests.live.app_writer DB INTERVAL_MS

Each commit is its own transaction on its own connection (WAL, autocheckpoint as the app
leaves it); a busy database makes it wait (busy_timeout 60 s), never skip. It prints "ready"
once the first row is committed, and when it stops the number of rows it committed and its
longest commit in seconds (the worst stall a writer of the app saw).
"""

from __future__ import annotations

import signal
import sqlite3
import sys
import time


def main() -> int:
    db, interval = sys.argv[1], float(sys.argv[2]) / 1000
    stop = False

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    con = sqlite3.connect(db, timeout=60, isolation_level=None)
    con.execute("PRAGMA busy_timeout=60000")
    committed, worst = 0, 0.0
    while not stop:
        began = time.perf_counter()
        con.execute("INSERT INTO activity_logs (user_id, activity, started_at) "
                    "VALUES ((SELECT min(user_id) FROM user_settings), 'app-writer', datetime('now'))")
        worst = max(worst, time.perf_counter() - began)
        committed += 1
        if committed == 1:
            print("ready", flush=True)
        time.sleep(interval)
    con.close()
    print(committed, f"{worst:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
