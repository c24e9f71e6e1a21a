//! Adjoint program → Rust.
//!
//! Writes `{name}_grad`: the forward pass as one `let` per live value (in program order), then the
//! reverse pass as one statement per contribution (the first contribution to an adjoint declares
//! it, later ones accumulate in place), then `(value, gradients)`. Everything is straight-line
//! nalgebra on stack matrices: no allocation, no `unsafe`. Locals are `__`-prefixed idents with
//! mixed-site hygiene, so they cannot collide with user names; operations carry the user's spans
//! so a residual type error lands on the user's expression. Runs after `diff`, last.
//!
//! Before: `g0 += v1ᵀ · g3`
//! After: `let __mg_g0: SMatrix<f64, 5, 1> = x.tr_mul(&__mg_g3);`

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};

use crate::ast;
use crate::diff::{self, AExpr, Adjoint, Step};
use crate::ir::{Dim, Op, Program, Shape, ValueId};
use crate::simplify;
use crate::types::Kind;

/// How generated code refers to a value.
#[derive(Clone)]
struct Operand {
    /// An expression usable as a method receiver or scalar operand: `__v3`, `x`, `(a * b)`.
    place: TokenStream,
    /// A `&`-expression for matrix arguments: `&__v3`, `x` for a `&`-parameter.
    borrow: TokenStream,
    /// Whether `place` is a freshly computed temporary, which operators may consume.
    temp: bool,
}

impl Operand {
    fn scalar(tokens: TokenStream) -> Self {
        Operand {
            place: tokens.clone(),
            borrow: tokens,
            temp: false,
        }
    }

