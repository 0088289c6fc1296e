"""Replace one marked section of benchmarks/README.md (or another page) with fresh results."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).with_name("README.md")


def write_section(name: str, body: str, path: Path = README) -> None:
    """Put ``body`` between ``<!-- name:start -->`` and ``<!-- name:end -->`` of ``path``
    (benchmarks/README.md unless given; the markers are added if missing)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)
