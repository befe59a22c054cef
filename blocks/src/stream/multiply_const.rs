//! `multiply_const`: multiplies a float or complex stream by a constant.

use flow_framework::prelude::*;

/// A real or complex constant: `2.0` or `[re, im]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Constant {
    /// A real number.
    Real(f64),
    /// A complex number as `[re, im]`.
    Complex([f64; 2]),
}

/// Parameters of `multiply_const`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MultiplyConstParams {
    /// The factor: a number, or `[re, im]` for a complex factor (complex streams only).
    pub constant: Constant,
}

/// Multiplies every item by a constant of the same type.
pub struct MultiplyConst<T> {
    k: T,
}

impl<T: Item + std::ops::Mul<Output = T>> Block for MultiplyConst<T> {
    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        let input = io.inputs[0].slice::<T>();
        let output = io.outputs[0].slice_mut::<T>();
        let n = input.len().min(output.len());
        for (o, i) in output[..n].iter_mut().zip(&input[..n]) {
            *o = *i * self.k;
        }
        io.inputs[0].consume(n);
        io.outputs[0].produce(n);
        Ok(Flow::Continue)
    }
}

/// Registration of `multiply_const`.
pub struct MultiplyConstDef;

const TYPES: &[ItemType] = &[ItemType::F32, ItemType::F64, ItemType::C32, ItemType::C64];

impl BlockDef for MultiplyConstDef {
    type Params = MultiplyConstParams;
    const NAME: &'static str = "multiply_const";
    const SUMMARY: &'static str = "Multiplies a float or complex stream by a constant.";
    const DOC: &'static str = "Input `in` (T: f32, f64, c32 or c64), output `out` (T). A complex \
        `constant = [re, im]` needs a complex stream.";
    const EXAMPLE: &'static str = "constant = 0.5";

    fn signature(_: &MultiplyConstParams) -> Signature {
        Signature::new()
            .input("in", TypeSpec::Generic)
            .output("out", TypeSpec::Generic)
            .generic_types(TYPES)
    }

    fn build(p: &MultiplyConstParams, ctx: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        let (re, im) = match p.constant {
            Constant::Real(r) => (r, 0.0),
            Constant::Complex([r, i]) => (r, i),
        };
        let t = ctx.generic_type()?;
        if im != 0.0 && !t.is_complex() {
            return Err(BlockError::config(format!(
                "a complex constant needs a complex stream, not {t}"
            )));
        }
        Ok(match t {
            ItemType::F32 => Box::new(MultiplyConst { k: re as f32 }),
            ItemType::F64 => Box::new(MultiplyConst { k: re }),
            ItemType::C32 => Box::new(MultiplyConst {
                k: C32::new(re as f32, im as f32),
            }),
            ItemType::C64 => Box::new(MultiplyConst {
                k: C64::new(re, im),
            }),
            other => {
                return Err(BlockError::config(format!(
                    "multiply_const does not take {other}"
                )))
            }
        })
    }
}

register_block!(MultiplyConstDef);

#[cfg(test)]
mod tests {
    use super::*;
    use flow_framework::harness::Harness;

    #[test]
    fn multiplies_real_and_complex() {
        let p = MultiplyConstParams {
            constant: Constant::Complex([0.0, 1.0]),
        };
        let mut h = Harness::of::<MultiplyConstDef>(p, &[ItemType::C32]).unwrap();
        h.push_input(0, &[C32::new(1.0, 0.0), C32::new(0.0, 2.0)]);
        h.run_to_end().unwrap();
        assert_eq!(
            h.output::<C32>(0),
            vec![C32::new(0.0, 1.0), C32::new(-2.0, 0.0)]
        );

        let p = MultiplyConstParams {
            constant: Constant::Real(-3.0),
        };
        let mut h = Harness::of::<MultiplyConstDef>(p, &[ItemType::F32]).unwrap();
        h.push_input(0, &[1.0f32, 2.0]);
        h.run_to_end().unwrap();
        assert_eq!(h.output::<f32>(0), vec![-3.0, -6.0]);
    }

    #[test]
    fn complex_constant_on_real_stream_is_a_config_error() {
        let p = MultiplyConstParams {
            constant: Constant::Complex([0.0, 1.0]),
        };
        let err = Harness::of::<MultiplyConstDef>(p, &[ItemType::F32])
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "building the block: a complex constant needs a complex stream, not f32"
        );
    }
}
