"""The service's log lines: a logged exception shows its traceback, plainly, without the
local variables of its frames (they hold tokens and recorded data)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog

from attune.logs import configure_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def _fail_with_a_secret_local() -> None:
    collector_token = "tok-do-not-log-3f9a"  # what must not reach the log
    raise ValueError(f"bad frame of length {len(collector_token)}")


@pytest.mark.usefixtures("restore_logging")
def test_an_exception_is_logged_with_its_traceback_but_not_its_locals(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("info")
    log = structlog.get_logger("test")
    try:
        _fail_with_a_secret_local()
    except ValueError:
        log.exception("ingest_storage_failed", participant="p1")
    err = capsys.readouterr().err
    assert "ingest_storage_failed" in err
    assert "participant=p1" in err
    assert "Traceback (most recent call last)" in err
    assert "ValueError: bad frame of length 19" in err
    assert "_fail_with_a_secret_local" in err
    assert "tok-do-not-log-3f9a" not in err
