"""The vocabulary as data: its size, its keys, compiled once into one regular expression."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from crawler.claims.vocab import VOCAB_PATH, compile_vocabulary, load_vocabulary

REFERENCE_KEYS = Path(__file__).parent / "fixtures" / "claims" / "reference_keys.yaml"
REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "taxonomy" / "vocab.yaml"
SECTIONS = ("conditions", "cell_types", "routes", "red_flags")


def test_loaded_once_and_one_regex():
    v = load_vocabulary()
    assert load_vocabulary() is v and load_vocabulary(VOCAB_PATH) is v
    assert isinstance(v.regex, re.Pattern)
    assert v.digest


def test_sizes_and_required_keys():
    v = load_vocabulary()
    assert len(v.terms["condition"]) >= 80
    assert set(v.categories) >= set(v.terms["condition"])  # every condition has a category
    for key in ("spinal_cord_injury", "cauda_equina", "autism_spectrum_disorder", "multiple_sclerosis"):
        assert key in v.terms["condition"]
    for key in ("msc", "umbilical_cord", "wharton_jelly", "exosomes", "embryonic", "fetal", "prp"):
        assert key in v.terms["cell_type"]
    for key in ("intravenous", "intrathecal", "intraspinal", "intra_articular"):
        assert key in v.terms["route"]
    for key in ("cure_reverse_claim", "proven_efficacy", "safety_absolute", "regulatory_legitimacy",
                "success_rate_statistic", "testimonial_anecdote", "permanent_lasting", "patient_funded_trial"):
        assert key in v.terms["red_flag"]
    for key in ("not_a_cure", "results_vary", "not_fda_approved", "no_guarantee"):
        assert key in v.terms["disclaimer"]
        assert key in v.suppresses


def test_reference_keys_kept():
    """Every canonical key of the reference vocabulary is kept (a copy of its keys lives in the fixtures;
    where the reference itself is present, the copy is checked against it too)."""
    keys = yaml.safe_load(REFERENCE_KEYS.read_text(encoding="utf-8"))
    if REFERENCE.exists():
        ref = yaml.safe_load(REFERENCE.read_text(encoding="utf-8"))
        assert keys == {section: sorted(ref[section]) for section in SECTIONS}
    ours = yaml.safe_load(VOCAB_PATH.read_text(encoding="utf-8"))
    for section in SECTIONS:
        assert set(keys[section]) <= set(ours[section]), section


def test_data_file_is_well_formed():
    data = yaml.safe_load(VOCAB_PATH.read_text(encoding="utf-8"))
    for section in ("conditions", "cell_types", "routes"):
        for key, entry in data[section].items():
            assert re.fullmatch(r"[a-z0-9_]+", key)
            assert entry.get("synonyms") or entry.get("abbreviations"), key
    for key, entry in data["disclaimers"].items():
        assert set(entry.get("suppresses") or []) <= set(data["red_flags"]), key


def test_a_vocabulary_can_be_compiled_from_data():
    small = compile_vocabulary({
        "conditions": {"frobnitis": {"category": "test", "synonyms": ["frobnitis", "frob syndrome"],
                                     "abbreviations": [{"text": "FRB"}]}},
        "context": {"stem_cell": ["stem cell"]},
    }, "test")
    assert small.terms == {"condition": ["frobnitis"]}
    assert small.keys["frobsyndromes"][0].term == "frobnitis"  # the generated plural
    assert small.keys["frb"][0].exact == "FRB"


def test_bad_tail_pattern_is_refused():
    with pytest.raises(ValueError):
        compile_vocabulary({"red_flags": {"x": {"anchored": [{"anchors": ["foo"], "tail": "(bar)"}]}}})
