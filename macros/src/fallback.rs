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
        let jvp_name = format_ident!("{}_jvp", func.name);
        let d_inputs: Vec<TokenStream> = crate::emit::float_params(func)
            .iter()
            .map(|&k| {
                let p = &func.params[k];
                let d = crate::emit::tangent_ident(&p.name);
                let ty = &p.ty;
                if p.by_ref { quote!(#d: &#ty) } else { quote!(#d: #ty) }
            })
            .collect();
        let jvp = quote! {
            #[allow(unused_variables, dead_code, clippy::all)]
            #vis fn #jvp_name #generics (#(#inputs,)* #(#d_inputs,)*) -> (#ret, #ret) #where_clause {
                ::core::unreachable!()
            }
        };
        let jacobian = (func.attribute == crate::args::Attribute::Jacobian).then(|| {
            let name = format_ident!("{}_jacobian", func.name);
            let m = crate::emit::entries_tokens(func.ret.shape());
            let js: Vec<TokenStream> = func
                .wrt
                .iter()
                .map(|&k| {
                    let n = crate::emit::entries_tokens(func.params[k].kind.shape());
                    quote!(::matgrad::__private::nalgebra::SMatrix<#float, #m, #n>)
                })
                .collect();
            let j = if js.len() == 1 { quote!(#(#js)*) } else { quote!((#(#js),*)) };
            quote! {
                #[allow(unused_variables, dead_code, clippy::all)]
                #vis fn #name #generics (#(#inputs),*) -> (#ret, #j) #where_clause {
                    ::core::unreachable!()
                }
            }
        });
        let grad = (matches!(func.ret, crate::types::Kind::Scalar(_))
            && func.attribute == crate::args::Attribute::Gradient)
            .then(|| {
            quote! {
                #[allow(unused_variables, dead_code, clippy::all)]
                #vis fn #name #generics (#(#inputs),*) -> (#float, #grad_ty) #where_clause {
                    ::core::unreachable!()
                }
            }
        });
        let vjp_jvp = crate::emit::refused_vjp_jvp(item, func, &format!("`{}` has the errors reported above", func.name));
        quote! {
            #grad
            #jacobian
            #jvp
            #vjp_jvp
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

/// The expansion of an attribute other than `#[gradient]`, with the messages of its errors
/// naming the attribute that was written: the stages share their messages, which say
/// `#[gradient]`. Each literal keeps its span, so every error still points where it did.
pub fn reword(tokens: TokenStream, attribute: &str) -> TokenStream {
    use proc_macro2::{Group, Literal, TokenTree};
    let written = format!("`#[{attribute}]`");
    tokens
        .into_iter()
        .map(|tree| match tree {
            TokenTree::Group(g) => {
                let mut group = Group::new(g.delimiter(), reword(g.stream(), attribute));
                group.set_span(g.span());
                TokenTree::Group(group)
            }
            TokenTree::Literal(lit) => {
                let text = lit.to_string();
                if text.starts_with('"') && text.contains("`#[gradient]`") {
                    let value: String = syn::parse_str::<syn::LitStr>(&text)
                        .map(|s| s.value())
                        .unwrap_or_default()
                        .replace("`#[gradient]`", &written);
                    let mut new = Literal::string(&value);
                    new.set_span(lit.span());
                    TokenTree::Literal(new)
                } else {
                    TokenTree::Literal(lit)
                }
            }
            other => other,
        })
        .collect()
}
