//! Evaluation of the token streams that `lower` keeps as written: float constants (`2.0`,
//! `2f64`, `1e-3_f64`, `PI`, `std::f64::consts::E`, `f64::EPSILON`, `(n as f64)`), integer
//! expressions (`powi` and `pow` exponents, constant call arguments: literals, integer
//! parameters, `(*n)`, `+ - *`) and conditions (`true`, bool parameters, `!`, `&&`, `||`,
//! comparisons of integers), given the values of the function's integer and bool parameters.
//! Anything else is an error, not a guess. Part of `interp`.

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use syn::{BinOp, Expr, Lit, UnOp};

use crate::text;

/// The values of names a constant can read: integer and bool parameters (and const generic
/// sizes), and named float constants of the enclosing module.
#[derive(Clone, Debug, Default)]
pub struct Constants {
    pub ints: BTreeMap<String, i64>,
    pub bools: BTreeMap<String, bool>,
    pub floats: BTreeMap<String, f64>,
    /// The samples of each data set, by the name loops over data give it (`xs`).
    pub samples: BTreeMap<String, Vec<super::Value<f64>>>,
    /// The integers of each integer data set, by name.
    pub integer_sets: BTreeMap<String, Vec<i64>>,
    /// Constants read in place (`Op::Field`), by their text: a loop over data's current
    /// sample, `(*__mg_s1_0)`.
    pub fields: BTreeMap<String, super::Value<f64>>,
}

fn parse(tokens: &TokenStream) -> Result<Expr, String> {
    syn::parse2(tokens.clone())
        .map_err(|e| format!("`{}` is not an expression: {e}", text::tokens(tokens)))
}

fn unknown<T>(e: &Expr, what: &str) -> Result<T, String> {
    Err(format!("cannot evaluate `{}` as {what}", text::tokens(e)))
}

/// The inside of parentheses, groups and dereferences (`(*n)` reads the integer `n`).
fn strip(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => strip(&p.expr),
        Expr::Group(g) => strip(&g.expr),
        Expr::Reference(r) => strip(&r.expr),
        Expr::Unary(u) if matches!(u.op, UnOp::Deref(_)) => strip(&u.expr),
        other => other,
    }
}

impl Constants {
    pub fn float(&self, tokens: &TokenStream) -> Result<f64, String> {
        self.float_expr(&parse(tokens)?)
    }

    pub fn int(&self, tokens: &TokenStream) -> Result<i64, String> {
        self.int_expr(&parse(tokens)?)
    }

    /// The entry (i, j) a run-time index names in an r×c matrix: `v[k]` of a vector, or
    /// `m[(i, j)]`; an error where nalgebra's indexing would panic.
    pub fn index(&self, at: &crate::ir::At, r: usize, c: usize) -> Result<(usize, usize), String> {
        let value = |t: &TokenStream| -> Result<usize, String> {
            usize::try_from(self.int(t)?)
                .map_err(|_| format!("the index `{}` is negative", crate::text::tokens(t)))
        };
        let row = value(&at.row)?;
        let (i, j) = match &at.col {
            Some(col) => (row, value(col)?),
            None if c == 1 => (row, 0),
            None if r == 1 => (0, row),
            None => return Err(format!("`{at}` of a {r}×{c} matrix, which is not a vector")),
        };
        if i >= r || j >= c {
            return Err(format!("`{at}` is out of range for a {r}×{c} matrix"));
        }
        Ok((i, j))
    }

    pub fn boolean(&self, tokens: &TokenStream) -> Result<bool, String> {
        self.bool_expr(&parse(tokens)?)
    }

