//! Tests of the derivation in the doc comment of `{name}_grad`: every gradient it shows in
//! closed form, evaluated as the tree it renders on drawn inputs, must equal the exact
//! dual-number gradient of the primal; and every text it renders must read as mathematics and
//! name nothing it does not define. The corpus is hand-written losses (least squares, logistic
//! regression, a Gaussian likelihood, trace identities, a running maximum, loops, maps) and
//! functions from the fuzz generator. Part of `interp`, under `derivative`.

use std::collections::{HashMap, HashSet};

use super::closed_form;
use crate::adjoint::AExpr;
use crate::derivation::{Derivation, derivation};
use crate::interp::{Env, Mat, Value, compile, draw_samples, gradient};
use crate::ir::{Dim, Program};
use crate::plan::{Config, Plan};
use crate::types::Kind;

/// A splitmix64 stream for the inputs: entries in ±[0.2, 1], as the property tests draw them.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn entry(&mut self) -> f64 {
        let u = (self.next() >> 11) as f64 / (1_u64 << 53) as f64;
        let magnitude = 0.2 + 0.8 * u;
        if self.next() & 1 == 0 {
            magnitude
        } else {
            -magnitude
        }
    }
}

/// What checking one function found.
#[derive(Debug)]
enum Verdict {
    /// The text is clean and this many closed forms agree with dual numbers.
    Agrees(usize),
    /// Not compilable, or outside the primal's domain at the drawn inputs.
    Skipped,
    Fails(String),
}

/// The derivation `emit` would put in the doc comment of `prog`'s `_grad`.
fn derive(func: &crate::ast::Func, prog: &Program) -> Derivation {
    let plan = Plan::new(
        prog,
        Config {
            wrt: func.wrt.clone(),
            ..Config::default()
        },
    );
    let params: Vec<(usize, String)> = func
        .wrt
        .iter()
        .map(|&k| (k, func.params[k].name.to_string()))
        .collect();
    derivation(prog, &plan.adj, &params)
}

/// Inputs as the property tests draw them: integer parameters 2, const generic sizes 3, bool
/// parameters at random.
fn inputs(func: &crate::ast::Func, draw: &mut Draw) -> (Vec<Value<f64>>, Env<'static>) {
    let mut env = Env::default().float("C", 1.0).float("EPS", 1e-3);
    for name in &func.env.consts {
        env = env.int(name, 3);
    }
    let size = |d: Dim| d.value().unwrap_or(3);
    let mut values = Vec::new();
    for param in &func.params {
        let name = param.name.to_string();
        values.push(match param.kind {
            Kind::Scalar(_) => Value::Scalar(draw.entry()),
            Kind::Matrix { rows, cols, .. } => {
                let (r, c) = (size(rows), size(cols));
                Value::Matrix(Mat::from_fn(r, c, |_, _| draw.entry()))
            }
            Kind::Int => {
                env = env.int(&name, 2);
                Value::Constant
            }
            Kind::Bool => {
                env = env.flag(&name, draw.next() & 1 == 0);
                Value::Constant
            }
            Kind::Samples { shape, .. } => {
                let set = draw_samples(shape, 3, &mut || draw.entry());
                env.constants.samples.insert(name, set);
                Value::Constant
            }
            Kind::Integers => {
                let set = (0..3)
                    .map(|_| i64::try_from(draw.next() % 3).unwrap_or(0))
                    .collect();
                env.constants.integer_sets.insert(name, set);
                Value::Constant
            }
        });
    }
    (values, env)
}

