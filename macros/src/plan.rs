//! Planning: every decision about how a derivative program is computed, made once, as data.
//!
//! `diff` says *what* the adjoint program adds to which adjoint; this stage decides *how*: which
//! forward values are computed at all (only what the result or the adjoint reads), which
//! adjoints are never stored because a cheap structured expression stands for them, how each
//! contribution is simplified and re-associated, which in-place kernel (`gemm`, `gemm_tr`,
//! `ger`, an entry, a diagonal, a constant) accumulates it, which products are read through a
//! trace without being formed, which inverse and determinant share one factorisation, how a trace chain
//! forms its windows, and the same for every nested body (the branches of an `if`, the closure
//! of a `map` and its derivative). The result is a [`Plan`] tree that `emit` prints without
//! deciding anything, and that `verify` checks. Runs after `diff`, before `verify` and `emit`.
//!
//! Before (adjoint): `g4 += (v4 * (2.0 * g5)); g3 += -g4; g0 += v1ᵀ · g3`.
//! After (reverse pass): `g4`, `g3` inlined; `let g0 = -(v1ᵀ·v4)·(2.0·g5)`.

use std::collections::BTreeMap;

use crate::adjoint::{AExpr, Adjoint, Step};
use crate::diff;
use crate::fuse;
use crate::ir::{Dim, Op, Program, Shape, ValueId};
use crate::simplify;
use crate::tangent;

/// What a nested body is planned for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// The closure of a `map`, forward only.
    MapForward,
    /// The derivative closure of a `map` with respect to its input `k` (0: the entry).
    MapAdjoint(usize),
    /// A branch of an `if` (`true`: then), forward only.
    BranchForward(bool),
    /// A branch of an `if`, differentiated with respect to the captures its adjoint needs.
    BranchAdjoint(bool),
    /// The closure of a `map`, differentiated with respect to the inputs whose partials the
    /// tangent program reads, entry by entry alongside the value.
    MapPartials,
    /// A branch of an `if`, with tangents for the captures that are active.
    BranchTangent(bool),
}

/// Which derivative a plan computes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// The adjoint program: gradients of the results, swept backwards.
    #[default]
    Reverse,
    /// The tangent program: the results' directional derivatives, swept forwards.
    Forward,
}

/// One statement of the forward pass.
#[derive(Clone, Debug)]
pub enum Forward {
    /// `let v = op(args)`: the node's own operation.
    Value(ValueId),
    /// `let f = Inverted::new(a)`: one factorisation that an inverse and a determinant of `a`
    /// share (Cholesky when `a` turns out symmetric positive definite, LU otherwise).
    Factor(ValueId),
    /// An inverse or a determinant, read from the shared factorisation of its argument.
    FromFactor(ValueId),
    /// `tr(A·B)` of a product whose only use is this trace, as `A.tr_dot(&B)`.
    TraceDot(ValueId),
    /// `A⁻¹B` through an LU that is kept for the adjoint.
    Solve(ValueId),
    /// A trace chain: its planned windows, then its value.
    TraceChain(ValueId, fuse::Plan),
    /// An `if`: both branches planned under [`Role::BranchForward`], all results bound at once.
    Branch(ValueId),
    /// A `map` computed entry by entry together with the partial derivatives of its closure
    /// with respect to the listed inputs (planned under [`Role::MapPartials`]).
    MapPartials(ValueId, Vec<usize>),
}

/// How a contribution is added to an adjoint that already holds a value.
#[derive(Clone, Debug)]
pub enum Update {
    /// `g += e`.
    Add(AExpr),
    /// `g -= e`.
    Sub(AExpr),
    /// `g += ±α·A·B` in place with nalgebra's BLAS-style kernel.
    Product {
        kernel: Kernel,
        negate: bool,
        /// α, or 1.
        alpha: Option<AExpr>,
        a: AExpr,
        b: AExpr,
    },
    /// `g[(i, j)] += s`.
    Entry(usize, usize, AExpr),
    /// `g.fixed_view_mut::<r, c>(i, j) += b` for the r×c matrix b.
    Block(usize, usize, AExpr),
    /// The column v added to the diagonal of `g`.
    ToDiagonal(AExpr),
    /// `g[k] += s` at an index known at run time.
    EntryAt(Box<crate::ir::At>, AExpr),
    /// `ExtremumAdjoint { node, scale }` added at its one entry.
    AtExtremum(ValueId, AExpr),
    /// `g += s·𝟙`.
    Constant(AExpr),
    /// `g += s·I` for an n×n `g`.
    Diagonal(AExpr, Dim),
}

