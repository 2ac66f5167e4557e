"""Naive users service: asks auth to validate the token on every request.

Usage: python -m bench.naive.service PORT AUTH_URL DB_PATH
Answers GET /api/users/me with the caller's profile from SQLite.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import urllib.error
import urllib.request

from bench.naive import Handler, serve_forever


def main() -> None:
    """Serve /api/users/me on PORT."""
    port, auth_url, db_path = int(sys.argv[1]), sys.argv[2].rstrip("/"), sys.argv[3]
    with sqlite3.connect(db_path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS profiles (id TEXT PRIMARY KEY, doc TEXT)")

    class Service(Handler):
        def do_GET(self) -> None:  # noqa: N802 (the name http.server dispatches to)
            check = urllib.request.Request(f"{auth_url}/api/auth/me")
            check.add_header("Authorization", self.headers.get("Authorization", ""))
            try:
                with urllib.request.urlopen(check, timeout=10) as response:
                    user = json.loads(response.read())
            except urllib.error.HTTPError as exc:
                self.answer(exc.code, exc.read())
                return
            with sqlite3.connect(db_path) as db:
                row = db.execute("SELECT doc FROM profiles WHERE id = ?", (user["id"],)).fetchone()
                if row is None:
                    doc = json.dumps(user)
                    db.execute("INSERT OR IGNORE INTO profiles VALUES (?, ?)", (user["id"], doc))
                else:
                    doc = row[0]
            self.answer(200, doc.encode())

    serve_forever(port, Service)


if __name__ == "__main__":
    main()
