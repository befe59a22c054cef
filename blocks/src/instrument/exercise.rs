//! Drives the serial framers and parsers with arbitrary bytes, for the cargo-fuzz target
//! `serial_framing` (fuzz/) and for the bounded mutation test that runs on stable in
//! `cargo test`. The first bytes choose the configuration, the rest is the input, fed in
//! chunks whose sizes also come from the input. Nothing here may panic.

use flow_framework::message::Message;

use super::checksum::Checksum;
use super::framing::{FrameEvent, Framer};
use super::parse::{FieldSpec, FieldType, ParseKind, Parser};

const CHECKSUMS: [Checksum; 6] = [
    Checksum::None,
    Checksum::Sum8,
    Checksum::Xor8,
    Checksum::Crc8,
    Checksum::Crc16Modbus,
    Checksum::Crc16Ccitt,
];

fn field(name: &str, ty: FieldType) -> FieldSpec {
    FieldSpec {
        name: name.into(),
        ty,
    }
}

/// The parsers, compiled once: none/binary for binary frames, none/csv/regex for lines.
static PARSERS: std::sync::OnceLock<[Option<Parser>; 5]> = std::sync::OnceLock::new();

fn parsers() -> [Option<Parser>; 5] {
    let text = [
        field("v", FieldType::F64),
        field("n", FieldType::I64),
        field("s", FieldType::Str),
    ];
    let bin = [
        field("a", FieldType::U8),
        field("b", FieldType::I16Le),
        field("c", FieldType::F32Be),
    ];
    let re = r"^(?P<v>[-+0-9.eE]+)\s+(?P<n>-?\d+)\s*(?P<s>\w*)$";
    [
        Parser::new(ParseKind::None, &[], b',', "", true).ok(),
        Parser::new(ParseKind::Binary, &bin, b',', "", true).ok(),
        Parser::new(ParseKind::None, &[], b',', "", false).ok(),
        Parser::new(ParseKind::Csv, &text, b',', "", false).ok(),
        Parser::new(ParseKind::Regex, &text, b',', re, false).ok(),
    ]
}

/// Frames and parses `data` under a configuration taken from its first four bytes.
/// Returns (frames, malformed) so callers can check that something happened.
pub fn frame_and_parse(data: &[u8]) -> (usize, usize) {
    let [a, b, c, d, rest @ ..] = data else {
        return (0, 0);
    };
    let binary = a & 1 == 1;
    let mut framer = if binary {
        Framer::binary(*d, usize::from(*c % 24) + 3, CHECKSUMS[usize::from(*b) % 6])
    } else {
        let term: &[u8] = if b & 1 == 1 { b"\r\n" } else { b"\n" };
        Framer::line(term, usize::from(*c) + 1)
    };
    let parsers = PARSERS.get_or_init(parsers);
    let parser = match (binary, a >> 1 & 3) {
        (true, 0) => &parsers[0],
        (true, _) => &parsers[1],
        (false, 0) => &parsers[2],
        (false, 1) => &parsers[3],
        (false, _) => &parsers[4],
    };
    let Some(parser) = parser else {
        return (0, 0);
    };
    let (mut frames, mut malformed) = (0, 0);
    let mut at = 0;
    while at < rest.len() {
        let n = (usize::from(rest[at]) % 17 + 1).min(rest.len() - at);
        framer.push(&rest[at..at + n], |ev| match ev {
            FrameEvent::Frame(f) => {
                frames += 1;
                let mut m = Message::new("fuzz");
                if parser.parse(f, &mut m).is_err() {
                    malformed += 1;
                }
            }
            FrameEvent::Malformed { bytes, .. } => {
                malformed += 1;
                let _ = flow_framework::log::escape_bytes(bytes);
            }
        });
        at += n;
    }
    (frames, malformed)
}

#[cfg(test)]
mod tests {
    use rand::{Rng, RngCore, SeedableRng};

    /// The stable stand-in for `cargo fuzz run serial_framing`: random and mutated inputs,
    /// bounded in count, through every framing, checksum and parser. Fails on any panic.
    #[test]
    fn random_and_mutated_serial_input_never_panics() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(6);
        let seeds: [&[u8]; 3] = [
            b"\x02\x01\x10\x00 1.5 3 V\r\n-2e3 -7\r\nbad\xff\r\n",
            b"\x03\x04\x08\x7e\x7e\x01\x02\x03\x04\x05\x06\x07\x7e\x00\x01",
            b"\x04\x00\x05\x00 12,3,x\n,,\n1e999,9999999999999999999,\n",
        ];
        let (mut frames, mut malformed) = (0, 0);
        for i in 0..20_000 {
            let mut input = seeds[i % seeds.len()].to_vec();
            for _ in 0..rng.random_range(0..8) {
                let at = rng.random_range(0..input.len());
                match rng.random_range(0..3) {
                    0 => input[at] = rng.random(),
                    1 => input.insert(at, rng.random()),
                    _ => {
                        input.remove(at);
                    }
                }
            }
            if i % 10 == 0 {
                input.resize(rng.random_range(4..512), 0);
                rng.fill_bytes(&mut input[4..]);
            }
            let (f, m) = super::frame_and_parse(&input);
            frames += f;
            malformed += m;
        }
        assert!(
            frames > 10_000 && malformed > 1_000,
            "{frames} frames, {malformed} malformed"
        );
    }
}
