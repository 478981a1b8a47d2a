"""The committed policy coverage map is the one the packs write today (issue 10: CI fails when stale)."""
from poverty_warning.policy import available, coverage, load_policy


def test_committed_coverage_map_is_current():
    committed = coverage.DEFAULT_OUT.read_text(encoding="utf-8")
    assert committed == coverage.render(), "docs/policy-coverage.md is stale: run `poverty-warning coverage-map`"


def test_map_lists_every_document_open_choice_and_not_computed_clause():
    text = coverage.render()
    for pid in available():
        policy = load_policy(pid)
        assert f"## {pid} — " in text
        assert policy.effective_choice.question in text
        for item in policy.not_computed:
            assert " ".join(item.why.split()) in text
    # The open choices issue 10 names, each with its reasoning.
    for phrase in ("50%–70%", "5次", "at least 50%", "combine into one yearly total", "From which day"):
        assert phrase in text, phrase
    assert "大病保险起付标准" in text  # Taizhou's critical-illness segments: not computed, and why


def test_a_choice_outside_the_documents_range_is_rejected(tmp_path):
    import pytest

    from poverty_warning.policy import PACK_DIR, PolicyError, load_file

    text = (PACK_DIR / "shanghai-2022.yaml").read_text(encoding="utf-8").replace(
        "        rate: 0.50\n", "        rate: 0.45\n")
    path = tmp_path / "shanghai-2022.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match="outside the document's range"):
        load_file(path)
    text = (PACK_DIR / "taizhou-2017.yaml").read_text(encoding="utf-8").replace(
        "counts: assisted_days", "counts: sessions")
    path = tmp_path / "taizhou-2017.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError):
        load_file(path)
