//! The registry walk: every registered block has a snake_case name, a one-line summary,
//! documentation, a documented schema (a `///` on every parameter), an example that parses,
//! validates and round-trips through TOML, and a harness test in its source file.

use flow_framework::registry;

fn is_snake_case(s: &str) -> bool {
    !s.is_empty()
        && s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !s.contains("__")
        && !s.ends_with('_')
}

#[test]
fn every_block_is_named_documented_and_has_a_working_example() {
    flow_blocks::link();
    let all = registry::all();
    assert!(all.len() >= 12);
    for def in all {
        let name = def.name();
        assert!(is_snake_case(name), "`{name}` is not snake_case");
        assert!(
            !def.summary().is_empty() && !def.summary().contains('\n'),
            "`{name}`: summary must be one line"
        );
        assert!(def.doc().len() > 20, "`{name}`: DOC is too short");

        let schema = serde_json::to_value(def.schema()).expect("schema as JSON");
        if let Some(props) = schema.get("properties").and_then(|p| p.as_object()) {
            for (param, spec) in props {
                let documented = spec
                    .get("description")
                    .and_then(|d| d.as_str())
                    .is_some_and(|d| !d.is_empty());
                assert!(documented, "`{name}`: parameter `{param}` has no /// doc");
            }
        }

        let table: toml::Table = def
            .example()
            .parse()
            .unwrap_or_else(|e| panic!("`{name}`: EXAMPLE is not TOML: {e}"));
        let params = def.parse(toml::Value::Table(table)).unwrap_or_else(|e| {
            panic!(
                "`{name}`: EXAMPLE does not parse at `{}`: {}",
                e.path, e.message
            )
        });
        assert!(
            params.validate().is_empty(),
            "`{name}`: EXAMPLE fails validation: {:?}",
            params.validate()
        );
        let effective = params
            .to_toml()
            .unwrap_or_else(|| panic!("`{name}`: params do not serialize to TOML"));
        let again = def.parse(effective.clone()).unwrap_or_else(|e| {
            panic!(
                "`{name}`: serialized params do not parse back: {}",
                e.message
            )
        });
        assert_eq!(
            again.to_toml(),
            Some(effective),
            "`{name}`: params do not round-trip through TOML"
        );
        assert_eq!(again.signature(), params.signature(), "`{name}`");
    }
}

#[test]
fn every_block_file_has_a_harness_test() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("blocks/src");
    let mut dirs = vec![root];
    let mut checked = 0;
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                dirs.push(p);
                continue;
            }
            let mut text = std::fs::read_to_string(&p).expect("read");
            // Tests kept in a sibling file: `#[cfg(test)] #[path = "x_tests.rs"] mod tests;`.
            let sibling = text
                .split("#[path = \"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .map(|name| p.with_file_name(name));
            if let Some(path) = sibling {
                text += &std::fs::read_to_string(path).unwrap_or_default();
            }
            if text.contains("register_block!(") {
                checked += 1;
                assert!(
                    text.contains("#[cfg(test)]") && text.contains("Harness"),
                    "{} registers a block but has no Harness test",
                    p.display()
                );
            }
        }
    }
    assert!(checked >= 12);
}
