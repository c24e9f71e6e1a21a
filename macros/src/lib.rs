//! The `#[gradient]` attribute macro of matgrad.
//!
//! Users depend on the `matgrad` crate, which re-exports this macro together with the runtime the
//! generated code needs; this crate is an implementation detail. The pipeline lives in
//! [`expand`], one module per stage.

mod args;
mod ast;
mod ctxt;
mod derivation;
mod diff;
mod emit;
mod expand;
mod fallback;
mod fuse;
mod ir;
mod lower;
mod rules;
mod shape;
mod simplify;
mod text;
mod types;

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod programs;
#[cfg(test)]
mod tests;

use proc_macro::TokenStream;

/// Differentiates a scalar function of fixed-size nalgebra matrices at compile time.
///
/// See the `matgrad` crate for the contract and examples.
#[proc_macro_attribute]
pub fn gradient(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::gradient(args.into(), item.into()).into()
}
