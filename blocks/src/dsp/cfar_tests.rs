//! Tests of `cfar`: measured false-alarm rates against the design Pfa for every variant,
//! with independent cells and through `psd` with a Blackman-Harris window and overlapping
//! Welch segments, and detection probability against the CA-CFAR theory curve.
//!
//! Trial counts. The false-alarm count over T tested bins is about Binomial(T, Pfa), with a
//! relative standard deviation of 1/√(T·Pfa); neighbouring decisions share training cells
//! and (with a window) correlated bins, which inflates the variance by a factor we bound by
//! 3. For ±20 % to be a 4σ band: T·Pfa ≥ 3·(4/0.2)² = 1200, so T ≥ 1.2 million bins at
//! Pfa = 1e-3. The noise is seeded, so the tests are deterministic; the margin makes them
//! meaningful (a wrong threshold model fails them, as the naive-α check below shows).

use super::*;
use crate::dsp::psd::tests::noise;
use crate::dsp::psd::PsdDef;
use crate::dsp::spectrum::Spectrum;
use flow_framework::harness::Harness;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

fn params(body: &str) -> CfarParams {
    toml::from_str(body).unwrap()
}

/// A linear spectrum message of `power` with no window metadata (independent cells).
fn spectrum(power: Vec<f32>, averages: u64) -> Message {
    Spectrum {
        time_ns: 0,
        index: 0,
        center_hz: 0.0,
        bin_hz: 1.0,
        start_hz: 0.0,
        averages,
        db: false,
        power: power.into(),
        window: None,
        step: None,
        span: None,
        noise: None,
        threshold: None,
    }
    .to_message()
}

fn exponential(rng: &mut SmallRng, mean: f64) -> f32 {
    (-mean * (1.0 - rng.random::<f64>()).ln()) as f32
}

/// Runs `cfar` over `msgs`; returns (bins over threshold, tested bins) per output spectrum.
fn run(p: CfarParams, msgs: Vec<Message>) -> Vec<Spectrum> {
    let mut h = Harness::of::<CfarDef>(p, &[]).unwrap();
    for m in msgs {
        h.push_message(0, m);
    }
    h.run_to_end().unwrap();
    assert_eq!(h.counter("bad_messages"), 0);
    h.messages(0)
        .iter()
        .map(|m| Spectrum::from_message(m).unwrap())
        .collect()
}

fn false_alarm_rate(out: &[Spectrum]) -> (f64, u64) {
    let (mut hits, mut tested) = (0u64, 0u64);
    for s in out {
        let t = s.threshold.as_ref().unwrap();
        for (p, t) in s.power.iter().zip(t.iter()) {
            if t.is_finite() {
                tested += 1;
                hits += u64::from(p > t);
            }
        }
    }
    (hits as f64 / tested as f64, tested)
}

#[test]
fn every_variant_holds_its_false_alarm_rate_on_exponential_noise() {
    let pfa = 1e-3;
    let mut rng = SmallRng::seed_from_u64(11);
    let msgs: Vec<Message> = (0..300)
        .map(|_| spectrum((0..4096).map(|_| exponential(&mut rng, 1.0)).collect(), 1))
        .collect();
    for method in ["ca", "go", "so", "os"] {
        let out = run(
            params(&format!(
                "method = \"{method}\"\nguard = 2\ntrain = 12\npfa = {pfa}"
            )),
            msgs.clone(),
        );
        let (rate, tested) = false_alarm_rate(&out);
        eprintln!("{method}: false-alarm rate {rate:.3e} over {tested} bins (design {pfa:.0e})");
        assert!(tested >= 1_200_000, "{tested} trials");
        assert!(
            (rate / pfa - 1.0).abs() < 0.2,
            "{method}: measured {rate:.3e} vs design {pfa:.0e}"
        );
    }
}

