"""The service runs on uvloop where it is installed (attune.cli.loops)."""

import asyncio

import uvloop

from attune.cli.loops import event_loop_factory


def test_the_service_loop_is_uvloop():
    factory = event_loop_factory()
    assert factory is not None
    with asyncio.Runner(loop_factory=factory) as runner:
        assert isinstance(runner.get_loop(), uvloop.Loop)
        assert runner.run(asyncio.sleep(0, result=7)) == 7
