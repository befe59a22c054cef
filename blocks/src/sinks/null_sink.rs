//! `null_sink`: consumes and discards a stream (benchmarks, unused outputs).

use flow_framework::prelude::*;

/// Parameters of `null_sink` (none).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NullSinkParams {}

/// Discards everything.
pub struct NullSink;

impl Block for NullSink {
    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        let n = io.inputs[0].len();
        io.inputs[0].consume(n);
        Ok(Flow::Continue)
    }
}

/// Registration of `null_sink`.
pub struct NullSinkDef;

impl BlockDef for NullSinkDef {
    type Params = NullSinkParams;
    const NAME: &'static str = "null_sink";
    const SUMMARY: &'static str = "Consumes and discards a stream (any item type).";
    const DOC: &'static str = "Input `in` (T). Counts and discards every item.";
    const EXAMPLE: &'static str = "";

    fn signature(_: &NullSinkParams) -> Signature {
        Signature::new()
            .input("in", TypeSpec::Generic)
            .manual_tags()
    }

    fn build(_: &NullSinkParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        Ok(Box::new(NullSink))
    }
}

register_block!(NullSinkDef);

#[cfg(test)]
mod tests {
    use super::*;
    use flow_framework::harness::Harness;

    #[test]
    fn consumes_everything_and_ends_with_its_input() {
        let mut h = Harness::of::<NullSinkDef>(NullSinkParams {}, &[ItemType::I16]).unwrap();
        h.push_input(0, &vec![3i16; 70_000]);
        h.run_to_end().unwrap();
        assert!(h.is_done());
        assert_eq!(h.metrics().total_in(), 70_000);
    }
}