/// The full chain on complex white noise: `psd` (1024 bins, Blackman-Harris, 50 % overlap,
/// 8 averages) into CA, GO and SO CFAR. Neighbouring bins are strongly correlated
/// (|ρ|² = 0.67 one bin apart) and segments overlap, so a threshold that counted 8·32
/// independent training values would be too low; the moment-matched model holds Pfa.
#[test]
fn welch_averaged_windowed_noise_holds_the_design_rate() {
    let pfa = 1e-3;
    let spectra = 1300;
    let x = noise(512 * (8 * spectra + 1), 1.0, 5);
    let mut h = Harness::of::<PsdDef>(
        crate::dsp::psd::tests::params("averages = 8\nsample_rate = 1e6"),
        &[ItemType::C32],
    )
    .unwrap();
    h.push_input(0, &x);
    h.run_to_end().unwrap();
    let msgs: Vec<Message> = h.messages(0)[..spectra].to_vec();
    for method in ["ca", "go", "so"] {
        let out = run(
            params(&format!(
                "method = \"{method}\"\nguard = 2\ntrain = 16\npfa = {pfa}"
            )),
            msgs.clone(),
        );
        let (rate, tested) = false_alarm_rate(&out);
        eprintln!("{method}: false-alarm rate {rate:.3e} over {tested} bins (design {pfa:.0e})");
        assert!(tested >= 1_200_000, "{tested} trials");
        assert!(
            (rate / pfa - 1.0).abs() < 0.2,
            "{method}: measured {rate:.3e} vs design {pfa:.0e}"
        );
    }
    // OS orders correlated cells; it counts them as the fewer independent cells their sum's
    // degrees of freedom allow (a heuristic, conservative: measured 0.59 of design here).
    let (rate, _) = false_alarm_rate(&run(
        params("method = \"os\"\nguard = 2\ntrain = 16\npfa = 1e-3"),
        msgs.clone(),
    ));
    eprintln!("os (Welch, Blackman-Harris): false-alarm rate {rate:.3e}");
    assert!(rate > 0.5 * pfa && rate < 1.2 * pfa, "os: {rate:.3e}");
    // Ignoring the correlations (no window metadata: 8 × 32 independent values) would
    // set the threshold too low and overshoot the design rate by far more than 20 %.
    let naive: Vec<Message> = msgs
        .iter()
        .map(|m| {
            let mut s = Spectrum::from_message(m).unwrap();
            s.window = None;
            s.step = None;
            s.to_message()
        })
        .collect();
    let (rate, _) = false_alarm_rate(&run(params("guard = 2\ntrain = 16\npfa = 1e-3"), naive));
    eprintln!("naive (independent-cell) threshold: false-alarm rate {rate:.3e}");
    assert!(rate > 1.3 * pfa, "naive threshold gave {rate:.3e}");
}

/// OS-CFAR on Welch averages without overlap and with a rectangular window (cells then are
/// independent Gamma(8), the model OS assumes).
#[test]
fn os_holds_its_rate_on_averaged_independent_cells() {
    let pfa = 1e-3;
    let spectra = 1300;
    let x = noise(1024 * 8 * spectra, 1.0, 9);
    let mut h = Harness::of::<PsdDef>(
        crate::dsp::psd::tests::params("averages = 8\noverlap = 0.0\nwindow = \"rect\""),
        &[ItemType::C32],
    )
    .unwrap();
    h.push_input(0, &x);
    h.run_to_end().unwrap();
    let out = run(
        params("method = \"os\"\nguard = 1\ntrain = 16\npfa = 1e-3"),
        h.messages(0).to_vec(),
    );
    let (rate, tested) = false_alarm_rate(&out);
    eprintln!("os (Welch, rect): false-alarm rate {rate:.3e} over {tested} bins");
    assert!(tested >= 1_200_000, "{tested} trials");
    assert!((rate / pfa - 1.0).abs() < 0.2, "os: measured {rate:.3e}");
}