    fn local(ident: &Ident, shape: Shape) -> Self {
        if shape.is_matrix() {
            Operand {
                place: quote!(#ident),
                borrow: quote!(&#ident),
                temp: false,
            }
        } else {
            Operand::scalar(quote!(#ident))
        }
    }

    #[allow(
        clippy::needless_pass_by_value,
        reason = "called with freshly quoted temporaries"
    )]
    fn temp(tokens: TokenStream) -> Self {
        Operand {
            place: quote!((#tokens)),
            borrow: quote!(&(#tokens)),
            temp: true,
        }
    }

    /// The operand of an arithmetic operator: temporaries by value, everything else by reference.
    fn arith(&self) -> &TokenStream {
        if self.temp { &self.place } else { &self.borrow }
    }
}

/// Emits one program: the function body or a `map` closure.
struct Emitter<'a> {
    prog: &'a Program,
    adj: Adjoint,
    float: &'a Ident,
    /// `""` for the function, `"m3_"` for the closure of the `map` node 3.
    prefix: String,
    /// How each parameter index is referred to.
    params: Vec<Operand>,
    /// A value the caller already has, with the name it has it under: the result of a `map`
    /// closure, which its derivative closure reads instead of recomputing.
    given: Option<(ValueId, Ident)>,
    /// Whether the forward pass computes only what the adjoint reads (a derivative closure),
    /// rather than every value the result depends on.
    adjoint_only: bool,
    /// Adjoints that are never stored, with the expression that stands for them.
    inline: Vec<Option<AExpr>>,
    /// The adjoint handed in for each result: `1.0` for a function's value.
    seeds: Vec<TokenStream>,
    /// Whether the float type is a type parameter, whose constants go through `convert`.
    generic: bool,
}

/// Generates `{name}_grad` for a checked function.
pub fn function(item: &syn::ItemFn, func: &ast::Func, prog: &Program) -> TokenStream {
    let float = Ident::new(&func.float.name(), Span::call_site());
    let params = func.params.iter().map(param_operand).collect();
    let adj = diff::differentiate(prog, &func.wrt);
    let inline = simplify::inlined(prog, &adj);
    let e = Emitter {
        prog,
        adj,
        float: &float,
        prefix: String::new(),
        params,
        given: None,
        adjoint_only: false,
        inline,
        seeds: Vec::new(),
        generic: func.float.is_generic(),
    };
    let e = Emitter {
        seeds: vec![e.lit(1.0)],
        ..e
    };
    let checks = e.helper_checks();
    let forward = e.forward();
    let reverse = e.reverse();
    let out = prog
        .output
        .expect("invariant: a checked program has an output");
    let value = e.operand(out).place;
    let grads: Vec<TokenStream> = func
        .wrt
        .iter()
        .map(|&k| match prog.param_node(k) {
            Some(node) if e.adj.nonzero[node] => e.adjoint_operand(node).place,
            _ => e.zeros(
                func.params[k]
                    .kind
                    .shape()
                    .expect("invariant: wrt names float parameters"),
            ),
        })
        .collect();
    let grad_tys: Vec<&syn::Type> = func.wrt.iter().map(|&k| &func.params[k].ty).collect();
    let (grad_ty, grad) = if grads.len() == 1 {
        (quote!(#(#grad_tys)*), quote!(#(#grads)*))
    } else {
        (quote!((#(#grad_tys),*)), quote!((#(#grads),*)))
    };
    let vis = &item.vis;
    let name = &func.name;
    let grad_name = format_ident!("{}_grad", name);
    let inputs = signature_inputs(func);
    let doc = doc(func, prog, &e.adj);
    let (generics, where_clause) = generics(item, func);
    quote! {
        #[doc = #doc]
        #[allow(unused_variables, clippy::all, clippy::pedantic)]
        #[must_use]
        #vis fn #grad_name #generics (#(#inputs),*) -> (#float, #grad_ty) #where_clause {
            #(#checks)*
            #(#forward)*
            #(#reverse)*
            (#value, #grad)
        }
    }
}

/// The float parameters, in order: what a `_vjp` differentiates.
pub fn float_params(func: &ast::Func) -> Vec<usize> {
    (0..func.params.len())
        .filter(|&k| func.params[k].kind.float().is_some())
        .collect()
}

/// The hygienic name of a `_vjp`'s seed parameter.
fn seed_ident() -> Ident {
    Ident::new("__mg_seed", Span::mixed_site())
}

/// The signature of `{name}_vjp`: the function's parameters and a seed of its result's type, to
/// `(value, (gradient of every float parameter, …))`.
fn vjp_signature(item: &syn::ItemFn, func: &ast::Func) -> TokenStream {
    let vis = &item.vis;
    let name = format_ident!("{}_vjp", func.name);
    let inputs = signature_inputs(func);
    let (generics, where_clause) = generics(item, func);
    let ret = &func.ret_ty;
    let tys: Vec<&syn::Type> = float_params(func)
        .iter()
        .map(|&k| &func.params[k].ty)
        .collect();
    let seed = seed_ident();
    let doc = format!(
        " The vector-Jacobian product of [`{0}`], generated by `#[gradient]`: its value, and the gradient \
         of ⟨seed, {0}(…)⟩ with respect to each float parameter, in order. Other `#[gradient]` \
         functions call it to differentiate through `{0}`.",
        func.name
    );
    quote! {
        #[doc = #doc]
        #[allow(unused_variables, clippy::all, clippy::pedantic)]
        #[must_use]
        #vis fn #name #generics (#(#inputs,)* #seed: #ret) -> (#ret, (#(#tys,)*)) #where_clause
    }
}

/// Generates `{name}_vjp` from the program: the adjoint program of every float parameter,
/// seeded with the caller's adjoint of the result.
pub fn vjp(item: &syn::ItemFn, func: &ast::Func, prog: &Program) -> TokenStream {
    let float = Ident::new(&func.float.name(), Span::call_site());
    let all = float_params(func);
    let adj = diff::differentiate(prog, &all);
    let inline = simplify::inlined(prog, &adj);
    let seed = seed_ident();
    let e = Emitter {
        prog,
        adj,
        float: &float,
        prefix: String::new(),
        params: func.params.iter().map(param_operand).collect(),
        given: None,
        adjoint_only: false,
        inline,
        seeds: vec![quote!(#seed)],
        generic: func.float.is_generic(),
    };
    let (checks, forward, reverse) = (e.helper_checks(), e.forward(), e.reverse());
    let out = prog
        .output
        .expect("invariant: a checked program has an output");
    let value = e.owned(out);
    let grads: Vec<TokenStream> = all
        .iter()
        .map(|&k| match prog.param_node(k) {
            Some(node) if e.adj.nonzero[node] => e.adjoint_operand(node).place,
            _ => e.zeros(
                func.params[k]
                    .kind
                    .shape()
                    .expect("invariant: float parameters have shapes"),
            ),
        })
        .collect();
    let signature = vjp_signature(item, func);
    quote! {
        #signature {
            #(#checks)*
            #(#forward)*
            #(#reverse)*
            (#value, (#(#grads,)*))
        }
    }
}

/// `pullback = f`: the companions call the user's `f(parameters…, seed)`, which returns
/// `(value, (gradient of every float parameter, …))`, instead of differentiating the body.
pub fn custom(item: &syn::ItemFn, func: &ast::Func, pullback: &syn::Path) -> TokenStream {
    let names: Vec<&Ident> = func.params.iter().map(|p| &p.name).collect();
    let seed = seed_ident();
    let signature = vjp_signature(item, func);
    let vjp = quote! {
        #signature {
            #pullback(#(#names,)* #seed)
        }
    };
    let Kind::Scalar(_) = func.ret else {
        return vjp;
    };
    let float = Ident::new(&func.float.name(), Span::call_site());
    let one = if func.float.is_generic() {
        quote!(::matgrad::__private::nalgebra::convert::<f64, #float>(1.0))
    } else {
        quote!(1.0)
    };
    let all = float_params(func);
    let picked: Vec<syn::Index> = func
        .wrt
        .iter()
        .map(|k| syn::Index::from(all.iter().position(|a| a == k).unwrap_or(0)))
        .collect();
    let tys: Vec<&syn::Type> = func.wrt.iter().map(|&k| &func.params[k].ty).collect();
    let (grad_ty, grad) = if picked.len() == 1 {
        (quote!(#(#tys)*), quote!(#(__mg_grads.#picked)*))
    } else {
        (quote!((#(#tys),*)), quote!((#(__mg_grads.#picked),*)))
    };
    let (vis, inputs) = (&item.vis, signature_inputs(func));
    let grad_name = format_ident!("{}_grad", func.name);
    let (generics, where_clause) = generics(item, func);
    let doc = format!(
        " Value and gradient of [`{}`], from its hand-written pullback `{}`.",
        func.name,
        crate::text::tokens(pullback)
    );
    quote! {
        #vjp
        #[doc = #doc]
        #[allow(unused_variables, clippy::all, clippy::pedantic)]
        #[must_use]
        #vis fn #grad_name #generics (#(#inputs),*) -> (#float, #grad_ty) #where_clause {
            let (__mg_value, __mg_grads) = #pullback(#(#names,)* #one);
            (__mg_value, #grad)
        }
    }
}

/// The generic parameters and where clause of the user's function, for `{name}_grad`. A type
/// parameter that is the float type must also be `Copy`: the generated code reuses values.
pub fn generics(item: &syn::ItemFn, func: &ast::Func) -> (TokenStream, TokenStream) {
    let generics = &item.sig.generics;
    let (params, _, where_clause) = generics.split_for_impl();
    let mut predicates: Vec<TokenStream> = where_clause
        .map(|w| w.predicates.iter().map(|p| quote!(#p)).collect())
        .unwrap_or_default();
    if func.float.is_generic() {
        let float = Ident::new(&func.float.name(), Span::call_site());
        predicates.push(quote!(#float: ::core::marker::Copy));
    }
    let where_clause = if predicates.is_empty() {
        TokenStream::new()
    } else {
        quote!(where #(#predicates),*)
    };
    (quote!(#params), where_clause)
}

/// The parameters as the user wrote them, minus `mut`.
pub fn signature_inputs(func: &ast::Func) -> Vec<TokenStream> {
    func.params
        .iter()
        .map(|p| {
            let (name, ty) = (&p.name, &p.ty);
            if p.by_ref {
                quote!(#name: &#ty)
            } else {
                quote!(#name: #ty)
            }
        })
        .collect()
}

fn doc(func: &ast::Func, prog: &Program, adj: &Adjoint) -> String {
    let names: Vec<String> = func
        .wrt
        .iter()
        .map(|&k| format!("`{}`", func.params[k].name))
        .collect();
    let params: Vec<(usize, String)> = func
        .wrt
        .iter()
        .map(|&k| (k, func.params[k].name.to_string()))
        .collect();
    let derivation = crate::derivation::derivation(prog, adj, &params);
    format!(
        " Value and gradient of [`{name}`] with respect to {}, generated by `#[gradient]`.\n\n \
         Returns `({name}(…), gradients)`. Each gradient has its parameter's shape, and its entry `(i, j)` \
         is the partial derivative of `{name}` with respect to entry `(i, j)` of that parameter.\n\n \
         # Derivation\n\n ```text\n{}\n ```",
        names.join(", "),
        derivation
            .iter()
            .map(|line| format!(" {line}"))
            .collect::<Vec<_>>()
            .join("\n"),
        name = func.name
    )
}

fn param_operand(p: &ast::Param) -> Operand {
    let name = &p.name;
    match (p.kind.shape(), p.by_ref) {
        (Some(Shape::Matrix(..)), true) => Operand {
            place: quote!(#name),
            borrow: quote!(#name),
            temp: false,
        },
        (Some(Shape::Matrix(..)), false) => Operand {
            place: quote!(#name),
            borrow: quote!(&#name),
            temp: false,
        },
        (_, true) => Operand::scalar(quote!((*#name))),
        (_, false) => Operand::scalar(quote!(#name)),
    }
}

impl Emitter<'_> {
    fn ident(&self, kind: &str, id: ValueId) -> Ident {
        Ident::new(
            &format!("__mg_{}{kind}{id}", self.prefix),
            Span::mixed_site(),
        )
    }

    fn value_ident(&self, id: ValueId) -> Ident {
        self.ident("v", id)
    }

    fn adj_ident(&self, id: ValueId) -> Ident {
        self.ident("g", id)
    }

    fn matrix_ty(&self, rows: Dim, cols: Dim) -> TokenStream {
        let float = self.float;
        let (rows, cols) = (rows.tokens(), cols.tokens());
        quote!(::matgrad::__private::nalgebra::SMatrix<#float, #rows, #cols>)
    }

    fn ty(&self, shape: Shape) -> TokenStream {
        match shape {
            Shape::Matrix(r, c) => self.matrix_ty(r, c),
            Shape::Bool => quote!(bool),
            _ => {
                let float = self.float;
                quote!(#float)
            }
        }
    }

    /// `SMatrix::<f64, R, C>` in expression position.
    fn matrix_path(&self, shape: Shape) -> TokenStream {
        let (r, c) = match shape {
            Shape::Matrix(r, c) => (r.tokens(), c.tokens()),
            _ => (quote!(1), quote!(1)),
        };
        let float = self.float;
        quote!(::matgrad::__private::nalgebra::SMatrix::<#float, #r, #c>)
    }

    /// For each way the body named `sigmoid` or `softplus`: a check that it is matgrad's, whose
    /// derivative the rules know. Two different functions are two different types, so a local
    /// function of the same name fails to compile here instead of being differentiated wrongly.
    fn helper_checks(&self) -> Vec<TokenStream> {
        let float = self.float;
        self.prog
            .helpers
            .iter()
            .map(|(path, f)| {
                let name = Ident::new(f.name(), Span::call_site());
                let span = path.clone().into_iter().next().map_or_else(Span::call_site, |t| t.span());
                quote_spanned!(span=> ::matgrad::__private::same_function(#path, ::matgrad::__private::#name::<#float>);)
            })
            .collect()
    }

    /// A float constant of the function's float type: `2.0`, or `convert::<f64, T>(2.0)` for a
    /// type parameter `T`, which no literal can name.
    fn lit(&self, value: f64) -> TokenStream {
        let lit = Literal::f64_unsuffixed(value);
        if self.generic {
            self.convert(&quote!(#lit))
        } else {
            quote!(#lit)
        }
    }

    fn convert(&self, value: &TokenStream) -> TokenStream {
        let float = self.float;
        quote!(::matgrad::__private::nalgebra::convert::<f64, #float>(#value))
    }

    fn zeros(&self, shape: Shape) -> TokenStream {
        if shape.is_matrix() {
            let path = self.matrix_path(shape);
            quote!(#path::zeros())
        } else {
            self.lit(0.0)
        }
    }

    fn operand(&self, id: ValueId) -> Operand {
        if let Some((given, name)) = &self.given
            && *given == id
        {
            return Operand::local(name, self.prog.shape(id));
        }
        match self.prog.nodes[id].op {
            Op::Param(k) => self.params[k].clone(),
            Op::Extract(k) => Operand::local(
                &self.result_ident(self.prog.nodes[id].args[0], k),
                self.prog.shape(id),
            ),
            _ => Operand::local(&self.value_ident(id), self.prog.shape(id)),
        }
    }

    /// Which values the forward pass computes: every live one, or in a derivative closure only
    /// those the adjoint reads (and what they need), less the value the caller gives.
    fn computed(&self) -> Vec<bool> {
        if !self.adjoint_only {
            return self.adj.live.clone();
        }
        let mut needed = vec![false; self.prog.nodes.len()];
        for step in &self.adj.steps {
            let (diff::Step::Add { expr, .. } | diff::Step::Share { expr, .. }) = step;
            expr.for_each_value(self.prog, &mut |v| needed[v] = true);
        }
        for id in (0..self.prog.nodes.len()).rev() {
            if self.given.as_ref().is_some_and(|(g, _)| *g == id) {
                needed[id] = false;
            } else if needed[id] {
                for &a in &self.prog.nodes[id].args {
                    needed[a] = true;
                }
            }
        }
        needed
    }

    /// Matrix products whose only use is a trace, which then reads them as `A.tr_dot(&B)`
    /// = tr(A·B) in n² operations instead of forming the n³ product. Such a product's own
    /// rule never reads its value, so nothing else needs it.
    fn traced_products(&self, computed: &[bool]) -> Vec<bool> {
        let n = self.prog.nodes.len();
        let mut uses = vec![0usize; n];
        for (id, node) in self.prog.nodes.iter().enumerate() {
            if computed[id] {
                node.args.iter().for_each(|&a| uses[a] += 1);
            }
        }
        if let Some(out) = self.prog.output {
            uses[out] += 1;
        }
        for step in &self.adj.steps {
            let (diff::Step::Add { expr, .. } | diff::Step::Share { expr, .. }) = step;
            expr.for_each_value(self.prog, &mut |v| uses[v] += 1);
        }
        let mut traced = vec![false; n];
        for (id, node) in self.prog.nodes.iter().enumerate() {
            if computed[id] && matches!(node.op, Op::Trace) {
                let m = node.args[0];
                let product = matches!(self.prog.nodes[m].op, Op::Mul)
                    && self.prog.nodes[m]
                        .args
                        .iter()
                        .all(|&a| self.prog.shape(a).is_matrix());
                traced[m] = product && uses[m] == 1;
            }
        }
        traced
    }

    /// The arguments of a call, as the user wrote them: values by `&` or by value, constants as
    /// they are.
    fn call_args(&self, id: ValueId, site: &crate::ir::CallSite) -> Vec<TokenStream> {
        let mut values = self.prog.nodes[id].args.iter();
        site.args
            .iter()
            .map(|arg| match arg {
                crate::ir::CallArg::Constant(tokens) => tokens.clone(),
                crate::ir::CallArg::Value { by_ref } => {
                    let v = *values
                        .next()
                        .expect("invariant: one node argument per value argument");
                    if *by_ref {
                        self.operand(v).borrow
                    } else {
                        self.owned(v)
                    }
                }
            })
            .collect()
    }

    /// The name of result `k` of the `if` node `branch`.
    fn result_ident(&self, branch: ValueId, k: usize) -> Ident {
        Ident::new(
            &format!("__mg_{}v{branch}_{k}", self.prefix),
            Span::mixed_site(),
        )
    }

    /// The emitter of one branch of the `if` node `id`, differentiated with respect to the
    /// captured values `wrt`.
    fn branch_emitter<'s>(
        &'s self,
        id: ValueId,
        sub: &'s Program,
        side: &str,
        wrt: &[usize],
    ) -> Emitter<'s> {
        let prefix = format!("{}b{id}{side}_", self.prefix);
        let params = self.prog.nodes[id].args[1..]
            .iter()
            .map(|&a| self.operand(a))
            .collect();
        self.child(sub, prefix, params, wrt)
    }

    /// An emitter for a program nested in this one (a branch or a `map` closure), naming its
    /// locals with `prefix` and its parameters with `params`.
    fn child<'s>(
        &'s self,
        sub: &'s Program,
        prefix: String,
        params: Vec<Operand>,
        wrt: &[usize],
    ) -> Emitter<'s> {
        let adj = diff::differentiate(sub, wrt);
        let inline = simplify::inlined(sub, &adj);
        Emitter {
            prog: sub,
            adj,
            float: self.float,
            prefix,
            params,
            given: None,
            adjoint_only: false,
            inline,
            seeds: Vec::new(),
            generic: self.generic,
        }
    }

    /// A result of a branch, by value: a matrix is copied out of wherever it lives.
    fn owned(&self, id: ValueId) -> TokenStream {
        let o = self.operand(id);
        if self.prog.shape(id).is_matrix() {
            let b = o.borrow;
            quote!((*#b))
        } else {
            o.place
        }
    }

    /// `let (r0, r1, …) = if c { …; (…) } else { …; (…) };`
    fn branch_forward(&self, id: ValueId, then: &Program, otherwise: &Program) -> TokenStream {
        let node = &self.prog.nodes[id];
        let cond = self.operand(node.args[0]).place;
        let names: Vec<Ident> = (0..then.outputs.len())
            .map(|k| self.result_ident(id, k))
            .collect();
        let tys: Vec<TokenStream> = then
            .outputs
            .iter()
            .map(|&o| self.ty(then.shape(o)))
            .collect();
        let side = |sub: &Program, label: &str| {
            let e = self.branch_emitter(id, sub, label, &[]);
            let stmts = e.forward();
            let results: Vec<TokenStream> = sub.outputs.iter().map(|&o| e.owned(o)).collect();
            quote!({ #(#stmts)* (#(#results,)*) })
        };
        let (t, o) = (side(then, "t"), side(otherwise, "e"));
        quote_spanned!(node.loc.start=> let (#(#names,)*): (#(#tys,)*) = if #cond #t else #o;)
    }

    /// The adjoints of the captured values `captures` of the `if` node `id`: the taken branch
    /// recomputes what its adjoint program reads, seeds its results with the adjoints of the
    /// `if`'s results, and hands back a tuple.
    fn branch_adjoint(&self, id: ValueId, captures: &[usize]) -> TokenStream {
        let node = &self.prog.nodes[id];
        let Op::Branch { then, otherwise } = &node.op else {
            return quote!(::core::compile_error!(
                "invariant: branch adjoint of a non-branch node"
            ));
        };
        let cond = self.operand(node.args[0]).place;
        // The adjoint of each result of the `if`, or zero where nothing reads it.
        let seeds: Vec<TokenStream> =
            then.outputs
                .iter()
                .enumerate()
                .map(|(k, &o)| {
                    let extract =
                        self.prog.nodes.iter().position(|n| {
                            matches!(n.op, Op::Extract(j) if j == k) && n.args == [id]
                        });
                    match extract {
                        Some(e) if self.adj.nonzero[e] => self.adjoint_operand(e).place,
                        _ => self.zeros(then.shape(o)),
                    }
                })
                .collect();
        let side = |sub: &Program, label: &str| {
            let mut e = self.branch_emitter(id, sub, label, captures);
            e.adjoint_only = true;
            e.seeds.clone_from(&seeds);
            let (forward, reverse) = (e.forward(), e.reverse());
            let grads: Vec<TokenStream> = captures
                .iter()
                .map(|&k| match sub.param_node(k) {
                    Some(p) if e.adj.nonzero[p] => e.adjoint_operand(p).place,
                    _ => self.zeros(self.prog.shape(node.args[k + 1])),
                })
                .collect();
            quote!({ #(#forward)* #(#reverse)* (#(#grads,)*) })
        };
        let (t, o) = (side(then, "t"), side(otherwise, "e"));
        quote!(if #cond #t else #o)
    }

    fn window_ident(&self, node: ValueId, w: crate::fuse::Window) -> Ident {
        // A window is named by the factors it spans; how it was split does not change its value.
        let name = format!("__mg_{}w{node}_{}_{}", self.prefix, w.start, w.len);
        Ident::new(&name, Span::mixed_site())
    }

    /// The forward pass of a trace chain: the planned windows, then tr(Fᵢ·Cᵢ) as a dot product.
    fn trace_chain(&self, id: ValueId, transposed: &[bool]) -> Vec<TokenStream> {
        let node = &self.prog.nodes[id];
        let k = node.args.len();
        let dims = crate::fuse::factor_shapes(self.prog, &node.args, transposed);
        let needed: Vec<bool> = node.args.iter().map(|&a| self.adj.active[a]).collect();
        let plan = crate::fuse::plan(&crate::fuse::estimates(&dims), &needed);
        // A part of a window: another window, or a single factor with its transpose flag.
        let part = |w: crate::fuse::Window| -> (Operand, bool) {
            if w.len == 1 {
                return (self.operand(node.args[w.start]), transposed[w.start]);
            }
            let ident = self.window_ident(id, w);
            (
                Operand {
                    place: quote!(#ident),
                    borrow: quote!(&#ident),
                    temp: false,
                },
                false,
            )
        };
        let mut out = Vec::new();
        for &w in &plan.windows {
            let ((l, lt), (r, rt)) = (part(w.left()), part(w.right(k)));
            let product = match (lt, rt) {
                // Lᵀ·Rᵀ = (R·L)ᵀ
                (true, true) => {
                    let (l, r) = (l.arith().clone(), r.arith().clone());
                    quote!((#r * #l).transpose())
                }
                (true, false) => {
                    let right = w.right(k);
                    let sizes = Self::rhs_sizes(Shape::Matrix(
                        dims[right.start].0,
                        dims[(right.start + right.len - 1) % k].1,
                    ));
                    let (l, r) = (l.place, r.borrow);
                    quote!(#l.tr_mul #sizes (#r))
                }
                (false, true) => {
                    let (l, r) = (l.arith().clone(), r.place);
                    quote!(#l * #r.transpose())
                }
                (false, false) => {
                    let (l, r) = (l.arith().clone(), r.arith().clone());
                    quote!(#l * #r)
                }
            };
            let ident = self.window_ident(id, w);
            let (r, c) = (dims[w.start].0, dims[(w.start + w.len - 1) % k].1);
            let ty = self.matrix_ty(r, c);
            out.push(quote_spanned!(node.loc.start=> let #ident: #ty = #product;));
        }
        let i = plan.value_at;
        let complement = plan.complements[i].expect("invariant: the value's complement is planned");
        let c = self.window_ident(id, complement);
        let f = self.operand(node.args[i]);
        let v = self.value_ident(id);
        let float = self.float;
        // tr(F·C) = ⟨Fᵀ, C⟩, and tr(Fᵀ·C) = ⟨F, C⟩.
        let value = if transposed[i] {
            let f = f.place;
            quote!(#f.dot(&#c))
        } else {
            let f = f.place;
            quote!(#f.tr_dot(&#c))
        };
        out.push(quote_spanned!(node.loc.start=> let #v: #float = #value;));
        out
    }

    /// Matrices (4×4 and up, where nalgebra inverts through an LU anyway) whose inverse and
    /// determinant are both computed: one factorisation serves both.
    fn factored(&self, computed: &[bool]) -> Vec<bool> {
        let of = |op: fn(&Op) -> bool, a: ValueId| {
            self.prog
                .nodes
                .iter()
                .enumerate()
                .any(|(v, n)| computed[v] && op(&n.op) && n.args == [a])
        };
        (0..self.prog.nodes.len())
            .map(|a| {
                matches!(self.prog.shape(a), Shape::Matrix(n, _) if n.value().is_none_or(|n| n >= 4))
                    && of(|op| matches!(op, Op::Inverse(_)), a)
                    && of(|op| matches!(op, Op::Determinant), a)
            })
            .collect()
    }

    /// One `let` per computed value, in program order.
    fn forward(&self) -> Vec<TokenStream> {
        let mut out = Vec::new();
        let computed = self.computed();
        let traced = self.traced_products(&computed);
        let factored = self.factored(&computed);
        let mut factors_emitted = vec![false; self.prog.nodes.len()];
        for (id, node) in self.prog.nodes.iter().enumerate() {
            if !computed[id] || traced[id] || matches!(node.op, Op::Param(_)) {
                continue;
            }
            if let Op::Extract(_) = node.op {
                continue;
            }
            if let Op::Branch { then, otherwise } = &node.op {
                out.push(self.branch_forward(id, then, otherwise));
                continue;
            }
            if let Op::TraceChain(transposed) = &node.op {
                out.extend(self.trace_chain(id, transposed));
                continue;
            }
            if matches!(node.op, Op::Inverse(_) | Op::Determinant) && factored[node.args[0]] {
                let a = node.args[0];
                let lu = self.ident("f", a);
                if !factors_emitted[a] {
                    factors_emitted[a] = true;
                    let m = self.operand(a).place;
                    out.push(quote_spanned!(node.loc.start=> let #lu = #m.lu();));
                }
                let (v, ty) = (self.value_ident(id), self.ty(node.shape));
                let value = match &node.op {
                    Op::Inverse(finish) => {
                        let finish = finish.tokens();
                        quote!(#lu.try_inverse()#finish)
                    }
                    _ => quote!(#lu.determinant()),
                };
                out.push(quote_spanned!(node.loc.start=> let #v: #ty = #value;));
                continue;
            }
            if let Op::Trace = node.op
                && traced[node.args[0]]
            {
                let v = self.value_ident(id);
                let float = self.float;
                let product = &self.prog.nodes[node.args[0]];
                let (a, b) = (
                    self.operand(product.args[0]).place,
                    self.operand(product.args[1]).borrow,
                );
                out.push(quote_spanned!(node.loc.start=> let #v: #float = #a.tr_dot(#b);));
                continue;
            }
            let v = self.value_ident(id);
            let ty = self.ty(node.shape);
            if let Op::Solve(finish) = &node.op {
                // The factors are kept for the adjoint, which solves with Aᵀ through them.
                let lu = self.ident("lu", id);
                let (a, b) = (
                    self.operand(node.args[0]).place,
                    self.operand(node.args[1]).borrow,
                );
                let sizes = Self::rhs_sizes(self.prog.shape(node.args[1]));
                let finish = finish.tokens();
                out.push(quote_spanned!(node.loc.start=> let #lu = #a.lu();));
                out.push(
                    quote_spanned!(node.loc.start=> let #v: #ty = #lu.solve #sizes (#b)#finish;),
                );
                continue;
            }
            let expr = self.forward_expr(id);
            out.push(quote_spanned!(node.loc.start=> let #v: #ty = #expr;));
        }
        out
    }

    #[allow(
        clippy::too_many_lines,
        reason = "one arm per operation, as in the rule table"
    )]
    fn forward_expr(&self, id: ValueId) -> TokenStream {
        let node = &self.prog.nodes[id];
        let span = node.loc.start;
        let arg = |k: usize| self.operand(node.args[k]);
        let shape = |k: usize| self.prog.shape(node.args[k]);
        match &node.op {
            Op::Param(_) => arg(0).place,
            Op::Const(tokens) => tokens.clone(),
            Op::Add | Op::Sub | Op::Mul | Op::Div => {
                let (a, b) = (arg(0), arg(1));
                let (a, b) = (a.arith(), b.arith());
                match node.op {
                    Op::Add => quote_spanned!(span=> #a + #b),
                    Op::Sub => quote_spanned!(span=> #a - #b),
                    Op::Div => quote_spanned!(span=> #a / #b),
                    // The matrix goes on the left so a float literal takes the matrix's scalar type.
                    _ if shape(0).is_scalar() && shape(1).is_matrix() => {
                        quote_spanned!(span=> #b * #a)
                    }
                    _ => quote_spanned!(span=> #a * #b),
                }
            }
            Op::Neg => {
                let a = arg(0);
                let a = a.arith();
                quote_spanned!(span=> -#a)
            }
            Op::Transpose | Op::Trace | Op::Sum | Op::Mean | Op::Norm | Op::NormSquared => {
                let method = Ident::new(method_name(&node.op), span);
                let a = arg(0).place;
                quote_spanned!(span=> #a.#method())
            }
            Op::Dot | Op::ComponentMul | Op::ComponentDiv => {
                let method = Ident::new(method_name(&node.op), span);
                let (a, b) = (arg(0).place, arg(1).borrow);
                quote_spanned!(span=> #a.#method(#b))
            }
            Op::Map(sub) => {
                let closure = self.sub_emitter(id, sub, &[]).forward_closure();
                let a = arg(0).place;
                quote_spanned!(span=> #a.map(#closure))
            }
            Op::Unary(f) => {
                let a = arg(0).place;
                let name = Ident::new(f.name(), span);
                if f.is_helper() {
                    quote_spanned!(span=> ::matgrad::__private::#name(#a))
                } else {
                    quote_spanned!(span=> #a.#name())
                }
            }
            Op::Powi(n) => {
                let a = arg(0).place;
                quote_spanned!(span=> #a.powi(#n))
            }
            Op::Powf => {
                let (a, p) = (arg(0).place, arg(1).place);
                quote_spanned!(span=> #a.powf(#p))
            }
            Op::Index(i, j) => {
                let a = arg(0).place;
                quote_spanned!(span=> #a[(#i, #j)])
            }
            Op::Inverse(finish) => {
                let a = arg(0).place;
                let finish = finish.tokens();
                quote_spanned!(span=> #a.try_inverse()#finish)
            }
            Op::Determinant => {
                let a = arg(0).place;
                quote_spanned!(span=> #a.determinant())
            }
            Op::Kronecker => {
                let (a, b) = (arg(0).place, arg(1).borrow);
                quote_spanned!(span=> #a.kronecker(#b))
            }
            Op::MatrixPower(k) => {
                let a = arg(0).place;
                quote_spanned!(span=> #a.pow(#k))
            }
            Op::Compare(c) => {
                let (a, b) = (arg(0).place, arg(1).place);
                let op: TokenStream = c
                    .symbol()
                    .parse()
                    .expect("invariant: a comparison operator");
                quote_spanned!(span=> #a #op #b)
            }
            Op::Not => {
                let a = arg(0).place;
                quote_spanned!(span=> !#a)
            }
            Op::And | Op::Or => {
                let (a, b) = (arg(0).place, arg(1).place);
                if matches!(node.op, Op::And) {
                    quote_spanned!(span=> #a && #b)
                } else {
                    quote_spanned!(span=> #a || #b)
                }
            }
            Op::BoolConst(t) => t.clone(),
            Op::Call(site) => {
                let path = &site.path;
                let args = self.call_args(id, site);
                quote_spanned!(span=> #path(#(#args),*))
            }
            // Emitted by `forward`: a solve keeps its factors, a trace chain its windows, an `if`
            // binds all its results at once.
            Op::Solve(_) | Op::TraceChain(_) | Op::Branch { .. } | Op::Extract(_) => quote!(
                ::core::compile_error!("invariant: solve is emitted with its factors")
            ),
        }
    }

    /// The reverse pass: every step of the adjoint program, seeds first.
    fn reverse(&self) -> Vec<TokenStream> {
        let mut stmts = Vec::new();
        let mut declared = vec![false; self.prog.nodes.len()];
        for step in &self.adj.steps {
            let (target, expr) = match step {
                Step::Add { target, expr } => (*target, expr),
                Step::Share { index, expr } => {
                    let t = self.ident("t", *index);
                    let value = self.expr(&self.prepare(expr)).place;
                    stmts.push(quote!(let #t = #value;));
                    continue;
                }
            };
            if self.inline[target].is_some() {
                continue;
            }
            let step_expr = &self.prepare(expr);
            let span = self.prog.nodes[target].loc.start;
            if declared[target] {
                stmts.push(self.accumulate(target, step_expr));
            } else {
                declared[target] = true;
                let g = self.adj_ident(target);
                let ty = self.ty(self.prog.shape(target));
                let value = self.first_value(step_expr);
                let mutability = (self.adj.count(target) > 1).then(|| quote!(mut));
                stmts.push(quote_spanned!(span=> let #mutability #g: #ty = #value;));
            }
        }
        stmts
    }

    /// A contribution as it is emitted: inlined adjoints expanded, then simplified.
    fn prepare(&self, e: &AExpr) -> AExpr {
        let e = simplify::simplify(self.prog, &self.adj, simplify::expand(e, &self.inline));
        // A leading sign or scale stays for the in-place update to absorb as its α.
        match e {
            AExpr::Neg(x) => AExpr::Neg(Box::new(self.sink_inner(*x))),
            AExpr::Scale(x, s) if matches!(*x, AExpr::MatMul(..)) => AExpr::Scale(x, s),
            other => simplify::sink(self.prog, &self.adj, other),
        }
    }

    fn sink_inner(&self, e: AExpr) -> AExpr {
        match e {
            AExpr::Scale(x, s) if matches!(*x, AExpr::MatMul(..)) => AExpr::Scale(x, s),
            other => simplify::sink(self.prog, &self.adj, other),
        }
    }

    /// The adjoint of `id`: its variable, or the expression it is inlined as.
    fn adjoint_operand(&self, id: ValueId) -> Operand {
        match &self.inline[id] {
            Some(e) => match simplify::sink(
                self.prog,
                &self.adj,
                simplify::simplify(self.prog, &self.adj, e.clone()),
            ) {
                AExpr::Adj(u) => Operand::local(&self.adj_ident(u), self.prog.shape(u)),
                other => Operand::temp(self.first_value(&other)),
            },
            None => Operand::local(&self.adj_ident(id), self.prog.shape(id)),
        }
    }

    /// The expression that declares an adjoint.
    fn first_value(&self, e: &AExpr) -> TokenStream {
        if let AExpr::OneHot(s, shape, i, j) = e {
            let path = self.matrix_path(*shape);
            let s = self.expr(s).place;
            return quote!({
                let mut __mg_m = #path::zeros();
                __mg_m[(#i, #j)] = #s;
                __mg_m
            });
        }
        self.expr(e).place
    }

    /// `g += e`, in the cheapest in-place form.
    fn accumulate(&self, target: ValueId, e: &AExpr) -> TokenStream {
        let g = self.adj_ident(target);
        if self.prog.shape(target).is_scalar() {
            return match e {
                AExpr::Neg(x) => {
                    let x = self.expr(x).place;
                    quote!(#g -= #x;)
                }
                _ => {
                    let x = self.expr(e).place;
                    quote!(#g += #x;)
                }
            };
        }
        if let Some(update) = self.update_with_product(&g, e) {
            return update;
        }
        match e {
            AExpr::Neg(x) => {
                let x = self.expr(x);
                let x = x.arith();
                quote!(#g -= #x;)
            }
            AExpr::OneHot(s, _, i, j) => {
                let s = self.expr(s).place;
                quote!(#g[(#i, #j)] += #s;)
            }
            AExpr::Fill(s, _) => {
                let s = self.expr(s).place;
                quote!(#g.add_scalar_mut(#s);)
            }
            AExpr::Diag(s, n) => {
                let s = self.expr(s).place;
                let n_tokens = n.tokens();
                quote!({
                    let __mg_s = #s;
                    for __mg_i in 0..#n_tokens {
                        #g[(__mg_i, __mg_i)] += __mg_s;
                    }
                })
            }
            _ => {
                let x = self.expr(e);
                let x = x.arith();
                quote!(#g += #x;)
            }
        }
    }

    /// `g += α·A·B` in place, with nalgebra's BLAS-style kernels: `ger` for an outer product,
    /// `gemm_tr` for Aᵀ·B, `gemm` otherwise. `None` when `e` is not a (signed, scaled) product.
    fn update_with_product(&self, g: &Ident, e: &AExpr) -> Option<TokenStream> {
        let (sign, e) = match e {
            AExpr::Neg(x) => (quote!(-), &**x),
            x => (TokenStream::new(), x),
        };
        let (product, alpha) = match e {
            AExpr::Scale(p, s) => (&**p, self.expr(s).place),
            p => (p, self.lit(1.0)),
        };
        let AExpr::MatMul(a, b) = product else {
            return None;
        };
        let vector = |x: &AExpr| {
            matches!(
                simplify::shape(self.prog, &self.adj, x),
                Shape::Matrix(_, Dim::Lit(1))
            )
        };
        Some(match (&**a, &**b) {
            (u, AExpr::Transpose(v)) if vector(u) && vector(v) => {
                let (u, v) = (self.expr(u).borrow, self.expr(v).borrow);
                {
                    let one = self.lit(1.0);
                    quote!(#g.ger(#sign #alpha, #u, #v, #one);)
                }
            }
            (AExpr::Transpose(at), b) => {
                let (at, b) = (self.expr(at).borrow, self.expr(b).borrow);
                {
                    let one = self.lit(1.0);
                    quote!(#g.gemm_tr(#sign #alpha, #at, #b, #one);)
                }
            }
            (a, b) => {
                let (a, b) = (self.expr(a).borrow, self.expr(b).borrow);
                {
                    let one = self.lit(1.0);
                    quote!(#g.gemm(#sign #alpha, #a, #b, #one);)
                }
            }
        })
    }

    #[allow(
        clippy::too_many_lines,
        reason = "one arm per kind of adjoint expression"
    )]
    fn expr(&self, e: &AExpr) -> Operand {
        let float = self.float;
        match e {
            AExpr::Adj(id) => Operand::local(&self.adj_ident(*id), self.prog.shape(*id)),
            AExpr::Val(id) => self.operand(*id),
            AExpr::Lit(s) => Operand::scalar(self.lit(s.parse().unwrap_or(f64::NAN))),
            AExpr::Cast(t) if self.generic => {
                let convert = self.convert(&quote!(((#t) as f64)));
                Operand::scalar(convert)
            }
            AExpr::Cast(t) => Operand::scalar(quote!(((#t) as #float))),
            AExpr::Neg(x) => {
                let x = self.expr(x);
                let x = x.arith();
                Operand::temp(quote!(-#x))
            }
            AExpr::Add(a, b) => self.binary(a, b, quote!(+)),
            AExpr::Sub(a, b) => self.binary(a, b, quote!(-)),
            AExpr::Mul(a, b) | AExpr::Scale(a, b) => self.binary(a, b, quote!(*)),
            AExpr::Div(a, b) | AExpr::DivBy(a, b) => self.binary(a, b, quote!(/)),
            AExpr::MatMul(a, b) => self.matmul(a, b),
            AExpr::Transpose(x) => {
                let x = self.expr(x).place;
                Operand::temp(quote!(#x.transpose()))
            }
            AExpr::Dot(a, b) => self.method2(a, b, "dot"),
            AExpr::ComponentMul(a, b) => self.method2(a, b, "component_mul"),
            AExpr::ComponentDiv(a, b) => self.method2(a, b, "component_div"),
            AExpr::Diag(s, n) => {
                let path = self.matrix_path(Shape::Matrix(*n, *n));
                let s = self.expr(s).place;
                Operand::temp(quote!(#path::from_diagonal_element(#s)))
            }
            AExpr::Fill(s, shape) => {
                let path = self.matrix_path(*shape);
                let s = self.expr(s).place;
                Operand::temp(quote!(#path::repeat(#s)))
            }
            AExpr::OneHot(..) => Operand::temp(self.first_value(e)),
            AExpr::Method(name, x) => {
                let name = Ident::new(name, Span::call_site());
                let x = self.expr(x).place;
                Operand::temp(quote!(#x.#name()))
            }
            AExpr::Helper(f, x) => {
                let name = Ident::new(f.name(), Span::call_site());
                let x = self.expr(x).place;
                Operand::temp(quote!(::matgrad::__private::#name(#x)))
            }
            AExpr::Powi(x, n) => {
                let x = self.expr(x).place;
                Operand::temp(quote!(#x.powi(#n)))
            }
            AExpr::Powf(x, p) => {
                let (x, p) = (self.expr(x).place, self.expr(p).place);
                Operand::temp(quote!(#x.powf(#p)))
            }
            AExpr::MapAdj { node, input } => Operand::temp(self.map_adjoint(*node, *input)),
            AExpr::Window { node, window } => {
                let w = self.window_ident(*node, *window);
                Operand {
                    place: quote!(#w),
                    borrow: quote!(&#w),
                    temp: false,
                }
            }
            AExpr::Seed(j) => match self.seeds.get(*j) {
                // A name or literal needs no parentheses.
                Some(seed) if seed.clone().into_iter().count() == 1 => Operand {
                    place: seed.clone(),
                    borrow: quote!(&#seed),
                    temp: false,
                },
                Some(seed) => Operand::temp(seed.clone()),
                None => Operand::temp(quote!(::core::compile_error!(
                    "invariant: a seed for every result"
                ))),
            },
            AExpr::CallAdjoint { node } => {
                let Op::Call(site) = &self.prog.nodes[*node].op else {
                    return Operand::temp(quote!(::core::compile_error!(
                        "invariant: a call adjoint of a call"
                    )));
                };
                let vjp = &site.vjp;
                let args = self.call_args(*node, site);
                let seed = self.adjoint_operand(*node).place;
                Operand::temp(quote!(#vjp(#(#args,)* #seed).1))
            }
            AExpr::BranchAdjoint { node, captures } => {
                Operand::temp(self.branch_adjoint(*node, captures))
            }
            AExpr::Field { tuple, index, .. } => {
                let t = self.ident("t", *tuple);
                let index = syn::Index::from(*index);
                Operand {
                    place: quote!(#t.#index),
                    borrow: quote!(&#t.#index),
                    temp: false,
                }
            }
            AExpr::Shared(k) => {
                let t = self.ident("t", *k);
                Operand {
                    place: quote!(#t),
                    borrow: quote!(&#t),
                    temp: false,
                }
            }
            AExpr::DeterminantGradient { matrix, det } => {
                let (a, det) = (self.operand(*matrix).borrow, self.operand(*det).place);
                Operand::temp(quote!(::matgrad::__private::determinant_gradient(#a, #det)))
            }
            AExpr::SolveTransposed { solve, rhs } => {
                let lu = self.ident("lu", *solve);
                let rhs = self.expr(rhs).borrow;
                Operand::temp(quote!(::matgrad::__private::lu_solve_transposed(&#lu, #rhs)))
            }
            AExpr::KroneckerAdjoint { node, left } => {
                Operand::temp(self.kronecker_adjoint(*node, *left))
            }
            AExpr::PowerAdjoint {
                base,
                adjoint,
                exponent,
            } => {
                let (a, g) = (self.operand(*base).borrow, self.expr(adjoint).borrow);
                Operand::temp(quote!(::matgrad::__private::power_adjoint(#a, #g, #exponent)))
            }
        }
    }

    /// `kronecker_adjoint_left::<T, RA, CA, RB, CB, RZ, CZ>(&Z̄, &B)` or the right one with `&A`,
    /// every size spelled out so nothing is left to inference.
    fn kronecker_adjoint(&self, node: ValueId, left: bool) -> TokenStream {
        let float = self.float;
        let args = &self.prog.nodes[node].args;
        // Kronecker products of const generic sizes are rejected by `shape`: these are literals.
        let dims = |v: ValueId| match self.prog.shape(v) {
            Shape::Matrix(r, c) => (r.estimate(), c.estimate()),
            _ => (1, 1),
        };
        let ((ra, ca), (rb, cb)) = (dims(args[0]), dims(args[1]));
        let sizes = [ra, ca, rb, cb, ra * rb, ca * cb].map(Literal::usize_unsuffixed);
        let g = self.adjoint_operand(node).borrow;
        let (name, other) = if left {
            ("kronecker_adjoint_left", self.operand(args[1]).borrow)
        } else {
            ("kronecker_adjoint_right", self.operand(args[0]).borrow)
        };
        let name = Ident::new(name, Span::call_site());
        quote!(::matgrad::__private::#name::<#float, #(#sizes),*>(#g, #other))
    }

    #[allow(
        clippy::needless_pass_by_value,
        reason = "called with a freshly quoted operator"
    )]
    fn binary(&self, a: &AExpr, b: &AExpr, op: TokenStream) -> Operand {
        let (a, b) = (self.expr(a), self.expr(b));
        let (a, b) = (a.arith(), b.arith());
        Operand::temp(quote!(#a #op #b))
    }

    fn method2(&self, a: &AExpr, b: &AExpr, name: &str) -> Operand {
        let name = Ident::new(name, Span::call_site());
        let (a, b) = (self.expr(a).place, self.expr(b).borrow);
        Operand::temp(quote!(#a.#name(#b)))
    }

    /// The right-hand side's sizes for `tr_mul` and `solve` when one is a const generic
    /// parameter: under a `DimMin` bound without `std`, rustc cannot infer them.
    fn rhs_sizes(shape: Shape) -> TokenStream {
        match shape {
            Shape::Matrix(r, c) if r.value().is_none() || c.value().is_none() => {
                let (r, c) = (r.tokens(), c.tokens());
                quote!(::<::matgrad::__private::nalgebra::Const<#r>, ::matgrad::__private::nalgebra::Const<#c>, _>)
            }
            _ => TokenStream::new(),
        }
    }

    /// `Aᵀ·B` as `A.tr_mul(&B)`, which reads A by columns instead of building its transpose.
    fn matmul(&self, a: &AExpr, b: &AExpr) -> Operand {
        if let AExpr::Transpose(at) = a {
            let sizes = Self::rhs_sizes(simplify::shape(self.prog, &self.adj, b));
            let (at, b) = (self.expr(at).place, self.expr(b).borrow);
            return Operand::temp(quote!(#at.tr_mul #sizes (#b)));
        }
        let (a, b) = (self.expr(a), self.expr(b));
        let (a, b) = (a.arith(), b.arith());
        Operand::temp(quote!(#a * #b))
    }

    /// The emitter of the closure of `map` node `id`, differentiated with respect to `wrt`.
    fn sub_emitter<'s>(&'s self, id: ValueId, sub: &'s Program, wrt: &[usize]) -> Emitter<'s> {
        let prefix = format!("{}m{id}_", self.prefix);
        let entry = Ident::new(&format!("__mg_{prefix}x"), Span::mixed_site());
        let mut params = vec![Operand::scalar(quote!(#entry))];
        params.extend(
            self.prog.nodes[id].args[1..]
                .iter()
                .map(|&a| self.operand(a)),
        );
        self.child(sub, prefix, params, wrt)
    }

    fn entry_ident(&self) -> &TokenStream {
        &self.params[0].place
    }

    /// `|x| f(x)` for the forward pass.
    fn forward_closure(&self) -> TokenStream {
        let float = self.float;
        let x = self.entry_ident();
        let stmts = self.forward();
        let out = self
            .operand(
                self.prog
                    .output
                    .expect("invariant: a checked closure has an output"),
            )
            .place;
        quote!(|#x: #float| -> #float { #(#stmts)* #out })
    }

    /// `Ā += Z̄∘f′∘(A)` (input 0) or `s̄ += Σ Z̄∘∂f/∂s` (a captured scalar), as a closure over entries.
    fn map_adjoint(&self, id: ValueId, input: usize) -> TokenStream {
        let Op::Map(sub) = &self.prog.nodes[id].op else {
            return quote!(::core::compile_error!(
                "invariant: map adjoint of a non-map node"
            ));
        };
        let float = self.float;
        let mut inner = self.sub_emitter(id, sub, &[input]);
        // The closure's result is the entry of the map's value: read it rather than recompute it
        // (σ′ = σ(1 − σ), exp′ = exp, tanh′ = 1 − tanh² need nothing else).
        let z = Ident::new(&format!("__mg_{}z", inner.prefix), Span::mixed_site());
        if let Some(out) = sub.output {
            inner.given = Some((out, z.clone()));
        }
        inner.adjoint_only = true;
        let x = inner.entry_ident().clone();
        let seed = Ident::new(&format!("__mg_{}zbar", inner.prefix), Span::mixed_site());
        let forward = inner.forward();
        inner.seeds = vec![quote!(#seed)];
        let reverse = inner.reverse();
        let grad = match sub.param_node(input) {
            Some(p) if inner.adj.nonzero[p] => {
                let g = inner.adj_ident(p);
                quote!(#g)
            }
            _ => self.lit(0.0),
        };
        let a = self.operand(self.prog.nodes[id].args[0]).borrow;
        let value = self.operand(id).borrow;
        // An adjoint s·𝟙 (the map feeds a sum) seeds every entry with the same scalar.
        let uniform = match self.inline[id]
            .as_ref()
            .map(|e| simplify::simplify(self.prog, &self.adj, e.clone()))
        {
            Some(AExpr::Fill(s, _)) => Some(self.expr(&s).place),
            _ => None,
        };
        // Derivatives that need only the result (exp, tanh, σ) do not read the entries.
        let uses_entry = sub.param_node(0).is_some_and(|p| inner.computed()[p]);
        let body = quote!(#(#forward)* #(#reverse)* #grad);
        let mapped = match (uniform, uses_entry) {
            (Some(s), true) => {
                let a = self.operand(self.prog.nodes[id].args[0]).place;
                quote!(#a.zip_map(#value, |#x: #float, #z: #float| -> #float { let #seed: #float = #s; #body }))
            }
            (Some(s), false) => {
                let value = self.operand(id).place;
                quote!(#value.map(|#z: #float| -> #float { let #seed: #float = #s; #body }))
            }
            (None, true) => {
                let g = self.adjoint_operand(id).place;
                quote!(#g.zip_zip_map(#a, #value, |#seed: #float, #x: #float, #z: #float| -> #float { #body }))
            }
            (None, false) => {
                let g = self.adjoint_operand(id).place;
                quote!(#g.zip_map(#value, |#seed: #float, #z: #float| -> #float { #body }))
            }
        };
        if input == 0 {
            mapped
        } else {
            quote!(#mapped.sum())
        }
    }
}

fn method_name(op: &Op) -> &'static str {
    match op {
        Op::Transpose => "transpose",
        Op::Trace => "trace",
        Op::Sum => "sum",
        Op::Mean => "mean",
        Op::Norm => "norm",
        Op::NormSquared => "norm_squared",
        Op::Dot => "dot",
        Op::ComponentMul => "component_mul",
        Op::ComponentDiv => "component_div",
        _ => "unknown",
    }
}
