"""Every example in docs/protocol.md is a valid message of protocol v1, and every message
type has an example."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import get_args

import pytest

from attune.protocol.ingest import collector_message, service_message
from attune.protocol.live import AnyLiveMessage, live_message

DOC = Path(__file__).parents[2] / "docs" / "protocol.md"


def examples() -> list[tuple[str, str]]:
    """(section, json text) for every ```json block."""
    text = DOC.read_text()
    found = []
    for match in re.finditer(
        r"^## (?P<part>.+?)$|```json\n(?P<body>.*?)```", text, re.DOTALL | re.MULTILINE
    ):
        if match["part"]:
            part = match["part"]
        else:
            found.append((part, match["body"]))
    return found


@pytest.mark.parametrize(("part", "body"), examples())
def test_example_is_valid(part: str, body: str) -> None:
    data = json.loads(body)
    if part.startswith("Ingest"):
        from_collector = data["type"] in {"hello", "batch", "link", "battery"}
        (collector_message if from_collector else service_message).validate_python(data)
    else:
        live_message.validate_python(data)


def test_every_live_message_type_has_an_example() -> None:
    union = get_args(get_args(AnyLiveMessage)[0])
    types = {model.model_fields["type"].default for model in union}
    documented = {json.loads(b)["type"] for p, b in examples() if p.startswith("Live")}
    assert types == documented
