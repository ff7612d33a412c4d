"""Alerts: one digest of new flags per crawl and per target, sent with Apprise.

Digests are queued in `notifications` in the same transaction that marks their flags queued, then sent;
a failed send is recorded (masked), never fails the crawl, and is retried after the next crawl, so no
alert is lost. Notification URLs carry secrets (passwords, tokens, webhook keys): every output and log
shows them masked.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote, unquote

from storage.archive import Archive, ArchiveError, utcnow

MASK = "****"
LEASE_SECONDS = 120  # a crawl end that died mid-send frees its digests after this
SEND_TIMEOUT = 15  # seconds per target; a dead endpoint must not hold up the crawl process
MAX_FLAGS_IN_DIGEST = 50
SECRET_NAMES = re.compile(r"pass|secret|token|key|auth|sig|cred|hook|session|code", re.I)

Log = Callable[[str], None]



# ---- secrets ---------------------------------------------------------------------------------------------

def _looks_secret(part: str) -> bool:
    """Tokens and keys: long, or mixing letters and digits. Short words ("hook", "chat") are not."""
    part = unquote(part)
    if len(part) < 6:
        return False
    return len(part) >= 20 or (any(c.isdigit() for c in part) and any(c.isalpha() for c in part)) or (
        len(part) >= 8 and part.isdigit())


def _is_host(host: str) -> bool:
    if host == "localhost" or "." in host and not host.replace(".", "").isdigit():
        return True
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


def _split(url: str) -> tuple[str, str, str, str, list[str], list[tuple[str, str]], str]:
    """(scheme, user, password, hostport, path segments, query pairs, fragment), tolerant of the odd
    forms Apprise URLs take (a token where a port would be, no '@' before a key)."""
    scheme, rest = url.split("://", 1) if "://" in url else ("", url)
    rest, _, fragment = rest.partition("#")
    rest, _, query = rest.partition("?")
    netloc, _, path = rest.partition("/")
    userinfo, _, hostport = netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    return scheme, user, password, hostport, path.split("/") if path else [], parse_qsl(
        query, keep_blank_values=True), fragment


def secrets_in(url: str) -> list[str]:
    """The parts of a notification URL that must never be shown, longest first."""
    _, user, password, hostport, segments, query, _ = _split(url)
    found = [password] if password else []
    if user and (password == "" and _looks_secret(user)):
        found.append(user)
    host, _, port = hostport.rpartition(":") if ":" in hostport and not hostport.endswith("]") else (hostport, "", "")
    if port and not port.isdigit():
        found += [hostport, port]  # tgram://123456:ABC-token/… : the whole "host:port" is the bot token
    elif host and not _is_host(host):
        found.append(host)  # slack://TokenA/…, pover://user@TOKEN: a key in the host's place
    found += [s for s in segments if _looks_secret(s)]
    found += [v for k, v in query if v and (SECRET_NAMES.search(k) or _looks_secret(v))]
    variants = {s for f in found if f for s in (f, unquote(f), quote(unquote(f), safe=""))}
    return sorted(variants, key=len, reverse=True)


def mask_url(url: str) -> str:
    """The URL with every secret part replaced by ****; host, port, short path words and names stay."""
    scheme, user, password, hostport, segments, query, fragment = _split(url)
    secrets = set(secrets_in(url))

    def m(part: str) -> str:
        return MASK if part in secrets else part

    netloc = m(hostport) if hostport in secrets else ":".join(m(p) for p in hostport.split(":", 1)) \
        if not hostport.startswith("[") else hostport
    if user or password:
        netloc = f"{m(user)}{':' + MASK if password else ''}@{netloc}"
    out = f"{scheme}://{netloc}" if scheme else netloc
    if segments:
        out += "/" + "/".join(m(s) for s in segments)
    if query:
        out += "?" + "&".join(f"{k}={MASK if (SECRET_NAMES.search(k) or v in secrets) and v else v}"
                              for k, v in query)
    return out + (f"#{fragment}" if fragment else "")


def redact(text: str, urls: list[str]) -> str:
    """Mask every secret of these URLs wherever it appears in a message (errors quote URLs and headers)."""
    for url in urls:
        text = text.replace(url, mask_url(url))
        for secret in secrets_in(url):
            if len(secret) >= 3:
                text = text.replace(secret, MASK)
    return text


# ---- targets ---------------------------------------------------------------------------------------------

def _quiet_apprise() -> None:
    """Apprise logs through `logging`, URLs included; its messages reach the user only through `send`,
    masked. Without this, Python's last-resort handler would print them to stderr as they are."""
    log = logging.getLogger("apprise")
    if not any(isinstance(h, logging.NullHandler) for h in log.handlers):
        log.addHandler(logging.NullHandler())
    log.propagate = False


def _apprise(url: str):
    import apprise  # imported only when a notification is added, tested or due

    _quiet_apprise()
    # Memory storage: Apprise would otherwise keep per-service state files in the user's home.
    app = apprise.Apprise(asset=apprise.AppriseAsset(storage_mode="memory", secure_logging=True))
    return app if app.add(url) else None


