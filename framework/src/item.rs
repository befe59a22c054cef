//! Stream item types: the closed set of sample types that flow's edges carry, their TOML
//! names, and the [`Item`] trait that ties a Rust type to its [`ItemType`].

use std::fmt;
use std::str::FromStr;

pub use num_complex::Complex;

/// Complex 32-bit float sample (`c32`), the SDR default.
pub type C32 = Complex<f32>;
/// Complex 64-bit float sample (`c64`).
pub type C64 = Complex<f64>;
/// Complex 16-bit integer sample (`c16`), as many ADCs deliver it.
pub type C16 = Complex<i16>;
/// Complex unsigned 8-bit sample (`cu8`), as rtl-sdr delivers it (offset binary, 127.5 = 0).
pub type Cu8 = Complex<u8>;
/// Complex signed 8-bit sample (`cs8`), as HackRF delivers it.
pub type Cs8 = Complex<i8>;

/// The item type of a stream port, with its TOML name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ItemType {
    /// `c32`: complex of two `f32` (8 bytes).
    C32,
    /// `c64`: complex of two `f64` (16 bytes).
    C64,
    /// `f32`: 32-bit float.
    F32,
    /// `f64`: 64-bit float.
    F64,
    /// `c16`: complex of two `i16` (4 bytes).
    C16,
    /// `i16`: 16-bit signed integer.
    I16,
    /// `i32`: 32-bit signed integer.
    I32,
    /// `u8`: byte.
    U8,
    /// `cu8`: complex of two `u8` (rtl-sdr).
    Cu8,
    /// `cs8`: complex of two `i8` (HackRF).
    Cs8,
}

impl ItemType {
    /// Every item type, in a stable order (for docs and error messages).
    pub const ALL: [ItemType; 10] = [
        ItemType::C32,
        ItemType::C64,
        ItemType::F32,
        ItemType::F64,
        ItemType::C16,
        ItemType::I16,
        ItemType::I32,
        ItemType::U8,
        ItemType::Cu8,
        ItemType::Cs8,
    ];

    /// The TOML name (`c32`, `f32`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            ItemType::C32 => "c32",
            ItemType::C64 => "c64",
            ItemType::F32 => "f32",
            ItemType::F64 => "f64",
            ItemType::C16 => "c16",
            ItemType::I16 => "i16",
            ItemType::I32 => "i32",
            ItemType::U8 => "u8",
            ItemType::Cu8 => "cu8",
            ItemType::Cs8 => "cs8",
        }
    }

    /// Size of one item in bytes.
    pub const fn size(self) -> usize {
        match self {
            ItemType::C64 => 16,
            ItemType::C32 | ItemType::F64 => 8,
            ItemType::F32 | ItemType::C16 | ItemType::I32 => 4,
            ItemType::I16 | ItemType::Cu8 | ItemType::Cs8 => 2,
            ItemType::U8 => 1,
        }
    }

    /// True for the complex types.
    pub const fn is_complex(self) -> bool {
        matches!(
            self,
            ItemType::C32 | ItemType::C64 | ItemType::C16 | ItemType::Cu8 | ItemType::Cs8
        )
    }
}

impl fmt::Display for ItemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error for an unknown item type name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown item type `{0}` (expected one of: c32, c64, f32, f64, c16, i16, i32, u8, cu8, cs8)"
)]
pub struct UnknownItemType(pub String);

impl FromStr for ItemType {
    type Err = UnknownItemType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ItemType::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| UnknownItemType(s.to_string()))
    }
}

impl serde::Serialize for ItemType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for ItemType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for ItemType {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ItemType".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<&str> = ItemType::ALL.iter().map(|t| t.name()).collect();
        schemars::json_schema!({ "type": "string", "enum": names })
    }
}

/// A Rust type that can travel on a stream edge.
///
/// Implemented for exactly the types of [`ItemType`]; the runtime checks the pairing when a
/// block asks for a typed slice, so a block can never reinterpret bytes of another type.
pub trait Item: bytemuck::Pod + Default + Send + Sync + 'static {
    /// The item type this Rust type stands for.
    const TYPE: ItemType;
}

macro_rules! impl_item {
    ($($t:ty => $v:ident),* $(,)?) => { $(impl Item for $t { const TYPE: ItemType = ItemType::$v; })* };
}
impl_item!(C32 => C32, C64 => C64, f32 => F32, f64 => F64, C16 => C16, i16 => I16, i32 => I32,
    u8 => U8, Cu8 => Cu8, Cs8 => Cs8);

/// Instantiates a generic expression for the Rust type behind an [`ItemType`].
///
/// ```
/// use flow_framework::{dispatch_item_type, item::{Item, ItemType}};
/// fn size_of_item<T: Item>() -> usize { std::mem::size_of::<T>() }
/// let n = dispatch_item_type!(ItemType::C32, T => size_of_item::<T>());
/// assert_eq!(n, 8);
/// ```
#[macro_export]
macro_rules! dispatch_item_type {
    ($ty:expr, $T:ident => $body:expr) => {{
        use $crate::item::ItemType as __It;
        match $ty {
            __It::C32 => {
                type $T = $crate::item::C32;
                $body
            }
            __It::C64 => {
                type $T = $crate::item::C64;
                $body
            }
            __It::F32 => {
                type $T = f32;
                $body
            }
            __It::F64 => {
                type $T = f64;
                $body
            }
            __It::C16 => {
                type $T = $crate::item::C16;
                $body
            }
            __It::I16 => {
                type $T = i16;
                $body
            }
            __It::I32 => {
                type $T = i32;
                $body
            }
            __It::U8 => {
                type $T = u8;
                $body
            }
            __It::Cu8 => {
                type $T = $crate::item::Cu8;
                $body
            }
            __It::Cs8 => {
                type $T = $crate::item::Cs8;
                $body
            }
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sizes_match_rust_types() {
        for t in ItemType::ALL {
            assert_eq!(t.name().parse::<ItemType>().unwrap(), t);
            let rust_size = dispatch_item_type!(t, T => std::mem::size_of::<T>());
            assert_eq!(rust_size, t.size(), "{t}");
        }
    }

    #[test]
    fn unknown_name_lists_choices() {
        let e = "c31".parse::<ItemType>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown item type `c31` (expected one of: c32, c64, f32, f64, c16, i16, i32, u8, cu8, cs8)"
        );
    }
}