/// The in-place product kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// `g.ger(α, u, v, 1)`: g += α·u·vᵀ (`a` = u, `b` = v).
    Ger,
    /// `g.gemm_tr(α, A, B, 1)`: g += α·Aᵀ·B (`a` = A).
    GemmTr,
    /// `g.gemm(α, A, B, 1)`: g += α·A·B.
    Gemm,
}

/// One statement of the reverse pass.
#[derive(Clone, Debug)]
pub enum Reverse {
    /// `let t = e`: a value later contributions share.
    Share { index: usize, expr: AExpr },
    /// The first contribution to an adjoint declares it.
    Declare {
        target: ValueId,
        mutable: bool,
        expr: AExpr,
    },
    /// A later contribution accumulates in place.
    Update { target: ValueId, update: Update },
}

/// The options one body is planned under.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// The parameters differentiated.
    pub wrt: Vec<usize>,
    /// Compute only what the adjoint reads (a derivative body), not every live value.
    pub adjoint_only: bool,
    /// A value the caller already has (a `map` closure's result, for its derivative).
    pub given: Option<ValueId>,
    /// Reverse (`wrt` differentiated) or forward (`wrt` seeded with tangents).
    pub mode: Mode,
    /// In forward mode with one seeded parameter: its tangent is the unit direction along its
    /// entry number `unit` (column-major), known at compile time, so entries it does not touch
    /// carry no tangent at all.
    pub unit: Option<usize>,
    /// Form every product, even one read only through a trace: a second-order program reads
    /// the forward values its gradient's rules do not.
    pub all_products: bool,
}

/// The fully decided program of one body.
pub struct Plan<'p> {
    pub prog: &'p Program,
    pub adj: Adjoint,
    pub config: Config,
    /// Which values the forward pass computes.
    pub computed: Vec<bool>,
    pub forward: Vec<Forward>,
    pub reverse: Vec<Reverse>,
    /// Adjoints that are never stored, with the expression that stands for them where they are
    /// expanded into a contribution.
    pub inline: Vec<Option<AExpr>>,
    /// The same, simplified and with its factors sunk, for where it is read as an operand.
    pub inline_operand: Vec<Option<AExpr>>,
    /// The tangent program, simplified: `d(v) = expr` in program order (forward mode only).
    pub tangent: Vec<(ValueId, AExpr)>,
    /// Which values carry a tangent (forward mode only).
    pub tangent_active: Vec<bool>,
    /// Tangents that are another tangent, a forward value or a partial as they are: read as
    /// that, never copied into a variable of their own.
    pub tangent_alias: Vec<Option<AExpr>>,
    /// The nested bodies, by node and role.
    pub children: BTreeMap<(ValueId, Role), Plan<'p>>,
    /// How many times each value is read, and whether a `let` of the forward pass binds it,
    /// found once the plan is complete (see [`Plan::reads`]).
    reads: std::cell::OnceCell<(Vec<usize>, Vec<bool>)>,
}

/// What a tangent `e` aliases: the value a `Tan` resolves to through `aliases`, a partial or
/// a value itself, or nothing for any other expression.
fn alias(e: &AExpr, aliases: &[Option<AExpr>]) -> Option<AExpr> {
    match e {
        AExpr::Tan(u) => Some(aliases[*u].clone().unwrap_or(AExpr::Tan(*u))),
        AExpr::Partial { .. } | AExpr::Val(_) => Some(e.clone()),
        AExpr::Adj(..)
        | AExpr::Lit(..)
        | AExpr::Cast(..)
        | AExpr::Neg(..)
        | AExpr::Add(..)
        | AExpr::Sub(..)
        | AExpr::Mul(..)
        | AExpr::Div(..)
        | AExpr::Scale(..)
        | AExpr::DivBy(..)
        | AExpr::MatMul(..)
        | AExpr::Transpose(..)
        | AExpr::Dot(..)
        | AExpr::ComponentMul(..)
        | AExpr::ComponentDiv(..)
        | AExpr::Diag(..)
        | AExpr::Fill(..)
        | AExpr::OneHot(..)
        | AExpr::Embed(..)
        | AExpr::Method(..)
        | AExpr::Helper(..)
        | AExpr::Powi(..)
        | AExpr::Powf(..)
        | AExpr::DivOrZero(..)
        | AExpr::AtZero(..)
        | AExpr::Step(..)
        | AExpr::Trace(..)
        | AExpr::Sum(..)
        | AExpr::Entry(..)
        | AExpr::Block(..)
        | AExpr::DiagonalOf(..)
        | AExpr::TriSolve { .. }
        | AExpr::Phi(..)
        | AExpr::SymFromLower(..)
        | AExpr::SymLower(..)
        | AExpr::EntryAt(..)
        | AExpr::OneHotAt(..)
        | AExpr::ExtremumAdjoint { .. }
        | AExpr::ExtremumTangent { .. }
        | AExpr::FromDiagonal(..)
        | AExpr::Cross(..)
        | AExpr::Kronecker(..)
        | AExpr::SolveForward { .. }
        | AExpr::PowerTangent { .. }
        | AExpr::BranchTangent { .. }
        | AExpr::CallTangent { .. }
        | AExpr::Item(..)
        | AExpr::MapAdj { .. }
        | AExpr::MapAdjTan { .. }
        | AExpr::Shared(..)
        | AExpr::AdjTan(_)
        | AExpr::SharedTan(_)
        | AExpr::DeterminantGradient { .. }
        | AExpr::SolveTransposed { .. }
        | AExpr::KroneckerAdjoint { .. }
        | AExpr::KroneckerAdjointOf { .. }
        | AExpr::Seed(..)
        | AExpr::BranchAdjoint { .. }
        | AExpr::BranchAdjTan { .. }
        | AExpr::CallAdjoint { .. }
        | AExpr::CallAdjTan { .. }
        | AExpr::Field { .. }
        | AExpr::Window { .. }
        | AExpr::PowerAdjoint { .. }
        | AExpr::PowerAdjointTangent { .. } => None,
    }
}

