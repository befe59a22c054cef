#!/usr/bin/env python3
"""Writes a SigMF cf32 recording for flowgraphs/spectrum-file.toml and the spectrum bench.

Usage: make_spectrum_recording.py BASE [SECONDS] [RATE]
Writes BASE.sigmf-data and BASE.sigmf-meta: complex white noise (0 dB per sample) with
tones at +100 kHz and +104.88 kHz (5 bins of 1024 apart), -200 kHz, and a flat band from
-400 kHz to -300 kHz, at a centre frequency of 100 MHz, starting 2026-01-01T00:00:00Z.
Needs numpy only.
"""
import json, sys
import numpy as np

base = sys.argv[1]
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 4.0
rate = float(sys.argv[3]) if len(sys.argv) > 3 else 1e6
n = int(seconds * rate)
rng = np.random.default_rng(1)
t = np.arange(n) / rate
x = (rng.standard_normal(n) + 1j * rng.standard_normal(n)) * np.sqrt(0.5) * 0.01
for f, a in [(100e3, 0.01), (100e3 + 5 * rate / 1024, 0.01), (-200e3, 0.003)]:
    x += a * np.exp(2j * np.pi * f * t)
spec = np.zeros(n, complex)
freqs = np.fft.fftfreq(n, 1 / rate)
band = (freqs >= -400e3) & (freqs < -300e3)
spec[band] = rng.standard_normal(band.sum()) + 1j * rng.standard_normal(band.sum())
wide = np.fft.ifft(spec)
wide *= np.sqrt(1e-3 / np.mean(np.abs(wide) ** 2))
x += wide
x.astype(np.complex64).tofile(base + ".sigmf-data")
meta = {
    "global": {"core:datatype": "cf32_le", "core:version": "1.0.0", "core:sample_rate": rate,
               "core:description": "flow spectrum demo: tones, a 100 kHz band, noise"},
    "captures": [{"core:sample_start": 0, "core:frequency": 100e6,
                  "core:datetime": "2026-01-01T00:00:00Z"}],
    "annotations": [],
}
with open(base + ".sigmf-meta", "w") as f:
    json.dump(meta, f, indent=2)
print(f"wrote {base}.sigmf-data ({n} samples) and {base}.sigmf-meta")
