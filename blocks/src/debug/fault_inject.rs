//! `fault_inject`: a pass-through that misbehaves on purpose (slow start, stall, error,
//! panic) so that supervision, watchdogs and crash handling can be tested on a real
//! deployment.

use std::time::Duration;

use flow_framework::prelude::*;

/// Parameters of `fault_inject`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultInjectParams {
    /// Sleep this many milliseconds in `start` (a slow device or first read).
    #[serde(default)]
    pub start_delay_ms: u64,
    /// After passing this many items, stop consuming for good (a hung block).
    #[serde(default)]
    pub stall_after_items: Option<u64>,
    /// After passing this many items, fail with an error (once per run: a restarted block
    /// does not fail again).
    #[serde(default)]
    pub fail_after_items: Option<u64>,
    /// Panic instead of returning an error.
    #[serde(default)]
    pub panic: bool,
}

/// Passes items through until told to misbehave.
pub struct FaultInject<T> {
    p: FaultInjectParams,
    passed: u64,
    restarted: bool,
    _t: std::marker::PhantomData<T>,
}

impl<T: Item> FaultInject<T> {
    fn limit(&self) -> u64 {
        let stall = self.p.stall_after_items.unwrap_or(u64::MAX);
        let fail = if self.restarted {
            u64::MAX
        } else {
            self.p.fail_after_items.unwrap_or(u64::MAX)
        };
        stall.min(fail)
    }
}

impl<T: Item> Block for FaultInject<T> {
    fn start(&mut self, ctx: &BlockContext) -> Result<(), BlockError> {
        self.restarted = ctx
            .metrics()
            .restarts
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0;
        std::thread::sleep(Duration::from_millis(self.p.start_delay_ms));
        Ok(())
    }

    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        let limit = self.limit();
        if self.passed >= limit {
            if !self.restarted && self.p.fail_after_items.is_some_and(|f| self.passed >= f) {
                if self.p.panic {
                    panic!("fault_inject: panic after {} items", self.passed);
                }
                return Err(BlockError::internal(format!(
                    "fault_inject: failing after {} items",
                    self.passed
                )));
            }
            // Stalled: hold the input and do nothing, like a hung write.
            std::thread::sleep(Duration::from_millis(100));
            return Ok(Flow::Continue);
        }
        let input = io.inputs[0].slice::<T>();
        let output = io.outputs[0].slice_mut::<T>();
        let n = input
            .len()
            .min(output.len())
            .min(usize::try_from(limit - self.passed).unwrap_or(usize::MAX));
        output[..n].copy_from_slice(&input[..n]);
        io.inputs[0].consume(n);
        io.outputs[0].produce(n);
        self.passed += n as u64;
        Ok(Flow::Continue)
    }
}

/// Registration of `fault_inject`.
pub struct FaultInjectDef;

impl BlockDef for FaultInjectDef {
    type Params = FaultInjectParams;
    const NAME: &'static str = "fault_inject";
    const SUMMARY: &'static str =
        "Pass-through that misbehaves on purpose (slow start, stall, error, panic).";
    const DOC: &'static str =
        "Input `in` (T), output `out` (T). Passes items through, but can sleep \
        in `start` (`start_delay_ms`), stop consuming for good after `stall_after_items` (a hung \
        block: the stall watchdog reports it), or fail after `fail_after_items` with an error or \
        a panic (`panic`). A restarted instance does not fail again, so `on_error = \"restart\"` \
        recovers. Runs on its own thread. For testing supervision and deployments.";
    const EXAMPLE: &'static str = "start_delay_ms = 0\nfail_after_items = 100000\npanic = false";

    fn signature(_: &FaultInjectParams) -> Signature {
        Signature::new()
            .input("in", TypeSpec::Generic)
            .output("out", TypeSpec::Generic)
            .blocking()
    }

    fn build(p: &FaultInjectParams, ctx: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        let p = p.clone();
        Ok(
            dispatch_item_type!(ctx.generic_type()?, T => Box::new(FaultInject::<T> { p, passed: 0, restarted: false, _t: Default::default() }) as Box<dyn Block>),
        )
    }
}

register_block!(FaultInjectDef);

#[cfg(test)]
mod tests {
    use super::*;
    use flow_framework::graph::OnError;
    use flow_framework::harness::Harness;

    fn params(body: &str) -> FaultInjectParams {
        toml::from_str(body).unwrap()
    }

    #[test]
    fn fails_after_n_items_and_passes_them_first() {
        let mut h =
            Harness::of::<FaultInjectDef>(params("fail_after_items = 10"), &[ItemType::F32])
                .unwrap();
        h.push_input(0, &[1.0f32; 25]);
        h.run_to_end().unwrap();
        assert_eq!(h.output::<f32>(0).len(), 10);
        assert_eq!(
            h.metrics().last_error(),
            "fault_inject: failing after 10 items"
        );
    }

    #[test]
    fn a_restarted_instance_passes_everything() {
        let h = Harness::of::<FaultInjectDef>(
            params("fail_after_items = 10\npanic = true"),
            &[ItemType::U8],
        )
        .unwrap();
        let mut h = h.on_error(OnError::Restart);
        h.push_input(0, &[7u8; 25]);
        h.run_to_end().unwrap();
        assert_eq!(
            h.output::<u8>(0),
            vec![7u8; 25],
            "nothing lost across the restart"
        );
        assert_eq!(
            h.metrics()
                .restarts
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        assert_eq!(
            h.metrics().last_error(),
            "panicked: fault_inject: panic after 10 items"
        );
    }
}