    fn float_expr(&self, e: &Expr) -> Result<f64, String> {
        match strip(e) {
            Expr::Lit(lit) => float_literal(&lit.lit).map_or_else(|| unknown(e, "a float"), Ok),
            Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => Ok(-self.float_expr(&u.expr)?),
            Expr::Cast(cast) => self.cast(cast),
            Expr::Path(path) => self
                .named_float(path)
                .map_or_else(|| unknown(e, "a float"), Ok),
            Expr::Binary(b) => {
                let (l, r) = (self.float_expr(&b.left)?, self.float_expr(&b.right)?);
                match b.op {
                    BinOp::Add(_) => Ok(l + r),
                    BinOp::Sub(_) => Ok(l - r),
                    BinOp::Mul(_) => Ok(l * r),
                    BinOp::Div(_) => Ok(l / r),
                    _ => unknown(e, "a float"),
                }
            }
            // A function of constants is a constant: `(1.0).tanh()`, `2.0_f64.powi(3)`.
            Expr::MethodCall(m) => {
                let x = self.float_expr(&m.receiver)?;
                let args: Vec<&Expr> = m.args.iter().collect();
                match (m.method.to_string().as_str(), args.as_slice()) {
                    ("powi", [n]) => Ok(
                        x.powi(i32::try_from(self.int_expr(n)?).map_err(|err| err.to_string())?)
                    ),
                    ("powf", [p]) => Ok(x.powf(self.float_expr(p)?)),
                    (name, []) => {
                        scalar_function(name, x).map_or_else(|| unknown(e, "a float"), Ok)
                    }
                    _ => unknown(e, "a float"),
                }
            }
            // matgrad's helpers of a constant: `sigmoid(1.0)`, `matgrad::softplus(C)`.
            Expr::Call(c) => {
                let args: Vec<&Expr> = c.args.iter().collect();
                let Expr::Path(path) = &*c.func else {
                    return unknown(e, "a float");
                };
                let name = path.path.segments.last().map(|s| s.ident.to_string());
                match (name.as_deref(), args.as_slice()) {
                    // nalgebra's `convert::<f64, T>(x)`: the number itself, in the scalar type.
                    (Some("convert"), [x]) => self.float_expr(x),
                    (Some("sigmoid"), [x]) => Ok(super::Num::sigmoid(self.float_expr(x)?)),
                    (Some("softplus"), [x]) => Ok(super::Num::softplus(self.float_expr(x)?)),
                    // `f64::powi(x, n)`, `f64::max(a, b)`, `f64::sin(x)`: methods called as paths.
                    (Some("powi"), [x, n]) => Ok(self
                        .float_expr(x)?
                        .powi(i32::try_from(self.int_expr(n)?).map_err(|err| err.to_string())?)),
                    (Some("powf"), [x, p]) => Ok(self.float_expr(x)?.powf(self.float_expr(p)?)),
                    (Some(name), [x]) => scalar_function(name, self.float_expr(x)?)
                        .map_or_else(|| unknown(e, "a float"), Ok),
                    _ => unknown(e, "a float"),
                }
            }
            _ => unknown(e, "a float constant"),
        }
    }

    /// `(n as f64)`: an integer (or float) converted to the scalar type, which is `f64`, `f32`
    /// (rounded through it) or a type parameter (computed in `f64`).
    fn cast(&self, cast: &syn::ExprCast) -> Result<f64, String> {
        let value = match self.int_expr(&cast.expr) {
            Ok(int) => int as f64,
            Err(_) => self.float_expr(&cast.expr)?,
        };
        match &*cast.ty {
            syn::Type::Path(p) if p.path.is_ident("f32") => Ok(f64::from(value as f32)),
            syn::Type::Path(p) if p.path.get_ident().is_some() => Ok(value),
            _ => Err(format!(
                "cannot evaluate a cast to `{}`",
                text::tokens(&cast.ty)
            )),
        }
    }

    /// A named constant: a float or integer of the environment, or one of the standard
    /// library's (`PI`, `f64::consts::TAU`, `f32::EPSILON`).
    fn named_float(&self, path: &syn::ExprPath) -> Option<f64> {
        let segments: Vec<String> = path
            .path
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect();
        if let [name] = segments.as_slice() {
            if let Some(&v) = self.floats.get(name) {
                return Some(v);
            }
            if let Some(&v) = self.ints.get(name) {
                return Some(v as f64);
            }
        }
        let (last, prefix) = segments.split_last()?;
        let known_prefix = prefix
            .iter()
            .all(|s| matches!(s.as_str(), "std" | "core" | "f64" | "f32" | "consts"));
        if !known_prefix {
            return None;
        }
        if prefix.iter().any(|s| s == "f32") {
            single_constant(last)
        } else {
            standard_constant(last)
        }
    }

