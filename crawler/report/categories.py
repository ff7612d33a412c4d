"""Labels and report groups for claim terms, read from the vocabulary and categories.yaml (data, not code)."""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

from crawler.claims.vocab import VOCAB_PATH

GROUPS_PATH = Path(__file__).with_name("categories.yaml")
SECTION_KIND = {"conditions": "condition", "cell_types": "cell_type", "routes": "route",
                "red_flags": "red_flag", "disclaimers": "disclaimer"}


@functools.cache
def vocabulary() -> dict:
    return yaml.safe_load(VOCAB_PATH.read_text(encoding="utf-8"))


@functools.cache
def groups() -> list[dict]:
    """[{key, label, categories}] in report order."""
    return yaml.safe_load(GROUPS_PATH.read_text(encoding="utf-8"))["groups"]


def labels() -> dict[str, dict[str, str]]:
    """kind -> term -> human label (the vocabulary's `label`, else the term with spaces)."""
    vocab = vocabulary()
    return {kind: {term: (entry or {}).get("label") or term.replace("_", " ")
                   for term, entry in (vocab.get(section) or {}).items()}
            for section, kind in SECTION_KIND.items()}


def category_of() -> dict[str, str]:
    """condition term -> report group key; a vocabulary category no group lists falls into 'other'."""
    group_of = {cat: g["key"] for g in groups() for cat in g["categories"]}
    return {term: group_of.get((entry or {}).get("category", ""), "other")
            for term, entry in (vocabulary().get("conditions") or {}).items()}


def unmapped_categories() -> set[str]:
    """Vocabulary categories missing from categories.yaml (the test keeps this empty)."""
    listed = {cat for g in groups() for cat in g["categories"]}
    return {(e or {}).get("category", "") for e in vocabulary()["conditions"].values()} - listed