impl<'p> Plan<'p> {
    /// Plans `prog` under `config`.
    pub fn new(prog: &'p Program, config: Config) -> Plan<'p> {
        let forward_mode = config.mode == Mode::Forward;
        let adj = diff::differentiate(prog, if forward_mode { &[] } else { &config.wrt });
        let inline = simplify::inlined(prog, &adj);
        let (tangent, tangent_active) = if forward_mode {
            let t = tangent::tangents(prog, &config.wrt, config.unit);
            let steps = t
                .steps
                .into_iter()
                .map(|(v, e)| {
                    (
                        v,
                        simplify::sink(prog, &adj, simplify::simplify(prog, &adj, e)),
                    )
                })
                .collect();
            (steps, t.active)
        } else {
            (Vec::new(), vec![false; prog.nodes.len()])
        };
        let mut tangent_alias: Vec<Option<AExpr>> = vec![None; prog.nodes.len()];
        for (v, e) in &tangent {
            tangent_alias[*v] = alias(e, &tangent_alias);
        }
        let mut plan = Plan {
            prog,
            tangent,
            tangent_active,
            tangent_alias,
            computed: Vec::new(),
            forward: Vec::new(),
            reverse: Vec::new(),
            inline_operand: Vec::new(),
            children: BTreeMap::new(),
            reads: std::cell::OnceCell::new(),
            adj,
            inline,
            config,
        };
        plan.inline_operand = plan
            .inline
            .iter()
            .map(|e| {
                e.as_ref().map(|e| {
                    simplify::sink(
                        prog,
                        &plan.adj,
                        simplify::simplify(prog, &plan.adj, e.clone()),
                    )
                })
            })
            .collect();
        plan.computed = plan.computed_values();
        plan.forward = plan.forward_pass();
        plan.reverse = plan.reverse_pass();
        plan.share_products();
        plan.children = plan.nested();
        plan
    }

    /// The plan of the nested body `role` of node `id`.
    pub fn child(&self, id: ValueId, role: Role) -> &Plan<'p> {
        self.children
            .get(&(id, role))
            .expect("invariant: every nested body is planned")
    }

    /// How many times each value is read: by the computed nodes, as the result, and by the
    /// reverse and tangent programs as planned. A matrix read once, by a sum or difference, is
    /// moved into it (nalgebra then reuses its storage for the result).
    pub fn reads(&self) -> &[usize] {
        &self.read_counts().0
    }

    /// Whether value `v` is bound by a `let` of its own in the forward pass
    /// ([`Forward::Value`]).
    pub fn bound_by_let(&self, v: ValueId) -> bool {
        self.read_counts().1.get(v).copied().unwrap_or(false)
    }

    fn read_counts(&self) -> &(Vec<usize>, Vec<bool>) {
        self.reads.get_or_init(|| {
            let prog = self.prog;
            let mut reads = vec![0usize; prog.nodes.len()];
            for (id, node) in prog.nodes.iter().enumerate() {
                if self.computed.get(id).copied().unwrap_or(true) {
                    node.args.iter().for_each(|&a| reads[a] += 1);
                }
            }
            for &out in prog.results().iter().chain(prog.output.iter()) {
                reads[out] += 1;
            }
            let mut mark = |e: &AExpr| e.for_each_value(prog, &mut |v| reads[v] += 1);
            for step in &self.reverse {
                match step {
                    Reverse::Share { expr, .. } | Reverse::Declare { expr, .. } => mark(expr),
                    Reverse::Update { update, .. } => update.for_each_expr(&mut mark),
                }
            }
            let tangents = self.tangent.iter().map(|(_, e)| e);
            for e in self
                .inline
                .iter()
                .chain(&self.inline_operand)
                .flatten()
                .chain(tangents)
                .chain(self.tangent_alias.iter().flatten())
            {
                mark(e);
            }
            let mut bound = vec![false; prog.nodes.len()];
            for step in &self.forward {
                if let Forward::Value(id) = step {
                    bound[*id] = true;
                }
            }
            (reads, bound)
        })
    }

