"""Choosing straps and servers on the command line: pairing devices with tokens, server URLs,
selectors."""

from __future__ import annotations

import pytest

from attune.cli import build_parser
from attune.cli.collect import pair_specs
from attune.collector.ble import SeenStrap, is_address, selector_matches
from attune.collector.collector import StrapSpec, ingest_url, stream_key
from attune.errors import ConfigError

H10 = SeenStrap("Polar H10 8C4CAD2B", "A0:9E:1A:8C:4C:AD", -60)


def test_device_equals_token() -> None:
    assert pair_specs(["Polar H10=tok1", "A0:9E:1A:8C:4C:AD=tok2"], []) == [
        StrapSpec("Polar H10", "tok1"),
        StrapSpec("A0:9E:1A:8C:4C:AD", "tok2"),
    ]


def test_tokens_pair_in_order_with_devices_that_have_none() -> None:
    assert pair_specs(["H10", "TICKR=t2", "Garmin"], ["t1", "t3"]) == [
        StrapSpec("H10", "t1"),
        StrapSpec("TICKR", "t2"),
        StrapSpec("Garmin", "t3"),
    ]


@pytest.mark.parametrize(
    ("devices", "tokens", "message"),
    [
        (["H10"], [], "no token for --device 'H10'"),
        (["H10=a"], ["b"], "1 --token more than --device"),
        (["=tok"], [], "needs a name or address and a token"),
        (["H10="], [], "needs a name or address and a token"),
        (["H10=same", "TICKR=same"], [], "the same token is given for two straps"),
    ],
)
def test_pairing_mistakes_are_explained(devices, tokens, message) -> None:
    with pytest.raises(ConfigError, match=message):
        pair_specs(devices, tokens)


@pytest.mark.parametrize(
    ("server", "url"),
    [
        ("http://10.0.0.2:8000", "ws://10.0.0.2:8000/ingest"),
        ("https://attune.example.org/", "wss://attune.example.org/ingest"),
        ("https://example.org/clinic", "wss://example.org/clinic/ingest"),
        ("ws://127.0.0.1:8000/ingest", "ws://127.0.0.1:8000/ingest"),
    ],
)
def test_ingest_url(server: str, url: str) -> None:
    assert ingest_url(server) == url


@pytest.mark.parametrize("server", ["10.0.0.2:8000", "ftp://x", "http://"])
def test_bad_server_urls_are_refused(server: str) -> None:
    with pytest.raises(ConfigError, match="--server"):
        ingest_url(server)


def test_stream_keys_separate_participants_and_servers_without_storing_tokens() -> None:
    keys = {stream_key(u, t) for u in ("ws://a/ingest", "ws://b/ingest") for t in ("t1", "t2")}
    assert len(keys) == 4
    assert all("t1" not in k for k in keys)


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("Polar H10 8C4CAD2B", True),
        ("polar h10", True),
        ("8c4cad2b", True),
        ("TICKR", False),
        ("a0:9e:1a:8c:4c:ad", True),
        ("A0:9E:1A:8C:4C:AE", False),
    ],
)
def test_selectors(selector: str, matches: bool) -> None:
    assert selector_matches(selector, H10) is matches


def test_addresses_and_macos_uuids_are_addresses() -> None:
    assert is_address("A0:9E:1A:8C:4C:AD")
    assert is_address("6A1F0E2C-8B8D-4C36-9C2F-0D5E3B8E2C11")
    assert not is_address("Polar H10 8C4CAD2B")


def test_collect_refuses_a_device_without_token(capsys) -> None:
    # Parsed and run without attune.cli.main, which would reconfigure logging for the process.
    args = build_parser().parse_args(
        ["collect", "--server", "http://127.0.0.1:9", "--device", "H10"]
    )
    assert args.run(args) == 2
    assert "no token for --device 'H10'" in capsys.readouterr().out
