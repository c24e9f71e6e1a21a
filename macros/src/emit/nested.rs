//! Emission of what nests or fuses: branches of an `if`, `map` closures and their derivative
//! closures, calls of other functions through their `_vjp`, trace chains, and Kronecker
//! adjoints. Part of `emit`.

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{quote, quote_spanned};

use super::{Emitter, Operand};
use crate::adjoint::AExpr;
use crate::ir::{Op, Shape, ValueId};
use crate::plan::{Plan, Role};
use crate::simplify;

/// How the backward run of a loop kept as a loop hands back the adjoints (or their tangents) of
/// `captures`: the captures it does not carry, whose per-iteration parts it sums into `acc`;
/// the statements that add one iteration's parts (`__mg_part`); and each capture's result,
/// `carried.k` for the k-th carried parameter, else its entry of `acc`.
pub(super) fn summed_captures(
    range: &crate::ir::Range,
    captures: &[usize],
    carried: &Ident,
    acc: &Ident,
) -> (Vec<usize>, Vec<TokenStream>, Vec<TokenStream>) {
    let others: Vec<usize> = captures
        .iter()
        .copied()
        .filter(|c| !range.carried.contains(c))
        .collect();
    let sums = (0..others.len())
        .map(|c| {
            let c = syn::Index::from(c);
            quote!(#acc.#c = #acc.#c + __mg_part.#c;)
        })
        .collect();
    let results = captures
        .iter()
        .map(|c| {
            if let Some(k) = range.carried.iter().position(|p| p == c) {
                let k = syn::Index::from(k);
                quote!(#carried.#k)
            } else {
                let j = syn::Index::from(others.iter().position(|o| o == c).unwrap_or(0));
                quote!(#acc.#j)
            }
        })
        .collect();
    (others, sums, results)
}

impl Emitter<'_> {
    /// The arguments of a call, as the user wrote them: values by `&` or by value, constants as
    /// they are.
    pub(super) fn call_args(&self, id: ValueId, site: &crate::ir::CallSite) -> Vec<TokenStream> {
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
    pub(super) fn result_ident(&self, branch: ValueId, k: usize) -> Ident {
        Ident::new(
            &format!("__mg_{}v{branch}_{k}", self.prefix),
            Span::mixed_site(),
        )
    }

    /// The emitter of one branch of the `if` node `id`, as planned for `role`.
    pub(super) fn branch_emitter(&self, id: ValueId, role: Role) -> Emitter<'_> {
        let side = match role {
            Role::BranchForward(true) | Role::BranchAdjoint(true) | Role::BranchTangent(true) => {
                "t"
            }
            Role::MapForward
            | Role::MapAdjoint(_)
            | Role::MapPartials
            | Role::BranchForward(false)
            | Role::BranchAdjoint(false)
            | Role::BranchTangent(false) => "e",
        };
        let prefix = format!("{}b{id}{side}_", self.prefix);
        let params = self.prog.nodes[id].args[1..]
            .iter()
            .map(|&a| self.operand(a))
            .collect();
        self.child(self.plan.child(id, role), prefix, params)
    }

    /// An emitter for a body nested in this one (a branch or a `map` closure), naming its
    /// locals with `prefix` and its parameters with `params`.
    pub(super) fn child<'s>(
        &'s self,
        plan: &'s Plan<'s>,
        prefix: String,
        params: Vec<Operand>,
    ) -> Emitter<'s> {
        Emitter {
            plan,
            prog: plan.prog,
            float: self.float,
            prefix,
            params,
            tangents: Vec::new(),
            given: None,
            seeds: Vec::new(),
            generic: self.generic,
            explicit_sizes: self.explicit_sizes,
            sweep: None,
            tape_tangents: self.tape_tangents,
        }
    }

    /// A result of a branch, by value: a matrix is copied out of wherever it lives.
    pub(super) fn owned(&self, id: ValueId) -> TokenStream {
        let o = self.operand(id);
        if self.prog.shape(id).is_matrix() {
            let b = o.borrow;
            quote!((*#b))
        } else {
            o.place
        }
    }

    /// `let (r0, r1, …) = if c { …; (…) } else { …; (…) };`
    pub(super) fn branch_forward(&self, id: ValueId) -> TokenStream {
        let node = &self.prog.nodes[id];
        let Op::Branch { then, .. } = &node.op else {
            return quote!(::core::compile_error!("invariant: a planned branch"));
        };
        let cond = self.operand(node.args[0]).place;
        let names: Vec<Ident> = (0..then.outputs.len())
            .map(|k| self.result_ident(id, k))
            .collect();
        let tys: Vec<TokenStream> = then
            .outputs
            .iter()
            .map(|&o| self.ty(then.shape(o)))
            .collect();
        let side = |then: bool| {
            let e = self.branch_emitter(id, Role::BranchForward(then));
            let stmts = e.forward();
            let results: Vec<TokenStream> = e.prog.outputs.iter().map(|&o| e.owned(o)).collect();
            quote!({ #(#stmts)* (#(#results,)*) })
        };
        if let Some(range) = self.range(id) {
            return self.range_forward(id, range);
        }
        if self.over(id).is_some()
            && let Some(accumulators) = self.loop_accumulators(id)
        {
            return self.loop_forward(id, &accumulators);
        }
        let value = match self.over(id) {
            Some(over) => {
                let shapes: Vec<Shape> = then.outputs.iter().map(|&o| then.shape(o)).collect();
                self.data_sum(over, &shapes, &side(true))
            }
            None => {
                let (t, o) = (side(true), side(false));
                quote!(if #cond #t else #o)
            }
        };
        quote_spanned!(node.loc.start=> let (#(#names,)*): (#(#tys,)*) = #value;)
    }

    /// The variables the loop over data `id` adds to, as the `Accumulate` nodes (that the
    /// forward pass computes) that add its results to them, when every result is a term of one
    /// of them, as `lower` builds loops.
    pub(super) fn loop_accumulators(&self, id: ValueId) -> Option<Vec<ValueId>> {
        let Op::Branch { then, .. } = &self.prog.nodes[id].op else {
            return None;
        };
        let ours = |t: ValueId| {
            let n = &self.prog.nodes[t];
            match n.op {
                Op::Extract(k) if n.args == [id] => Some(k),
                Op::Param(..)
                | Op::Const(..)
                | Op::Add
                | Op::Sub
                | Op::Mul
                | Op::Div
                | Op::Neg
                | Op::Transpose
                | Op::Trace
                | Op::Sum
                | Op::Mean
                | Op::Dot
                | Op::Norm
                | Op::NormSquared
                | Op::ComponentMul
                | Op::ComponentDiv
                | Op::Map(..)
                | Op::Unary(..)
                | Op::Powi(..)
                | Op::Powf
                | Op::Max
                | Op::Min
                | Op::Index(..)
                | Op::IndexAt(..)
                | Op::Field(..)
                | Op::SetEntry(..)
                | Op::View { .. }
                | Op::SetView { .. }
                | Op::Extremum(..)
                | Op::DiagonalOf
                | Op::Cross
                | Op::Cholesky(..)
                | Op::TriSolve { .. }
                | Op::IdentityOf
                | Op::DiagonalProduct
                | Op::Inverse(..)
                | Op::Determinant
                | Op::Solve(..)
                | Op::Kronecker
                | Op::Build { .. }
                | Op::MatrixPower(..)
                | Op::TraceChain(..)
                | Op::Compare(..)
                | Op::Not
                | Op::And
                | Op::Or
                | Op::BoolConst(..)
                | Op::Branch { .. }
                | Op::Extract(..)
                | Op::Accumulate(..)
                | Op::Call(..) => None,
            }
        };
        let mut covered = vec![false; then.outputs.len()];
        let mut out = Vec::new();
        for (a, node) in self.prog.nodes.iter().enumerate() {
            if !matches!(node.op, Op::Accumulate(_)) {
                continue;
            }
            let terms: Vec<Option<usize>> = node.args[1..].iter().map(|&t| ours(t)).collect();
            if terms.iter().all(Option::is_none) {
                continue;
            }
            for k in terms {
                match k.and_then(|k| covered.get_mut(k)) {
                    Some(seen) if !*seen => *seen = true,
                    _ => return None,
                }
            }
            if self.plan.computed[a] {
                out.push(a);
            }
        }
        covered.iter().all(|&c| c).then_some(out)
    }

    /// The total the loop over data computes for the `Accumulate` node `id`, when one does.
    pub(super) fn loop_total(&self, id: ValueId) -> Option<Ident> {
        let &first = self.prog.nodes[id].args.get(1)?;
        let Op::Extract(_) = self.prog.nodes[first].op else {
            return None;
        };
        let branch = self.prog.nodes[first].args[0];
        let k = self
            .loop_accumulators(branch)?
            .iter()
            .position(|&a| a == id)?;
        Some(self.total_ident(branch, k))
    }

    fn total_ident(&self, branch: ValueId, k: usize) -> Ident {
        Ident::new(
            &format!("__mg_{}v{branch}_total{k}", self.prefix),
            Span::mixed_site(),
        )
    }

    /// The forward pass of the loop over data `id` whose results all add to variables: each
    /// variable starts from its value before the loop, and every sample adds its terms to it one
    /// by one, in the order of the function, so the totals are the function's to the last bit.
    fn loop_forward(&self, id: ValueId, accumulators: &[ValueId]) -> TokenStream {
        let node = &self.prog.nodes[id];
        let sum = Ident::new("__mg_sum", Span::mixed_site());
        let one = Ident::new("__mg_one", Span::mixed_site());
        let names: Vec<Ident> = (0..accumulators.len())
            .map(|k| self.total_ident(id, k))
            .collect();
        let tys: Vec<TokenStream> = accumulators
            .iter()
            .map(|&a| self.ty(self.prog.shape(a)))
            .collect();
        let starts: Vec<TokenStream> = accumulators
            .iter()
            .map(|&a| self.owned(self.prog.nodes[a].args[0]))
            .collect();
        let terms = self.loop_terms(accumulators);
        let mut adds = Vec::new();
        for (k, terms) in terms.iter().enumerate() {
            let k = syn::Index::from(k);
            for &(j, minus) in terms {
                let j = syn::Index::from(j);
                adds.push(if minus {
                    quote!(#sum.#k = #sum.#k - #one.#j;)
                } else {
                    quote!(#sum.#k = #sum.#k + #one.#j;)
                });
            }
        }
        let over = self.over(id).expect("invariant: a loop over data");
        let (pattern, iter) = (over.pattern(), over.iterator());
        // One sample: its terms (`one`), and where the loop is fused the gradients it adds.
        let (declarations, sample, sums) = match self.fused(id) {
            Some(captures) => self.fused_sample(id, &captures, &terms, &one),
            None => {
                let e = self.branch_emitter(id, Role::BranchForward(true));
                let stmts = e.forward();
                let results: Vec<TokenStream> =
                    e.prog.outputs.iter().map(|&o| e.owned(o)).collect();
                let sample = quote!(let #one = { #(#stmts)* (#(#results,)*) };);
                (Vec::new(), sample, Vec::new())
            }
        };
        quote_spanned!(node.loc.start=>
            #(#declarations)*
            let (#(#names,)*): (#(#tys,)*) = {
                let mut #sum = (#(#starts,)*);
                for #pattern in #iter {
                    #sample
                    #(#adds)*
                    #(#sums)*
                }
                #sum
            };
        )
    }

    /// Whether the forward pass of the loop over data `id` also sums, sample by sample, the
    /// gradients the reverse pass asks of it, so that the reverse pass runs no loop of its own:
    /// when every variable it adds to is a scalar (at most two of them), the adjoint of the
    /// loop is Σₖ z̄ₖ·Gₖ, with Gₖ the sum over the samples of the gradient of what a sample adds
    /// to variable k, which does not depend on z̄. Returns the captures whose gradients the
    /// reverse pass asks for.
    pub(super) fn fused(&self, id: ValueId) -> Option<Vec<usize>> {
        let Op::Branch {
            then,
            over: Some(_),
            ..
        } = &self.prog.nodes[id].op
        else {
            return None;
        };
        let accumulators = self.loop_accumulators(id)?;
        let scalars = then.outputs.iter().all(|&o| then.shape(o).is_scalar());
        let adjoint = self.plan.children.get(&(id, Role::BranchAdjoint(true)))?;
        (scalars && (1..=2).contains(&accumulators.len())).then(|| adjoint.config.wrt.clone())
    }

    /// The sum over the samples of the gradient of what the loop over data `id` adds to
    /// variable `k`, for capture number `c` (of those [`Self::fused`] lists).
    fn fused_ident(&self, id: ValueId, k: usize, c: usize) -> Ident {
        Ident::new(
            &format!("__mg_{}v{id}_g{k}_{c}", self.prefix),
            Span::mixed_site(),
        )
    }

    /// One sample of a fused loop over data (see [`Self::fused`]): its terms bound to `one`, and
    /// for each variable the gradient of what the sample adds to it, from one forward and one
    /// reverse pass of the body per variable; with the declarations of the gradients' sums and
    /// the statements adding the sample's to them.
    fn fused_sample(
        &self,
        id: ValueId,
        captures: &[usize],
        terms: &[Vec<(usize, bool)>],
        one: &Ident,
    ) -> (Vec<TokenStream>, TokenStream, Vec<TokenStream>) {
        let node = &self.prog.nodes[id];
        let Op::Branch { then, .. } = &node.op else {
            let invariant = quote!(::core::compile_error!("invariant: a loop over data"););
            return (Vec::new(), invariant, Vec::new());
        };
        let plan = Plan::new(
            then,
            crate::plan::Config {
                wrt: captures.to_vec(),
                ..crate::plan::Config::default()
            },
        );
        let params = node.args[1..].iter().map(|&a| self.operand(a)).collect();
        let mut e = self.child(&plan, format!("{}b{id}f_", self.prefix), params);
        let stmts = e.forward();
        let results: Vec<TokenStream> = e.prog.outputs.iter().map(|&o| e.owned(o)).collect();
        let capture_shape = |c: usize| self.prog.shape(node.args[captures[c] + 1]);
        let (mut declarations, mut blocks, mut sums) = (Vec::new(), Vec::new(), Vec::new());
        let grads = Ident::new("__mg_grads", Span::mixed_site());
        for (k, signs) in terms.iter().enumerate() {
            // Seeded with ±1 on the terms of variable k, 0 on the others.
            e.seeds = (0..then.outputs.len())
                .map(|j| match signs.iter().find(|(t, _)| *t == j) {
                    Some((_, true)) => self.lit(-1.0),
                    Some((_, false)) => self.lit(1.0),
                    None => self.lit(0.0),
                })
                .collect();
            let reverse = e.reverse();
            // Only the captures the body's adjoint reaches: the others' sums stay zero.
            let mut gradient = Vec::new();
            let kk = syn::Index::from(k);
            for (c, &p) in captures.iter().enumerate() {
                let g = self.fused_ident(id, k, c);
                let ty = self.ty(capture_shape(c));
                let zero = self.zeros(capture_shape(c));
                if let Some(n) = e.prog.param_node(p).filter(|&n| e.plan.adj.nonzero[n]) {
                    let cc = syn::Index::from(gradient.len());
                    gradient.push(e.adjoint_operand(n).place);
                    declarations.push(quote!(let mut #g: #ty = #zero;));
                    sums.push(quote!(#g = #g + #grads.#kk.#cc;));
                } else {
                    declarations.push(quote!(let #g: #ty = #zero;));
                }
            }
            blocks.push(quote!({ #(#reverse)* (#(#gradient,)*) }));
        }
        let sample = quote!(let (#one, #grads) = {
            #(#stmts)*
            ((#(#results,)*), (#(#blocks,)*))
        };);
        (declarations, sample, sums)
    }

    /// For each variable a loop over data adds to (its `Accumulate` node), the loop's results
    /// that are its terms, each with whether it is subtracted.
    fn loop_terms(&self, accumulators: &[ValueId]) -> Vec<Vec<(usize, bool)>> {
        accumulators
            .iter()
            .map(|&a| {
                let Op::Accumulate(minus) = &self.prog.nodes[a].op else {
                    return Vec::new();
                };
                self.prog.nodes[a].args[1..]
                    .iter()
                    .zip(minus)
                    .filter_map(|(&t, &m)| match self.prog.nodes[t].op {
                        Op::Extract(j) => Some((j, m)),
                        Op::Param(..)
                        | Op::Const(..)
                        | Op::Add
                        | Op::Sub
                        | Op::Mul
                        | Op::Div
                        | Op::Neg
                        | Op::Transpose
                        | Op::Trace
                        | Op::Sum
                        | Op::Mean
                        | Op::Dot
                        | Op::Norm
                        | Op::NormSquared
                        | Op::ComponentMul
                        | Op::ComponentDiv
                        | Op::Map(..)
                        | Op::Unary(..)
                        | Op::Powi(..)
                        | Op::Powf
                        | Op::Max
                        | Op::Min
                        | Op::Index(..)
                        | Op::IndexAt(..)
                        | Op::Field(..)
                        | Op::SetEntry(..)
                        | Op::View { .. }
                        | Op::SetView { .. }
                        | Op::Extremum(..)
                        | Op::DiagonalOf
                        | Op::Cross
                        | Op::Cholesky(..)
                        | Op::TriSolve { .. }
                        | Op::IdentityOf
                        | Op::DiagonalProduct
                        | Op::Inverse(..)
                        | Op::Determinant
                        | Op::Solve(..)
                        | Op::Kronecker
                        | Op::Build { .. }
                        | Op::MatrixPower(..)
                        | Op::TraceChain(..)
                        | Op::Compare(..)
                        | Op::Not
                        | Op::And
                        | Op::Or
                        | Op::BoolConst(..)
                        | Op::Branch { .. }
                        | Op::Accumulate(..)
                        | Op::Call(..) => None,
                    })
                    .collect()
            })
            .collect()
    }

    /// The adjoint of a fused loop over data: Σₖ z̄ₖ·Gₖ for each capture asked for, z̄ₖ read
    /// from the seed of the first term of variable k (each of its terms is seeded ±z̄ₖ).
    fn fused_adjoint(
        &self,
        id: ValueId,
        fused: &[usize],
        captures: &[usize],
        seeds: &[TokenStream],
    ) -> TokenStream {
        let Some(accumulators) = self.loop_accumulators(id) else {
            return quote!(::core::compile_error!(
                "invariant: a fused loop adds to variables"
            ));
        };
        let terms = self.loop_terms(&accumulators);
        let grads: Vec<TokenStream> = captures
            .iter()
            .map(|p| {
                let Some(c) = fused.iter().position(|f| f == p) else {
                    return quote!(::core::compile_error!("invariant: a fused capture"));
                };
                let parts: Vec<TokenStream> = terms
                    .iter()
                    .enumerate()
                    .filter_map(|(k, signs)| {
                        let &(j, minus) = signs.first()?;
                        let seed = &seeds[j];
                        let z = if minus {
                            quote!((-(#seed)))
                        } else {
                            quote!((#seed))
                        };
                        let g = self.fused_ident(id, k, c);
                        Some(quote!((#g * #z)))
                    })
                    .collect();
                quote!((#(#parts)+*))
            })
            .collect();
        quote!((#(#grads,)*))
    }

    /// The counted loop kept as a loop that the node `id` is, if it is one.
    pub(super) fn range(&self, id: ValueId) -> Option<&crate::ir::Range> {
        self.over(id)?.range.as_ref()
    }

    /// The emitter of one iteration of the loop `id`, as planned for `role`, its carried
    /// parameters read from `carried` (one operand per result) and the others from outside.
    fn iteration_emitter(
        &self,
        id: ValueId,
        role: Role,
        range: &crate::ir::Range,
        carried: &[Operand],
    ) -> Emitter<'_> {
        let prefix = format!("{}b{id}t_", self.prefix);
        let mut params: Vec<Operand> = self.prog.nodes[id].args[1..]
            .iter()
            .map(|&a| self.operand(a))
            .collect();
        for (k, &p) in range.carried.iter().enumerate() {
            params[p] = carried[k].clone();
        }
        self.child(self.plan.child(id, role), prefix, params)
    }

    /// The tape of the loop `id`: the value of carried result k at the start of each iteration.
    pub(super) fn tape_ident(&self, id: ValueId, k: usize) -> Ident {
        Ident::new(
            &format!("__mg_{}v{id}_tape{k}", self.prefix),
            Span::mixed_site(),
        )
    }

    /// `state.k` (by value and, for a matrix, by reference) for each result of a loop, of the
    /// shapes `shapes`.
    fn state_operands(state: &Ident, shapes: &[Shape]) -> Vec<Operand> {
        shapes
            .iter()
            .enumerate()
            .map(|(k, shape)| {
                let k = syn::Index::from(k);
                if shape.is_matrix() {
                    Operand {
                        place: quote!(#state.#k),
                        borrow: quote!(&#state.#k),
                        temp: false,
                    }
                } else {
                    Operand::scalar(quote!(#state.#k))
                }
            })
            .collect()
    }

    /// The forward pass of a loop kept as a loop: the carried values start from the outer
    /// variables' and each iteration replaces them; where the reverse pass runs the loop back,
    /// the values at the start of each iteration are kept in fixed-size stack arrays.
    fn range_forward(&self, id: ValueId, range: &crate::ir::Range) -> TokenStream {
        let node = &self.prog.nodes[id];
        let Op::Branch { then, .. } = &node.op else {
            return quote!(::core::compile_error!("invariant: a loop"));
        };
        let count = then.outputs.len();
        let names: Vec<Ident> = (0..count).map(|k| self.result_ident(id, k)).collect();
        let shapes: Vec<Shape> = then.outputs.iter().map(|&o| then.shape(o)).collect();
        let tys: Vec<TokenStream> = shapes.iter().map(|&s| self.ty(s)).collect();
        let starts: Vec<TokenStream> = range
            .carried
            .iter()
            .map(|&p| self.owned(node.args[p + 1]))
            .collect();
        let state = Ident::new("__mg_state", Span::mixed_site());
        let e = self.iteration_emitter(
            id,
            Role::BranchForward(true),
            range,
            &Self::state_operands(&state, &shapes),
        );
        let stmts = e.forward();
        let results: Vec<TokenStream> = e.prog.outputs.iter().map(|&o| e.owned(o)).collect();
        let i = &range.counter;
        let (start, end) = range.bounds();
        let n = range.trips();
        let taped = self
            .plan
            .children
            .contains_key(&(id, Role::BranchAdjoint(true)));
        let (mut tapes, mut writes) = (Vec::new(), Vec::new());
        if taped {
            for (k, (ty, &shape)) in tys.iter().zip(&shapes).enumerate() {
                let tape = self.tape_ident(id, k);
                let zero = self.zeros(shape);
                let kk = syn::Index::from(k);
                tapes.push(quote!(let mut #tape: [#ty; #n] = [#zero; #n];));
                writes.push(quote!(#tape[#i - #start] = #state.#kk;));
            }
        }
        quote_spanned!(node.loc.start=>
            #(#tapes)*
            let (#(#names,)*): (#(#tys,)*) = {
                let mut #state: (#(#tys,)*) = (#(#starts,)*);
                for #i in #start..#end {
                    #(#writes)*
                    let __mg_next = { #(#stmts)* (#(#results,)*) };
                    #state = __mg_next;
                }
                #state
            };
        )
    }

    /// The adjoints of the captures `captures` of a loop kept as a loop: the loop run backwards,
    /// each iteration's adjoint program (recomputing what it reads from the values the tape
    /// kept) seeded with the adjoints of its results, which the carried parameters' adjoints
    /// replace for the iteration before; the other captures' adjoints summed.
    fn range_adjoint(
        &self,
        id: ValueId,
        range: &crate::ir::Range,
        captures: &[usize],
        seeds: &[TokenStream],
    ) -> TokenStream {
        let node = &self.prog.nodes[id];
        let Op::Branch { then, .. } = &node.op else {
            return quote!(::core::compile_error!("invariant: a loop"));
        };
        let count = then.outputs.len();
        let shapes: Vec<Shape> = then.outputs.iter().map(|&o| then.shape(o)).collect();
        let tys: Vec<TokenStream> = shapes.iter().map(|&s| self.ty(s)).collect();
        let i = &range.counter;
        let (start, end) = range.bounds();
        let taped: Vec<Operand> = (0..count)
            .map(|k| {
                let tape = self.tape_ident(id, k);
                if shapes[k].is_matrix() {
                    Operand {
                        place: quote!(#tape[#i - #start]),
                        borrow: quote!(&#tape[#i - #start]),
                        temp: false,
                    }
                } else {
                    Operand::scalar(quote!(#tape[#i - #start]))
                }
            })
            .collect();
        let z = Ident::new("__mg_z", Span::mixed_site());
        let acc = Ident::new("__mg_acc", Span::mixed_site());
        let mut e = self.iteration_emitter(id, Role::BranchAdjoint(true), range, &taped);
        e.seeds = (0..count)
            .map(|k| {
                let k = syn::Index::from(k);
                quote!(#z.#k)
            })
            .collect();
        let (forward, reverse) = (e.forward(), e.reverse());
        let gradient = |p: usize, shape: Shape| match e.prog.param_node(p) {
            Some(n) if e.plan.adj.nonzero[n] => e.adjoint_operand(n).place,
            _ => self.zeros(shape),
        };
        let carried: Vec<TokenStream> = range
            .carried
            .iter()
            .zip(&shapes)
            .map(|(&p, &s)| gradient(p, s))
            .collect();
        let (others, sums, results) = summed_captures(range, captures, &z, &acc);
        let other_shapes: Vec<Shape> = others
            .iter()
            .map(|&c| self.prog.shape(node.args[c + 1]))
            .collect();
        let parts: Vec<TokenStream> = others
            .iter()
            .zip(&other_shapes)
            .map(|(&c, &s)| gradient(c, s))
            .collect();
        let zeros: Vec<TokenStream> = other_shapes.iter().map(|&s| self.zeros(s)).collect();
        let other_tys: Vec<TokenStream> = other_shapes.iter().map(|&s| self.ty(s)).collect();
        quote!({
            let mut #z: (#(#tys,)*) = (#(#seeds,)*);
            let mut #acc: (#(#other_tys,)*) = (#(#zeros,)*);
            for #i in (#start..#end).rev() {
                let (__mg_next, __mg_part): ((#(#tys,)*), (#(#other_tys,)*)) = {
                    #(#forward)*
                    #(#reverse)*
                    ((#(#carried,)*), (#(#parts,)*))
                };
                #z = __mg_next;
                #(#sums)*
            }
            (#(#results,)*)
        })
    }

    /// The tangents of the results of a loop kept as a loop: each iteration's tangent program,
    /// the carried values and their tangents replaced by those the iteration computes.
    fn range_tangent(&self, id: ValueId, range: &crate::ir::Range) -> TokenStream {
        let node = &self.prog.nodes[id];
        let Op::Branch { then, .. } = &node.op else {
            return quote!(::core::compile_error!("invariant: a loop"));
        };
        let shapes: Vec<Shape> = then.outputs.iter().map(|&o| then.shape(o)).collect();
        let tys: Vec<TokenStream> = shapes.iter().map(|&s| self.ty(s)).collect();
        let starts: Vec<TokenStream> = range
            .carried
            .iter()
            .map(|&p| self.owned(node.args[p + 1]))
            .collect();
        let initial = self.capture_tangents(&node.args[1..]);
        let dstarts: Vec<TokenStream> = range
            .carried
            .iter()
            .zip(&shapes)
            .map(|(&p, &s)| owned_tangent_operand(&initial[p], s))
            .collect();
        let (state, dstate) = (
            Ident::new("__mg_state", Span::mixed_site()),
            Ident::new("__mg_dstate", Span::mixed_site()),
        );
        let mut e = self.iteration_emitter(
            id,
            Role::BranchTangent(true),
            range,
            &Self::state_operands(&state, &shapes),
        );
        let mut tangents = initial;
        for (k, d) in Self::state_operands(&dstate, &shapes)
            .into_iter()
            .enumerate()
        {
            tangents[range.carried[k]] = d;
        }
        e.tangents = tangents;
        let (forward, tangent) = (e.forward(), e.tangent());
        let values: Vec<TokenStream> = e.prog.outputs.iter().map(|&o| e.owned(o)).collect();
        let dvalues: Vec<TokenStream> = e
            .prog
            .outputs
            .iter()
            .map(|&o| {
                if e.plan.tangent_active[o] {
                    e.owned_tangent(o)
                } else {
                    self.zeros(e.prog.shape(o))
                }
            })
            .collect();
        let i = &range.counter;
        let (start, end) = range.bounds();
        // For a second-order program: the tangents at the start of each iteration, returned
        // after the results' (result k's tape is entry count + k).
        let n = range.trips();
        let (mut tapes, mut writes, mut finals) = (Vec::new(), Vec::new(), Vec::new());
        let mut tape_names = Vec::new();
        for (k, (ty, &shape)) in tys.iter().zip(&shapes).enumerate() {
            let kk = syn::Index::from(k);
            finals.push(quote!(#dstate.#kk));
            if self.tape_tangents {
                let tape = Ident::new(&format!("__mg_dtape{k}"), Span::mixed_site());
                let zero = self.zeros(shape);
                tapes.push(quote!(let mut #tape: [#ty; #n] = [#zero; #n];));
                writes.push(quote!(#tape[#i - #start] = #dstate.#kk;));
                tape_names.push(tape);
            }
        }
        quote!({
            let mut #state: (#(#tys,)*) = (#(#starts,)*);
            let mut #dstate: (#(#tys,)*) = (#(#dstarts,)*);
            #(#tapes)*
            for #i in #start..#end {
                #(#writes)*
                let (__mg_v, __mg_d): ((#(#tys,)*), (#(#tys,)*)) = {
                    #(#forward)*
                    #(#tangent)*
                    ((#(#values,)*), (#(#dvalues,)*))
                };
                #state = __mg_v;
                #dstate = __mg_d;
            }
            (#(#finals,)* #(#tape_names,)*)
        })
    }

    /// What a loop over data runs over, when the `if` node `id` is one.
    pub(super) fn over(&self, id: ValueId) -> Option<&crate::ir::Over> {
        match &self.prog.nodes[id].op {
            Op::Branch { over, .. } => over.as_deref(),
            Op::Param(..)
            | Op::Const(..)
            | Op::Add
            | Op::Sub
            | Op::Mul
            | Op::Div
            | Op::Neg
            | Op::Transpose
            | Op::Trace
            | Op::Sum
            | Op::Mean
            | Op::Dot
            | Op::Norm
            | Op::NormSquared
            | Op::ComponentMul
            | Op::ComponentDiv
            | Op::Map(..)
            | Op::Unary(..)
            | Op::Powi(..)
            | Op::Powf
            | Op::Max
            | Op::Min
            | Op::Index(..)
            | Op::IndexAt(..)
            | Op::Field(..)
            | Op::SetEntry(..)
            | Op::View { .. }
            | Op::SetView { .. }
            | Op::Extremum(..)
            | Op::DiagonalOf
            | Op::Cross
            | Op::Cholesky(..)
            | Op::TriSolve { .. }
            | Op::IdentityOf
            | Op::DiagonalProduct
            | Op::Inverse(..)
            | Op::Determinant
            | Op::Solve(..)
            | Op::Kronecker
            | Op::Build { .. }
            | Op::MatrixPower(..)
            | Op::TraceChain(..)
            | Op::Compare(..)
            | Op::Not
            | Op::And
            | Op::Or
            | Op::BoolConst(..)
            | Op::Extract(..)
            | Op::Accumulate(..)
            | Op::Call(..) => None,
        }
    }

    /// The sum over the samples of `over` of `body`, a block whose value is a tuple of values of
    /// `shapes`: `{ let mut s = (0, …); for x in xs.iter() { let o = body; s.0 = s.0 + o.0; … } s }`.
    pub(super) fn data_sum(
        &self,
        over: &crate::ir::Over,
        shapes: &[Shape],
        body: &TokenStream,
    ) -> TokenStream {
        let sum = Ident::new("__mg_sum", Span::mixed_site());
        let one = Ident::new("__mg_one", Span::mixed_site());
        let zeros = shapes.iter().map(|&s| self.zeros(s));
        let adds = (0..shapes.len()).map(|k| {
            let k = syn::Index::from(k);
            quote!(#sum.#k = #sum.#k + #one.#k;)
        });
        let (pattern, iter) = (over.pattern(), over.iterator());
        quote!({
            let mut #sum = (#(#zeros,)*);
            for #pattern in #iter {
                let #one = #body;
                #(#adds)*
            }
            #sum
        })
    }

    /// The adjoints of the captured values `captures` of the `if` node `id`: the taken branch
    /// recomputes what its adjoint program reads, seeds its results with the adjoints of the
    /// `if`'s results, and hands back a tuple.
    pub(super) fn branch_adjoint(&self, id: ValueId, captures: &[usize]) -> TokenStream {
        let node = &self.prog.nodes[id];
        let Op::Branch { then, .. } = &node.op else {
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
                        Some(e) if self.plan.adj.nonzero[e] => self.adjoint_operand(e).place,
                        _ => self.zeros(then.shape(o)),
                    }
                })
                .collect();
        if let Some(range) = self.range(id) {
            return self.range_adjoint(id, range, captures, &seeds);
        }
        if let Some(fused) = self.fused(id) {
            return self.fused_adjoint(id, &fused, captures, &seeds);
        }
        let side = |then: bool| {
            let mut e = self.branch_emitter(id, Role::BranchAdjoint(then));
            e.seeds.clone_from(&seeds);
            let (forward, reverse) = (e.forward(), e.reverse());
            let grads: Vec<TokenStream> = captures
                .iter()
                .map(|&k| match e.prog.param_node(k) {
                    Some(p) if e.plan.adj.nonzero[p] => e.adjoint_operand(p).place,
                    _ => self.zeros(self.prog.shape(node.args[k + 1])),
                })
                .collect();
            quote!({ #(#forward)* #(#reverse)* (#(#grads,)*) })
        };
        if let Some(over) = self.over(id) {
            let shapes: Vec<Shape> = captures
                .iter()
                .map(|&k| self.prog.shape(node.args[k + 1]))
                .collect();
            return self.data_sum(over, &shapes, &side(true));
        }
        let (t, o) = (side(true), side(false));
        quote!(if #cond #t else #o)
    }

    pub(super) fn window_ident(&self, node: ValueId, w: crate::fuse::Window) -> Ident {
        // A window is named by the factors it spans; how it was split does not change its value.
        let name = format!("__mg_{}w{node}_{}_{}", self.prefix, w.start, w.len);
        Ident::new(&name, Span::mixed_site())
    }

    /// The forward pass of a trace chain: the planned windows, then tr(Fᵢ·Cᵢ) as a dot product.
    pub(super) fn trace_chain(&self, id: ValueId, plan: &crate::fuse::Plan) -> Vec<TokenStream> {
        let node = &self.prog.nodes[id];
        let Op::TraceChain(transposed) = &node.op else {
            return vec![quote!(::core::compile_error!(
                "invariant: a planned trace chain"
            ))];
        };
        let k = node.args.len();
        let dims = crate::fuse::factor_shapes(self.prog, &node.args, transposed);
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
                    let sizes = self.rhs_sizes(Shape::Matrix(
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

    /// `kronecker_adjoint_left::<T, RA, CA, RB, CB, RZ, CZ>(&Z̄, &B)` or the right one with `&A`,
    /// every size spelled out so nothing is left to inference.
    pub(super) fn kronecker_adjoint(&self, node: ValueId, left: bool) -> TokenStream {
        let args = &self.prog.nodes[node].args;
        let g = self.adjoint_operand(node).borrow;
        let other = self.operand(args[usize::from(left)]).borrow;
        self.kronecker_adjoint_of(node, left, &g, &other)
    }

    /// The adjoint map of a factor of the Kronecker product `node` at the adjoint `g` and the
    /// other factor `other` (both `&`-expressions).
    pub(super) fn kronecker_adjoint_of(
        &self,
        node: ValueId,
        left: bool,
        g: &TokenStream,
        other: &TokenStream,
    ) -> TokenStream {
        let float = self.float;
        let args = &self.prog.nodes[node].args;
        // Kronecker products of const generic sizes are rejected by `shape`: these are literals.
        let dims = |v: ValueId| match self.prog.shape(v) {
            Shape::Matrix(r, c) => (r.estimate(), c.estimate()),
            Shape::Scalar | Shape::Bool | Shape::Tuple | Shape::Poison => (1, 1),
        };
        let ((ra, ca), (rb, cb)) = (dims(args[0]), dims(args[1]));
        let sizes = [ra, ca, rb, cb, ra * rb, ca * cb].map(Literal::usize_unsuffixed);
        let name = if left {
            "kronecker_adjoint_left"
        } else {
            "kronecker_adjoint_right"
        };
        let name = Ident::new(name, Span::call_site());
        quote!(::matgrad::__private::#name::<#float, #(#sizes),*>(#g, #other))
    }

    /// The emitter of the closure of `map` node `id`, as planned for `role`.
    pub(super) fn map_emitter(&self, id: ValueId, role: Role) -> Emitter<'_> {
        let prefix = format!("{}m{id}_", self.prefix);
        let entry = Ident::new(&format!("__mg_{prefix}x"), Span::mixed_site());
        let mut params = vec![Operand::scalar(quote!(#entry))];
        params.extend(
            self.prog.nodes[id].args[1..]
                .iter()
                .map(|&a| self.operand(a)),
        );
        self.child(self.plan.child(id, role), prefix, params)
    }

    pub(super) fn entry_ident(&self) -> &TokenStream {
        &self.params[0].place
    }

    /// `|x| f(x)` for the forward pass.
    pub(super) fn forward_closure(&self) -> TokenStream {
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
    pub(super) fn map_adjoint(&self, id: ValueId, input: usize) -> TokenStream {
        let float = self.float;
        let mut inner = self.map_emitter(id, Role::MapAdjoint(input));
        let sub = inner.prog;
        // The closure's result is the entry of the map's value: read it rather than recompute it
        // (σ′ = σ(1 − σ), exp′ = exp, tanh′ = 1 − tanh² need nothing else).
        let z = Ident::new(&format!("__mg_{}z", inner.prefix), Span::mixed_site());
        inner.given = Some(z.clone());
        let x = inner.entry_ident().clone();
        let seed = Ident::new(&format!("__mg_{}zbar", inner.prefix), Span::mixed_site());
        let forward = inner.forward();
        inner.seeds = vec![quote!(#seed)];
        let reverse = inner.reverse();
        let grad = match sub.param_node(input) {
            Some(p) if inner.plan.adj.nonzero[p] => {
                let g = inner.adj_ident(p);
                quote!(#g)
            }
            _ => self.lit(0.0),
        };
        let a = self.operand(self.prog.nodes[id].args[0]).borrow;
        let value = self.operand(id).borrow;
        // An adjoint s·𝟙 (the map feeds a sum) seeds every entry with the same scalar.
        let simplified = self.plan.inline[id]
            .as_ref()
            .map(|e| simplify::simplify(self.prog, &self.plan.adj, e.clone()));
        // Any other adjoint seeds each entry on its own.
        let uniform = if let Some(AExpr::Fill(s, _)) = simplified {
            Some(self.expr(&s).place)
        } else {
            None
        };
        // Derivatives that need only the result (exp, tanh, σ) do not read the entries.
        let uses_entry = sub.param_node(0).is_some_and(|p| inner.plan.computed[p]);
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

    /// The tangents of the values `args` of this body, as a nested body's parameter tangents:
    /// the tangent where the value carries one, zero where it does not (and is not read).
    fn capture_tangents(&self, args: &[ValueId]) -> Vec<Operand> {
        args.iter()
            .map(|&a| {
                if self.plan.tangent_active[a] {
                    self.tangent_operand(a)
                } else {
                    Operand::temp(self.zeros(self.prog.shape(a)))
                }
            })
            .collect()
    }

    /// The value of the `map` node `id` and the partials of its closure with respect to
    /// `inputs`, in one pass over the entries: the closure and its adjoint program (seed 1)
    /// per entry.
    pub(super) fn map_partials(&self, id: ValueId, inputs: &[usize]) -> TokenStream {
        let node = &self.prog.nodes[id];
        let inner = self.map_emitter(id, Role::MapPartials);
        let mut inner = inner;
        inner.seeds = vec![self.lit(1.0)];
        let x = inner.entry_ident().clone();
        let (forward, reverse) = (inner.forward(), inner.reverse());
        let out = inner
            .prog
            .output
            .expect("invariant: a checked closure has an output");
        let value = inner.operand(out).place;
        let ty = self.ty(node.shape);
        let v = self.value_ident(id);
        let a = self.operand(node.args[0]).place;
        let float = self.float;
        let i = Ident::new("__mg_i", Span::mixed_site());
        let partials: Vec<Ident> = inputs.iter().map(|&k| self.partial_ident(id, k)).collect();
        let grads: Vec<TokenStream> = inputs
            .iter()
            .map(|&k| match inner.prog.param_node(k) {
                Some(p) if inner.plan.adj.nonzero[p] => inner.adjoint_operand(p).place,
                _ => self.lit(0.0),
            })
            .collect();
        quote_spanned!(node.loc.start=>
            let mut #v: #ty = <#ty>::zeros();
            #(let mut #partials: #ty = <#ty>::zeros();)*
            for #i in 0..#v.len() {
                let #x: #float = #a[#i];
                #(#forward)*
                #(#reverse)*
                #v[#i] = #value;
                #(#partials[#i] = #grads;)*
            }
        )
    }

    /// The name of the matrix of partials of the `map` node `id` with respect to input `k`.
    pub(super) fn partial_ident(&self, id: ValueId, k: usize) -> Ident {
        Ident::new(
            &format!("__mg_{}p{id}_{k}", self.prefix),
            Span::mixed_site(),
        )
    }

    /// The tangents of the results of the `if` node `id`: the taken branch's tangent program,
    /// from the tangents of its captures, as a tuple.
    pub(super) fn branch_tangent(&self, id: ValueId) -> TokenStream {
        if let Some(range) = self.range(id) {
            return self.range_tangent(id, range);
        }
        let node = &self.prog.nodes[id];
        let cond = self.operand(node.args[0]).place;
        let side = |then: bool| {
            let mut e = self.branch_emitter(id, Role::BranchTangent(then));
            e.tangents = self.capture_tangents(&node.args[1..]);
            let (forward, tangent) = (e.forward(), e.tangent());
            let results: Vec<TokenStream> = e
                .prog
                .outputs
                .iter()
                .map(|&o| {
                    if e.plan.tangent_active[o] {
                        e.owned_tangent(o)
                    } else {
                        self.zeros(e.prog.shape(o))
                    }
                })
                .collect();
            quote!({ #(#forward)* #(#tangent)* (#(#results,)*) })
        };
        if let (Some(over), Op::Branch { then, .. }) = (self.over(id), &node.op) {
            let shapes: Vec<Shape> = then.outputs.iter().map(|&o| then.shape(o)).collect();
            return self.data_sum(over, &shapes, &side(true));
        }
        let (t, o) = (side(true), side(false));
        quote!(if #cond #t else #o)
    }

    /// The tangent of a call's result. A scalar result's tangent is ⟨∇, d⟩ summed over the
    /// active arguments, from one call of the callee's `_vjp` (so a callee needs nothing more
    /// than it needs for gradients); a matrix result's comes from the callee's `_jvp`, with the
    /// tangent of every value argument passed as the argument is.
    pub(super) fn call_tangent(&self, id: ValueId) -> TokenStream {
        let Op::Call(site) = &self.prog.nodes[id].op else {
            return quote!(::core::compile_error!(
                "invariant: a call tangent of a call"
            ));
        };
        let args = self.call_args(id, site);
        let values = &self.prog.nodes[id].args;
        if self.prog.shape(id).is_scalar() {
            let vjp = &site.vjp;
            let one = self.lit(1.0);
            let gradients = Ident::new(&format!("__mg_{}c{id}", self.prefix), Span::mixed_site());
            let terms = values
                .iter()
                .enumerate()
                .filter(|&(_, &a)| self.plan.tangent_active[a])
                .map(|(i, &a)| {
                    let i = syn::Index::from(i);
                    if self.prog.shape(a).is_matrix() {
                        let d = self.tangent_operand(a).borrow;
                        quote!(#gradients.#i.dot(#d))
                    } else {
                        let d = self.tangent_operand(a).place;
                        quote!(#gradients.#i * #d)
                    }
                });
            let zero = self.lit(0.0);
            return quote!({
                let (_, #gradients) = #vjp(#(#args,)* #one);
                #zero #(+ #terms)*
            });
        }
        let by_ref = site.args.iter().filter_map(|a| match a {
            crate::ir::CallArg::Value { by_ref } => Some(*by_ref),
            crate::ir::CallArg::Constant(_) => None,
        });
        let tangents: Vec<TokenStream> = values
            .iter()
            .zip(by_ref)
            .map(|(&a, by_ref)| {
                let shape = self.prog.shape(a);
                match (self.plan.tangent_active[a], by_ref) {
                    (true, true) => self.tangent_operand(a).borrow,
                    (true, false) => self.owned_tangent(a),
                    (false, true) => {
                        let zeros = self.zeros(shape);
                        quote!(&#zeros)
                    }
                    (false, false) => self.zeros(shape),
                }
            })
            .collect();
        let jvp = &site.jvp;
        quote!(#jvp(#(#args,)* #(#tangents,)*).1)
    }
}

/// A tangent operand by value: a matrix copied out of wherever it lives.
fn owned_tangent_operand(o: &Operand, shape: Shape) -> TokenStream {
    if shape.is_matrix() {
        let b = &o.borrow;
        quote!((*#b))
    } else {
        o.place.clone()
    }
}
