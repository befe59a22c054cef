//! `copy`: copies its input to its output, item by item (any item type).

use flow_framework::prelude::*;

/// Parameters of `copy` (none).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyParams {}

/// Copies every input item into its output buffer.
pub struct Copy<T>(std::marker::PhantomData<T>);

impl<T: Item> Block for Copy<T> {
    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        let input = io.inputs[0].slice::<T>();
        let output = io.outputs[0].slice_mut::<T>();
        let n = input.len().min(output.len());
        output[..n].copy_from_slice(&input[..n]);
        io.inputs[0].consume(n);
        io.outputs[0].produce(n);
        Ok(Flow::Continue)
    }
}

/// Registration of `copy`.
pub struct CopyDef;

impl BlockDef for CopyDef {
    type Params = CopyParams;
    const NAME: &'static str = "copy";
    const SUMMARY: &'static str = "Copies its input to its output (any item type).";
    const DOC: &'static str =
        "Input `in` (T), output `out` (T). Every item is copied into the output \
        buffer; tags pass through unchanged. Useful to split a graph across threads and as the \
        unit of the copy benchmark.";
    const EXAMPLE: &'static str = "";

    fn signature(_: &CopyParams) -> Signature {
        Signature::new()
            .input("in", TypeSpec::Generic)
            .output("out", TypeSpec::Generic)
    }

    fn build(_: &CopyParams, ctx: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        Ok(
            dispatch_item_type!(ctx.generic_type()?, T => Box::new(Copy::<T>(Default::default())) as Box<dyn Block>),
        )
    }
}

register_block!(CopyDef);

#[cfg(test)]
mod tests {
    use super::*;
    use flow_framework::harness::Harness;

    #[test]
    fn copies_items_and_tags() {
        let mut h = Harness::of::<CopyDef>(CopyParams {}, &[ItemType::C32]).unwrap();
        let data: Vec<C32> = (0..100_000)
            .map(|i| C32::new(i as f32, -(i as f32)))
            .collect();
        h.push_tag(0, 7, Tag::Freq(10e6));
        h.push_input(0, &data);
        h.run_to_end().unwrap();
        assert_eq!(h.output::<C32>(0), data);
        assert!(h.output_tags(0).contains(&ItemTag {
            position: 7,
            tag: Tag::Freq(10e6)
        }));
        assert_eq!(h.metrics().total_in(), 100_000);
    }
}
