"""Where a py-spy profile's CPU goes: collapsed stacks summarised by area and function."""

from __future__ import annotations

from collections import Counter

# Frames are attributed to the first of these found in their file path (innermost first).
AREAS = (
    ("strawberry/", "strawberry"),
    ("graphql/", "graphql-core"),
    ("pydantic", "pydantic"),
    ("httpcore/", "httpx transport (httpcore)"),
    ("httpx/", "httpx client"),
    ("aiohttp/", "aiohttp"),
    ("anyio/", "anyio"),
    ("h11/", "h11"),
    ("starlette/", "starlette"),
    ("uvicorn/", "uvicorn"),
    ("json/", "json"),
    ("asyncio/", "asyncio"),
    ("aiodataloader", "aiodataloader"),
    ("jwt/", "pyjwt"),
    ("cryptography", "cryptography"),
    ("sqlalchemy/", "sqlalchemy"),
    ("/app/schema/", "schema"),
    ("/app/auth/", "auth"),
    ("/app/", "app"),
)


def area_of(frame: str) -> str:
    for marker, name in AREAS:
        if marker in frame:
            return name
    return "other"


def summarise(collapsed: str, top: int = 25) -> str:
    """Self time by area and by function, and inclusive time by area, from py-spy's raw
    (collapsed) output: one `frame;frame;... count` line per distinct stack."""
    self_area: Counter[str] = Counter()
    self_function: Counter[str] = Counter()
    inclusive_area: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        leaf = frames[-1]
        self_area[area_of(leaf)] += count
        self_function[leaf] += count
        for area in {area_of(frame) for frame in frames}:
            inclusive_area[area] += count
    if not total:
        return "no samples\n"

    def table(counter: Counter[str], title: str, limit: int) -> list[str]:
        rows = [f"{title} ({total} samples)"]
        rows += [f"  {100 * n / total:5.1f}%  {name}" for name, n in counter.most_common(limit)]
        return rows

    lines = table(self_area, "self time by area", 30)
    lines += [
        "",
        *table(inclusive_area, "inclusive time by area (a frame anywhere on the stack)", 30),
    ]
    lines += ["", *table(self_function, "self time by function", top)]
    return "\n".join(lines) + "\n"