def add_target(archive: Archive, url: str) -> dict:
    url = url.strip()
    if "://" not in url or _apprise(url) is None:
        raise ArchiveError(f"not a notification URL Apprise understands: {mask_url(url)} "
                           "(see https://github.com/caronc/apprise/wiki)")
    row = archive.conn.execute("SELECT id, removed_at FROM notify_targets WHERE url = ?", (url,)).fetchone()
    if row and row[1] is None:
        raise ArchiveError(f"notification target already added: {row[0]} {mask_url(url)}")
    if row:
        archive.conn.execute("UPDATE notify_targets SET removed_at = NULL, added_at = ? WHERE id = ?",
                             (utcnow(), row[0]))
        target_id = row[0]
    else:
        target_id = archive.conn.execute("INSERT INTO notify_targets(url, added_at) VALUES (?, ?)",
                                         (url, utcnow())).lastrowid
    return {"id": target_id, "url": mask_url(url)}


def targets(archive: Archive, include_removed: bool = False) -> list[dict]:
    """Targets with their queue: pending digests and the last (masked) error."""
    rows = archive.conn.execute(
        "SELECT t.id, t.url, t.added_at, t.removed_at, "
        "(SELECT count(*) FROM notifications n WHERE n.target_id = t.id AND n.sent_at IS NULL), "
        "(SELECT count(*) FROM notifications n WHERE n.target_id = t.id AND n.sent_at IS NOT NULL), "
        "(SELECT last_error FROM notifications n WHERE n.target_id = t.id AND n.last_error IS NOT NULL "
        " ORDER BY n.id DESC LIMIT 1) FROM notify_targets t "
        + ("" if include_removed else "WHERE t.removed_at IS NULL ") + "ORDER BY t.id").fetchall()
    return [{"id": i, "url": mask_url(u), "added_at": a, "removed_at": r, "pending": p, "sent": s,
             "last_error": redact(e, [u]) if e else None} for i, u, a, r, p, s, e in rows]


def find_target(archive: Archive, ref: str) -> tuple[int, str]:
    """A target by id or by its exact URL (removed ones are not found)."""
    sql = "SELECT id, url FROM notify_targets WHERE removed_at IS NULL AND "
    row = archive.conn.execute(sql + "id = ?", (int(ref),)).fetchone() if ref.isdigit() else \
        archive.conn.execute(sql + "url = ?", (ref.strip(),)).fetchone()
    if not row:
        raise ArchiveError(f"no such notification target: {mask_url(ref) if '://' in ref else ref}")
    return row


def remove_target(archive: Archive, ref: str) -> dict:
    """Removed targets are kept (their past notifications point at them) but never sent to again."""
    target_id, url = find_target(archive, ref)
    archive.conn.execute("UPDATE notify_targets SET removed_at = ? WHERE id = ?", (utcnow(), target_id))
    return {"id": target_id, "url": mask_url(url)}


# ---- sending ---------------------------------------------------------------------------------------------

@dataclass
class Sent:
    target_id: int
    url: str  # masked
    ok: bool
    error: str | None = None  # masked


def send(url: str, title: str, body: str) -> str | None:
    """Send one message; None when it went, else the reason (masked)."""
    app = _apprise(url)
    if app is None:
        return f"not a notification URL Apprise understands: {mask_url(url)}"
    messages: list[str] = []
    try:
        result = app.notify(body=body, title=title, timeout=SEND_TIMEOUT,
                            log_callback=lambda entry, _plugin: messages.append(str(entry.message)))
    except Exception as exc:  # a plugin bug must not take the crawl down with it
        return redact(f"{type(exc).__name__}: {exc}", [url])
    if result:
        return None
    reason = "; ".join(m for m in messages if m) or "the service did not accept the message"
    return redact(reason, [url])[:500]


def send_test(archive: Archive, ref: str | None = None) -> list[Sent]:
    rows = [find_target(archive, ref)] if ref else archive.conn.execute(
        "SELECT id, url FROM notify_targets WHERE removed_at IS NULL ORDER BY id").fetchall()
    if not rows:
        raise ArchiveError("no notification targets; add one with `stemwatch notify add URL`")
    out = []
    for target_id, url in rows:
        error = send(url, "stemwatch: test notification",
                     "This is a test from stemwatch. New flags will arrive like this, one digest per crawl.")
        out.append(Sent(target_id, mask_url(url), error is None, error))
    return out


# ---- digests ---------------------------------------------------------------------------------------------

