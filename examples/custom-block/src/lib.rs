//! `power_meter`: an example of a block written outside flow's block library. It reads a
//! `c32` stream and emits one `power` message per window of samples with the mean power in
//! dB and the sample index of the window's first sample. See docs/authoring-blocks.md.

use flow_framework::prelude::*;

/// Parameters of `power_meter`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PowerMeterParams {
    /// Samples averaged into one measurement.
    #[serde(default = "default_window")]
    pub window: usize,
    /// Added to every reading, in dB (calibration).
    #[serde(default)]
    pub offset_db: f64,
}

fn default_window() -> usize {
    48_000
}

/// Averages |x|² over windows of samples.
pub struct PowerMeter {
    window: usize,
    offset_db: f64,
    acc: f64,
    n: usize,
    first_index: u64,
}

impl Block for PowerMeter {
    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        let input = &mut io.inputs[0];
        let samples = input.slice::<C32>();
        for (k, x) in samples.iter().enumerate() {
            if self.n == 0 {
                self.first_index = input.sample_index(k);
            }
            self.acc += f64::from(x.norm_sqr());
            self.n += 1;
            if self.n == self.window {
                let db = 10.0 * (self.acc / self.n as f64).log10() + self.offset_db;
                io.msg_out[0].post(
                    Message::new("power")
                        .with("index", self.first_index)
                        .with("power_db", db),
                );
                self.acc = 0.0;
                self.n = 0;
            }
        }
        let n = samples.len();
        input.consume(n);
        Ok(Flow::Continue)
    }
}

/// Registration of `power_meter`.
pub struct PowerMeterDef;

impl BlockDef for PowerMeterDef {
    type Params = PowerMeterParams;
    const NAME: &'static str = "power_meter";
    const SUMMARY: &'static str = "Mean power of a c32 stream per window, as messages.";
    const DOC: &'static str = "Input `in` (c32). Message output `power`: one `power` message per \
        `window` samples with `index` (sample index of the window's first sample) and \
        `power_db` (10·log10 of the mean |x|², plus `offset_db`). A partial window at the end \
        of the stream is not reported.";
    const EXAMPLE: &'static str = "window = 48000\noffset_db = 0.0";

    fn signature(_: &PowerMeterParams) -> Signature {
        Signature::new()
            .input("in", ItemType::C32)
            .message_output("power")
    }

    fn validate(p: &PowerMeterParams) -> Vec<ParamError> {
        if p.window == 0 {
            vec![ParamError::new("window", "must be at least 1")]
        } else {
            vec![]
        }
    }

    fn build(p: &PowerMeterParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        Ok(Box::new(PowerMeter {
            window: p.window,
            offset_db: p.offset_db,
            acc: 0.0,
            n: 0,
            first_index: 0,
        }))
    }
}

flow_framework::register_block!(PowerMeterDef);

/// Keeps this crate linked into a binary (see `flow_blocks::link`).
pub fn link() {}

#[cfg(test)]
mod tests {
    use super::*;
    use flow_framework::harness::Harness;

    #[test]
    fn reports_one_message_per_window_in_db() {
        let p = PowerMeterParams {
            window: 4,
            offset_db: 1.0,
        };
        let mut h = Harness::of::<PowerMeterDef>(p, &[ItemType::C32]).unwrap();
        h.push_input(0, &[C32::new(0.1, 0.0); 4]);
        h.push_input(0, &[C32::new(0.0, 1.0); 4]);
        h.push_input(0, &[C32::new(1.0, 0.0); 3]);
        h.run_to_end().unwrap();
        let m = h.messages(0);
        assert_eq!(m.len(), 2, "the partial third window is not reported");
        assert_eq!(m[0].get("index"), Some(&Value::U64(0)));
        assert_eq!(m[1].get("index"), Some(&Value::U64(4)));
        let db = |i: usize| m[i].get("power_db").and_then(Value::as_f64).unwrap();
        assert!((db(0) - (-20.0 + 1.0)).abs() < 1e-6, "{}", db(0));
        assert!((db(1) - 1.0).abs() < 1e-6, "{}", db(1));
    }

    #[test]
    fn zero_window_is_rejected() {
        let e = PowerMeterDef::validate(&PowerMeterParams {
            window: 0,
            offset_db: 0.0,
        });
        assert_eq!(e, vec![ParamError::new("window", "must be at least 1")]);
    }
}
