//! What is emitted when a stage reported errors.
//!
//! Every error at once; the original function with its signature unchanged, so calls to it
//! produce no second error; and, when the signature could be read, a `{name}_grad` stub with the
//! right signature so calls to the companion produce no "cannot find function" either. Both
//! bodies are `unreachable!()`: the compile fails on the errors anyway, and type-checking the
//! original body again would repeat a shape mistake as nalgebra trait noise.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::ast;

pub fn emit(item: &syn::ItemFn, func: Option<&ast::Func>, errors: &[syn::Error]) -> TokenStream {
    let errors = errors.iter().map(syn::Error::to_compile_error);
    let stub = func.map(|func| {
        let vis = &item.vis;
        let name = format_ident!("{}_grad", func.name);
        let inputs = crate::emit::signature_inputs(func);
        let float = format_ident!("{}", func.float.name());
        let (generics, where_clause) = crate::emit::generics(item, func);
        let tys: Vec<&syn::Type> = func.wrt.iter().map(|&k| &func.params[k].ty).collect();
        let grad_ty = if tys.len() == 1 {
            quote!(#(#tys)*)
        } else {
            quote!((#(#tys),*))
        };
        let vjp_name = format_ident!("{}_vjp", func.name);
        let ret = &func.ret_ty;
        let all: Vec<&syn::Type> = crate::emit::float_params(func).iter().map(|&k| &func.params[k].ty).collect();
        let grad = matches!(func.ret, crate::types::Kind::Scalar(_)).then(|| {
            quote! {
                #[allow(unused_variables, dead_code, clippy::all)]
                #vis fn #name #generics (#(#inputs),*) -> (#float, #grad_ty) #where_clause {
                    ::core::unreachable!()
                }
            }
        });
        quote! {
            #grad
            #[allow(unused_variables, dead_code, clippy::all)]
            #vis fn #vjp_name #generics (#(#inputs,)* __mg_seed: #ret) -> (#ret, (#(#all,)*)) #where_clause {
                ::core::unreachable!()
            }
        }
    });
    let (attrs, vis, sig) = (&item.attrs, &item.vis, &item.sig);
    quote! {
        #(#errors)*
        #(#attrs)*
        #[allow(unused_variables)]
        #vis #sig {
            ::core::unreachable!()
        }
        #stub
    }
}
