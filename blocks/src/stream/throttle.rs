//! `throttle`: limits the item rate to `rate` items per second (for simulations and file
//! playback without hardware pacing).

use std::time::{Duration, Instant};

use flow_framework::prelude::*;

/// Parameters of `throttle`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThrottleParams {
    /// Items per second to let through.
    pub rate: f64,
}

/// Passes items no faster than a rate.
pub struct Throttle<T> {
    rate: f64,
    start: Option<Instant>,
    passed: u64,
    _t: std::marker::PhantomData<T>,
}

impl<T: Item> Block for Throttle<T> {
    /// `rate`: counted afresh from the change, so the new rate holds from then on.
    fn set_param(&mut self, name: &str, value: &toml::Value) -> Result<(), BlockError> {
        match (name, value.as_float()) {
            ("rate", Some(rate)) => {
                self.rate = rate;
                self.start = None;
                self.passed = 0;
                Ok(())
            }
            _ => Err(BlockError::config(format!(
                "`{name}` is not settable at run time (settable: rate)"
            ))),
        }
    }

    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        let start = *self.start.get_or_insert_with(Instant::now);
        let mut allowed = (start.elapsed().as_secs_f64() * self.rate) as u64;
        if allowed <= self.passed {
            // Sleep until at least one more item (or 10 ms worth) is due, then pass it.
            let next = (self.passed + 1).max((self.rate * 0.01) as u64 + self.passed);
            let due = start + Duration::from_secs_f64(next as f64 / self.rate);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            allowed = (start.elapsed().as_secs_f64() * self.rate) as u64;
        }
        let input = io.inputs[0].slice::<T>();
        let output = io.outputs[0].slice_mut::<T>();
        let budget = usize::try_from(allowed - self.passed).unwrap_or(usize::MAX);
        let n = input.len().min(output.len()).min(budget);
        output[..n].copy_from_slice(&input[..n]);
        io.inputs[0].consume(n);
        io.outputs[0].produce(n);
        self.passed += n as u64;
        Ok(Flow::Continue)
    }
}

/// Registration of `throttle`.
pub struct ThrottleDef;

impl BlockDef for ThrottleDef {
    type Params = ThrottleParams;
    const NAME: &'static str = "throttle";
    const SUMMARY: &'static str = "Limits the item rate (for simulations and file playback).";
    const DOC: &'static str =
        "Input `in` (T), output `out` (T). Lets items through at `rate` items \
        per second on average, sleeping on its own thread. Not for live sources, which are paced \
        by their hardware. `rate` can be changed while running (`flow run --http`).";
    const EXAMPLE: &'static str = "rate = 20000.0";
    const SETTABLE: &'static [&'static str] = &["rate"];

    fn signature(_: &ThrottleParams) -> Signature {
        Signature::new()
            .input("in", TypeSpec::Generic)
            .output("out", TypeSpec::Generic)
            .blocking()
    }

    fn validate(p: &ThrottleParams) -> Vec<ParamError> {
        if p.rate.is_finite() && p.rate > 0.0 {
            vec![]
        } else {
            vec![ParamError::new(
                "rate",
                format!(
                    "must be a positive number of items per second, not {}",
                    p.rate
                ),
            )]
        }
    }

    fn plan(p: &ThrottleParams, _: &PlanInputs) -> PlanInfo {
        PlanInfo {
            output_rates: Some(vec![Some(p.rate)]),
            paced: true,
            ..PlanInfo::default()
        }
    }

    fn build(p: &ThrottleParams, ctx: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        let rate = p.rate;
        Ok(
            dispatch_item_type!(ctx.generic_type()?, T => Box::new(Throttle::<T> { rate, start: None, passed: 0, _t: Default::default() }) as Box<dyn Block>),
        )
    }
}

register_block!(ThrottleDef);

#[cfg(test)]
mod tests {
    use super::*;
    use flow_framework::harness::Harness;

    #[test]
    fn passes_everything_no_faster_than_the_rate() {
        let mut h = Harness::of::<ThrottleDef>(ThrottleParams { rate: 100_000.0 }, &[ItemType::U8])
            .unwrap();
        let data = vec![5u8; 20_000];
        h.push_input(0, &data);
        let t0 = Instant::now();
        h.run_to_end().unwrap();
        assert_eq!(h.output::<u8>(0), data);
        // 20 000 items at 100 000/s cannot take less than 0.2 s.
        assert!(
            t0.elapsed() >= Duration::from_millis(190),
            "{:?}",
            t0.elapsed()
        );
    }

    #[test]
    fn a_new_rate_holds_from_the_change() {
        let mut h =
            Harness::of::<ThrottleDef>(ThrottleParams { rate: 1e9 }, &[ItemType::U8]).unwrap();
        h.push_input(0, &[1u8; 1000]);
        h.run();
        assert_eq!(h.output::<u8>(0).len(), 1000);
        assert!(h.set_param("rate", toml::Value::Float(50_000.0)).is_ok());
        h.push_input(0, &[2u8; 10_000]);
        let t0 = Instant::now();
        h.run_to_end().unwrap();
        assert_eq!(h.output::<u8>(0).len(), 11_000);
        // 10 000 items at 50 000/s cannot take less than 0.2 s (at the old rate: 10 µs).
        assert!(
            t0.elapsed() >= Duration::from_millis(190),
            "{:?}",
            t0.elapsed()
        );
        assert!(h.set_param("rate", toml::Value::Float(-1.0)).is_err());
    }

    #[test]
    fn rejects_non_positive_rate() {
        assert_eq!(
            ThrottleDef::validate(&ThrottleParams { rate: 0.0 })[0].param,
            "rate"
        );
    }
}