/// Checks the derivation of `attr`/`src`: its text, then each closed form against dual numbers.
fn check(attr: &str, src: &str, draw: &mut Draw) -> Verdict {
    let Ok((func, prog)) = compile(attr, src) else {
        return Verdict::Skipped;
    };
    let shown = derive(&func, &prog);
    // Raw identifiers read as plain names: `loop` for `r#loop`.
    let names: Vec<String> = func
        .params
        .iter()
        .map(|p| {
            let name = p.name.to_string();
            name.strip_prefix("r#").unwrap_or(&name).to_string()
        })
        .collect();
    let problems = text_problems(&shown.lines, &names);
    if !problems.is_empty() {
        return Verdict::Fails(format!(
            "{}\n{}",
            problems.join("; "),
            shown.lines.join("\n")
        ));
    }
    let (values, env) = inputs(&func, draw);
    let Ok((value, reference)) = gradient(&prog, &values, &func.wrt, &env) else {
        return Verdict::Skipped;
    };
    let finite = |v: &Value<f64>| v.entries().is_ok_and(|e| e.iter().all(|x| x.is_finite()));
    let forward = super::super::evaluate(&prog, &values, &env).unwrap_or_default();
    let numeric = |v: &Value<f64>| matches!(v, Value::Scalar(_) | Value::Matrix(_));
    if !finite(&value)
        || !reference.iter().all(finite)
        || !forward.iter().all(|v| !numeric(v) || finite(v))
    {
        return Verdict::Skipped;
    }
    for form in &shown.closed {
        let Some(k) = func.wrt.iter().position(|&w| w == form.param) else {
            return Verdict::Fails(format!("a closed form for parameter {}", form.param));
        };
        let computed = closed_form(&prog, &func.wrt, &values, &env, &form.expr, &form.adjoints);
        if let Err(why) = agree(computed, &reference[k]) {
            return Verdict::Fails(format!(
                "∇{}: {why}\n{}\ntree: {}",
                names[form.param],
                shown.lines.join("\n"),
                form.expr
            ));
        }
    }
    Verdict::Agrees(shown.closed.len())
}

/// Whether a closed form's value equals the exact gradient to 1e-9, relative to the largest
/// entry of the gradient (a literal 0 stands for a zero matrix).
fn agree(computed: Result<Value<f64>, String>, exact: &Value<f64>) -> Result<(), String> {
    let exact = exact.entries()?;
    let got = match computed? {
        Value::Scalar(0.0) => vec![0.0; exact.len()],
        other => other.entries()?,
    };
    let scale = exact.iter().fold(1.0_f64, |m, x| m.max(x.abs()));
    let close = got.len() == exact.len()
        && got
            .iter()
            .zip(&exact)
            .all(|(g, e)| (g - e).abs() <= 1e-9 * scale);
    if close {
        Ok(())
    } else {
        Err(format!(
            "the closed form gives {got:?}, dual numbers {exact:?}"
        ))
    }
}

/// What is wrong with a rendered derivation: notation that does not read as mathematics, and
/// names that are neither parameters nor defined.
fn text_problems(lines: &[String], params: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    let text = lines.join("\n");
    for bad in ["′′", "−−", "− −", "+ −", "ᵀᵀ", "^(("] {
        if text.contains(bad) {
            problems.push(format!("`{bad}` in the text"));
        }
    }
    let listing = lines
        .first()
        .is_some_and(|l| l.starts_with("the adjoint program"));
    let body = if listing { &lines[1..] } else { lines };
    let (formulas, definitions) = match body.iter().position(|l| l == "where") {
        Some(k) => (&body[..k], &body[k + 1..]),
        None => (body, &[][..]),
    };
    let mut defined: HashMap<&str, usize> = HashMap::new();
    let mut right_sides = Vec::new();
    for line in definitions {
        if let Some(name) = line.strip_suffix(": a constant") {
            *defined.entry(name).or_default() += 1;
            continue;
        }
        match line.split_once(" = ") {
            Some((name, rhs)) => {
                *defined.entry(name).or_default() += 1;
                right_sides.push(rhs);
            }
            None => problems.push(format!("`{line}` defines nothing")),
        }
    }
    for (name, count) in &defined {
        if *count > 1 {
            problems.push(format!("`{name}` is defined {count} times"));
        }
    }
    let first_word = |l: &str| l.split([' ', '.']).next().unwrap_or_default().to_string();
    let shared: HashSet<String> = formulas
        .iter()
        .filter(|l| l.starts_with('t'))
        .map(|l| first_word(l))
        .collect();
    let targets: HashSet<String> = formulas
        .iter()
        .filter(|l| l.starts_with('ḡ'))
        .map(|l| first_word(l))
        .collect();
    let binders = binders(&text);
    let mut undefined = Vec::new();
    for line in formulas.iter().map(String::as_str).chain(right_sides) {
        for (word, before, after) in words(line) {
            let ok = word.starts_with(|c: char| c.is_ascii_digit())
                || after.starts_with(['(', '′', '₍'])
                || after.starts_with("::")
                || before.ends_with('.')
                || before.ends_with("::")
                || before.ends_with("map(")
                || ["I", "if", "else", "Σ", "π"].contains(&word)
                || binders.contains(word)
                || params.iter().any(|p| p == word)
                || defined.contains_key(word)
                || (word.starts_with('ḡ') && targets.contains(word))
                || (word.starts_with('t') && shared.contains(word));
            if !ok {
                undefined.push(format!("`{word}` is not defined"));
            }
        }
    }
    undefined.dedup();
    problems.extend(undefined);
    problems
}

