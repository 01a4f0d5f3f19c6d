"""Heart Rate Measurement (GATT characteristic 0x2A37) codec.

Layout (Bluetooth Heart Rate Service 1.0, §3.1; GATT XML ``org.bluetooth.characteristic.
heart_rate_measurement``), all fields little-endian:

    flags  uint8   bit 0   HR value format: 0 = uint8, 1 = uint16
                   bit 1   sensor contact detected (meaningful only when bit 2 is set)
                   bit 2   sensor contact feature supported
                   bit 3   Energy Expended field present (uint16, kJ)
                   bit 4   RR-Interval field present
                   bits 5-7 reserved for future use (ignored)
    HR     uint8 or uint16, bpm
    EE     uint16, kJ (optional)
    RR     uint16 * n, unit 1/1024 s, oldest first (the rest of the payload)

RR values are kept as the raw 1/1024 s integers; ``rr_ms`` converts without rounding, since
integer milliseconds would add quantisation noise to RMSSD (hrv-science.md §0).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from attune.errors import PayloadError

HR_FORMAT_UINT16 = 0x01
CONTACT_DETECTED = 0x02
CONTACT_SUPPORTED = 0x04
ENERGY_PRESENT = 0x08
RR_PRESENT = 0x10

RR_UNITS_PER_S = 1024
MS_PER_RR_UNIT = 1000.0 / RR_UNITS_PER_S
UINT16_MAX = 0xFFFF
UINT8_MAX = 0xFF


@dataclass(frozen=True, slots=True)
class HeartRateMeasurement:
    """One decoded notification.

    ``contact`` is None when the strap does not support contact detection.
    ``hr_uint16`` records the HR field width so encoding reproduces the bytes exactly.
    """

    hr_bpm: int
    contact: bool | None = None
    energy_kj: int | None = None
    rr_1024: tuple[int, ...] = ()
    rr_present: bool = False
    hr_uint16: bool = False

    @property
    def rr_ms(self) -> tuple[float, ...]:
        """RR intervals in milliseconds, oldest first."""
        return tuple(raw * MS_PER_RR_UNIT for raw in self.rr_1024)


def parse_hrm(payload: bytes | bytearray) -> HeartRateMeasurement:
    """Decode a 0x2A37 payload; raise PayloadError with the reason when it is malformed."""
    data = bytes(payload)
    if not data:
        raise PayloadError("empty payload", data)
    flags = data[0]
    offset = 1
    hr_uint16 = bool(flags & HR_FORMAT_UINT16)
    hr_size = 2 if hr_uint16 else 1
    if len(data) < offset + hr_size:
        raise PayloadError("truncated heart rate value", data)
    hr_bpm = int.from_bytes(data[offset : offset + hr_size], "little")
    offset += hr_size

    energy_kj = None
    if flags & ENERGY_PRESENT:
        if len(data) < offset + 2:
            raise PayloadError("truncated energy expended field", data)
        energy_kj = int.from_bytes(data[offset : offset + 2], "little")
        offset += 2

    rest = data[offset:]
    rr_present = bool(flags & RR_PRESENT)
    if rr_present:
        if not rest:
            raise PayloadError("RR flag set but no RR values", data)
        if len(rest) % 2:
            raise PayloadError("odd trailing byte in RR field", data)
        rr_1024 = struct.unpack(f"<{len(rest) // 2}H", rest)
    elif rest:
        raise PayloadError(f"{len(rest)} unexpected trailing byte(s)", data)
    else:
        rr_1024 = ()

    contact = bool(flags & CONTACT_DETECTED) if flags & CONTACT_SUPPORTED else None
    return HeartRateMeasurement(
        hr_bpm=hr_bpm,
        contact=contact,
        energy_kj=energy_kj,
        rr_1024=tuple(rr_1024),
        rr_present=rr_present,
        hr_uint16=hr_uint16,
    )


def encode_hrm(measurement: HeartRateMeasurement) -> bytes:
    """Encode a measurement to 0x2A37 bytes (used by simulated and virtual straps)."""
    m = measurement
    hr_uint16 = m.hr_uint16 or m.hr_bpm > UINT8_MAX
    if not 0 <= m.hr_bpm <= UINT16_MAX:
        raise ValueError(f"hr_bpm {m.hr_bpm} does not fit in uint16")
    if m.energy_kj is not None and not 0 <= m.energy_kj <= UINT16_MAX:
        raise ValueError(f"energy_kj {m.energy_kj} does not fit in uint16")
    if any(not 0 <= raw <= UINT16_MAX for raw in m.rr_1024):
        raise ValueError("RR values must fit in uint16")
    if m.rr_1024 and not m.rr_present:
        raise ValueError("RR values given but rr_present is False")
    if m.rr_present and not m.rr_1024:
        raise ValueError("rr_present needs at least one RR value")

    flags = HR_FORMAT_UINT16 if hr_uint16 else 0
    if m.contact is not None:
        flags |= CONTACT_SUPPORTED | (CONTACT_DETECTED if m.contact else 0)
    if m.energy_kj is not None:
        flags |= ENERGY_PRESENT
    if m.rr_present:
        flags |= RR_PRESENT

    out = bytearray([flags])
    out += m.hr_bpm.to_bytes(2 if hr_uint16 else 1, "little")
    if m.energy_kj is not None:
        out += m.energy_kj.to_bytes(2, "little")
    out += struct.pack(f"<{len(m.rr_1024)}H", *m.rr_1024)
    return bytes(out)


def rr_ms_to_1024(rr_ms: float) -> int:
    """Quantise an RR interval in ms to the 1/1024 s wire unit (rounding to nearest)."""
    return round(rr_ms * RR_UNITS_PER_S / 1000.0)
