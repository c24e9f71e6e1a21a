//! An error collector shared by every stage.
//!
//! Stages that can keep going after a mistake record it here instead of returning early, so the
//! user sees every error of one compile at once. [`Ctxt::finish`] hands the errors over; the
//! expansion then falls back to emitting the original function with them.

use std::cell::RefCell;
use std::fmt::Display;

use quote::ToTokens;

/// Collects the errors of one expansion.
#[derive(Default)]
pub struct Ctxt {
    errors: RefCell<Vec<syn::Error>>,
}

impl Ctxt {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records an error spanning all of `tokens` (first to last token).
    pub fn error_spanned_by<T: ToTokens, M: Display>(&self, tokens: T, message: M) {
        self.push(syn::Error::new_spanned(tokens.into_token_stream(), message));
    }

    pub fn push(&self, error: syn::Error) {
        self.errors.borrow_mut().push(error);
    }

    /// How many errors were recorded so far.
    pub fn count(&self) -> usize {
        self.errors.borrow().len()
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.borrow().is_empty()
    }

    /// Takes every recorded error, in the order they were found.
    pub fn finish(self) -> Vec<syn::Error> {
        self.errors.into_inner()
    }
}