/// Variables a closure (`(v ↦ …)`) or a sum (`Σ_(r<k)`) binds.
fn binders(text: &str) -> HashSet<&str> {
    let mut out = HashSet::new();
    for (word, before, after) in words(text) {
        if (before.ends_with('(') && after.starts_with(" ↦"))
            || (before.ends_with("Σ_(") && after.starts_with('<'))
        {
            out.insert(word);
        }
    }
    out
}

/// The words of `text` that could be names, each with the text before and after it. Letters,
/// digits, subscript digits and `_` make words; the notation's marks (ᵀ ʳ ᵢ ⱼ, superscripts,
/// primes) do not.
fn words(text: &str) -> Vec<(&str, &str, &str)> {
    let name_char = |c: char| {
        c == '_'
            || c.is_ascii_alphanumeric()
            || ('₀'..='₉').contains(&c)
            || (c.is_alphabetic() && !"ᵀʳᵢⱼᵏ".contains(c))
    };
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match (start, name_char(c)) {
            (None, true) => start = Some(i),
            (Some(s), false) => {
                out.push((&text[s..i], &text[..s], &text[i..]));
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// Hand-written losses, each with the attribute it is differentiated under.
const HAND_WRITTEN: &[(&str, &str)] = &[
    (
        "wrt(beta)",
        "fn ols(beta: &SVector<f64, 3>, x: &SMatrix<f64, 5, 3>, y: &SVector<f64, 5>) -> f64 { let r = y - x * beta; r.norm_squared() }",
    ),
    (
        "wrt(w)",
        "fn layer(w: &SMatrix<f64, 3, 4>, x: &SVector<f64, 4>, y: &SVector<f64, 3>) -> f64 { let s = (w * x).map(sigmoid); 0.5 * (s - y).norm_squared() }",
    ),
    (
        "wrt(w)",
        "fn logistic(w: &Vector3<f64>, x: &SMatrix<f64, 5, 3>, y: &SVector<f64, 5>) -> f64 { let z = x * w; z.map(softplus).sum() - y.dot(&z) }",
    ),
    (
        "wrt(mu, l)",
        "fn gaussian(mu: &Vector3<f64>, l: &Matrix3<f64>, x: &Vector3<f64>) -> f64 { let s = l * l.transpose(); let r = x - mu; let q = (r.transpose() * s.try_inverse().unwrap() * r)[(0, 0)]; 0.5 * q + 0.5 * s.determinant().ln() }",
    ),
    (
        "",
        "fn chain(a: &Matrix3<f64>, x: &Matrix3<f64>, b: &Matrix3<f64>, c: &Matrix3<f64>) -> f64 { (a * x * b * x.transpose() * c).trace() }",
    ),
    ("", "fn square(x: &Matrix3<f64>) -> f64 { (x * x).trace() }"),
    (
        "wrt(x)",
        "fn inv(a: &Matrix3<f64>, x: &Matrix3<f64>) -> f64 { (a * x.try_inverse().unwrap()).trace() }",
    ),
    (
        "",
        "fn logdet(a: &Matrix3<f64>) -> f64 { (a * a.transpose()).determinant().ln() }",
    ),
    (
        "",
        "fn running_max(z: &Vector3<f64>) -> f64 { let mut m = z[0]; for i in 1..3 { if z[i] > m { m = z[i]; } } m }",
    ),
    (
        "",
        "fn scaled_max(z: &Vector3<f64>, a: f64) -> f64 { let mut m = z[0]; for i in 1..3 { if z[i] > m { m = z[i]; } } m * a }",
    ),
    (
        "",
        "fn iterate(x: f64) -> f64 { let mut y = x; for _ in 0..5 { y = y * y - x; } y }",
    ),
    (
        "",
        "fn power_iteration(a: &Matrix3<f64>, x: &Vector3<f64>) -> f64 { let mut v = a * x; for _ in 0..3 { v = a * v; } v.norm_squared() }",
    ),
    (
        "",
        "fn product(x: &Vector3<f64>, s: f64) -> f64 { let mut t = s; for i in 0..3 { if x[i] > 0.0 { t = t * x[i]; } else { t = t - x[i].exp(); } } t }",
    ),
    (
        "",
        "fn tanh_layer(w: &SMatrix<f64, 4, 3>, x: &Vector3<f64>, s: f64) -> f64 { (w * x).map(|v| (v * s).tanh()).sum() }",
    ),
    (
        "",
        "fn squares(x: &Vector3<f64>) -> f64 { x.map(|v| v * v).sum() }",
    ),
    (
        "",
        "fn powers(a: f64) -> f64 { a.powi(3) + (a * a).powi(2) }",
    ),
    (
        "",
        "fn antisymmetric(x: &Vector3<f64>, y: &Vector3<f64>) -> f64 { (x.transpose() * y)[(0, 0)] - (y.transpose() * x)[(0, 0)] }",
    ),
    (
        "wrt(x)",
        "fn quadratic(x: &Vector3<f64>, a: &Matrix3<f64>) -> f64 { (x.transpose() * a * x)[(0, 0)] }",
    ),
    (
        "",
        "fn several(a: &Vector3<f64>, b: &Vector3<f64>, s: f64) -> f64 { s * a.dot(&b) }",
    ),
    (
        "",
        "fn kron(a: &Matrix2<f64>, b: &Matrix2<f64>) -> f64 { a.kronecker(b).pow(2).trace() }",
    ),
    (
        "",
        "fn solve(a: &Matrix3<f64>, b: &Vector3<f64>) -> f64 { a.lu().solve(b).unwrap().norm_squared() }",
    ),
    (
        "",
        "fn ratio(x: &Vector3<f64>, s: f64) -> f64 { x.norm_squared() / s + s / x.sum() + x.norm() }",
    ),
    (
        "",
        "fn reciprocal(x: f64, y: f64) -> f64 { let r = 1.0 / x; r * x * y + (x / y) * y }",
    ),
    (
        "",
        "fn int_power(x: f64, n: i32) -> f64 { x.powi(n) + x.powi(3) * x.powi(n - 1) }",
    ),
    (
        "",
        "fn double_transpose(x: &Vector3<f64>, y: &Vector3<f64>) -> f64 { let b = x.transpose().transpose() + y; let c = b.transpose().transpose() * 2.0; c.dot(&b) }",
    ),
];

#[test]
fn hand_written_derivations_are_right_and_read_as_mathematics() {
    let mut closed = 0;
    let mut failures = Vec::new();
    for (k, (attr, src)) in HAND_WRITTEN.iter().enumerate() {
        for seed in 0..3 {
            match check(attr, src, &mut Draw(seed * 131 + k as u64)) {
                Verdict::Agrees(n) => closed += n,
                Verdict::Skipped => {}
                Verdict::Fails(why) => failures.push(format!("{src}\n  {why}")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(closed >= 80, "only {closed} closed forms were compared");
}

#[test]
fn generated_derivations_are_right_and_read_as_mathematics() {
    let mut rng = crate::fuzz::Rng(0xd0c5_0001);
    let (mut checked, mut closed) = (0, 0);
    let mut failures = Vec::new();
    for case in 0..500 {
        let c = crate::fuzz::generate(&mut rng, 0);
        if !c.valid {
            continue;
        }
        match check(&c.attr, &c.item, &mut Draw(case)) {
            Verdict::Agrees(n) => {
                checked += 1;
                closed += n;
            }
            Verdict::Skipped => {}
            Verdict::Fails(why) => {
                failures.push(format!("#[gradient({})] {}\n  {why}", c.attr, c.item));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} derivations fail:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(checked >= 200, "only {checked} derivations were checked");
    assert!(closed >= 100, "only {closed} closed forms were compared");
}

#[test]
fn a_wrong_closed_form_is_caught() {
    let (attr, src) = HAND_WRITTEN[0];
    let (func, prog) = compile(attr, src).expect("compiles");
    let shown = derive(&func, &prog);
    let form = shown
        .closed
        .first()
        .expect("least squares has a closed form");
    let (values, env) = inputs(&func, &mut Draw(7));
    let (_, reference) = gradient(&prog, &values, &func.wrt, &env).expect("a gradient");
    let evaluate = |e: &AExpr| closed_form(&prog, &func.wrt, &values, &env, e, &form.adjoints);
    assert!(agree(evaluate(&form.expr), &reference[0]).is_ok());
    // Twice the gradient, or its negation, is not the gradient.
    let doubled = AExpr::Scale(Box::new(form.expr.clone()), AExpr::lit("2"));
    assert!(agree(evaluate(&doubled), &reference[0]).is_err());
    let negated = AExpr::Neg(Box::new(form.expr.clone()));
    assert!(agree(evaluate(&negated), &reference[0]).is_err());
}

#[test]
fn text_checks_reject_what_users_saw() {
    let params = ["x".to_string(), "y".to_string(), "z".to_string()];
    let problems = |lines: &[&str]| {
        let lines: Vec<String> = lines.iter().map(ToString::to_string).collect();
        text_problems(&lines, &params)
    };
    assert!(problems(&["∇x = −2·yᵀ·r", "", "where", "r = y − x·z"]).is_empty());
    assert!(problems(&["∇x = (v ↦ tanh(v·y))′(x)", "∇y = Σ_(r<2) (xʳ)ᵀ"]).is_empty());
    let rejected = [
        vec!["∇x = m′′"],
        vec!["∇x = −−y"],
        vec!["∇x = yᵀᵀ"],
        vec!["∇x = x^(((2) - 1))"],
        // A shared tuple of the adjoint program in a closed form.
        vec!["∇z = t0.1 + t1.1"],
        // A version read but only another one defined.
        vec!["∇x = m₁", "", "where", "m = z[0]"],
        vec!["∇x = m", "", "where", "m = z[0]", "m = z[1]"],
        // An adjoint read that the listing never computes.
        vec!["the adjoint program", "ḡ2 (x) += ḡ5·y", "∇x = ḡ2"],
    ];
    for lines in rejected {
        assert!(!problems(&lines).is_empty(), "accepted {lines:?}");
    }
}

#[test]
fn versions_are_named_by_subscripts() {
    let (_, prog) = compile(
        "",
        "fn f(x: f64) -> f64 { let mut y = x * x; for _ in 0..12 { y = y * x; } y }",
    )
    .expect("compiles");
    let names: Vec<&str> = prog
        .nodes
        .iter()
        .filter_map(|n| n.name.as_deref())
        .collect();
    assert_eq!(names.first(), Some(&"y"));
    assert_eq!(names.get(1), Some(&"y₁"));
    assert_eq!(names.last(), Some(&"y₁₂"));
    let unique: HashSet<&&str> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "{names:?}");
}
