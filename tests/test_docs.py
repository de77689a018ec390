"""README.md and docs/ are self-contained: every link resolves inside the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)  # https:, mailto:, file:


def links(path: Path) -> list[str]:
    return LINK.findall(FENCE.sub("", path.read_text()))


def anchors(path: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens."""
    text = FENCE.sub("", path.read_text())
    return {
        re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower()).replace(" ", "-")
        for heading in HEADING.findall(text)
    }


def test_the_documents_exist_and_the_readme_links_each_of_them():
    names = {path.name for path in DOCUMENTS}
    assert {"README.md", "api.md", "operations.md", "security.md"} <= names
    readme_links = set(links(ROOT / "README.md"))
    for doc in DOCUMENTS[1:]:
        assert f"docs/{doc.name}" in readme_links, f"README does not link {doc.name}"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_relative_link_resolves_inside_the_repository(document):
    found = links(document)
    assert found, f"{document.name} has no links to check"
    for target in found:
        if EXTERNAL.match(target):
            assert not target.lower().startswith("file:"), f"{document.name}: {target}"
            continue
        path_part, _, fragment = target.partition("#")
        assert not path_part.startswith("/"), f"{document.name}: absolute path {target}"
        resolved = (document.parent / path_part).resolve() if path_part else document
        assert resolved.is_relative_to(ROOT), f"{document.name}: {target} leaves the repository"
        assert resolved.exists(), f"{document.name}: {target} does not exist"
        if fragment:
            assert resolved.suffix == ".md", f"{document.name}: {target}"
            assert fragment in anchors(resolved), f"{document.name}: no heading #{fragment}"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_no_document_names_a_file_outside_the_repository(document):
    text = document.read_text()
    assert "../shared" not in text and "CONTRACT.md" not in text
    assert "/work/" not in text


def test_the_readme_settings_table_names_every_setting_config_reads():
    names = set(
        re.findall(
            r"""env(?:\.get\(|,)\s*["']([A-Z][A-Z0-9_]+)["']""", (ROOT / "config.py").read_text()
        )
    )
    table = (ROOT / "README.md").read_text().split("## Settings", 1)[1].split("\n## ", 1)[0]

    assert names, "config.py reads no settings?"
    assert sorted(name for name in names if f"`{name}`" not in table) == []