    /// The adjoint of `id` as an operand: inlined, or its stored variable.
    pub fn adjoint_operand(&self, id: ValueId) -> AExpr {
        self.inline_operand[id].clone().unwrap_or(AExpr::Adj(id))
    }

    /// Which values the forward pass computes: every live one, or in a derivative body only
    /// those the adjoint reads (and what they need), less the value the caller gives.
    fn computed_values(&self) -> Vec<bool> {
        if !self.config.adjoint_only {
            return self.adj.live.clone();
        }
        let mut needed = vec![false; self.prog.nodes.len()];
        for step in &self.adj.steps {
            let (Step::Add { expr, .. } | Step::Share { expr, .. }) = step;
            expr.for_each_value(self.prog, &mut |v| needed[v] = true);
            // Simplification may read a stored product in place of its factors
            // (−A⁻ᵀ·Ḡ·(A⁻¹·b)ᵀ reads the value A⁻¹·b), so what the pass reads is what the
            // prepared step reads.
            self.prepare(expr)
                .for_each_value(self.prog, &mut |v| needed[v] = true);
        }
        for id in (0..self.prog.nodes.len()).rev() {
            if self.config.given == Some(id) {
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
    fn traced_products(&self) -> Vec<bool> {
        let prog = self.prog;
        let n = prog.nodes.len();
        if self.config.all_products {
            return vec![false; n];
        }
        let mut uses = vec![0usize; n];
        for (id, node) in prog.nodes.iter().enumerate() {
            if self.computed[id] {
                node.args.iter().for_each(|&a| uses[a] += 1);
            }
        }
        if let Some(out) = prog.output {
            uses[out] += 1;
        }
        for step in &self.adj.steps {
            let (Step::Add { expr, .. } | Step::Share { expr, .. }) = step;
            expr.for_each_value(prog, &mut |v| uses[v] += 1);
        }
        let mut traced = vec![false; n];
        for (id, node) in prog.nodes.iter().enumerate() {
            if self.computed[id] && matches!(node.op, Op::Trace) {
                let m = node.args[0];
                let product = matches!(prog.nodes[m].op, Op::Mul)
                    && prog.nodes[m]
                        .args
                        .iter()
                        .all(|&a| prog.shape(a).is_matrix());
                traced[m] = product && uses[m] == 1;
            }
        }
        traced
    }

    /// Matrices (4×4 and up, where nalgebra inverts through an LU anyway) whose inverse is
    /// computed: the runtime's `Inverted` factors them, by Cholesky when they turn out symmetric
    /// positive definite, and serves their determinant too.
    fn factored(&self) -> Vec<bool> {
        let of = |op: fn(&Op) -> bool, a: ValueId| {
            self.prog
                .nodes
                .iter()
                .enumerate()
                .any(|(v, n)| self.computed[v] && op(&n.op) && n.args == [a])
        };
        (0..self.prog.nodes.len())
            .map(|a| {
                let Shape::Matrix(n, _) = self.prog.shape(a) else {
                    return false;
                };
                // A size that is a const generic: only with a determinant, whose
                // `Const<N>: DimMin<…>` bound the function then has (`try_inverse` alone needs none).
                let size = match n.value() {
                    Some(n) => n >= 4,
                    None => of(|op| matches!(op, Op::Determinant), a),
                };
                size && of(|op| matches!(op, Op::Inverse(_)), a)
            })
            .collect()
    }

    /// One statement per computed value, in program order.
    fn forward_pass(&self) -> Vec<Forward> {
        // The maps whose partials the tangent program reads, with those inputs.
        let mut partials: BTreeMap<ValueId, Vec<usize>> = BTreeMap::new();
        for (_, e) in &self.tangent {
            collect_partials(e, &mut partials);
        }
        let traced = self.traced_products();
        let factored = self.factored();
        let mut factors = vec![false; self.prog.nodes.len()];
        let mut out = Vec::new();
        for (id, node) in self.prog.nodes.iter().enumerate() {
            if !self.computed[id] || traced[id] || self.config.given == Some(id) {
                continue;
            }
            match &node.op {
                // Parameters are the function's, fields `self`'s; an `if` binds its results
                // itself.
                Op::Param(_) | Op::Extract(_) | Op::Field(..) => {}
                Op::Branch { .. } => out.push(Forward::Branch(id)),
                Op::TraceChain(transposed) => {
                    let dims = fuse::factor_shapes(self.prog, &node.args, transposed);
                    let active = match self.config.mode {
                        Mode::Reverse => &self.adj.active,
                        Mode::Forward => &self.tangent_active,
                    };
                    let needed: Vec<bool> = node.args.iter().map(|&a| active[a]).collect();
                    out.push(Forward::TraceChain(
                        id,
                        fuse::plan(&fuse::estimates(&dims), &needed),
                    ));
                }
                Op::Inverse(_) | Op::Determinant if factored[node.args[0]] => {
                    let a = node.args[0];
                    if !factors[a] {
                        factors[a] = true;
                        out.push(Forward::Factor(a));
                    }
                    out.push(Forward::FromFactor(id));
                }
                Op::Trace if traced[node.args[0]] => out.push(Forward::TraceDot(id)),
                Op::Solve(_) => out.push(Forward::Solve(id)),
                Op::Map(_) if partials.contains_key(&id) => {
                    out.push(Forward::MapPartials(id, partials[&id].clone()));
                }
                Op::Const(_)
                | Op::Add
                | Op::Accumulate(_)
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
                | Op::Map(_)
                | Op::Unary(_)
                | Op::Powi(_)
                | Op::Powf
                | Op::Max
                | Op::Min
                | Op::Index(..)
                | Op::SetEntry(..)
                | Op::View { .. }
                | Op::SetView { .. }
                | Op::DiagonalOf
                | Op::Cholesky(_)
                | Op::TriSolve { .. }
                | Op::DiagonalProduct
                | Op::IdentityOf
                | Op::IndexAt(_)
                | Op::Extremum(_)
                | Op::Cross
                | Op::Inverse(_)
                | Op::Determinant
                | Op::Kronecker
                | Op::Build { .. }
                | Op::MatrixPower(_)
                | Op::Compare(_)
                | Op::Not
                | Op::And
                | Op::Or
                | Op::BoolConst(_)
                | Op::Call(_) => out.push(Forward::Value(id)),
            }
        }
        out
    }

    /// A contribution as it is computed: inlined adjoints expanded, then simplified. A leading
    /// sign or scale of a product stays outside for an in-place update to absorb as its α.
    fn prepare(&self, e: &AExpr) -> AExpr {
        let (prog, adj) = (self.prog, &self.adj);
        let e = simplify::simplify(prog, adj, simplify::expand(e, &self.inline));
        let sink_inner = |e: AExpr| match e {
            AExpr::Scale(x, s) if matches!(*x, AExpr::MatMul(..)) => AExpr::Scale(x, s),
            other => simplify::sink(prog, adj, other),
        };
        match e {
            AExpr::Neg(x) => AExpr::Neg(Box::new(sink_inner(*x))),
            other => sink_inner(other),
        }
    }

    /// The reverse pass: every step of the adjoint program whose target is stored, seeds first.
    fn reverse_pass(&self) -> Vec<Reverse> {
        let mut out = Vec::new();
        let mut declared = vec![false; self.prog.nodes.len()];
        let counts = self.adj.counts(self.prog.nodes.len());
        for step in &self.adj.steps {
            match step {
                Step::Share { index, expr } => out.push(Reverse::Share {
                    index: *index,
                    expr: self.prepare(expr),
                }),
                Step::Add { target, expr } => {
                    if self.inline[*target].is_some() {
                        continue;
                    }
                    let expr = self.prepare(expr);
                    if declared[*target] {
                        out.push(Reverse::Update {
                            target: *target,
                            update: self.update(*target, expr),
                        });
                    } else {
                        declared[*target] = true;
                        out.push(Reverse::Declare {
                            target: *target,
                            mutable: counts[*target] > 1,
                            expr,
                        });
                    }
                }
            }
        }
        out
    }

    /// `g += e` in the cheapest in-place form.
    pub fn update(&self, target: ValueId, e: AExpr) -> Update {
        if self.prog.shape(target).is_scalar() {
            return match e {
                AExpr::Neg(x) => Update::Sub(*x),
                other => Update::Add(other),
            };
        }
        let e = match self.product_update(e) {
            Ok(update) => return update,
            Err(e) => e,
        };
        match e {
            AExpr::Neg(x) => Update::Sub(*x),
            AExpr::OneHot(s, _, i, j) => Update::Entry(i, j, *s),
            AExpr::Embed(b, _, i, j) => Update::Block(i, j, *b),
            AExpr::FromDiagonal(v, _) => Update::ToDiagonal(*v),
            AExpr::OneHotAt(s, _, at) => Update::EntryAt(at, *s),
            AExpr::ExtremumAdjoint { node, scale } => Update::AtExtremum(node, *scale),
            AExpr::Fill(s, _) => Update::Constant(*s),
            AExpr::Diag(s, n) => Update::Diagonal(*s, n),
            other => Update::Add(other),
        }
    }

    /// `g += ±α·A·B` with `ger` for an outer product, `gemm_tr` for Aᵀ·B, `gemm` otherwise;
    /// `Err(e)` back when `e` is not a (signed, scaled) product.
    pub fn product_update(&self, e: AExpr) -> Result<Update, AExpr> {
        let (negate, inner) = match e {
            AExpr::Neg(x) => (true, *x),
            x => (false, x),
        };
        let (product, alpha) = match inner {
            AExpr::Scale(p, s) if matches!(*p, AExpr::MatMul(..)) => (*p, Some(*s)),
            p => (p, None),
        };
        let AExpr::MatMul(a, b) = product else {
            let rebuilt = match alpha {
                Some(s) => AExpr::Scale(Box::new(product), Box::new(s)),
                None => product,
            };
            return Err(if negate {
                AExpr::Neg(Box::new(rebuilt))
            } else {
                rebuilt
            });
        };
        let column = |x: &AExpr| simplify::is_column(self.prog, &self.adj, x);
        let (kernel, a, b) = match (*a, *b) {
            (u, AExpr::Transpose(v)) if column(&u) && column(&v) => (Kernel::Ger, u, *v),
            (AExpr::Transpose(at), b) => (Kernel::GemmTr, *at, b),
            (a, b) => (Kernel::Gemm, a, b),
        };
        Ok(Update::Product {
            kernel,
            negate,
            alpha,
            a,
            b,
        })
    }

    /// Plans every nested body the forward and reverse passes run.
    fn nested(&self) -> BTreeMap<(ValueId, Role), Plan<'p>> {
        let prog = self.prog;
        let mut out = BTreeMap::new();
        for forward in &self.forward {
            if let Forward::Branch(id) = forward
                && let Op::Branch {
                    then, otherwise, ..
                } = &prog.nodes[*id].op
            {
                out.insert(
                    (*id, Role::BranchForward(true)),
                    Plan::new(then, Config::default()),
                );
                out.insert(
                    (*id, Role::BranchForward(false)),
                    Plan::new(otherwise, Config::default()),
                );
            }
            if let Forward::Value(id) = forward
                && let Op::Map(sub) = &prog.nodes[*id].op
            {
                out.insert((*id, Role::MapForward), Plan::new(sub, Config::default()));
            }
            if let Forward::MapPartials(id, inputs) = forward
                && let Op::Map(sub) = &prog.nodes[*id].op
            {
                let config = Config {
                    wrt: inputs.clone(),
                    ..Config::default()
                };
                out.insert((*id, Role::MapPartials), Plan::new(sub, config));
            }
        }
        let mut visit = |e: &AExpr| {
            collect_nested(prog, e, &mut out);
        };
        for step in &self.reverse {
            match step {
                Reverse::Share { expr, .. } | Reverse::Declare { expr, .. } => visit(expr),
                Reverse::Update { update, .. } => update.for_each_expr(&mut visit),
            }
        }
        for e in self.inline_operand.iter().flatten() {
            visit(e);
        }
        for (_, e) in &self.tangent {
            collect_tangent_bodies(prog, &self.tangent_active, e, &mut out);
        }
        out
    }
}

/// The `map` partials an expression reads, by node.
fn collect_partials(e: &AExpr, out: &mut BTreeMap<ValueId, Vec<usize>>) {
    if let AExpr::Partial { node, input } = e {
        let inputs = out.entry(*node).or_default();
        if !inputs.contains(input) {
            inputs.push(*input);
            inputs.sort_unstable();
        }
    }
    for child in e.children() {
        collect_partials(child, out);
    }
}

/// Plans the tangent bodies a tangent expression runs: the tangent closure of a `map`, and the
/// tangent programs of the branches of an `if`, seeded where their inputs carry tangents.
fn collect_tangent_bodies<'p>(
    prog: &'p Program,
    active: &[bool],
    e: &AExpr,
    out: &mut BTreeMap<(ValueId, Role), Plan<'p>>,
) {
    let seeded =
        |args: &[ValueId]| -> Vec<usize> { (0..args.len()).filter(|&k| active[args[k]]).collect() };
    let forward = |wrt: Vec<usize>| Config {
        wrt,
        mode: Mode::Forward,
        ..Config::default()
    };
    if let AExpr::BranchTangent { node } = e
        && let Op::Branch {
            then, otherwise, ..
        } = &prog.nodes[*node].op
    {
        let mut wrt = seeded(&prog.nodes[*node].args[1..]);
        // A loop kept as a loop carries the tangents of what it assigns between iterations.
        extend_carried(&prog.nodes[*node].op, &mut wrt);
        for (side, sub) in [(true, then), (false, otherwise)] {
            out.entry((*node, Role::BranchTangent(side)))
                .or_insert_with(|| Plan::new(sub, forward(wrt.clone())));
        }
    }
    for child in e.children() {
        collect_tangent_bodies(prog, active, child, out);
    }
}

/// Plans the derivative bodies an expression runs: `map` derivative closures and the adjoint
/// programs of the branches of an `if`.
#[allow(
    clippy::too_many_lines,
    reason = "every other kind of expression is listed as planning nothing"
)]
fn collect_nested<'p>(prog: &'p Program, e: &AExpr, out: &mut BTreeMap<(ValueId, Role), Plan<'p>>) {
    match e {
        AExpr::MapAdj { node, input } => {
            if let Op::Map(sub) = &prog.nodes[*node].op {
                let config = Config {
                    wrt: vec![*input],
                    adjoint_only: true,
                    given: sub.output,
                    mode: Mode::Reverse,
                    unit: None,
                    all_products: false,
                };
                out.entry((*node, Role::MapAdjoint(*input)))
                    .or_insert_with(|| Plan::new(sub, config));
            }
        }
        AExpr::BranchAdjoint { node, captures } => {
            if let Op::Branch {
                then, otherwise, ..
            } = &prog.nodes[*node].op
            {
                let mut wrt = captures.clone();
                // A loop kept as a loop carries the adjoints of what it assigns between
                // iterations.
                extend_carried(&prog.nodes[*node].op, &mut wrt);
                for (side, sub) in [(true, then), (false, otherwise)] {
                    let config = Config {
                        wrt: wrt.clone(),
                        adjoint_only: true,
                        given: None,
                        mode: Mode::Reverse,
                        unit: None,
                        all_products: false,
                    };
                    out.entry((*node, Role::BranchAdjoint(side)))
                        .or_insert_with(|| Plan::new(sub, config));
                }
            }
        }
        // The other kinds run no nested body (a second-order closure is planned where it is
        // printed); their children are visited below.
        AExpr::MapAdjTan { .. }
        | AExpr::BranchAdjTan { .. }
        | AExpr::Adj(_)
        | AExpr::Val(_)
        | AExpr::Lit(_)
        | AExpr::Cast(_)
        | AExpr::Neg(_)
        | AExpr::Add(..)
        | AExpr::Sub(..)
        | AExpr::Mul(..)
        | AExpr::Div(..)
        | AExpr::Scale(..)
        | AExpr::DivBy(..)
        | AExpr::MatMul(..)
        | AExpr::Transpose(_)
        | AExpr::Dot(..)
        | AExpr::ComponentMul(..)
        | AExpr::ComponentDiv(..)
        | AExpr::Diag(..)
        | AExpr::Fill(..)
        | AExpr::OneHot(..)
        | AExpr::Embed(..)
        | AExpr::Method(..)
        | AExpr::Helper(..)
        | AExpr::Powi(..)
        | AExpr::Powf(..)
        | AExpr::DivOrZero(..)
        | AExpr::AtZero(..)
        | AExpr::Step(..)
        | AExpr::Tan(_)
        | AExpr::Trace(_)
        | AExpr::Sum(_)
        | AExpr::Entry(..)
        | AExpr::Block(..)
        | AExpr::DiagonalOf(..)
        | AExpr::TriSolve { .. }
        | AExpr::Phi(..)
        | AExpr::SymFromLower(..)
        | AExpr::SymLower(..)
        | AExpr::EntryAt(..)
        | AExpr::OneHotAt(..)
        | AExpr::ExtremumAdjoint { .. }
        | AExpr::ExtremumTangent { .. }
        | AExpr::FromDiagonal(..)
        | AExpr::Cross(..)
        | AExpr::Kronecker(..)
        | AExpr::SolveForward { .. }
        | AExpr::PowerTangent { .. }
        | AExpr::Partial { .. }
        | AExpr::BranchTangent { .. }
        | AExpr::CallTangent { .. }
        | AExpr::Item(..)
        | AExpr::Shared(_)
        | AExpr::AdjTan(_)
        | AExpr::SharedTan(_)
        | AExpr::DeterminantGradient { .. }
        | AExpr::SolveTransposed { .. }
        | AExpr::KroneckerAdjoint { .. }
        | AExpr::KroneckerAdjointOf { .. }
        | AExpr::Seed(_)
        | AExpr::CallAdjoint { .. }
        | AExpr::CallAdjTan { .. }
        | AExpr::Field { .. }
        | AExpr::Window { .. }
        | AExpr::PowerAdjoint { .. }
        | AExpr::PowerAdjointTangent { .. } => {}
    }
    for child in e.children() {
        collect_nested(prog, child, out);
    }
}

