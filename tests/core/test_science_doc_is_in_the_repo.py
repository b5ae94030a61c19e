"""The science behind the numbers lives in docs/science.md: nothing in the repository points to a science
document outside it (issue 18), e.g. the notes a clone does not have."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCIENCE = "science" + ".md"  # split so this file does not match itself
# a science document named with a path outside the repository, or as "the shared notes"
OUTSIDE = re.compile(r"(\.\./|/work/)shared|shared notes|shared/" + re.escape(SCIENCE), re.IGNORECASE)
MENTION = re.compile(r"(?<![\w/.-])(?:[\w./-]*/)?" + re.escape(SCIENCE))


def _repository_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split("\n")
        names = [n for n in out if n]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: every file
        names = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file() and ".git" not in p.parts]
    this = Path(__file__).resolve().relative_to(ROOT).as_posix()  # the checker names the patterns it bans
    return [ROOT / n for n in names
            if not n.startswith(("leaderboards/", ".git/")) and n != this and (ROOT / n).is_file()]


def test_docs_science_md_exists_and_covers_its_sections():
    text = (ROOT / "docs" / SCIENCE).read_text(encoding="utf-8")
    for heading in ("## 1.", "## 3. Attack protocols", "## 4. Sampling protocols",
                    "## 5. Where benchbed differs from the papers, and why"):
        assert heading in text


def test_nothing_refers_to_a_science_document_outside_the_repository():
    offenders = []
    for path in _repository_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary files
        rel = path.relative_to(ROOT).as_posix()
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{rel}:{number}: {line.strip()}")
            for match in MENTION.finditer(line):
                named = match.group(0)
                # inside docs/ a bare "science.md" is the sibling file; elsewhere it must say docs/science.md
                if named != "docs/" + SCIENCE and not (rel.startswith("docs/") and named == SCIENCE):
                    offenders.append(f"{rel}:{number}: {line.strip()}")
    assert not offenders, "references to a science document outside docs/science.md:\n" + "\n".join(offenders)
