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

/// An item type a [`Constant`] converts to.
pub trait FromConstant: Sized {
    /// The constant as this type, or why it does not fit (complex for a real stream).
    fn from_constant(c: Constant) -> Result<Self, String>;
}

fn real(c: Constant) -> Result<f64, String> {
    match c {
        Constant::Real(r) | Constant::Complex([r, 0.0]) => Ok(r),
        Constant::Complex(_) => Err("a complex constant needs a complex stream".into()),
    }
}

fn parts(c: Constant) -> (f64, f64) {
    match c {
        Constant::Real(r) => (r, 0.0),
        Constant::Complex([r, i]) => (r, i),
    }
}

impl FromConstant for f32 {
    fn from_constant(c: Constant) -> Result<Self, String> {
        real(c).map(|r| r as f32)
    }
}
impl FromConstant for f64 {
    fn from_constant(c: Constant) -> Result<Self, String> {
        real(c)
    }
}
impl FromConstant for C32 {
    fn from_constant(c: Constant) -> Result<Self, String> {
        let (r, i) = parts(c);
        Ok(C32::new(r as f32, i as f32))
    }
}
impl FromConstant for C64 {
    fn from_constant(c: Constant) -> Result<Self, String> {
        let (r, i) = parts(c);
        Ok(C64::new(r, i))
    }
}

/// Multiplies every item by a constant of the same type.
pub struct MultiplyConst<T> {
    k: T,
}

impl<T: Item + FromConstant + std::ops::Mul<Output = T>> MultiplyConst<T> {
    fn boxed(c: Constant, t: ItemType) -> Result<Box<dyn Block>, BlockError> {
        let k = T::from_constant(c).map_err(|e| BlockError::config(format!("{e}, not {t}")))?;
        Ok(Box::new(MultiplyConst { k }))
    }
}

impl<T: Item + FromConstant + std::ops::Mul<Output = T>> Block for MultiplyConst<T> {
    /// `constant`, from the next item on.
    fn set_param(&mut self, name: &str, value: &toml::Value) -> Result<(), BlockError> {
        if name != "constant" {
            return Err(BlockError::config(format!(
                "`{name}` is not settable at run time (settable: constant)"
            )));
        }
        let c: Constant = value
            .clone()
            .try_into()
            .map_err(|e| BlockError::config(format!("constant: {e}")))?;
        self.k = T::from_constant(c).map_err(BlockError::config)?;
        Ok(())
    }

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
        `constant = [re, im]` needs a complex stream. `constant` can be changed while running \
        (`flow run --http`).";
    const EXAMPLE: &'static str = "constant = 0.5";
    const SETTABLE: &'static [&'static str] = &["constant"];

    fn signature(_: &MultiplyConstParams) -> Signature {
        Signature::new()
            .input("in", TypeSpec::Generic)
            .output("out", TypeSpec::Generic)
            .generic_types(TYPES)
    }

    fn build(p: &MultiplyConstParams, ctx: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        let t = ctx.generic_type()?;
        match t {
            ItemType::F32 => MultiplyConst::<f32>::boxed(p.constant, t),
            ItemType::F64 => MultiplyConst::<f64>::boxed(p.constant, t),
            ItemType::C32 => MultiplyConst::<C32>::boxed(p.constant, t),
            ItemType::C64 => MultiplyConst::<C64>::boxed(p.constant, t),
            other => Err(BlockError::config(format!(
                "multiply_const does not take {other}"
            ))),
        }
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

    #[test]
    fn the_constant_changes_while_running() {
        let p = MultiplyConstParams {
            constant: Constant::Real(2.0),
        };
        let mut h = Harness::of::<MultiplyConstDef>(p, &[ItemType::C32]).unwrap();
        h.push_input(0, &[C32::new(1.0, 1.0)]);
        h.run();
        assert!(h
            .set_param("constant", toml::Value::try_from([0.0, 1.0]).unwrap())
            .is_ok());
        h.push_input(0, &[C32::new(1.0, 1.0)]);
        h.run_to_end().unwrap();
        assert_eq!(
            h.output::<C32>(0),
            vec![C32::new(2.0, 2.0), C32::new(-1.0, 1.0)]
        );

        let p = MultiplyConstParams {
            constant: Constant::Real(2.0),
        };
        let mut h = Harness::of::<MultiplyConstDef>(p, &[ItemType::F32]).unwrap();
        let refused = h.set_param("constant", toml::Value::try_from([0.0, 1.0]).unwrap());
        assert!(refused.is_err(), "{refused:?}");
        h.push_input(0, &[1.0f32]);
        h.run_to_end().unwrap();
        assert_eq!(h.output::<f32>(0), vec![2.0], "the old constant stays");
    }
}