/// Swerling 1 (exponentially fluctuating) targets in exponential noise, one periodogram:
/// theory Pd = (1 + α / (N·(1 + SNR)))^(−N). At every SNR the measured Pd must sit on the
/// theory curve within 1 dB of SNR: SNR_theory(Pd_measured) within ±1 dB of the true SNR.
#[test]
fn detection_probability_follows_the_ca_theory_curve() {
    let (guard, train, pfa) = (2usize, 16usize, 1e-4f64);
    let n_train = (2 * train) as f64;
    let alpha = n_train * (pfa.powf(-1.0 / n_train) - 1.0);
    let pd_theory = |snr: f64| (1.0 + alpha / (n_train * (1.0 + snr))).powf(-n_train);
    let snr_for_pd = |pd: f64| {
        // Invert the monotone theory curve by bisection in dB.
        let (mut lo, mut hi) = (-10.0f64, 40.0f64);
        for _ in 0..100 {
            let mid = 0.5 * (lo + hi);
            if pd_theory(10f64.powf(mid / 10.0)) < pd {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    };
    let mut rng = SmallRng::seed_from_u64(21);
    let spacing = 2 * (guard + train) + 4;
    for snr_db in [8.0, 11.0, 14.0, 18.0] {
        let snr = 10f64.powf(snr_db / 10.0);
        let mut msgs = Vec::new();
        for _ in 0..60 {
            let p: Vec<f32> = (0..4096)
                .map(|k| {
                    let on = k % spacing == 0 && k >= spacing && k < 4096 - spacing;
                    exponential(&mut rng, if on { 1.0 + snr } else { 1.0 })
                })
                .collect();
            msgs.push(spectrum(p, 1));
        }
        let out = run(
            params(&format!("guard = {guard}\ntrain = {train}\npfa = {pfa}")),
            msgs,
        );
        let (mut det, mut trials) = (0u64, 0u64);
        for s in &out {
            let t = s.threshold.as_ref().unwrap();
            for k in (spacing..4096 - spacing).step_by(spacing) {
                trials += 1;
                det += u64::from(s.power[k] > t[k]);
            }
        }
        let pd = det as f64 / trials as f64;
        let implied = snr_for_pd(pd);
        eprintln!(
            "SNR {snr_db} dB: Pd {pd:.4} over {trials} targets, theory {:.4}, implied {implied:.2} dB",
            pd_theory(snr)
        );
        assert!(
            (implied - snr_db).abs() < 1.0,
            "SNR {snr_db} dB: Pd {pd:.3} (theory {:.3}) implies {implied:.2} dB",
            pd_theory(snr)
        );
        assert!(trials >= 5000);
    }
}

#[test]
fn thresholds_are_in_the_units_of_the_spectrum_and_edges_are_untested() {
    let mut p = vec![1.0f32; 64];
    p[32] = 1000.0;
    let lin = run(
        params("guard = 1\ntrain = 4\npfa = 1e-2"),
        vec![spectrum(p.clone(), 1)],
    );
    let db_in = Spectrum {
        db: true,
        power: p
            .iter()
            .map(|v| 10.0 * v.log10())
            .collect::<Vec<f32>>()
            .into(),
        ..Spectrum::from_message(&spectrum(p, 1)).unwrap()
    };
    let db = run(
        params("guard = 1\ntrain = 4\npfa = 1e-2"),
        vec![db_in.to_message()],
    );
    let (tl, td) = (
        lin[0].threshold.clone().unwrap(),
        db[0].threshold.clone().unwrap(),
    );
    let alpha = 8.0 * (0.01f64.powf(-1.0 / 8.0) - 1.0);
    assert!((f64::from(tl[20]) - alpha).abs() < 1e-4, "{}", tl[20]);
    assert!((f64::from(td[20]) - 10.0 * alpha.log10()).abs() < 1e-3);
    assert!(tl[..5].iter().chain(&tl[59..]).all(|t| t.is_infinite()));
    assert!(tl[5].is_finite() && tl[58].is_finite());
    assert!(lin[0].power[32] > tl[32]);
}

#[test]
fn bad_messages_are_counted_and_skipped() {
    let mut h = Harness::of::<CfarDef>(params(""), &[]).unwrap();
    h.push_message(0, Message::new("spectrum").with("db", true));
    h.push_message(0, spectrum(vec![1.0; 64], 1));
    h.run_to_end().unwrap();
    assert_eq!(h.counter("bad_messages"), 1);
    assert_eq!(h.messages(0).len(), 1);
    let e = CfarDef::validate(&params("train = 0\npfa = 2.0\nrank = 5"));
    let names: Vec<&str> = e.iter().map(|e| e.param.as_str()).collect();
    assert_eq!(names, ["train", "pfa", "rank", "rank"]);
}

#[test]
fn hostile_spectra_do_not_panic_or_hang() {
    let mut h = Harness::of::<CfarDef>(params("guard = 1\ntrain = 2"), &[]).unwrap();
    let base = Spectrum::from_message(&spectrum(vec![1.0; 16], 1)).unwrap();
    for s in [
        Spectrum {
            averages: u64::MAX,
            window: Some(crate::dsp::window::Window::Hann),
            step: Some(0),
            ..base.clone()
        },
        Spectrum {
            power: vec![1.0f32].into(),
            window: Some(crate::dsp::window::Window::Hann),
            step: Some(1),
            ..base.clone()
        },
        Spectrum {
            power: Vec::<f32>::new().into(),
            ..base.clone()
        },
        Spectrum {
            bin_hz: f64::NAN,
            power: vec![f32::NAN; 16].into(),
            ..base.clone()
        },
        Spectrum {
            db: true,
            power: vec![f32::INFINITY; 16].into(),
            ..base.clone()
        },
    ] {
        h.push_message(0, s.to_message());
    }
    h.run_to_end().unwrap();
    assert_eq!(h.counter("bad_messages") + h.counter("spectra"), 5);
    // And peaks on whatever came through.
    let mut p = Harness::new("peaks", "", &[]).unwrap();
    for m in h.messages(0) {
        p.push_message(0, m.clone());
    }
    p.run_to_end().unwrap();
    assert_eq!(p.counter("bad_messages"), 0);
}

/// Swerling 0 (steady tones) through the real `psd`: bin-centred tones, rectangular window,
/// no overlap, K = 4 averages, so a tone bin is (1/K)·Σ|√S·e^{jφ} + w|² with w ~ CN(0, 1):
/// 2K·X is noncentral χ²(2K, 2K·S), and the CA noise estimate is Gamma(2T·K). Theory:
/// Pd(S) = ∫ P(2K·X > 2K·α·z) f_Z(z) dz with the noncentral tail as a Poisson mixture of
/// central ones. Measured Pd must imply an SNR within 1 dB of the true one.
#[test]
fn swerling_0_tones_through_psd_follow_the_theory_curve() {
    use crate::dsp::special::ln_gamma_pq;
    let (n, k, guard, train, pfa) = (256usize, 4u64, 1usize, 8usize, 1e-3f64);
    let m = (2 * train) as f64 * k as f64;
    let kf = k as f64;
    // α from the block's own solver path is what we test against: the textbook F quantile.
    let alpha = crate::dsp::cfar_threshold::threshold_factor(
        crate::dsp::cfar_threshold::CfarMethod::Ca,
        &crate::dsp::cfar_threshold::NoiseShapes {
            cut: kf,
            estimate: m,
            cells: 0,
            rank: 0,
        },
        pfa,
    )
    .unwrap();
    let pd_theory = |snr: f64| -> f64 {
        // P(X > t) for 2K·X ~ ncχ²(2K, 2K·S): Σ_j Pois(j; K·S)·Q(K + j, K·t).
        let tail = |t: f64| -> f64 {
            let mu = kf * snr;
            let mut sum = 0.0;
            let mut ln_pois = -mu;
            for j in 0..2000 {
                if j > 0 {
                    ln_pois += mu.ln() - (j as f64).ln();
                }
                sum += (ln_pois + ln_gamma_pq(kf + j as f64, kf * t).1).exp();
                if j as f64 > mu + 10.0 * mu.sqrt() + 20.0 {
                    break;
                }
            }
            sum
        };
        // E over Z ~ Gamma(m, 1/m): Simpson on a grid spanning ±10 standard deviations.
        let sd = 1.0 / m.sqrt();
        let (lo, hi, steps) = ((1.0 - 10.0 * sd).max(1e-9), 1.0 + 10.0 * sd, 300);
        let h = (hi - lo) / steps as f64;
        let ln_norm = m * m.ln() - puruspe::ln_gamma(m);
        (0..=steps)
            .map(|i| {
                let z = lo + h * i as f64;
                let w = if i == 0 || i == steps {
                    1.0
                } else if i % 2 == 1 {
                    4.0
                } else {
                    2.0
                };
                w * (ln_norm + (m - 1.0) * z.ln() - m * z).exp() * tail(alpha * z)
            })
            .sum::<f64>()
            * h
            / 3.0
    };
    let spacing = 2 * (guard + train) + 3;
    // Signed bins (cycles per frame), away from the untested edges.
    let half = (n / 2) as i64;
    let bins: Vec<i64> = (-half + spacing as i64..half - spacing as i64)
        .step_by(spacing)
        .collect();
    for snr_db in [2.0f64, 4.0, 6.0] {
        let snr = 10f64.powf(snr_db / 10.0);
        // Per-bin SNR S = A²·N / σ² for a bin-centred tone of amplitude A in noise of power σ².
        let amp = (snr / n as f64).sqrt();
        let spectra = 300;
        let mut x = noise(n * k as usize * spectra, 1.0, 40 + snr_db as u64);
        for b in &bins {
            crate::dsp::psd::tests::add_tone(&mut x, *b as f64 / n as f64, amp);
        }
        let mut h = Harness::of::<PsdDef>(
            crate::dsp::psd::tests::params(&format!(
                "fft_size = {n}\noverlap = 0.0\naverages = {k}\nwindow = \"rect\""
            )),
            &[ItemType::C32],
        )
        .unwrap();
        h.push_input(0, &x);
        h.run_to_end().unwrap();
        let out = run(
            params(&format!("guard = {guard}\ntrain = {train}\npfa = {pfa}")),
            h.messages(0).to_vec(),
        );
        let (mut det, mut trials) = (0u64, 0u64);
        for s in &out {
            let t = s.threshold.as_ref().unwrap();
            for b in &bins {
                let i = (b + half) as usize; // index after the shift
                trials += 1;
                det += u64::from(s.power[i] > t[i]);
            }
        }
        let pd = det as f64 / trials as f64;
        let (mut lo, mut hi) = (-5.0f64, 15.0f64);
        for _ in 0..30 {
            let mid = 0.5 * (lo + hi);
            if pd_theory(10f64.powf(mid / 10.0)) < pd {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let implied = 0.5 * (lo + hi);
        eprintln!(
            "Swerling 0, SNR {snr_db} dB: Pd {pd:.4} over {trials} tones, theory {:.4}, implied {implied:.2} dB",
            pd_theory(snr)
        );
        assert!(
            (implied - snr_db).abs() < 1.0,
            "SNR {snr_db}: Pd {pd} implies {implied}"
        );
    }
}

#[test]
fn pfa_changes_while_running_and_moves_the_threshold() {
    let mut rng = SmallRng::seed_from_u64(7);
    let mut power = || -> Vec<f32> { (0..4096).map(|_| exponential(&mut rng, 1.0)).collect() };
    let (a, b) = (power(), power());
    let mut h = Harness::of::<CfarDef>(params("pfa = 1e-6"), &[]).unwrap();
    h.push_message(0, spectrum(a, 1));
    h.run_for(std::time::Duration::from_millis(50));
    assert_eq!(h.messages(0).len(), 1);
    assert!(h.set_param("pfa", toml::Value::Float(0.1)).is_ok());
    h.push_message(0, spectrum(b, 1));
    h.finish_inputs();
    h.run_to_end().unwrap();
    let out: Vec<Spectrum> = h
        .messages(0)
        .iter()
        .map(|m| Spectrum::from_message(m).unwrap())
        .collect();
    let (strict, loose) = (false_alarm_rate(&out[..1]).0, false_alarm_rate(&out[1..]).0);
    assert!(strict < 1e-3, "{strict}");
    assert!((0.07..0.13).contains(&loose), "{loose}");
    // Validation still applies, and nothing else is settable.
    assert!(h.set_param("pfa", toml::Value::Float(2.0)).is_err());
    assert!(h.set_param("guard", toml::Value::Integer(3)).is_err());
}
