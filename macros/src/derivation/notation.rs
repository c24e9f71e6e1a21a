//! The notation of rendered text: an expression with its binding strength (`Math`), the
//! precedence levels that decide parentheses, and the operators as a textbook writes them.
//!
//! Each operator renders its operands and applies the identities that hold in print: a sum
//! with a signed term is a difference, (Aᵀ)ᵀ = A, (A⁻¹)ᵀ = A⁻ᵀ, powers as superscripts.
//! `values` and `render` build every line from these; nothing here reads the program.
//!
//! Before: `infix(a, " + ", −2·b)`. After: `a − 2·b`.

use crate::ir::ValueId;

use super::constants::parse_number;

/// A rendered expression and how tightly it binds, for parentheses.
#[derive(Clone)]
pub(super) struct Math {
    pub(super) text: String,
    pub(super) prec: u8,
}

/// Binding strengths: a conditional (`a if c else b`), a sum, a signed term (a negated product,
/// `−2·x`), an entrywise product (∘ ⊘ ⊗, whose operands are parenthesized unless atoms, so they never mix
/// unclearly with ·), a product, a unary minus, an atom (names, calls, postfix ᵀ, powers).
pub(super) const CONDITIONAL: u8 = 0;
pub(super) const SUM: u8 = 1;
pub(super) const SIGNED: u8 = 2;
pub(super) const ENTRYWISE: u8 = 3;
pub(super) const PRODUCT: u8 = 4;
pub(super) const UNARY: u8 = 5;
pub(super) const ATOM: u8 = 6;

impl Math {
    pub(super) fn new(text: String, prec: u8) -> Self {
        Math { text, prec }
    }

    pub(super) fn atom(text: impl Into<String>) -> Self {
        Math::new(text.into(), ATOM)
    }

    /// The text, parenthesized unless it binds at least as tightly as `prec`.
    pub(super) fn at(&self, prec: u8) -> String {
        if self.prec >= prec {
            self.text.clone()
        } else {
            format!("({})", self.text)
        }
    }
}

/// A name as people write it: `loop` for the raw identifier `r#loop`.
pub(super) fn plain(name: &str) -> String {
    name.strip_prefix("r#").unwrap_or(name).to_string()
}

pub(super) fn is_name_char(c: char) -> bool {
    c == '_'
        || c.is_ascii_alphanumeric()
        || ('₀'..='₉').contains(&c)
        || (c.is_alphabetic() && !"ᵀʳᵢⱼᵏ".contains(c))
}

/// An associative operator: `a + b + c`, `a·b·c`; a sum with a signed term is a difference.
pub(super) fn infix(a: &Math, op: &str, b: &Math, prec: u8) -> Math {
    if op == " + "
        && b.prec >= SIGNED
        && let Some(rest) = b.text.strip_prefix('−')
    {
        return Math::new(format!("{} − {rest}", a.at(prec)), prec);
    }
    Math::new(format!("{}{op}{}", a.at(prec), b.at(prec)), prec)
}

/// `a − b`; subtracting a signed term adds its magnitude: a − (−b) = a + b.
pub(super) fn difference(a: &Math, b: &Math) -> Math {
    if b.prec >= SIGNED
        && let Some(rest) = b.text.strip_prefix('−')
    {
        return Math::new(format!("{} + {rest}", a.at(SUM)), SUM);
    }
    Math::new(format!("{} − {}", a.at(SUM), b.at(PRODUCT)), SUM)
}

/// `a ∘ b`: operands are atoms or parenthesized.
pub(super) fn entrywise(a: &Math, op: &str, b: &Math) -> Math {
    Math::new(format!("{}{op}{}", a.at(UNARY), b.at(UNARY)), ENTRYWISE)
}

/// `−x`; the negation of a negated atom, product or entrywise product is its operand, and a
/// negated product reads as a signed term, `−2·xᵀ·r`.
pub(super) fn negate(a: &Math) -> Math {
    if a.prec >= SIGNED
        && let Some(rest) = a.text.strip_prefix('−')
    {
        let prec = match a.prec {
            UNARY => ATOM,
            SIGNED => PRODUCT,
            p => p,
        };
        return Math::new(rest.to_string(), prec);
    }
    match a.prec {
        UNARY.. => Math::new(format!("−{}", a.text), UNARY),
        ENTRYWISE.. => Math::new(format!("−{}", a.text), SIGNED),
        _ => Math::new(format!("−({})", a.text), UNARY),
    }
}

