"""Capture quality and normalisation, without crawls: the rules that keep noise and bad fetches out."""

from __future__ import annotations

import pytest

from storage.archive import Capture
from storage.normalise import PageText, diff_blocks, key
from storage.quality import classify

HTML = {"content-type": "text/html; charset=utf-8"}
PAGE = b"<html><head><title>Knee</title></head><body><p>" + b"We treat knee arthritis. " * 5 + b"</p></body></html>"


@pytest.mark.parametrize("cap, expected", [
    (Capture("http://x/a", 200, HTML, PAGE), "ok"),
    (Capture("http://x/a", 0, error="TimeoutError: took too long"), "error"),
    (Capture("http://x/a", 500, HTML, b"<p>Internal Server Error</p>"), "error"),
    (Capture("http://x/a", 503, HTML, b"<p>Service Unavailable</p>"), "error"),
    (Capture("http://x/a", 404, HTML, b"<h1>Not Found</h1>"), "error"),
    (Capture("http://x/a", 403, {**HTML, "server": "cloudflare"},
             b"<title>Attention Required! | Cloudflare</title>"), "blocked"),
    (Capture("http://x/a", 403, {**HTML, "cf-mitigated": "challenge"}, b"<title>Just a moment...</title>"),
     "blocked"),
    (Capture("http://x/a", 429, HTML, b"slow down"), "blocked"),
    (Capture("http://x/a", 503, HTML, b"<p>Please verify you are human</p><div class='g-recaptcha'></div>"),
     "blocked"),
    (Capture("http://x/a", 200, HTML, b"<html><title>Security check</title><p>Complete the CAPTCHA to "
                                      b"continue</p></html>"), "blocked"),
    (Capture("http://x/a", 200, HTML, b"<html><body>  </body></html>"), "empty"),
    (Capture("http://x/a", 200, HTML, b""), "empty"),
    (Capture("http://x/a", 200, HTML, b"<html><title>Page not found</title><body><h1>Oops! That page can't be "
                                      b"found.</h1><p>Try the search box.</p></body></html>"), "soft_404"),
    (Capture("http://x/a", 200, {"content-type": "application/pdf"}, b"%PDF-1.4 ..."), "ok"),
])
def test_capture_quality(cap, expected):
    assert classify(cap) == expected


def test_redirect_to_home_is_soft_404():
    cap = Capture("http://x/", 200, HTML, PAGE)
    assert classify(cap, requested_url="http://x/treatments/stroke.html", home_urls=("http://x/",)) == "soft_404"
    assert classify(cap, requested_url="http://x/", home_urls=("http://x/",)) == "ok"


def test_a_real_page_mentioning_not_found_is_ok():
    body = b"<html><title>FAQ</title><body><h1>FAQ</h1><p>" + b"If a treatment is not found on our list, ask. " * 60
    assert classify(Capture("http://x/faq", 200, HTML, body + b"</p></body></html>")) == "ok"


@pytest.mark.parametrize("a, b", [
    ("Page updated: 3 March 2026", "Page updated: 14 April 2026"),
    ("Last updated 2026-03-03T10:22:33Z", "Last updated 2026-04-14T08:01:59Z"),
    ("Posted March 3, 2026 at 10:22 am", "Posted April 14, 2026 at 9:01 pm"),
    ("© 2025 Clinic", "© 2026 Clinic"),
    ("Session sess-4f9c2a71d0", "Session sess-b83e0d15a6"),
    ("Token 5f1b2c3d-1111-2222-3333-444455556666", "Token 9a8b7c6d-aaaa-bbbb-cccc-ddddeeeeffff"),
    ("1,204 views", "1,388 views"),
    ("12 people are viewing this page", "3 people are viewing this page"),
    ("See https://c.example/x.css?v=12", "See https://c.example/x.css?v=13"),
    ("Updated 3 days ago", "Updated 5 hours ago"),
    ("We  treat\u00a0knee   osteoarthritis.", "We treat knee osteoarthritis."),
])
def test_noise_keys_equal(a, b):
    assert key(a) == key(b)


@pytest.mark.parametrize("a, b", [
    ("85% of patients improve", "90% of patients improve"),
    ("Knee treatment $7,500", "Knee treatment $8,500"),
    ("More than 2,000 patients treated", "More than 3,000 patients treated"),
    ("We treat knee osteoarthritis.", "We treat knee osteoarthritis and autism."),
    ("Treatment takes 2 visits", "Treatment takes 3 visits"),
])
def test_real_edits_differ(a, b):
    assert key(a) != key(b)


def page(*blocks: str, html: bytes | None = None) -> PageText:
    return PageText.of("\n".join(blocks), html)


def test_reordered_blocks_and_split_paragraphs_are_not_changes():
    old = page("Title", "Ruth: wonderful.", "Daniel: so kind.", "We treat knees. We treat hips.")
    assert not diff_blocks(old, page("Title", "Daniel: so kind.", "Ruth: wonderful.",
                                     "We treat knees. We treat hips."))
    assert not diff_blocks(old, page("Title", "Ruth: wonderful.", "Daniel: so kind.", "We treat knees.",
                                     "We treat hips."))
    diff = diff_blocks(old, page("Title", "Ruth: wonderful.", "Daniel: so kind.", "We treat knees. We treat autism."))
    assert diff.added == ["We treat knees. We treat autism."] and diff.removed == ["We treat knees. We treat hips."]


def test_rotating_widget_text_is_left_out():
    html_old = b'<div class="testimonial-slider"><p>Ruth: wonderful.</p></div><p>We treat knees.</p>'
    html_new = b'<div class="testimonial-slider"><p>Marcus: life changing.</p></div><p>We treat knees.</p>'
    old = page("Ruth: wonderful.", "We treat knees.", html=html_old)
    new = page("Marcus: life changing.", "We treat knees.", html=html_new)
    assert not diff_blocks(old, new)
