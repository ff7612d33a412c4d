"""Alerts through Apprise to a local HTTP endpoint: one digest per crawl and target, secrets masked,
a failed send retried after the next crawl."""

from __future__ import annotations

import base64
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from crawler.crawls import run_crawl
from crawler.localsite import LocalSite
from storage import notify
from tests.conftest import add_site, write_site
from tests.fixtures.scenarios import clinic

SECRET = "s3cretPW9"
TOKEN = "tok3n4567abcdef"


class Recorder:
    """A tiny webhook receiver: records every POST body (Apprise's json:// posts JSON)."""

    def __init__(self, port: int = 0):
        self.bodies: list[dict] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                recorder.bodies.append({"path": self.path, "auth": self.headers.get("Authorization"),
                                        **json.loads(data or b"{}")})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def target(port: int) -> str:
    return f"json://stemwatch:{SECRET}@127.0.0.1:{port}/hook?token={TOKEN}"


def cli(*args: str, db: str) -> tuple[int, str]:
    from crawler.cli import cli as group

    result = CliRunner().invoke(group, [*args, "--db", db])
    return result.exit_code, result.output


@pytest.mark.parametrize("url, hidden, shown", [
    (target(8080), [SECRET, TOKEN], ["127.0.0.1:8080", "/hook", "stemwatch"]),
    ("discord://123456789012345678/abcdefTOKENxyz1234567890", ["123456789012345678", "abcdefTOKENxyz"], ["discord://"]),
    ("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654321",
     ["AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "123456789:"], []),
    ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general", ["T1JJ3T3L2", "TIiajkdnl"], ["#general"]),
    ("mailtos://desk:app-pass-77@mail.example.org?to=news@example.org", ["app-pass-77"], ["mail.example.org"]),
    ("ntfys://ntfy.example.org/flags?auth=Zm9vOmJhcg", ["Zm9vOmJhcg"], ["ntfy.example.org/flags"]),
])
def test_secrets_are_masked(url, hidden, shown):
    masked = notify.mask_url(url)
    for secret in hidden:
        assert secret not in masked, masked
    for part in shown:
        assert part in masked, masked
    message = f"POST to {url} failed: 401 for {hidden[0]}"
    assert not any(secret in notify.redact(message, [url]) for secret in hidden)


def test_notify_commands(archive):
    db = archive.path
    receiver = Recorder()
    try:
        url = target(receiver.port)
        code, out = cli("notify", "add", url, db=db)
        assert code == 0 and SECRET not in out and TOKEN not in out and "****" in out
        code, out = cli("notify", "add", url, db=db)
        assert code != 0 and "already added" in out and SECRET not in out
        code, out = cli("notify", "add", "nonsense://whatever", db=db)
        assert code != 0 and out.startswith("Error: not a notification URL") and "Traceback" not in out
        code, out = cli("notify", "list", "--json", db=db)
        assert code == 0 and SECRET not in out and TOKEN not in out
        [row] = json.loads(out)
        code, out = cli("notify", "test", db=db)
        assert code == 0 and "sent" in out
        assert receiver.bodies[-1]["title"] == "stemwatch: test notification"
        # the real password reached the endpoint
        assert base64.b64decode(receiver.bodies[-1]["auth"].split()[1]).decode() == f"stemwatch:{SECRET}"
        code, out = cli("notify", "remove", str(row["id"]), db=db)
        assert code == 0 and SECRET not in out
        assert json.loads(cli("notify", "list", "--json", db=db)[1]) == []
        down = target(free_port())
        cli("notify", "add", down, db=db)
        code, out = cli("notify", "test", down, db=db)
        assert code != 0 and "FAILED" in out and SECRET not in out and TOKEN not in out
    finally:
        receiver.close()


def test_digest_per_crawl_and_retry_after_failure(archive, tmp_path):
    """Crawl 2 raises flags: the live target gets one digest; the dead one fails (logged, masked, the crawl
    still finishes). Crawl 3 raises nothing, but the dead target is up by then and gets the digest."""
    live, late_port = Recorder(), free_port()
    warnings: list[str] = []
    try:
        notify.add_target(archive, target(live.port))
        notify.add_target(archive, target(late_port))
        with LocalSite(write_site(tmp_path / "v1", clinic.pages(clinic.BASE))) as site:
            add_site(archive, "harbor", site.url)
            first = run_crawl(archive.path, "harbor")
            assert first["flags"] == 0 and live.bodies == []
            site.set_root(write_site(tmp_path / "v2", clinic.pages(clinic.NEW_PAGE)))
            second = run_crawl(archive.path, "harbor",
                               on_event=lambda e: warnings.append(e["message"]) if e["event"] == "warning" else None)
            assert second["status"] == "finished" and second["flags"] == 3
            assert second["notifications"] == {"queued": 2, "sent": 1, "failed": 1}
            [digest] = live.bodies
            assert digest["title"] == "stemwatch: 3 new flags on harbor"
            assert "autism_spectrum_disorder" in digest["message"] and "stroke" in digest["message"]
            assert site.url + "/treatments/autism.html" in digest["message"]
            assert "stemwatch flags show" in digest["message"] and "We treat autism" in digest["message"]
            assert warnings and all(SECRET not in w and TOKEN not in w for w in warnings)
            assert "will retry" in warnings[0]
            pending = notify.targets(archive)[1]
            assert pending["pending"] == 1 and pending["last_error"] and SECRET not in pending["last_error"]

            late = Recorder(late_port)
            try:
                third = run_crawl(archive.path, "harbor")
                assert third["flags"] == 0
                assert third["notifications"] == {"queued": 0, "sent": 1, "failed": 0}
                [arrived] = late.bodies
                assert arrived["message"] == digest["message"]  # the same digest, not lost
                assert len(live.bodies) == 1  # one digest per crawl per target
            finally:
                late.close()
    finally:
        live.close()
    sent = archive.conn.execute("SELECT target_id, crawl_id, attempts, sent_at IS NOT NULL FROM notifications "
                                "ORDER BY id").fetchall()
    assert sent == [(1, second["id"], 1, 1), (2, second["id"], 2, 1)]
