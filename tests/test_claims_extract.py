"""The public API: input types and charsets, determinism, files, and the seed-like page."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from crawler.claims import EXTRACTOR_VERSION, Block, Claim, Extraction, extract, extract_file

FIXTURES = Path(__file__).parent / "fixtures" / "claims"
HTML = ("<html><head><title>Cell Therapy</title></head><body><p>We treat Parkinson’s disease with stem cells.</p>"
        "</body></html>")


def triples(ex: Extraction) -> set[tuple[str, str, str]]:
    return {(c.kind, c.term, c.role) for c in ex.claims}


def test_public_names():
    assert isinstance(EXTRACTOR_VERSION, str) and EXTRACTOR_VERSION
    assert dataclasses.is_dataclass(Block) and dataclasses.is_dataclass(Claim)
    assert [f.name for f in dataclasses.fields(Block)] == ["text", "kind", "level", "section", "zone", "start", "end"]
    assert [f.name for f in dataclasses.fields(Claim)] == [
        "kind", "term", "role", "evidence", "section", "zone", "start", "end", "detail"]
    ex = extract(HTML)
    assert isinstance(ex, Extraction) and ex.title == "Cell Therapy"
    claim = ex.claims[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        claim.role = "excluded"  # type: ignore[misc]
    assert claim.as_dict() == {
        "kind": "condition", "term": "parkinsons_disease", "role": "offered",
        "evidence": "We treat Parkinson's disease with stem cells.", "section": "", "zone": "main",
        "start": claim.start, "end": claim.end, "detail": None}
    assert claim == dataclasses.replace(claim)  # built like any other instance


def test_str_and_bytes_and_content_types_agree():
    as_str = extract(HTML)
    assert triples(extract(HTML.encode("utf-8"))) == triples(as_str)
    assert triples(extract(HTML.encode("utf-8"), content_type="text/html; charset=utf-8")) == triples(as_str)
    # text/plain: the markup is text, not structure
    plain = extract(HTML, content_type="text/plain")
    assert plain.blocks[0].text.startswith("<html>")
    # no markup at all: plain text even without a content type
    assert extract(b"We treat knee pain with stem cells.\n").blocks[0].kind in ("p", "title")


@pytest.mark.parametrize("data,content_type", [
    ("<html><meta charset='windows-1252'><body><p>Parkinson\x92s caf\xe9</p></body></html>".encode("latin-1"), None),
    ("<html><body><p>Parkinson’s café</p></body></html>".encode(), "text/html; charset=utf-8"),
    ("<html><body><p>Parkinson’s café</p></body></html>".encode("cp1252"), "text/html; charset=windows-1252"),
    ("<html><body><p>Parkinson’s café</p></body></html>".encode("cp1252"), "text/html; charset=utf-8"),  # lie
    ("<html><body><p>Parkinson’s café</p></body></html>".encode(), "text/html; charset=iso-8859-1"),
    (b"\xef\xbb\xbf<html><body><p>Parkinson\xe2\x80\x99s caf\xc3\xa9</p></body></html>", None),  # BOM
    ("<html><body><p>Parkinson’s café</p></body></html>".encode("utf-16"), None),  # BOM
])
def test_charsets(data, content_type):
    ex = extract(data, content_type=content_type)
    assert [b.kind for b in ex.blocks] == ["p"]  # read as HTML, whatever the encoding
    text = ex.text
    assert "Parkinson's" in text or "Parkinson" in text
    if content_type != "text/html; charset=iso-8859-1":  # a wrong legacy label yields mojibake, not a crash
        assert "Parkinson's café" in text


@pytest.mark.parametrize("data,content_type", [
    (b"<html><body><p>bad \xff\xfe\xfd bytes \x80\x81 stem cells for MS</p></body></html>", "text/html"),
    (b"<html><body><p>bad \xff\xfe\xfd bytes</p></body></html>", "text/html; charset=nonsense-42"),
    (b"<html><body><p>bad \xc3\x28 bytes</p></body></html>", "text/html; charset=utf-8"),
    (b"<html><body><p>x</p></body></html>", "text/html; charset=base64"),
    (b"\x00\x01\x02\x03\xff" * 50, None),
    (b"", None),
    (b"", "text/html"),
    (b"<", "text/html"),
    (b"<html><body><p>" + b"<div>" * 3000 + b"deep" + b"</div>" * 3000 + b"</p></body></html>", "text/html"),
])
def test_bad_input_never_raises(data, content_type):
    ex = extract(data, content_type=content_type)
    assert ex.text == "\n".join(b.text for b in ex.blocks)


def test_deterministic_and_in_document_order():
    page = (FIXTURES / "autism_condition.html").read_bytes()
    first, second = extract(page), extract(page)
    assert first.claims == second.claims and first.text == second.text and first.blocks == second.blocks
    assert [c.detail for c in first.claims] == [c.detail for c in second.claims]
    assert [c.start for c in first.claims] == sorted(c.start for c in first.claims)


def test_offsets_and_evidence():
    for path in sorted(FIXTURES.iterdir()):
        if path.suffix not in (".html", ".txt"):
            continue
        ex = extract_file(path)
        assert ex.text == "\n".join(b.text for b in ex.blocks)
        for c in ex.claims:
            assert 0 <= c.start < c.end <= len(ex.text)
            # the evidence is the sentence around the match
            window = ex.text[max(0, c.end - len(c.evidence)):c.start + len(c.evidence)]
            assert c.evidence in window, (path.name, c)


def test_extract_file_picks_the_format(tmp_path):
    html = tmp_path / "page.htm"
    html.write_bytes(HTML.encode())
    assert extract_file(html).title == "Cell Therapy"
    txt = tmp_path / "page.txt"
    txt.write_bytes(HTML.encode())
    assert extract_file(txt).blocks[0].text.startswith("<html>")


def test_seed_like_page():
    """Our own page modelled on the seed: an SCI program with routes, exclusions, benefits and symptoms."""
    ex = extract_file(FIXTURES / "sci_program.txt")
    found = triples(ex)
    assert ("condition", "spinal_cord_injury", "offered") in found
    for route in ("intraspinal", "intrathecal", "intravenous"):
        assert ("route", route, "offered") in found
    assert ("condition", "cauda_equina", "excluded") in found
    assert ("condition", "spinal_cord_injury", "excluded") in found
    assert ("red_flag", "permanent_lasting", "offered") in found
    assert ("red_flag", "efficacy_outcome_claim", "offered") in found
    # the majority-of-patients sentence and the benefits list are efficacy claims
    efficacy = [c for c in ex.claims if c.term == "efficacy_outcome_claim"]
    assert any("show improvements" in c.evidence for c in efficacy)
    assert any(next(b for b in ex.blocks if b.start <= c.start < b.end).kind == "li" for c in efficacy)
    # symptoms are named, never offered
    assert {r for k, t, r in found if t == "depression_psychiatric"} == {"mentioned"}
    assert "offered" not in {r for k, t, r in found if t == "chronic_pain"}
    assert not [c for c in ex.claims if c.kind == "condition" and "cramp" in c.evidence.lower()
                and c.role == "offered" and c.term != "spinal_cord_injury"]
    # the exclusion sentence carries both excluded conditions
    excluded = [c for c in ex.claims if c.role == "excluded" and c.term == "cauda_equina"]
    assert "complete spinal cord injury" in excluded[0].evidence


def test_same_claims_in_another_process_with_another_hash_seed():
    """Nothing depends on set or dict iteration order: the archive can be re-extracted anywhere."""
    import json
    import os
    import subprocess
    import sys

    page = FIXTURES / "conditions_list_scraped.txt"
    code = ("import json,sys; from crawler.claims import extract_file; "
            "print(json.dumps([c.as_dict() for c in extract_file(sys.argv[1]).claims]))")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code, str(page)], capture_output=True, text=True, env=env,
                         check=True, cwd=Path(__file__).resolve().parents[1]).stdout
    assert json.loads(out) == [c.as_dict() for c in extract_file(page).claims]