impl Update {
    /// Calls `f` on every expression the update reads.
    pub fn for_each_expr(&self, f: &mut dyn FnMut(&AExpr)) {
        match self {
            Update::Add(e)
            | Update::Sub(e)
            | Update::Entry(_, _, e)
            | Update::Block(_, _, e)
            | Update::ToDiagonal(e)
            | Update::EntryAt(_, e)
            | Update::AtExtremum(_, e)
            | Update::Constant(e)
            | Update::Diagonal(e, _) => f(e),
            Update::Product { alpha, a, b, .. } => {
                if let Some(alpha) = alpha {
                    f(alpha);
                }
                f(a);
                f(b);
            }
        }
    }
}

impl std::fmt::Display for Plan<'_> {
    /// The textual form: forward statements, reverse statements, then each nested plan,
    /// indented under the node and role it serves.
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let prog = self.prog;
        for step in &self.forward {
            match step {
                Forward::Value(id) => writeln!(f, "v{id} = {}", prog.nodes[*id].text)?,
                Forward::Factor(a) => writeln!(f, "lu(v{a})")?,
                Forward::FromFactor(id) => writeln!(f, "v{id} = {} from lu", prog.nodes[*id].text)?,
                Forward::TraceDot(id) => writeln!(f, "v{id} = tr_dot {}", prog.nodes[*id].text)?,
                Forward::Solve(id) => writeln!(f, "v{id} = {} keeping lu", prog.nodes[*id].text)?,
                Forward::TraceChain(id, plan) => {
                    writeln!(f, "v{id} = trace chain, windows {:?}", plan.windows)?;
                }
                Forward::Branch(id) => writeln!(f, "v{id} = if …")?,
                Forward::MapPartials(id, inputs) => {
                    writeln!(
                        f,
                        "v{id} = {} with partials {inputs:?}",
                        prog.nodes[*id].text
                    )?;
                }
            }
        }
        for step in &self.reverse {
            match step {
                Reverse::Share { index, expr } => writeln!(f, "t{index} = {expr}")?,
                Reverse::Declare { target, expr, .. } => writeln!(f, "g{target} = {expr}")?,
                Reverse::Update { target, update } => match update {
                    Update::Add(e) => writeln!(f, "g{target} += {e}")?,
                    Update::Sub(e) => writeln!(f, "g{target} -= {e}")?,
                    Update::Entry(i, j, e) => writeln!(f, "g{target}[({i}, {j})] += {e}")?,
                    Update::Block(i, j, e) => writeln!(f, "g{target}[at ({i}, {j})] += {e}")?,
                    Update::ToDiagonal(e) => writeln!(f, "diag(g{target}) += {e}")?,
                    Update::EntryAt(at, e) => writeln!(f, "g{target}{at} += {e}")?,
                    Update::AtExtremum(node, e) => {
                        writeln!(f, "g{target}[arg v{node}] += {e}")?;
                    }
                    Update::Constant(e) => writeln!(f, "g{target} += {e}·𝟙")?,
                    Update::Diagonal(e, _) => writeln!(f, "g{target} += {e}·I")?,
                    Update::Product {
                        kernel,
                        negate,
                        alpha,
                        a,
                        b,
                    } => {
                        let sign = if *negate { "-" } else { "" };
                        let alpha = alpha.as_ref().map_or("1".to_string(), ToString::to_string);
                        writeln!(f, "g{target} += {kernel:?}({sign}{alpha}, {a}, {b})")?;
                    }
                },
            }
        }
        for (target, expr) in &self.tangent {
            writeln!(f, "d{target} = {expr}")?;
        }
        for ((id, role), child) in &self.children {
            writeln!(f, "v{id} {role:?}:")?;
            for line in child.to_string().lines() {
                writeln!(f, "    {line}")?;
            }
        }
        Ok(())
    }
}

/// Adds to `wrt` the parameters a loop kept as a loop carries from one iteration to the next.
fn extend_carried(op: &Op, wrt: &mut Vec<usize>) {
    if let Op::Branch {
        over: Some(over), ..
    } = op
        && let Some(range) = &over.range
    {
        for &p in &range.carried {
            if !wrt.contains(&p) {
                wrt.push(p);
            }
        }
        wrt.sort_unstable();
    }
}
