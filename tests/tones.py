"""Which tones does a recording contain?  Goertzel amplitude per frequency.

The monitoring tests give every party its own tone (caller 440 Hz, agents 1000/1100 Hz,
supervisor 2000 Hz) and record what each party hears; a tone's amplitude in a recording
proves who hears whom (method from the verified Asterisk facts of the project).
"""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path


def samples(path: Path, start: float = 0.0, end: float | None = None) -> tuple[list[int], int]:
    with wave.open(str(path), "rb") as wav:
        rate = wav.getframerate()
        width = wav.getsampwidth()
        frames = wav.readframes(wav.getnframes())
    if width != 2:
        raise ValueError(f"{path}: expected 16-bit samples, got {width * 8}-bit")
    values = list(struct.unpack(f"<{len(frames) // 2}h", frames))
    first = int(start * rate)
    last = len(values) if end is None else min(len(values), int(end * rate))
    return values[first:last], rate


def amplitude(values: list[int], rate: int, frequency: float) -> float:
    """Amplitude (in sample units) of ``frequency`` in ``values`` (Goertzel)."""
    if not values:
        return 0.0
    coeff = 2 * math.cos(2 * math.pi * frequency / rate)
    s1 = s2 = 0.0
    for x in values:
        s0 = x + coeff * s1 - s2
        s2, s1 = s1, s0
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    return 2 * math.sqrt(max(power, 0.0)) / len(values)


def tones(
    path: Path, frequencies: list[float], start: float = 0.0, end: float | None = None
) -> dict[float, float]:
    values, rate = samples(path, start, end)
    return {f: amplitude(values, rate, f) for f in frequencies}


def duration(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def peak(path: Path, frequency: float, window: float = 0.2, step: float = 0.1) -> float:
    """The largest amplitude of ``frequency`` in any ``window`` seconds of the recording
    (windows ``step`` apart): whether a short tone was heard at all, wherever it fell.

    An average over the whole file shrinks a short tone by the file's length, and a
    window fixed in time misses it when a loaded PBX plays it late.
    """
    values, rate = samples(path)
    size, stride = max(1, int(window * rate)), max(1, int(step * rate))
    starts = range(0, max(1, len(values) - size + 1), stride)
    return max(amplitude(values[first : first + size], rate, frequency) for first in starts)