    fn int_expr(&self, e: &Expr) -> Result<i64, String> {
        let overflow = || format!("`{}` overflows", text::tokens(e));
        match strip(e) {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Int(int), ..
            }) if !matches!(int.suffix(), "f64" | "f32") => int
                .base10_parse::<i64>()
                .map_err(|err| format!("`{int}`: {err}")),
            Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => {
                self.int_expr(&u.expr)?.checked_neg().ok_or_else(overflow)
            }
            Expr::Binary(b) => {
                let (l, r) = (self.int_expr(&b.left)?, self.int_expr(&b.right)?);
                match b.op {
                    BinOp::Add(_) => l.checked_add(r),
                    BinOp::Sub(_) => l.checked_sub(r),
                    BinOp::Mul(_) => l.checked_mul(r),
                    _ => return unknown(e, "an integer"),
                }
                .ok_or_else(overflow)
            }
            // Between integer types: every value the tests use fits all of them.
            Expr::Cast(c) => self.int_expr(&c.expr),
            // The number of samples of a data set.
            Expr::MethodCall(m) if m.method == "len" && m.args.is_empty() => {
                match strip(&m.receiver) {
                    Expr::Path(p) => p
                        .path
                        .get_ident()
                        .and_then(|n| {
                            let n = n.to_string();
                            self.samples
                                .get(&n)
                                .map(Vec::len)
                                .or_else(|| self.integer_sets.get(&n).map(Vec::len))
                        })
                        .map(|len| i64::try_from(len).unwrap_or(i64::MAX))
                        .ok_or_else(|| format!("no data set `{}`", text::tokens(&m.receiver))),
                    _ => unknown(e, "an integer"),
                }
            }
            Expr::Path(p) => match p.path.get_ident().map(ToString::to_string) {
                Some(name) if self.ints.contains_key(&name) => Ok(self.ints[&name]),
                _ => unknown(e, "an integer: no integer parameter of that name"),
            },
            _ => unknown(e, "an integer"),
        }
    }

    fn bool_expr(&self, e: &Expr) -> Result<bool, String> {
        match strip(e) {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Bool(b), ..
            }) => Ok(b.value),
            Expr::Unary(u) if matches!(u.op, UnOp::Not(_)) => Ok(!self.bool_expr(&u.expr)?),
            Expr::Binary(b) => self.bool_binary(e, b),
            Expr::Path(p) => match p.path.get_ident().map(ToString::to_string) {
                Some(name) if self.bools.contains_key(&name) => Ok(self.bools[&name]),
                _ => unknown(e, "a condition: no bool parameter of that name"),
            },
            _ => unknown(e, "a condition"),
        }
    }

    fn bool_binary(&self, e: &Expr, b: &syn::ExprBinary) -> Result<bool, String> {
        if let BinOp::And(_) | BinOp::Or(_) = b.op {
            let (l, r) = (self.bool_expr(&b.left)?, self.bool_expr(&b.right)?);
            return Ok(if matches!(b.op, BinOp::And(_)) {
                l && r
            } else {
                l || r
            });
        }
        let (l, r) = (self.int_expr(&b.left)?, self.int_expr(&b.right)?);
        match b.op {
            BinOp::Lt(_) => Ok(l < r),
            BinOp::Le(_) => Ok(l <= r),
            BinOp::Gt(_) => Ok(l > r),
            BinOp::Ge(_) => Ok(l >= r),
            BinOp::Eq(_) => Ok(l == r),
            BinOp::Ne(_) => Ok(l != r),
            _ => unknown(e, "a condition"),
        }
    }
}

/// `2.0`, `2.5e-3_f64`, `2f64`; an `f32` suffix rounds through `f32`.
fn float_literal(lit: &Lit) -> Option<f64> {
    let (value, suffix) = match lit {
        Lit::Float(f) => (f.base10_parse::<f64>().ok()?, f.suffix()),
        Lit::Int(i) if matches!(i.suffix(), "f64" | "f32") => {
            (i.base10_digits().parse::<f64>().ok()?, i.suffix())
        }
        _ => return None,
    };
    Some(if suffix == "f32" {
        f64::from(value as f32)
    } else {
        value
    })
}

/// The `f32` constants by name: the limits of `f32`, and `f32::consts` (each the `f64` one
/// rounded to `f32`, as the standard library defines them).
fn single_constant(name: &str) -> Option<f64> {
    Some(f64::from(match name {
        "EPSILON" => f32::EPSILON,
        "MAX" => f32::MAX,
        "MIN" => f32::MIN,
        "MIN_POSITIVE" => f32::MIN_POSITIVE,
        other => standard_constant(other)? as f32,
    }))
}

/// The constants of `f64::consts` and the associated constants of `f64`, by name.
fn standard_constant(name: &str) -> Option<f64> {
    use std::f64::consts;
    Some(match name {
        "PI" => consts::PI,
        "TAU" => consts::TAU,
        "E" => consts::E,
        "SQRT_2" => consts::SQRT_2,
        "FRAC_1_SQRT_2" => consts::FRAC_1_SQRT_2,
        "LN_2" => consts::LN_2,
        "LN_10" => consts::LN_10,
        "LOG2_E" => consts::LOG2_E,
        "LOG10_E" => consts::LOG10_E,
        "LOG2_10" => consts::LOG2_10,
        "LOG10_2" => consts::LOG10_2,
        "FRAC_PI_2" => consts::FRAC_PI_2,
        "FRAC_PI_3" => consts::FRAC_PI_3,
        "FRAC_PI_4" => consts::FRAC_PI_4,
        "FRAC_PI_6" => consts::FRAC_PI_6,
        "FRAC_PI_8" => consts::FRAC_PI_8,
        "FRAC_1_PI" => consts::FRAC_1_PI,
        "FRAC_2_PI" => consts::FRAC_2_PI,
        "FRAC_2_SQRT_PI" => consts::FRAC_2_SQRT_PI,
        "EPSILON" => f64::EPSILON,
        "MAX" => f64::MAX,
        "MIN" => f64::MIN,
        "MIN_POSITIVE" => f64::MIN_POSITIVE,
        "INFINITY" => f64::INFINITY,
        "NEG_INFINITY" => f64::NEG_INFINITY,
        _ => return None,
    })
}

/// The scalar methods a constant may apply, by name.
fn scalar_function(name: &str, x: f64) -> Option<f64> {
    Some(match name {
        "exp" => x.exp(),
        "ln" => x.ln(),
        "ln_1p" => x.ln_1p(),
        "sqrt" => x.sqrt(),
        "sin" => x.sin(),
        "cos" => x.cos(),
        "tanh" => x.tanh(),
        "abs" => x.abs(),
        _ => return None,
    })
}
