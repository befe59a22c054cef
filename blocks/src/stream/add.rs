//! `add`: adds any number of streams item by item.

use flow_framework::prelude::*;

/// Parameters of `add` (none: one input port per connection).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddParams {}

/// Item types `add` can sum (integers wrap on overflow).
pub trait Summable: Item {
    /// `self + other`.
    fn plus(self, other: Self) -> Self;
}

macro_rules! summable {
    ($($t:ty => $f:ident),*) => { $(impl Summable for $t { fn plus(self, o: Self) -> Self { self.$f(o) } })* };
}
use std::ops::Add as _;
summable!(f32 => add, f64 => add, C32 => add, C64 => add, i16 => wrapping_add, i32 => wrapping_add);

/// Sums its inputs.
pub struct Add<T>(std::marker::PhantomData<T>);

impl<T: Summable> Block for Add<T> {
    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        let mut n = io.outputs[0].space();
        for i in io.inputs.iter() {
            n = n.min(i.len());
        }
        let output = &mut io.outputs[0].slice_mut::<T>()[..n];
        output.copy_from_slice(&io.inputs[0].slice::<T>()[..n]);
        for input in &io.inputs[1..] {
            for (o, x) in output.iter_mut().zip(input.slice::<T>()) {
                *o = o.plus(*x);
            }
        }
        for i in io.inputs.iter_mut() {
            i.consume(n);
        }
        io.outputs[0].produce(n);
        Ok(Flow::Continue)
    }
}

/// Registration of `add`.
pub struct AddDef;

const TYPES: &[ItemType] = &[
    ItemType::F32,
    ItemType::F64,
    ItemType::C32,
    ItemType::C64,
    ItemType::I16,
    ItemType::I32,
];

impl BlockDef for AddDef {
    type Params = AddParams;
    const NAME: &'static str = "add";
    const SUMMARY: &'static str = "Adds any number of streams item by item.";
    const DOC: &'static str = "Inputs `in0`, `in1`, ... (T: f32, f64, c32, c64, i16, i32; one per \
        entry of `inputs`), output `out` (T). Integer sums wrap on overflow.";
    const EXAMPLE: &'static str = "";

    fn signature(_: &AddParams) -> Signature {
        Signature::new()
            .input("in", TypeSpec::Generic)
            .variadic()
            .output("out", TypeSpec::Generic)
            .generic_types(TYPES)
    }

    fn build(_: &AddParams, ctx: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        Ok(match ctx.generic_type()? {
            ItemType::F32 => Box::new(Add::<f32>(Default::default())),
            ItemType::F64 => Box::new(Add::<f64>(Default::default())),
            ItemType::C32 => Box::new(Add::<C32>(Default::default())),
            ItemType::C64 => Box::new(Add::<C64>(Default::default())),
            ItemType::I16 => Box::new(Add::<i16>(Default::default())) as Box<dyn Block>,
            ItemType::I32 => Box::new(Add::<i32>(Default::default())),
            other => return Err(BlockError::config(format!("add does not take {other}"))),
        })
    }
}

register_block!(AddDef);

#[cfg(test)]
mod tests {
    use super::*;
    use flow_framework::harness::Harness;

    #[test]
    fn sums_three_inputs_of_unequal_lengths() {
        let mut h = Harness::of::<AddDef>(AddParams {}, &[ItemType::F32; 3]).unwrap();
        h.push_input(0, &[1.0f32, 2.0, 3.0]);
        h.push_input(1, &[10.0f32, 20.0, 30.0, 40.0]);
        h.push_input(2, &[100.0f32, 200.0, 300.0]);
        h.run_to_end().unwrap();
        assert_eq!(h.output::<f32>(0), vec![111.0, 222.0, 333.0]);
    }
}
