"""The labelled evaluation set meets the project's targets (bench/eval_claims.py prints the details)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_bench():
    spec = importlib.util.spec_from_file_location("eval_claims", ROOT / "bench" / "eval_claims.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_labelled_set_meets_targets():
    bench = load_bench()
    labels = bench.load_labels()
    assert len(labels) >= 25
    assert sum(1 for p in labels if p.endswith(".txt")) >= 3
    assert sum(1 for e in labels.values() if e["negative"]) >= 3
    on_disk = {p.name for p in bench.FIXTURES.iterdir() if p.suffix in (".html", ".txt")}
    assert on_disk == set(labels), "every fixture page is labelled, every label has a page"
    report = bench.evaluate()
    assert bench.target_failures(report) == []
    scores = report["scores"]
    assert scores[("condition", "offered")]["precision"] >= 0.95
    assert scores[("condition", "offered")]["recall"] >= 0.95
    for kind, target in (("cell_type", 0.9), ("route", 0.9), ("red_flag", 0.85)):
        assert scores[(kind, None)]["precision"] >= target and scores[(kind, None)]["recall"] >= target
    assert report["negatives_offering"] == {}
