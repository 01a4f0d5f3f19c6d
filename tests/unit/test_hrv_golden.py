"""Golden values freeze our own spectral pipeline (hrv-science.md §1.8: frequency-domain values
are pipeline-defined): offline Welch, coherence and the live engine's slow metrics on the four
real series, to 1e-6 relative. Regenerate only on purpose (tests/data/golden/make_golden.py)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import DATA
from tests.data.golden.make_golden import GOLDEN, golden_values

FROZEN = json.loads(GOLDEN.read_text())
COMPUTED = golden_values()


def leaves(tree: object, path: str = "") -> list[tuple[str, object]]:
    if isinstance(tree, dict):
        return [item for key, sub in sorted(tree.items()) for item in leaves(sub, f"{path}/{key}")]
    return [(path, tree)]


@pytest.mark.parametrize(("path", "frozen"), leaves(FROZEN))
def test_the_spectral_pipeline_is_unchanged(path: str, frozen: object) -> None:
    computed = dict(leaves(COMPUTED))[path]
    if frozen is None:
        assert computed is None
    else:
        assert computed == pytest.approx(frozen, rel=1e-6, abs=1e-12)


def test_the_golden_file_covers_what_is_computed() -> None:
    assert {p for p, _ in leaves(COMPUTED)} == {p for p, _ in leaves(FROZEN)}
    assert (DATA / "golden" / "spectral.json") == GOLDEN
