//! Writes batches of generated programs as integration test files: each program's callees, the
//! program and their twins, and a `#[test]` that compares `{name}_grad`, `{name}_vjp` and
//! `{name}_jvp` with the dual-number derivative of the twin (through `tests/common/oracle.rs`)
//! and, for a scalar program in `f64` with a matrix parameter `x`, the `_hvp` of its
//! `#[hessian(wrt(x))]` copy with the twin's hyper-dual H·v.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::print::Printer;
use super::{Dim, Float, Function, Param, ParamKind, Program, SAMPLES, Shape, draw, patterns};

/// The seed of the checked-in sample.
const SAMPLE_SEED: u64 = 2026;

/// How many programs the sample has (before [`EXCLUDED`] ones are left out).
const SAMPLE_SIZE: usize = 120;

/// Programs of the sample that the current macro gets wrong: their tests are ignored with the
/// reason, so that they run again (`--include-ignored`) as soon as the bug is fixed.
const KNOWN: &[(usize, &str)] = &[];

/// Programs of the sample whose generated code does not compile (which would break the whole
/// file): left out of it. None now.
const EXCLUDED: &[usize] = &[];

/// The tolerances (relative to max(1, |reference|)) of the value and the gradient: `f64`
/// programs agree with the reference to rounding; `f32` programs carry `f32` rounding through
/// up to 25 statements.
fn tolerances(float: Float) -> (f64, f64) {
    match float {
        Float::F32 => (1e-5, 1e-3),
        Float::F64 | Float::Generic => (1e-12, 1e-9),
    }
}

/// The source of a test file of `programs`, reading the shared harness from `harness`.
fn file(programs: &[Program], known: &[(usize, &str)], header: &str, harness: &str) -> String {
    let mut out = String::new();
    out.push_str(header);
    out.push_str(
        "\n#![allow(\n    unused,\n    clippy::all,\n    clippy::pedantic,\n    \
         reason = \"generated programs, written with the redundancy of a user's code\"\n)]\n\n",
    );
    let _ = writeln!(out, "#[path = {harness:?}]\nmod oracle;\n");
    // The programs keep the generator's layout: `cargo fmt` leaves the module alone.
    out.push_str("#[rustfmt::skip]\nmod programs {\n\n");
    out.push_str("use matgrad::{gradient, hessian, jacobian};\n");
    out.push_str(
        "use matgrad::nalgebra::{Matrix3, RealField, RowSVector, SMatrix, SVector, convert};\n",
    );
    out.push_str(
        "use super::oracle::{\n    Flat, Rng, check_gradient, check_tangent, check_value, dual_gradient, dual_hvp, dual_jacobian,\n    lit,\n};\n",
    );
    for p in programs {
        let reason = known.iter().find(|(k, _)| *k == p.index).map(|(_, r)| *r);
        out.push('\n');
        out.push_str(&program(p, reason));
    }
    out.push_str("\n}\n");
    out
}

/// One program: a marker line (which `.ci/random-programs` uses to name the program a compile
/// error points into), the functions, their twins and the test.
fn program(p: &Program, known: Option<&str>) -> String {
    let mut out = format!("// ---- program {}", p.main.name);
    let tags = patterns::tags(p);
    if !tags.is_empty() {
        let _ = write!(out, " (known bug patterns: {})", tags.join(", "));
    }
    out.push_str("\n\n");
    // The callees of a program differentiated twice have second derivatives.
    for (k, f) in p.callees.iter().chain(std::iter::once(&p.main)).enumerate() {
        let user = Printer::user(f.float);
        if k < p.callees.len() && twice(&p.main) {
            out.push_str(&user.function_as(f, &Printer::attribute(f, true), &f.name));
        } else {
            out.push_str(&user.function(f));
        }
        out.push('\n');
        out.push_str(&Printer::reference().function(f));
        out.push('\n');
    }
    if twice(&p.main) {
        let name = format!("{}_twice", p.main.name);
        out.push_str(&Printer::user(p.main.float).function_as(
            &p.main,
            "#[hessian(wrt(x))]",
            &name,
        ));
        out.push('\n');
    }
    out.push_str(&test(&p.main, p.index, known));
    for (k, f) in p.callees.iter().enumerate() {
        if matches!(f.ret, Shape::Mat(..)) {
            out.push_str(&jacobian_test(f, p.index * 8 + k));
        }
    }
    out
}

