"""Heart Rate Measurement codec: one table drives parse and encode; every flag combination is
checked field by field; malformed payloads raise PayloadError with a reason; a fuzzer checks
that nothing else escapes."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attune.errors import PayloadError
from attune.sensor.hrm import HeartRateMeasurement as M
from attune.sensor.hrm import encode_hrm, parse_hrm

# (payload, measurement): every flag combination, parsed and encoded both ways.
_CASES_HEX = [
    ("0048", M(72)),
    ("0148 00", M(72, hr_uint16=True)),
    ("012c01", M(300, hr_uint16=True)),
    ("0400", M(0, contact=False)),
    ("0648", M(72, contact=True)),
    ("0848 e803", M(72, energy_kj=1000)),
    ("1048 0004", M(72, rr_1024=(1024,), rr_present=True)),
    ("1038 3704 0703", M(56, rr_1024=(1079, 775), rr_present=True)),
    ("1648 0004", M(72, contact=True, rr_1024=(1024,), rr_present=True)),
    (
        "1f 4800 1027 0004 0003",
        M(72, contact=True, energy_kj=10000, rr_1024=(1024, 768), rr_present=True, hr_uint16=True),
    ),
    ("18 50 0500 ffff", M(80, energy_kj=5, rr_1024=(65535,), rr_present=True)),
    (
        "10 3c" + "0004" * 9,
        M(60, rr_1024=(1024,) * 9, rr_present=True),
    ),
]
CASES = [(bytes.fromhex(h.replace(" ", "")), m) for h, m in _CASES_HEX]

MALFORMED = [
    ("", "empty payload"),
    ("01", "truncated heart rate value"),
    ("0148", "truncated heart rate value"),
    ("00", "truncated heart rate value"),
    ("0848e8", "truncated energy expended field"),
    ("1048", "RR flag set but no RR values"),
    ("104800", "odd trailing byte in RR field"),
    ("1048000400", "odd trailing byte in RR field"),
    ("004800", "1 unexpected trailing byte(s)"),
]


@pytest.mark.parametrize(("payload", "measurement"), CASES, ids=lambda v: getattr(v, "hex", str)())
def test_parse(payload: bytes, measurement: M) -> None:
    assert parse_hrm(payload) == measurement


@pytest.mark.parametrize(("payload", "measurement"), CASES, ids=lambda v: getattr(v, "hex", str)())
def test_encode(payload: bytes, measurement: M) -> None:
    assert encode_hrm(measurement) == payload


@pytest.mark.parametrize(("hex_payload", "reason"), MALFORMED)
def test_malformed_payloads_raise_with_reason(hex_payload: str, reason: str) -> None:
    with pytest.raises(PayloadError) as info:
        parse_hrm(bytes.fromhex(hex_payload))
    assert info.value.reason == reason
    assert info.value.payload == bytes.fromhex(hex_payload)


def test_rr_units_are_1024ths_of_a_second() -> None:
    # Vector from hrv-science.md §2.1: 10 38 37 04 07 03 -> RR [1053.711, 756.836] ms.
    m = parse_hrm(bytes.fromhex("103837040703"))
    assert m.rr_ms == pytest.approx((1053.7109375, 756.8359375))


def test_contact_bit_without_support_bit_means_unsupported() -> None:
    assert parse_hrm(bytes.fromhex("0248")).contact is None


def test_reserved_flag_bits_are_ignored() -> None:
    assert parse_hrm(bytes.fromhex("e048")) == M(72)


@given(st.binary(max_size=40))
def test_parser_raises_only_payload_error(payload: bytes) -> None:
    try:
        m = parse_hrm(payload)
    except PayloadError:
        return
    # Whatever parses must survive a round trip unchanged (reserved bits aside).
    assert parse_hrm(encode_hrm(m)) == m


@given(
    st.builds(
        M,
        hr_bpm=st.integers(0, 0xFFFF),
        contact=st.none() | st.booleans(),
        energy_kj=st.none() | st.integers(0, 0xFFFF),
        rr_1024=st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=9).map(tuple),
        rr_present=st.just(True),
        hr_uint16=st.booleans(),
    )
)
def test_encode_parse_round_trip(m: M) -> None:
    expected = m if m.hr_uint16 or m.hr_bpm <= 0xFF else M(**{**_fields(m), "hr_uint16": True})
    assert parse_hrm(encode_hrm(m)) == expected


def _fields(m: M) -> dict[str, object]:
    return {name: getattr(m, name) for name in M.__slots__}  # type: ignore[attr-defined]


@pytest.mark.parametrize("flags", range(0x20))
def test_every_flag_combination_parses_field_by_field(flags: int) -> None:
    # Built here from the spec's layout, independently of encode_hrm.
    hr16, detected, supported, energy, rr = (bool(flags & bit) for bit in (1, 2, 4, 8, 16))
    payload = bytes([flags]) + (struct.pack("<H", 300) if hr16 else bytes([72]))
    payload += struct.pack("<H", 1234) if energy else b""
    payload += struct.pack("<2H", 1000, 770) if rr else b""
    m = parse_hrm(payload)
    assert m.hr_bpm == (300 if hr16 else 72)
    assert m.hr_uint16 is hr16
    assert m.contact == (detected if supported else None)
    assert m.energy_kj == (1234 if energy else None)
    assert m.rr_1024 == ((1000, 770) if rr else ())
    # Bit 1 without bit 2 carries no information, so encoding drops it; all else round-trips.
    assert encode_hrm(m) == (
        payload if supported or not detected else bytes([flags & ~2]) + payload[1:]
    )