/// Whether a postfix mark or power after `text` would read as part of an exponent.
fn ends_in_superscript(text: &str) -> bool {
    text.ends_with(|c: char| "⁰¹²³⁴⁵⁶⁷⁸⁹ʳ".contains(c))
}

/// `Aᵀ`, with (Aᵀ)ᵀ = A and (A⁻¹)ᵀ = A⁻ᵀ.
pub(super) fn transpose(a: &Math) -> Math {
    if a.prec == ATOM {
        if let Some(base) = a.text.strip_suffix("⁻ᵀ") {
            return Math::atom(format!("{base}⁻¹"));
        }
        if let Some(base) = a.text.strip_suffix("⁻¹") {
            return Math::atom(format!("{base}⁻ᵀ"));
        }
        if let Some(base) = a.text.strip_suffix('ᵀ') {
            return Math::atom(base);
        }
    }
    postfix(a, "ᵀ")
}

/// `A⁻¹`, with (A⁻¹)⁻¹ = A and (Aᵀ)⁻¹ = A⁻ᵀ.
pub(super) fn inverse(a: &Math) -> Math {
    if a.prec == ATOM {
        if let Some(base) = a.text.strip_suffix("⁻¹") {
            return Math::atom(base);
        }
        if let Some(base) = a.text.strip_suffix("⁻ᵀ") {
            return Math::atom(format!("{base}ᵀ"));
        }
        if let Some(base) = a.text.strip_suffix('ᵀ') {
            return Math::atom(format!("{base}⁻ᵀ"));
        }
    }
    postfix(a, "⁻¹")
}

fn postfix(a: &Math, op: &str) -> Math {
    if ends_in_superscript(&a.text) {
        Math::atom(format!("({}){op}", a.text))
    } else {
        Math::atom(format!("{}{op}", a.at(ATOM)))
    }
}

pub(super) fn call(f: &str, a: &Math) -> Math {
    Math::atom(format!("{f}({})", a.text))
}

/// The factors `start..start + len` (cyclically) of a trace chain, as a product.
pub(super) fn factors(
    args: &[ValueId],
    transposed: &[bool],
    start: usize,
    len: usize,
    value: impl Fn(ValueId) -> Math,
) -> String {
    let k = args.len();
    (0..len)
        .map(|j| {
            let i = (start + j) % k;
            let f = value(args[i]);
            if transposed[i] {
                transpose(&f).at(PRODUCT)
            } else {
                f.at(PRODUCT)
            }
        })
        .collect::<Vec<_>>()
        .join("·")
}

/// An integer exponent (or size): a literal, or an expression of constants.
pub(super) enum Exponent {
    Literal(i64),
    Text(Math),
}

impl Exponent {
    pub(super) fn math(&self) -> Math {
        match self {
            Exponent::Literal(k) => number(&k.to_string()),
            Exponent::Text(m) => m.clone(),
        }
    }
}

/// `a²`, `a⁻¹`, `a^(N − 1)`.
pub(super) fn power(base: &Math, k: &Exponent) -> Math {
    let b = if ends_in_superscript(&base.text) || base.text.ends_with('ᵀ') {
        format!("({})", base.text)
    } else {
        base.at(ATOM)
    };
    match k {
        Exponent::Literal(1) => base.clone(),
        Exponent::Literal(k) => Math::atom(format!("{b}{}", superscript(*k))),
        Exponent::Text(m) if m.prec == ATOM && m.text.chars().all(is_name_char) => {
            Math::new(format!("{b}^{}", m.text), UNARY)
        }
        Exponent::Text(m) => Math::new(format!("{b}^({})", m.text), UNARY),
    }
}

pub(super) fn superscript(k: i64) -> String {
    k.to_string()
        .chars()
        .map(|c| match c {
            '-' => '⁻',
            d => "⁰¹²³⁴⁵⁶⁷⁸⁹"
                .chars()
                .nth(d.to_digit(10).map_or(0, |d| d as usize))
                .unwrap_or(d),
        })
        .collect()
}

/// A numeric literal as people write it: `2`, `0.5`, `−1`.
pub(super) fn number(s: &str) -> Math {
    let text = match parse_number(s) {
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{}", v as i64),
        Some(v) => format!("{v}"),
        None => s.to_string(),
    };
    match text.strip_prefix('-') {
        Some(rest) => Math::new(format!("−{rest}"), UNARY),
        None => Math::atom(text),
    }
}
