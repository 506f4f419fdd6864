"""The documents ship with the product: docs/ARCHITECTURE.md and docs/METRICS.md are the
copies of the shared ones, and no document points outside the repository."""
from __future__ import annotations

import re

import pytest

from tests.conftest import SHARED
from tests.docs import examples

ROOT = examples.ROOT
SHARED_COPIES = ("ARCHITECTURE.md", "METRICS.md")
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("name", SHARED_COPIES)
def test_the_copy_in_docs_equals_the_shared_document(name):
    if not (SHARED / name).exists():
        pytest.skip(f"no {SHARED / name} beside the repository")
    assert (ROOT / "docs" / name).read_text(encoding="utf-8") == \
        (SHARED / name).read_text(encoding="utf-8"), \
        f"docs/{name} differs from {SHARED / name}: copy it again"


@pytest.mark.parametrize("path", examples.documents(), ids=lambda path: path.name)
def test_links_stay_in_the_repository(path):
    text = path.read_text(encoding="utf-8")
    assert "../shared" not in text
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:|#", target):
            continue
        resolved = (path.parent / target.split("#")[0]).resolve()
        assert resolved.is_relative_to(ROOT) and resolved.exists(), f"{path.name}: {target}"


def test_documented_answers_are_compared_strictly():
    """The comparison the HTTP examples rely on finds what differs."""
    documented = {"a": 1, "rows": [{"key": "x"}, examples.ANY, {"key": "z"}],
                  "any": examples.ANY}
    assert examples.mismatches(documented, {"a": 1, "any": None, "extra": 2,
                                            "rows": [{"key": "x"}, {}, {}, {"key": "z"}]}) == []
    assert examples.mismatches(documented, {"a": 2, "rows": [{"key": "z"}]}) == [
        ".a: documented 1, got 2", ".rows: 2 items documented, got [{'key': 'z'}]",
        ".any: missing"]
    assert examples.mismatches([1, 2], [1, 2, 3]) == [": 2 items documented, got [1, 2, 3]"]
