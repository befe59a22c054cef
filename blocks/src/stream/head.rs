//! `head`: passes the first `items` items, then ends the stream.

use flow_framework::prelude::*;

/// Parameters of `head`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeadParams {
    /// Number of items to pass before ending the stream.
    pub items: u64,
}

/// Passes a fixed number of items.
pub struct Head<T> {
    left: u64,
    _t: std::marker::PhantomData<T>,
}

impl<T: Item> Block for Head<T> {
    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        let input = io.inputs[0].slice::<T>();
        let output = io.outputs[0].slice_mut::<T>();
        let n = input
            .len()
            .min(output.len())
            .min(self.left.try_into().unwrap_or(usize::MAX));
        output[..n].copy_from_slice(&input[..n]);
        io.inputs[0].consume(n);
        io.outputs[0].produce(n);
        self.left -= n as u64;
        Ok(if self.left == 0 {
            Flow::Done
        } else {
            Flow::Continue
        })
    }

    fn expected_items(&self) -> Option<u64> {
        Some(self.left)
    }
}

/// Registration of `head`.
pub struct HeadDef;

impl BlockDef for HeadDef {
    type Params = HeadParams;
    const NAME: &'static str = "head";
    const SUMMARY: &'static str = "Passes the first N items, then ends the stream.";
    const DOC: &'static str = "Input `in` (T), output `out` (T). After `items` items the block \
        finishes: its consumers see end of stream and its producer is released.";
    const EXAMPLE: &'static str = "items = 1000000";

    fn signature(_: &HeadParams) -> Signature {
        Signature::new()
            .input("in", TypeSpec::Generic)
            .output("out", TypeSpec::Generic)
    }

    fn build(p: &HeadParams, ctx: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        Ok(
            dispatch_item_type!(ctx.generic_type()?, T => Box::new(Head::<T> { left: p.items, _t: Default::default() }) as Box<dyn Block>),
        )
    }
}

register_block!(HeadDef);

#[cfg(test)]
mod tests {
    use super::*;
    use flow_framework::harness::Harness;

    #[test]
    fn stops_after_n_items_even_with_more_input() {
        let mut h = Harness::of::<HeadDef>(HeadParams { items: 1234 }, &[ItemType::F32]).unwrap();
        let data: Vec<f32> = (0..5000).map(|i| i as f32).collect();
        h.push_input(0, &data);
        assert!(h.run(), "head finishes by itself");
        assert_eq!(h.output::<f32>(0), data[..1234]);
        assert!(h
            .output_tags(0)
            .iter()
            .any(|t| t.tag == Tag::Eos && t.position == 1234));
    }
}
