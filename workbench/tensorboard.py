"""TensorBoard event files written by hand, so exporting needs no tensorboard (nor
TensorFlow, nor protobuf) at run time: the format is small.

An event file is a sequence of TFRecords (``uint64`` length, masked CRC-32C of the
length, the bytes, masked CRC-32C of the bytes), each an ``Event`` protocol buffer: first
one with ``file_version = "brain.Event:2"``, then one per step whose ``Summary`` holds a
``simple_value`` per metric key. Fields (tensorflow/core/util/event.proto,
tensorflow/core/framework/summary.proto): Event.wall_time = 1 (double), step = 2 (int64),
file_version = 3 (string), summary = 5; Summary.value = 1; Value.tag = 1 (string),
simple_value = 2 (float). TensorBoard reads simple values as scalars.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable
from pathlib import Path


def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), the checksum TFRecord frames use."""
    crc = 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def record(data: bytes) -> bytes:
    """One TFRecord frame around ``data``."""
    length = struct.pack("<Q", len(data))
    return (
        length + struct.pack("<I", masked_crc(length)) + data + struct.pack("<I", masked_crc(data))
    )


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # int64 as protobuf writes it (a negative one in ten bytes)
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def event(
    wall_time: float,
    step: int = 0,
    scalars: Iterable[tuple[str, float]] = (),
    file_version: str | None = None,
) -> bytes:
    """An ``Event`` message: a file-version header, or the scalars of one step."""
    message = _varint(1 << 3 | 1) + struct.pack("<d", wall_time)
    if step:
        message += _varint(2 << 3) + _varint(step)
    if file_version is not None:
        message += _field(3, file_version.encode())
    values = b"".join(
        _field(1, _field(1, tag.encode()) + _varint(2 << 3 | 5) + struct.pack("<f", value))
        for tag, value in scalars
    )
    if values:
        message += _field(5, values)
    return message


def write_events(
    folder: Path, steps: Iterable[tuple[int, float, list[tuple[str, float]]]], start: float
) -> Path:
    """Write one event file in ``folder`` (created) from (step, wall_time, [(key, value)])
    in step order; ``start`` is the header's wall time. Returns the file's path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"events.out.tfevents.{int(start)}.{socket.gethostname()}.workbench"
    with path.open("wb") as handle:
        handle.write(record(event(start, file_version="brain.Event:2")))
        for step, wall_time, scalars in steps:
            handle.write(record(event(wall_time, step, scalars)))
    return path
