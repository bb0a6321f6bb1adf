"""docs/events.md stays true: every example is a version-1 envelope the gateway's strict
parser accepts, every event type is documented, and the README points to the page."""

from __future__ import annotations

import json
import re

from app.events.envelope import EXCHANGE, EventType, from_json
from app.events.publisher import CONTENT_TYPE
from tests.paths import REPO_ROOT as ROOT

DOC = (ROOT / "docs" / "events.md").read_text()
EXAMPLES = re.findall(r"```json\n(.*?)```", DOC, flags=re.DOTALL)


def test_every_example_is_a_strict_version_1_envelope() -> None:
    assert len(EXAMPLES) >= 6
    for example in EXAMPLES:
        event = from_json(example)
        assert event.to_dict() == {
            **json.loads(example),
            "time": event.to_dict()["time"],
        }
        for value in event.data.values():
            if isinstance(value, dict):
                assert set(value) == {"amount", "currency"}
                assert value["amount"].isdigit()


def test_every_event_type_is_documented_with_its_row() -> None:
    for kind in EventType:
        assert f"| `{kind.value}` |" in DOC, kind


def test_the_exchange_and_content_type_are_the_ones_published() -> None:
    assert f"`{EXCHANGE}`" in DOC
    assert f"`{CONTENT_TYPE}`" in DOC


def test_the_readme_has_the_setting_and_points_to_the_page() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "| `AMQP_URL` |" in readme
    assert "docs/events.md" in readme
