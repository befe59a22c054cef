//! A test spectrum generator, `wt_fft`: a plain radix-2 FFT of consecutive windows of a c32
//! stream, posted as `spectrum` messages in the team's format (dB, fft-shifted). It stands in
//! for `psd` in the web view tests, which only depend on the message format.

use flow_framework::prelude::*;

/// Parameters of `wt_fft`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FftParams {
    /// Bins (a power of two).
    pub bins: usize,
    /// Sample rate of the input, Hz.
    pub sample_rate: f64,
}

struct Fft {
    p: FftParams,
    frames: u64,
}

/// In-place radix-2 FFT.
pub fn fft(x: &mut [(f64, f64)]) {
    let n = x.len();
    let mut j = 0;
    for i in 1..n {
        let mut bit = n >> 1;
        while j & bit != 0 {
            j ^= bit;
            bit >>= 1;
        }
        j |= bit;
        if i < j {
            x.swap(i, j);
        }
    }
    let mut len = 2;
    while len <= n {
        let w = -std::f64::consts::TAU / len as f64;
        for start in (0..n).step_by(len) {
            for k in 0..len / 2 {
                let (c, s) = ((w * k as f64).cos(), (w * k as f64).sin());
                let (a, b) = (x[start + k], x[start + k + len / 2]);
                let t = (b.0 * c - b.1 * s, b.0 * s + b.1 * c);
                x[start + k] = (a.0 + t.0, a.1 + t.1);
                x[start + k + len / 2] = (a.0 - t.0, a.1 - t.1);
            }
        }
        len <<= 1;
    }
}

impl Block for Fft {
    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        let n = self.p.bins;
        let input = &mut io.inputs[0];
        let samples = input.slice::<C32>();
        let mut used = 0;
        while samples.len() - used >= n {
            let index = input.sample_index(used);
            let mut x: Vec<(f64, f64)> = samples[used..used + n]
                .iter()
                .map(|s| (f64::from(s.re), f64::from(s.im)))
                .collect();
            fft(&mut x);
            let power: Vec<f32> = (0..n)
                .map(|k| {
                    let (re, im) = x[(k + n / 2) % n];
                    (10.0 * ((re * re + im * im) / (n * n) as f64 + 1e-20).log10()) as f32
                })
                .collect();
            let rate = self.p.sample_rate;
            let time = Value::Time((index as f64 / rate * 1e9) as i64);
            self.frames += 1;
            if self.frames % 25 == 0 {
                // A detection of the strongest bin now and then, for the detection list.
                let (k, peak) = power.iter().enumerate().fold((0, f32::MIN), |a, (k, p)| {
                    if *p > a.1 {
                        (k, *p)
                    } else {
                        a
                    }
                });
                let mut sorted = power.clone();
                sorted.sort_by(f32::total_cmp);
                let floor = sorted[n / 2];
                io.msg_out[0].post(
                    Message::new("detection")
                        .with("time_ns", time.clone())
                        .with("freq_hz", -rate / 2.0 + (k as f64 + 0.5) * rate / n as f64)
                        .with("power_db", f64::from(peak))
                        .with("snr_db", f64::from(peak - floor))
                        .with("bandwidth_hz", rate / n as f64)
                        .with("first_seen_ns", time.clone())
                        .with("last_seen_ns", time.clone())
                        .with("bins", 1u64),
                );
            }
            io.msg_out[0].post(
                Message::new("spectrum")
                    .with("time_ns", time)
                    .with("index", index)
                    .with("center_hz", 0.0)
                    .with("bin_hz", rate / n as f64)
                    .with("start_hz", -rate / 2.0)
                    .with("averages", 1u64)
                    .with("db", true)
                    .with("power", power),
            );
            used += n;
        }
        input.consume(used);
        Ok(Flow::Continue)
    }
}

struct FftDef;
impl BlockDef for FftDef {
    type Params = FftParams;
    const NAME: &'static str = "wt_fft";
    const SUMMARY: &'static str = "test: spectra of a c32 stream";
    const DOC: &'static str = "test";
    const EXAMPLE: &'static str = "bins = 1024\nsample_rate = 48000.0";
    fn signature(p: &FftParams) -> Signature {
        Signature::new()
            .input("in", ItemType::C32)
            .min_items(p.bins)
            .message_output("spectrum")
    }
    fn build(p: &FftParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        Ok(Box::new(Fft {
            p: p.clone(),
            frames: 0,
        }))
    }
}
register_block!(FftDef);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fft_finds_a_tone_in_its_bin() {
        let n = 64;
        let mut x: Vec<(f64, f64)> = (0..n)
            .map(|k| {
                let ph = std::f64::consts::TAU * 5.0 * k as f64 / n as f64;
                (ph.cos(), ph.sin())
            })
            .collect();
        fft(&mut x);
        let mags: Vec<f64> = x.iter().map(|(a, b)| (a * a + b * b).sqrt()).collect();
        assert!((mags[5] - n as f64).abs() < 1e-9);
        assert!(mags.iter().enumerate().all(|(k, m)| k == 5 || *m < 1e-9));
    }

    #[test]
    fn posts_a_spectrum_with_the_tone_in_its_bin() {
        use flow_framework::harness::Harness;
        let mut h = Harness::new(
            "wt_fft",
            "bins = 64\nsample_rate = 6400.0",
            &[ItemType::C32],
        )
        .unwrap();
        let tone: Vec<C32> = (0..128)
            .map(|k| {
                let ph = std::f32::consts::TAU * 1000.0 * k as f32 / 6400.0;
                C32::new(ph.cos(), ph.sin())
            })
            .collect();
        h.push_input(0, &tone);
        h.run_to_end().unwrap();
        let spectra = h.messages(0);
        assert_eq!(spectra.len(), 2);
        let Some(Value::F32s(p)) = spectra[0].get("power") else {
            panic!("no power")
        };
        let peak = p
            .iter()
            .enumerate()
            .fold(
                (0, f32::MIN),
                |a, (k, x)| if *x > a.1 { (k, *x) } else { a },
            )
            .0;
        // 1000 Hz at 100 Hz per bin, shifted by 32 bins: bin 42.
        assert_eq!(peak, 42);
    }
}
