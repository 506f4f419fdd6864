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


def test_documented_job_kinds_and_queues_follow_the_declarations():
    """README's jobs row names the kinds the API accepts, and docs/deployment.md's queue
    table puts every declared kind under its queue with its time limits."""
    from core import job_kinds

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if line.startswith("| `POST jobs`"))
    named = set(re.findall(r"\b[a-z]+(?:_[a-z]+)*\b", row.split("kinds", 1)[1]))
    assert set(job_kinds.api_names()) <= named, "README's jobs row misses a kind"
    deployment = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    for kind in job_kinds.all_kinds():
        line = next((line for line in deployment.splitlines()
                     if line.startswith(f"| `{kind.queue}` |")), "")
        assert re.search(rf"\b{kind.name}\b", line), f"{kind.name} not under {kind.queue}"
        minutes = f"{kind.soft_time_limit // 60} / {kind.time_limit // 60} min"
        assert minutes in line, f"{kind.name}: deployment.md says other time limits"