def digest(archive: Archive, crawl_id: int, flag_ids: list[int]) -> tuple[str, str]:
    """(title, body) of one crawl's digest: site, each flag with its evidence and page, how to review."""
    conn = archive.conn
    site, started = conn.execute("SELECT s.name, c.started_at FROM crawls c JOIN sites s ON s.id = c.site_id "
                                 "WHERE c.id = ?", (crawl_id,)).fetchone()
    marks = ",".join("?" * len(flag_ids))
    rows = conn.execute(
        f"SELECT id, kind, claim_kind, term, role, priority, evidence, url, detail FROM flags WHERE id IN ({marks}) "
        "ORDER BY CASE priority WHEN 'high' THEN 0 WHEN 'normal' THEN 1 ELSE 2 END, id", flag_ids).fetchall()
    title = f"stemwatch: {len(rows)} new flag{'s' if len(rows) != 1 else ''} on {site}"
    lines = [f"Crawl {crawl_id} of {site} (started {started}) raised {len(rows)} flag(s).", ""]
    for fid, kind, claim_kind, term, role, priority, evidence, url, detail in rows[:MAX_FLAGS_IN_DIGEST]:
        extra = json.loads(detail or "{}")
        also = ", ".join(f"{k.replace('_', ' ')}: {', '.join(extra[k])}" for k in ("cell_types", "routes")
                         if extra.get(k))
        lines.append(f"#{fid} [{priority}] {kind}: {claim_kind} {term} ({role})" + (f" - {also}" if also else ""))
        if evidence:
            lines.append(f'    "{evidence[:300]}"')
        if url:
            lines.append(f"    {url}")
        lines.append(f"    review: stemwatch flags show {fid}")
    if len(rows) > MAX_FLAGS_IN_DIGEST:
        lines.append(f"... and {len(rows) - MAX_FLAGS_IN_DIGEST} more: stemwatch flags --site {site}")
    return title, "\n".join(lines)


def queue_digests(archive: Archive) -> int:
    """Queue one digest per crawl and per target for every flag not yet queued (a crawl whose process
    died before this step is caught up by the next one). Returns the number of digests queued."""
    queued = 0
    with archive.transaction() as conn:
        crawls = conn.execute(
            "SELECT f.crawl_id, group_concat(f.id) FROM flags f JOIN crawls c ON c.id = f.crawl_id "
            "WHERE f.queued_at IS NULL AND f.retracted_at IS NULL AND c.status != 'running' "
            "GROUP BY f.crawl_id ORDER BY f.crawl_id").fetchall()
        target_ids = [r[0] for r in conn.execute("SELECT id FROM notify_targets WHERE removed_at IS NULL")]
        now = utcnow()
        for crawl_id, ids in crawls:
            flag_ids = sorted(int(i) for i in ids.split(","))
            title, body = digest(archive, crawl_id, flag_ids)
            for target_id in target_ids:
                conn.execute("INSERT INTO notifications(crawl_id, target_id, created_at, title, body) "
                             "VALUES (?, ?, ?, ?, ?)", (crawl_id, target_id, now, title, body))
                queued += 1
            conn.executemany("UPDATE flags SET queued_at = ? WHERE id = ?", [(now, i) for i in flag_ids])
    return queued


def deliver(archive: Archive, log: Log | None = None) -> list[Sent]:
    """Send every pending digest to its (still present) target. Rows are leased first, so two crawls
    ending together do not send the same digest twice; after one failure a target's other digests wait
    for the next round (a dead endpoint costs one timeout per crawl, not one per digest)."""
    now = datetime.now(UTC)
    lease = (now + timedelta(seconds=LEASE_SECONDS)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    with archive.transaction() as conn:
        rows = conn.execute(
            "SELECT n.id, n.target_id, t.url, n.title, n.body FROM notifications n "
            "JOIN notify_targets t ON t.id = n.target_id WHERE n.sent_at IS NULL AND t.removed_at IS NULL "
            "AND (n.lease_until IS NULL OR n.lease_until < ?) ORDER BY n.id", (utcnow(),)).fetchall()
        conn.executemany("UPDATE notifications SET lease_until = ? WHERE id = ?", [(lease, r[0]) for r in rows])
    out, failed = [], set()
    for note_id, target_id, url, title, body in rows:
        if target_id in failed:
            archive.conn.execute("UPDATE notifications SET lease_until = NULL WHERE id = ?", (note_id,))
            continue
        error = send(url, title, body)
        archive.conn.execute(
            "UPDATE notifications SET attempts = attempts + 1, lease_until = NULL, sent_at = ?, last_error = ? "
            "WHERE id = ?", (utcnow() if error is None else None, error, note_id))
        if error is not None:
            failed.add(target_id)
            if log:
                log(f"notification {note_id} to {mask_url(url)} failed, will retry after the next crawl: {error}")
        out.append(Sent(target_id, mask_url(url), error is None, error))
    return out


def after_crawl(archive: Archive, log: Log | None = None) -> dict:
    """Queue and send digests; whatever goes wrong is logged (masked) and never raised."""
    try:
        queued = queue_digests(archive)
        results = deliver(archive, log)
    except Exception as exc:  # alerts must not fail a crawl; the queue is retried next time
        urls = [r[0] for r in archive.conn.execute("SELECT url FROM notify_targets")]
        message = redact(f"{type(exc).__name__}: {exc}", urls)
        if log:
            log(f"notifications failed, will retry after the next crawl: {message}")
        return {"queued": 0, "sent": 0, "failed": 0, "error": message}
    return {"queued": queued, "sent": sum(r.ok for r in results), "failed": sum(not r.ok for r in results)}
