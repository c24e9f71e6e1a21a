//! The arguments of `#[gradient(...)]`.
//!
//! `wrt(a, b, …)` selects and orders the differentiated parameters; `pullback = path` gives the
//! function a hand-written derivative instead of one derived from its body; `twice` gives it
//! the second derivatives a `#[hessian]` function calling it needs. Whether the names exist is checked later, against the signature, in `ast`.

use proc_macro2::TokenStream;
use syn::Ident;
use syn::parse::Parser;

use crate::ctxt::Ctxt;

/// Which attribute is being expanded: each adds its own companions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Attribute {
    /// `{name}_grad` (for a scalar function), `{name}_vjp`, `{name}_jvp`.
    #[default]
    Gradient,
    /// `{name}_jacobian`, `{name}_vjp`, `{name}_jvp`.
    Jacobian,
    /// `{name}_grad`, `{name}_hessian`, `{name}_hvp`, `{name}_vjp`, `{name}_jvp`.
    Hessian,
}

impl Attribute {
    pub fn name(self) -> &'static str {
        match self {
            Attribute::Gradient => "gradient",
            Attribute::Jacobian => "jacobian",
            Attribute::Hessian => "hessian",
        }
    }
}

/// What the attribute asked for.
#[derive(Default)]
pub struct Args {
    /// The attribute these are the arguments of.
    pub attribute: Attribute,
    /// `Some` when `wrt(...)` was given, with the names in the order written.
    pub wrt: Option<Vec<Ident>>,
    /// `wrt` and its names, for errors about the argument as a whole.
    pub wrt_tokens: TokenStream,
    /// `pullback = f`: a user function computing `(value, gradients)` from the parameters and
    /// a seed, used instead of differentiating the body.
    pub pullback: Option<syn::Path>,
    /// `twice`: also generate `{name}_vjp_jvp`, through which `#[hessian]` functions
    /// differentiate a call of this one twice (a `#[hessian]` function always has it).
    pub twice: bool,
}

/// Parses the attribute's tokens; errors are recorded in `cx` and the rest still parsed.
pub fn parse(cx: &Ctxt, attribute: Attribute, tokens: TokenStream) -> Args {
    let mut args = Args {
        attribute,
        ..Args::default()
    };
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("wrt") {
            if args.wrt.is_some() {
                return Err(meta.error("`wrt` is given twice"));
            }
            let mut names = Vec::new();
            meta.parse_nested_meta(|inner| {
                let name = inner.path.require_ident()?;
                if names.iter().any(|n: &Ident| n == name) {
                    return Err(inner.error(format!("`{name}` is named twice in `wrt`")));
                }
                names.push(name.clone());
                Ok(())
            })?;
            let path = &meta.path;
            args.wrt_tokens = quote::quote!(#path #(#names)*);
            args.wrt = Some(names);
            Ok(())
        } else if meta.path.is_ident("pullback") && attribute == Attribute::Gradient {
            if args.pullback.is_some() {
                return Err(meta.error("`pullback` is given twice"));
            }
            args.pullback = Some(meta.value()?.parse()?);
            Ok(())
        } else if meta.path.is_ident("twice") && attribute != Attribute::Hessian {
            if args.twice {
                return Err(meta.error("`twice` is given twice"));
            }
            args.twice = true;
            Ok(())
        } else {
            Err(meta.error(
                "unknown `#[gradient]` argument; the supported ones are `wrt(a, b, …)` naming the parameters to differentiate, \
                 `pullback = f` naming a hand-written derivative, and `twice` for the second derivatives a \
                 `#[hessian]` function calling this one needs",
            ))
        }
    });
    if let Err(error) = parser.parse2(tokens) {
        cx.push(error);
    }
    args
}
