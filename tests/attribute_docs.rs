//! The examples in the `#[gradient]` attribute's own documentation (what an editor shows on
//! hover) are those of the `matgrad` crate documentation, which are doc-tested.
//!
//! A proc-macro crate's doc tests cannot use the crate that re-exports it, so the attribute's
//! examples are marked `ignore`; this test keeps them identical to tested ones.

/// The bodies of the fenced code blocks in the doc comment lines starting with `prefix`.
fn code_blocks(source: &str, prefix: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in source.lines() {
        let Some(doc) = line.trim_start().strip_prefix(prefix) else {
            continue;
        };
        let doc = doc.strip_prefix(' ').unwrap_or(doc);
        if doc.starts_with("```") {
            match current.take() {
                Some(lines) => blocks.push(lines.join("\n")),
                None => current = Some(Vec::new()),
            }
        } else if let Some(lines) = current.as_mut() {
            lines.push(doc);
        }
    }
    assert!(current.is_none(), "an unclosed code block");
    blocks
}

/// The documentation of the attribute `name`: the `///` lines just above it.
fn attribute_doc(source: &str, name: &str) -> String {
    let end = source
        .find(&format!("#[proc_macro_attribute]\npub fn {name}("))
        .expect("the attribute is defined");
    let lines: Vec<&str> = source[..end].lines().collect();
    let start = lines
        .iter()
        .rposition(|line| !line.trim_start().starts_with("///"))
        .map_or(0, |i| i + 1);
    lines[start..].join("\n")
}

#[test]
fn attribute_examples_are_tested_crate_examples() {
    let attribute = attribute_doc(include_str!("../macros/src/lib.rs"), "gradient");
    assert!(
        code_blocks(&attribute, "///").len() >= 2,
        "the attribute documents an example and an error"
    );
    assert_examples_tested("gradient");
}

/// Every example in the documentation of the attribute `name` is one of matgrad's doc-tested
/// examples.
fn assert_examples_tested(name: &str) {
    let attribute = attribute_doc(include_str!("../macros/src/lib.rs"), name);
    let examples = code_blocks(&attribute, "///");
    assert!(!examples.is_empty(), "the attribute documents an example");
    let tested = code_blocks(include_str!("../runtime/lib.rs"), "//!");
    for example in &examples {
        assert!(
            tested.contains(example),
            "this example of `#[{name}]` is not among matgrad's doc-tested examples:\n{example}"
        );
    }
}

#[test]
fn the_jacobian_attribute_example_is_a_tested_crate_example() {
    assert_examples_tested("jacobian");
}

#[test]
fn the_hessian_attribute_example_is_a_tested_crate_example() {
    assert_examples_tested("hessian");
}
