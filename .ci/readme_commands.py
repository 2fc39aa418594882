"""Print the README's "two commands on a fresh machine" (tour, then tests), one per line, so CI runs them as written.

    python3 .ci/readme_commands.py README.md
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

SECTION = "## Two commands on a fresh machine"


def commands(readme: str) -> list[str]:
    start = readme.index(SECTION) + len(SECTION)
    end = readme.find("\n## ", start)
    section = readme[start : end if end >= 0 else None]
    blocks = re.findall(r"^```(?:sh|bash|console)\n(.*?)^```$", section, flags=re.MULTILINE | re.DOTALL)
    lines = [block.strip() for block in blocks]
    if len(lines) != 2 or any("\n" in line for line in lines):
        raise SystemExit(f"README.md: {SECTION!r} must hold exactly two one-line sh blocks, found {lines!r}")
    return lines


if __name__ == "__main__":
    print("\n".join(commands(Path(sys.argv[1]).read_text(encoding="utf-8"))))
