//! Every public item of the three crates is reachable from the facade, at its
//! root or in `integration`: a new `pub use` in a crate's `lib.rs` without a
//! line in `executor/src/lib.rs` fails here, naming the item, and so does a
//! crate's `integration` module not re-exported whole by the facade's. (A source check:
//! the crates export everything through `pub use` lines in their `lib.rs`.)

use std::collections::BTreeSet;
use std::path::Path;

/// The names a `lib.rs` makes public: the last segment of every `pub use` path
/// (or its `as` alias), and every item declared `pub` at the top level.
fn exported(source: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let code: String = source
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut rest = code.as_str();
    while let Some(at) = rest.find("pub use ") {
        let stmt_end = rest[at..].find(';').map_or(rest.len(), |e| at + e);
        let stmt = &rest[at + "pub use ".len()..stmt_end];
        let inner = match (stmt.find('{'), stmt.rfind('}')) {
            (Some(open), Some(close)) => &stmt[open + 1..close],
            _ => stmt,
        };
        for part in inner.split(',') {
            let part = part.trim();
            if part.is_empty() || part.ends_with('*') {
                continue;
            }
            let name = match part.split_once(" as ") {
                Some((_, alias)) => alias.trim(),
                None => part.rsplit("::").next().unwrap_or(part).trim(),
            };
            names.insert(name.to_string());
        }
        rest = &rest[stmt_end..];
    }
    for line in code.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let ["pub", "fn" | "struct" | "enum" | "trait" | "const" | "type" | "static", name, ..] =
            words.as_slice()
        {
            let name: String = name
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            names.insert(name);
        }
    }
    names
}

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_public_item_of_the_three_crates_is_in_the_facade() {
    let facade = exported(&read("src/lib.rs"));
    let mut missing = Vec::new();
    for krate in ["executor-core", "executor-futures", "executor-completion"] {
        for name in exported(&read(&format!("../{krate}/src/lib.rs"))) {
            if !facade.contains(&name) {
                missing.push(format!("{krate}: {name}"));
            }
        }
    }
    // The integrators' modules are re-exported whole by the facade's `integration`.
    let source = read("src/lib.rs");
    for krate in ["executor_core", "executor_futures"] {
        let glob = format!("pub use {krate}::integration::*;");
        if !source.contains(&glob) {
            missing.push(format!("{krate}::integration (want `{glob}`)"));
        }
    }
    assert!(
        missing.is_empty(),
        "not re-exported by executor/src/lib.rs (add each at its root, in the prelude if \
         users need it everywhere, or in `integration` if it is plumbing): {missing:?}"
    );
}

#[test]
fn the_parser_sees_what_it_should() {
    let names = exported(
        "pub use a::{B, c as d};\npub use e::F;\n// pub use g::H;\npub fn i() {}\npub(crate) fn j() {}",
    );
    let want: BTreeSet<String> = ["B", "d", "F", "i"].iter().map(|s| s.to_string()).collect();
    assert_eq!(names, want);
}
