//! Source text for messages: expressions printed the way people write them.
//!
//! Stable Rust cannot read a span's source text, and `TokenStream`'s `Display` spaces every token
//! (`x . transpose ()`), so messages print the syntax tree back in the usual style instead.

use quote::ToTokens;
use syn::{BinOp, Expr, UnOp};

/// Tokens printed with Rust's usual spacing: `x.transpose()`, `SMatrix<f64, 3, 4>`.
pub fn tokens<T: ToTokens>(tokens: &T) -> String {
    let raw = tokens.to_token_stream().to_string();
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ' ' {
            let prev = out.chars().last();
            let next = chars.peek().copied();
            let tight_after = matches!(prev, Some('.' | '(' | '[' | '<' | '&' | '!' | '|' | ':'));
            let tight_before = matches!(
                next,
                Some('.' | ')' | ']' | '>' | ',' | '(' | '[' | ':' | '<' | '?' | ';')
            );
            let keep = !(tight_after || tight_before)
                || matches!((prev, next), (Some('|'), _) | (_, Some('|')))
                || is_binary_context(&out, next);
            if keep {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `a < b` and `a - (b)` keep their spaces; only generic brackets and calls are tightened.
fn is_binary_context(before: &str, next: Option<char>) -> bool {
    let trimmed = before.trim_end();
    let last = trimmed.chars().last();
    matches!(next, Some('(' | '<')) && matches!(last, Some('+' | '-' | '*' | '/' | '=' | ','))
}

/// An expression in the usual style.
pub fn expr(e: &Expr) -> String {
    match e {
        Expr::Binary(b) => format!("{} {} {}", expr(&b.left), binop(&b.op), expr(&b.right)),
        Expr::Unary(u) => {
            let op = match u.op {
                UnOp::Neg(_) => "-",
                UnOp::Not(_) => "!",
                UnOp::Deref(_) => "*",
                _ => "?",
            };
            format!("{op}{}", expr(&u.expr))
        }
        Expr::Paren(p) => format!("({})", expr(&p.expr)),
        Expr::Group(g) => expr(&g.expr),
        Expr::Reference(r) => {
            let m = if r.mutability.is_some() { "mut " } else { "" };
            format!("&{m}{}", expr(&r.expr))
        }
        Expr::MethodCall(m) => {
            let args: Vec<String> = m.args.iter().map(expr).collect();
            let turbofish = m.turbofish.as_ref().map(tokens).unwrap_or_default();
            format!(
                "{}.{}{turbofish}({})",
                expr(&m.receiver),
                m.method,
                args.join(", ")
            )
        }
        Expr::Call(c) => {
            let args: Vec<String> = c.args.iter().map(expr).collect();
            format!("{}({})", expr(&c.func), args.join(", "))
        }
        Expr::Index(i) => format!("{}[{}]", expr(&i.expr), expr(&i.index)),
        Expr::Tuple(t) => {
            let items: Vec<String> = t.elems.iter().map(expr).collect();
            format!("({})", items.join(", "))
        }
        Expr::Cast(c) => format!("{} as {}", expr(&c.expr), tokens(&c.ty)),
        Expr::Closure(c) => {
            let inputs: Vec<String> = c.inputs.iter().map(tokens).collect();
            format!("|{}| {}", inputs.join(", "), expr(&c.body))
        }
        _ => tokens(e),
    }
}

fn binop(op: &BinOp) -> String {
    tokens(op)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn case(src: &str, expected: &str) {
        let e: Expr = syn::parse_str(src).expect("test source parses");
        assert_eq!(expr(&e), expected);
    }

    #[test]
    fn prints_expressions_as_written() {
        case("w*y", "w * y");
        case("x . transpose ( ) * a", "x.transpose() * a");
        case(
            "(y - x*beta).norm_squared()",
            "(y - x * beta).norm_squared()",
        );
        case("a.component_mul(&b)", "a.component_mul(&b)");
        case("m[(0, 1)]", "m[(0, 1)]");
        case("-x.dot(&y)", "-x.dot(&y)");
        case("z.map(|v| v.exp())", "z.map(|v| v.exp())");
        case("n as f64", "n as f64");
        case("f64::exp(x)", "f64::exp(x)");
    }

    #[test]
    fn prints_types_tightly() {
        let ty: syn::Type = syn::parse_str("SMatrix < f64 , 3 , 4 >").expect("a type");
        assert_eq!(tokens(&ty), "SMatrix<f64, 3, 4>");
        let ty: syn::Type = syn::parse_str("nalgebra::SVector<f32, 2>").expect("a type");
        assert_eq!(tokens(&ty), "nalgebra::SVector<f32, 2>");
    }
}