/// The test of a matrix-valued function's `_jacobian`: every parameter's J against the
/// dual-number Jacobian of its twin, column by column.
fn jacobian_test(f: &Function, seed: usize) -> String {
    let printer = Printer::user(f.float);
    let suffix = if f.float == Float::F32 { "_f32" } else { "" };
    let name = &f.name;
    let mut out = format!(
        "#[test]\nfn {name}_jacobian_against_duals() {{\n    let mut rng = Rng({:#x});\n",
        0x1ac0_u64 ^ (seed as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    );
    let mut args = Vec::new();
    for p in &f.params {
        let (fill, arg) = fill(p, &printer, suffix);
        out.push_str(&fill);
        args.push(arg);
    }
    let (lifts, twin_args) = twin_args(f, &args, "Dual64");
    out.push_str(&lifts);
    let args = args.join(", ");
    let floats = f.float_params();
    let flat: Vec<String> = floats
        .iter()
        .map(|p| format!("{}.flat()", p.name))
        .collect();
    let _ = writeln!(out, "    let (value, jacobians) = {name}_jacobian({args});");
    let _ = writeln!(out, "    let point = [{}].concat();", flat.join(", "));
    let Shape::Mat(r, c) = concrete(f.ret) else {
        return String::new();
    };
    let _ = writeln!(
        out,
        "    let (twin, reference) = dual_jacobian::<{}, {}>(&point, |r| {{",
        r.size(),
        c.size()
    );
    let mut offsets = Vec::new();
    let mut at = 0;
    for p in &floats {
        let shape = concrete(p.shape().expect("invariant: float parameters have shapes"));
        let read = match shape {
            Shape::Scalar => "r.scalar()".to_string(),
            Shape::Mat(r, c) => format!("r.matrix::<{}, {}>()", r.size(), c.size()),
        };
        let _ = writeln!(out, "        let {} = {read};", p.name);
        offsets.push(at..at + shape.count());
        at += shape.count();
    }
    let _ = writeln!(out, "        {name}_ref({twin_args})\n    }});");
    let (value_tol, grad_tol) = tolerances(f.float);
    let _ = writeln!(
        out,
        "    check_gradient(\"{name}'s value\", &value.flat(), &twin, {value_tol:e});"
    );
    for (k, (p, range)) in floats.iter().zip(&offsets).enumerate() {
        let field = if floats.len() == 1 {
            String::new()
        } else {
            format!(".{k}")
        };
        let _ = writeln!(
            out,
            "    check_gradient(\"{name}_jacobian, {}\", &jacobians{field}.flat(), &reference[{}..{}].concat(), {grad_tol:e});",
            p.name, range.start, range.end
        );
    }
    out.push_str("}\n\n");
    out
}

/// The `let` that fills parameter `p` in a test, and the argument that passes it: a data set
/// gets [`SAMPLES`] samples drawn like a parameter of their shape.
fn fill(p: &Param, printer: &Printer, suffix: &str) -> (String, String) {
    let name = &p.name;
    let (ty, fill, arg) = match p.kind {
        ParamKind::Float(Shape::Scalar) => (
            printer.ty(Shape::Scalar),
            format!("scalar{suffix}()"),
            name.clone(),
        ),
        ParamKind::Float(shape) => (
            printer.ty(concrete(shape)),
            format!("matrix{suffix}()"),
            format!("&{name}"),
        ),
        ParamKind::Dominant(n) => (
            printer.ty(Shape::Mat(Dim::Lit(n), Dim::Lit(n))),
            format!("dominant{suffix}()"),
            format!("&{name}"),
        ),
        ParamKind::Int => ("i32".into(), "int()".into(), name.clone()),
        ParamKind::Bool => ("bool".into(), "flag()".into(), name.clone()),
        ParamKind::Samples(shape) => {
            let kind = if shape == Shape::Scalar {
                "scalar"
            } else {
                "matrix"
            };
            let ty = printer.ty(concrete(shape));
            let fill = format!(
                "    let {name}: Vec<{ty}> = (0..{SAMPLES}).map(|_| rng.{kind}{suffix}()).collect();\n"
            );
            return (fill, format!("&{name}"));
        }
    };
    (format!("    let {name}: {ty} = rng.{fill};\n"), arg)
}

/// The arguments of the twin in a test (the user's `args`, with every data set passed as its
/// samples on dual numbers), and the `let`s that lift the samples before the reference runs.
fn twin_args(f: &Function, args: &[String], dual: &str) -> (String, String) {
    let mut lifts = String::new();
    let mut twin = Vec::new();
    for (p, arg) in f.params.iter().zip(args) {
        let ParamKind::Samples(shape) = p.kind else {
            twin.push(arg.clone());
            continue;
        };
        let name = &p.name;
        let lift = format!("num_dual::{dual}::from(f64::from(v))");
        let map = if shape == Shape::Scalar {
            format!("|&v| {lift}")
        } else {
            format!("|s| s.map(|v| {lift})")
        };
        let lifted = format!("{name}_{}", dual.to_lowercase());
        let _ = writeln!(
            lifts,
            "    let {lifted}: Vec<_> = {name}.iter().map({map}).collect();"
        );
        twin.push(format!("&{lifted}"));
    }
    (lifts, twin.join(", "))
}

/// Whether a program also gets a `#[hessian(wrt(x))]` copy, `{name}_twice`, whose H·v its test
/// checks: a scalar function in `f64` or a generic float (whose Hessian can be named: no const
/// generic size) with a matrix parameter `x`.
fn twice(f: &Function) -> bool {
    f.ret == Shape::Scalar
        && f.float != Float::F32
        && !f.generic_n
        && f.params
            .iter()
            .any(|p| p.name == "x" && matches!(p.kind, ParamKind::Float(Shape::Mat(..))))
}

/// Makes a shape concrete: `N` is instantiated at 3.
fn concrete(shape: Shape) -> Shape {
    let fix = |d: Dim| Dim::Lit(d.size());
    match shape {
        Shape::Scalar => Shape::Scalar,
        Shape::Mat(r, c) => Shape::Mat(fix(r), fix(c)),
    }
}

fn test(f: &Function, index: usize, known: Option<&str>) -> String {
    let mut out = String::from("#[test]\n");
    if let Some(reason) = known {
        let _ = writeln!(out, "#[ignore = \"known bug: {reason}\"]");
    }
    let float = if f.float == Float::F32 {
        Float::F32
    } else {
        Float::F64
    };
    let printer = Printer::user(float);
    let suffix = if float == Float::F32 { "_f32" } else { "" };
    let _ = writeln!(
        out,
        "fn {}_against_duals() {{\n    let mut rng = Rng({:#x});",
        f.name,
        0x5eed_u64 ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    );
    let mut args = Vec::new();
    for p in &f.params {
        let (fill, arg) = fill(p, &printer, suffix);
        out.push_str(&fill);
        args.push(arg);
    }
    let (hyper_lifts, hyper_args) = twin_args(f, &args, "HyperDual64");
    let (lifts, twin_args) = twin_args(f, &args, "Dual64");
    let args = args.join(", ");
    let name = &f.name;
    out.push_str(&directions(f, index, &printer, suffix, &args));
    let _ = writeln!(out, "    let value = {name}({args});");
    let _ = writeln!(out, "    let (grad_value, grad) = {name}_grad({args});");
    let _ = writeln!(out, "    let (vjp_value, vjp) = {name}_vjp({args}, 1.0);");
    let floats = f.float_params();
    let flat: Vec<String> = floats
        .iter()
        .map(|p| format!("{}.flat()", p.name))
        .collect();
    let _ = writeln!(out, "    let point = [{}].concat();", flat.join(", "));
    out.push_str(&lifts);
    out.push_str("    let (twin, reference) = dual_gradient(&point, |r| {\n");
    let mut offsets = Vec::new();
    let mut reads = String::new();
    let mut at = 0;
    for p in &floats {
        let shape = concrete(p.shape().expect("invariant: float parameters have shapes"));
        let read = match shape {
            Shape::Scalar => "r.scalar()".to_string(),
            Shape::Mat(r, c) => format!("r.matrix::<{}, {}>()", r.size(), c.size()),
        };
        let _ = writeln!(reads, "        let {} = {read};", p.name);
        offsets.push((p.name.clone(), at..at + shape.count()));
        at += shape.count();
    }
    out.push_str(&reads);
    let _ = writeln!(out, "        {name}_ref({twin_args})\n    }});");
    out.push_str(&checks(f, &offsets));
    if twice(f) {
        out.push_str(&hvp_checks(
            f,
            &offsets,
            &args,
            (&reads, &hyper_lifts, &hyper_args),
        ));
    }
    out.push_str("}\n");
    out
}

/// The checks of `{name}_twice_hvp` along the direction of the `_jvp` check: its value and
/// gradient, and H·v against the hyper-dual H·v of the twin (`reads`, `lifts` and `args` call it
/// on hyper-dual numbers).
fn hvp_checks(
    f: &Function,
    offsets: &[(String, std::ops::Range<usize>)],
    args: &str,
    (reads, lifts, twin_args): (&str, &str, &str),
) -> String {
    let mut out = String::new();
    let name = &f.name;
    let range = &offsets
        .iter()
        .find(|(n, _)| n == "x")
        .expect("invariant: a program differentiated twice has `x`")
        .1;
    let (value_tol, tol) = tolerances(f.float);
    let (start, end) = (range.start, range.end);
    let _ = writeln!(
        out,
        "    let (twice_value, twice_grad, hv) = {name}_twice_hvp({args}, &dir_x);"
    );
    let _ = writeln!(
        out,
        "    let mut along_x = vec![0.0; point.len()];\n    \
         along_x[{start}..{end}].copy_from_slice(&dir_x.flat());"
    );
    out.push_str(lifts);
    let _ = writeln!(
        out,
        "    let hv_reference = dual_hvp(&point, &along_x, {start}..{end}, |r| {{\n{reads}        \
         {name}_ref({twin_args})\n    }});"
    );
    let _ = writeln!(
        out,
        "    check_value(\"{name}_twice_hvp's value\", twice_value, value, {value_tol:e});\n    \
         check_gradient(\"{name}_twice_hvp's gradient\", &twice_grad.flat(), &reference[{start}..{end}], {tol:e});\n    \
         check_gradient(\"{name}_twice_hvp\", &hv.flat(), &hv_reference, {tol:e});"
    );
    out
}

/// The direction of a test's `_jvp` check: one tangent per float parameter, drawn like the
/// parameter, the call, and the direction's entries in order.
fn directions(f: &Function, index: usize, printer: &Printer, suffix: &str, args: &str) -> String {
    let mut out = String::new();
    let name = &f.name;
    let _ = writeln!(
        out,
        "    let mut directions = Rng({:#x});",
        0xd1_u64 ^ index as u64
    );
    let mut dargs = Vec::new();
    for p in f.float_params() {
        let shape = concrete(p.shape().expect("invariant: float parameters have shapes"));
        let (ty, fill, arg) = match shape {
            Shape::Scalar => (
                printer.ty(Shape::Scalar),
                format!("scalar{suffix}()"),
                format!("dir_{}", p.name),
            ),
            shape @ Shape::Mat(..) => (
                printer.ty(shape),
                format!("matrix{suffix}()"),
                format!("&dir_{}", p.name),
            ),
        };
        let _ = writeln!(out, "    let dir_{}: {ty} = directions.{fill};", p.name);
        dargs.push(arg);
    }
    let _ = writeln!(
        out,
        "    let (jvp_value, jvp) = {name}_jvp({args}, {});",
        dargs.join(", ")
    );
    let dflat: Vec<String> = f
        .float_params()
        .iter()
        .map(|p| format!("dir_{}.flat()", p.name))
        .collect();
    let _ = writeln!(out, "    let direction = [{}].concat();", dflat.join(", "));
    out
}

/// The comparisons of a test: values, then every gradient of `_grad` and `_vjp` against the
/// slices of the reference that belong to their parameters.
fn checks(f: &Function, offsets: &[(String, std::ops::Range<usize>)]) -> String {
    let mut out = String::new();
    let name = &f.name;
    let (value_tol, grad_tol) = tolerances(f.float);
    let _ = writeln!(
        out,
        "    check_value(\"the twin\", twin, f64::from(value), {value_tol:e});"
    );
    let _ = writeln!(
        out,
        "    check_value(\"{name}_grad's value\", f64::from(grad_value), f64::from(value), {value_tol:e});"
    );
    let _ = writeln!(
        out,
        "    check_value(\"{name}_vjp's value\", f64::from(vjp_value), f64::from(value), {value_tol:e});"
    );
    let wrt = f.differentiated();
    for (k, p) in wrt.iter().enumerate() {
        let range = &offsets
            .iter()
            .find(|(n, _)| *n == p.name)
            .expect("invariant: a float parameter")
            .1;
        let field = if wrt.len() == 1 {
            String::new()
        } else {
            format!(".{k}")
        };
        let _ = writeln!(
            out,
            "    check_gradient(\"{name}_grad, {}\", &grad{field}.flat(), &reference[{}..{}], {grad_tol:e});",
            p.name, range.start, range.end
        );
    }
    for (k, (pname, range)) in offsets.iter().enumerate() {
        let _ = writeln!(
            out,
            "    check_gradient(\"{name}_vjp, {pname}\", &vjp.{k}.flat(), &reference[{}..{}], {grad_tol:e});",
            range.start, range.end
        );
    }
    let _ = writeln!(
        out,
        "    check_value(\"{name}_jvp's value\", f64::from(jvp_value), f64::from(value), {value_tol:e});"
    );
    let _ = writeln!(
        out,
        "    check_tangent(\"{name}_jvp\", f64::from(jvp), &reference, &direction, {grad_tol:e});"
    );
    out
}

/// The checked-in sample, rendered.
fn sample() -> String {
    let programs: Vec<Program> = (0..SAMPLE_SIZE)
        .filter(|k| !EXCLUDED.contains(k))
        .map(|k| draw::program(SAMPLE_SEED, k))
        .collect();
    let header = "//! Random programs in `#[gradient]`'s language, each checked against the dual-number \
                  derivative of a generic twin.\n//!\n//! GENERATED by `macros/src/programs` from seed \
                  2026: do not edit. Regenerate with\n//! `MATGRAD_BLESS=1 cargo test -p matgrad-macros \
                  the_random_sample_is_up_to_date`.\n";
    file(&programs, KNOWN, header, "common/oracle.rs")
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("invariant: the macro crate lives in the workspace")
        .to_path_buf()
}

#[test]
fn the_random_sample_is_up_to_date() {
    let path = workspace().join("tests/random_programs.rs");
    let wanted = sample();
    if std::env::var_os("MATGRAD_BLESS").is_some() {
        std::fs::write(&path, &wanted).expect("writing tests/random_programs.rs");
        return;
    }
    let found = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        found == wanted,
        "tests/random_programs.rs is not what the generator writes; rerun with MATGRAD_BLESS=1 \
         (`MATGRAD_BLESS=1 cargo test -p matgrad-macros the_random_sample_is_up_to_date`) and \
         review the diff"
    );
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Writes a batch into a scratch crate for `.ci/random-programs`: `MATGRAD_RANDOM_SEED`,
/// `MATGRAD_RANDOM_COUNT` programs, in files of `MATGRAD_RANDOM_CHUNK`, into
/// `MATGRAD_RANDOM_DIR/tests/`, leaving out the programs listed (comma-separated) in
/// `MATGRAD_RANDOM_SKIP` (or all but those in `MATGRAD_RANDOM_ONLY`). With `MATGRAD_RANDOM_NEUTRALIZE` set, each program is first rewritten
/// without the code shapes of the known bugs ([`patterns::neutralize`]).
#[test]
#[ignore = "writes a batch for .ci/random-programs"]
fn write_random_batch() {
    let seed = env_number("MATGRAD_RANDOM_SEED", 1);
    let count = env_number("MATGRAD_RANDOM_COUNT", 100) as usize;
    let chunk = env_number("MATGRAD_RANDOM_CHUNK", 50).max(1) as usize;
    let dir = std::env::var("MATGRAD_RANDOM_DIR").map_or_else(
        |_| workspace().join("target/random-programs"),
        PathBuf::from,
    );
    let list = |name: &str| -> Vec<usize> {
        std::env::var(name)
            .unwrap_or_default()
            .split(',')
            .filter_map(|s| s.trim().trim_start_matches('p').parse().ok())
            .collect()
    };
    let (skip, only) = (list("MATGRAD_RANDOM_SKIP"), list("MATGRAD_RANDOM_ONLY"));
    let neutralize = std::env::var_os("MATGRAD_RANDOM_NEUTRALIZE").is_some_and(|v| !v.is_empty());
    let tests = dir.join("tests");
    std::fs::create_dir_all(&tests).expect("creating the batch directory");
    for old in std::fs::read_dir(&tests)
        .expect("reading the batch directory")
        .flatten()
    {
        std::fs::remove_file(old.path()).expect("clearing the batch directory");
    }
    let harness = workspace().join("tests/common/oracle.rs");
    let harness = harness.to_str().expect("a UTF-8 path");
    let header = format!("//! A batch of random programs from seed {seed}.\n");
    // Program k always lands in file k / chunk, whatever is skipped.
    for first in (0..count).step_by(chunk) {
        let part: Vec<Program> = (first..count.min(first + chunk))
            .filter(|k| !skip.contains(k) && (only.is_empty() || only.contains(k)))
            .map(|k| {
                let mut p = draw::program(seed, k);
                if neutralize {
                    patterns::neutralize(&mut p);
                }
                p
            })
            .collect();
        let text = file(&part, &[], &header, harness);
        let name = format!("chunk_{:03}.rs", first / chunk);
        std::fs::write(tests.join(name), text).expect("writing a chunk");
    }
}

#[test]
fn programs_are_deterministic_and_deep() {
    let a = sample();
    assert_eq!(a, sample(), "the same seed must give the same programs");
    for k in 0..50 {
        let p = draw::program(7, k);
        let text = Printer::user(p.main.float).function(&p.main);
        assert!(text.lines().count() >= 6, "program {k} is shallow:\n{text}");
    }
}

#[test]
fn the_sample_uses_the_whole_language() {
    let text = sample();
    let forms = [
        ".transpose()",
        ".trace()",
        ".sum()",
        ".mean()",
        ".dot(",
        ".norm()",
        ".norm_squared()",
        ".component_mul(",
        ".component_div(",
        ".map(|v|",
        ".map(f64::",
        ".determinant()",
        ".try_inverse().unwrap()",
        ".lu().solve(",
        ".kronecker(",
        ".pow(",
        ")[(",
        "[i]",
        ".exp()",
        ".ln()",
        ".ln_1p()",
        ".sqrt()",
        ".powi(",
        ".powf(",
        ".sin()",
        ".cos()",
        ".tanh()",
        ".abs()",
        "matgrad::sigmoid(",
        "matgrad::softplus(",
        "for i in 0..",
        "for j in 0..",
        "} else if ",
        "let mut ",
        " += ",
        " -= ",
        " *= ",
        " && ",
        " || ",
        "!(",
        "return ",
        "const N: usize",
        "<T: RealField + Copy>",
        "f32",
        "#[gradient(wrt(",
        "(i as f64)",
        "(n as f64)",
        "flag",
        "_h0(",
        "= if ",
        "= {\n",
        "&SMatrix<f64, ",
        "&Matrix3<f64>",
        "&RowSVector<f64, ",
        "xs: &[",
        "for xi in xs.iter() {",
        "for &xi in xs.iter() {",
        ".iter().zip(ys.iter()) {",
        "*xi",
        "::zeros()",
    ];
    for form in forms {
        assert!(text.contains(form), "no program of the sample has `{form}`");
    }
}
