//! `null_source`: an endless stream of zeros (benchmarks, placeholders).

use flow_framework::prelude::*;

/// Parameters of `null_source`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NullSourceParams {
    /// Item type of the output.
    #[serde(default = "default_item")]
    pub item: ItemType,
}

fn default_item() -> ItemType {
    ItemType::F32
}

/// Fills its output with zeros.
pub struct NullSource<T>(std::marker::PhantomData<T>);

impl<T: Item> Block for NullSource<T> {
    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        let out = io.outputs[0].slice_mut::<T>();
        out.fill(T::default());
        let n = out.len();
        io.outputs[0].produce(n);
        Ok(Flow::Continue)
    }
}

/// Registration of `null_source`.
pub struct NullSourceDef;

impl BlockDef for NullSourceDef {
    type Params = NullSourceParams;
    const NAME: &'static str = "null_source";
    const SUMMARY: &'static str = "Produces zeros forever (benchmarks, placeholders).";
    const DOC: &'static str = "Output `out` (the type given by `item`). Writes zeros as fast as \
        downstream takes them; put a `head` after it for a finite stream.";
    const EXAMPLE: &'static str = "item = \"f32\"";

    fn signature(p: &NullSourceParams) -> Signature {
        Signature::new().output("out", p.item)
    }

    fn plan(_: &NullSourceParams, _: &PlanInputs) -> PlanInfo {
        PlanInfo {
            output_rates: Some(vec![None]),
            ..PlanInfo::default()
        }
    }

    fn build(p: &NullSourceParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        Ok(
            dispatch_item_type!(p.item, T => Box::new(NullSource::<T>(Default::default())) as Box<dyn Block>),
        )
    }
}

register_block!(NullSourceDef);

#[cfg(test)]
mod tests {
    use super::*;
    use flow_framework::harness::Harness;

    #[test]
    fn produces_zeros_until_stopped() {
        let mut h = Harness::of::<NullSourceDef>(
            NullSourceParams {
                item: ItemType::Cu8,
            },
            &[],
        )
        .unwrap();
        assert!(!h.run_for(std::time::Duration::from_millis(20)));
        let out = h.output::<Cu8>(0);
        assert!(out.len() > 1000);
        assert!(out.iter().all(|x| *x == Cu8::new(0, 0)));
        h.request_stop();
        assert!(h.run());
    }
}
