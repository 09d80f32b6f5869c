//! How long hostile documents take to be refused (or, for the shapes that fit the limits,
//! parsed). Refusals happen in the pre-scan, before the tree builder runs, as soon as a
//! limit is crossed; the accepted worst cases bound what a document inside the limits can
//! cost. The figures are recorded in docs/threat-model.md. Run with
//! `cargo bench --bench limits`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use spid_sp::fuzzing::tree;
use spid_sp::xml::Limits;

fn hostile() -> Vec<(&'static str, Limits, String)> {
    let message = Limits::MESSAGE;
    let metadata = Limits::METADATA;
    let wide_open = Limits {
        max_bytes: 16 * 1024 * 1024,
        ..Limits::METADATA
    };
    let mut cases = Vec::new();
    cases.push((
        "12 MB body",
        message.clone(),
        format!("<r>{}</r>", "x".repeat(12 * 1024 * 1024)),
    ));
    cases.push((
        "100k-deep nesting (8 MiB limit)",
        metadata.clone(),
        "<a>".repeat(100_000) + &"</a>".repeat(100_000),
    ));
    cases.push((
        "1M-deep nesting (16 MiB limit)",
        wide_open.clone(),
        "<a>".repeat(1_000_000) + &"</a>".repeat(1_000_000),
    ));
    let attrs: String = (0..25_000).map(|i| format!(" a{i}=\"\"")).collect();
    cases.push((
        "25k attributes on one element",
        message.clone(),
        format!("<r{attrs}/>"),
    ));
    let decls: String = (0..10_000)
        .map(|i| format!("<a xmlns:p{i}=\"u\">"))
        .collect();
    cases.push((
        "10k nested namespace declarations",
        Limits {
            max_depth: usize::MAX,
            ..message.clone()
        },
        decls + &"</a>".repeat(10_000),
    ));
    let root: String = (0..60).map(|i| format!(" xmlns:p{i}=\"u{i}\"")).collect();
    let mut wide = format!("<r{root}>");
    while wide.len() < 8 * 1024 * 1024 - 64 {
        wide.push_str("<a xmlns:z=\"u\"/>");
    }
    wide.push_str("</r>");
    cases.push((
        "8 MiB of elements re-declaring a namespace",
        metadata.clone(),
        wide,
    ));
    let mut late = format!("<r>{}", "<a b='c'/>".repeat(25_000));
    late.push_str(&"<a>".repeat(40));
    cases.push((
        "limit crossed at the end of 250 KiB (full pre-scan)",
        Limits {
            max_nodes: u32::MAX,
            ..message.clone()
        },
        late,
    ));
    cases.push(worst_accepted(
        "worst accepted message shape",
        message.clone(),
    ));
    cases.push(worst_accepted(
        "worst accepted metadata shape",
        metadata.clone(),
    ));
    cases.push((
        "huge attribute value (240 KiB, accepted)",
        message.clone(),
        format!("<r a=\"{}\"/>", "&amp;".repeat(48_000)),
    ));
    cases.push((
        "200k sibling elements (accepted)",
        metadata.clone(),
        format!("<r>{}</r>", "<a/>".repeat(200_000)),
    ));
    cases
}

/// A document just inside `limits` that makes the parser work hardest: as many namespace
/// declarations in scope as allowed (a chain of elements each declaring the most it may),
/// then leaves whose every name uses the prefix found last in the in-scope list.
fn worst_accepted(name: &'static str, limits: Limits) -> (&'static str, Limits, String) {
    let per_element = limits.max_attributes;
    let levels = (limits.max_namespaces_in_scope / per_element)
        .max(1)
        .min(limits.max_depth - 1);
    let mut doc = String::new();
    let mut n = 0;
    for _ in 0..levels {
        doc.push_str("<e");
        for _ in 0..per_element {
            doc.push_str(&format!(" xmlns:p{n}=\"urn:{n}\""));
            n += 1;
        }
        doc.push('>');
    }
    let attrs: String = (0..per_element - 1)
        .map(|i| format!(" p0:a{i}=\"\""))
        .collect();
    let leaf = format!("<p0:l{attrs}/>");
    let close = "</e>".repeat(levels);
    let mut nodes = levels;
    while doc.len() + leaf.len() + close.len() < limits.max_bytes
        && nodes + 1 < limits.max_nodes as usize
    {
        doc.push_str(&leaf);
        nodes += 1;
    }
    doc.push_str(&close);
    assert!(
        tree::parse(&doc, &limits).is_ok(),
        "{name} must be accepted"
    );
    (name, limits, doc)
}

fn refusals(c: &mut Criterion) {
    let mut group = c.benchmark_group("hostile");
    group.sample_size(10);
    for (name, limits, doc) in hostile() {
        group.bench_function(name, |b| {
            b.iter(|| black_box(tree::parse(black_box(&doc), &limits).is_err()))
        });
    }
    let utf16: Vec<u8> = "<r/>".encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut invalid = b"<r>".to_vec();
    invalid.extend_from_slice(&[0xC3u8; 200_000]);
    invalid.extend_from_slice(b"</r>");
    group.bench_function("invalid UTF-8 (200 KB)", |b| {
        b.iter(|| black_box(tree::decode_utf8(black_box(&invalid)).is_err()))
    });
    group.bench_function("UTF-16 document", |b| {
        b.iter(|| black_box(tree::decode_utf8(black_box(&utf16)).is_err()))
    });
    group.finish();
}

criterion_group!(benches, refusals);
criterion_main!(benches);
