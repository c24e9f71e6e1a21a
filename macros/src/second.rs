//! Second order: the tangent of the adjoint program, forward over reverse.
//!
//! A Hessian-vector product H·v is the directional derivative, along v, of the gradient. The
//! gradient is computed by the planned adjoint program; differentiating each of its statements
//! in forward mode gives a second program beside it: for `g += e`, `dg += d(e)`, where `d` is
//! the differential of the expression `e` (the product rule through `·`, `∘` and ⊗, the chain
//! rule through the scalar functions), the tangents of the forward values being those of the
//! tangent program along v (`Tan`), and the tangents of adjoints and shared values those this
//! program has declared so far (`AdjTan`, `SharedTan`). The adjoint of every value is complete
//! before any statement reads it, so the tangent statements can run after the whole reverse
//! pass. The tangent of the parameter's adjoint is then H·v, at the cost of one more pass of
//! about the adjoint program's size.
//!
//! Before (reverse pass): `let g2 = v1ᵀ·g3`.
//! After (its tangent): `let dg2 = dv1ᵀ·g3 + v1ᵀ·dg3`, with the terms of zero tangents dropped.

use crate::adjoint::AExpr;
use crate::ir::{Op, Program, ValueId};
use crate::plan::{Config, Mode, Plan, Reverse, Update};

/// One statement of the tangent of the reverse pass.
#[derive(Clone, Debug)]
pub enum TangentStep {
    /// `let dt = e`: the tangent of the shared value `index`.
    Share { index: usize, expr: AExpr },
    /// `let mut dg = e`: the first nonzero contribution to the tangent of an adjoint.
    Declare { target: ValueId, expr: AExpr },
    /// `dg += e`.
    Add { target: ValueId, expr: AExpr },
}

/// The second-order program of one direction: the tangent of the reverse pass of `grad`, the
/// forward tangents being those of `tangent` (a forward-mode plan of the same program).
pub struct SecondOrder {
    pub steps: Vec<TangentStep>,
    /// d(gradient) of each parameter asked for: H·v for a function's one parameter, `None`
    /// where it is zero.
    pub results: Vec<Option<AExpr>>,
}

/// What a second-order program cannot differentiate yet: the construct, for the error.
pub type Unsupported = &'static str;

/// Differentiates the reverse pass of `grad` along the tangents of `tangent`, for the gradients
/// of the parameters `params`; the seed of result j is a constant, or has the tangent
/// `seed_tangents[j]` (a `map` closure's seed is an entry of the map's adjoint, a branch's seeds
/// the adjoints of the `if`'s results).
pub fn tangent_of_reverse(
    grad: &Plan,
    tangent: &Plan,
    params: &[usize],
    seed_tangents: Vec<Option<AExpr>>,
) -> Result<SecondOrder, Unsupported> {
    let prog = grad.prog;
    let mut t = Differential {
        prog,
        grad,
        tangent,
        adjoint: vec![false; prog.nodes.len()],
        shared: Vec::new(),
        seed_tangents,
    };
    let mut steps = Vec::new();
    for step in &grad.reverse {
        match step {
            Reverse::Share { index, expr } => {
                if let Some(d) = t.d(expr)? {
                    steps.push(TangentStep::Share {
                        index: *index,
                        expr: d,
                    });
                    t.shared.push(*index);
                }
            }
            Reverse::Declare { target, expr, .. } => t.contribute(*target, expr, &mut steps)?,
            Reverse::Update { target, update } => {
                let e = contribution(prog, *target, update);
                t.contribute(*target, &e, &mut steps)?;
            }
        }
    }
    let results = params
        .iter()
        .map(|&param| match prog.param_node(param) {
            Some(node) if grad.adj.nonzero[node] => t.d(&grad.adjoint_operand(node)),
            Some(_) | None => Ok(None),
        })
        .collect::<Result<_, _>>()?;
    Ok(SecondOrder { steps, results })
}

/// The contribution an in-place update adds, as an expression.
fn contribution(prog: &Program, target: ValueId, update: &Update) -> AExpr {
    match update {
        Update::Add(e) => e.clone(),
        Update::Sub(e) => AExpr::Neg(Box::new(e.clone())),
        Update::Product {
            kernel,
            negate,
            alpha,
            a,
            b,
        } => {
            let (a, b) = (Box::new(a.clone()), Box::new(b.clone()));
            let product = match kernel {
                crate::plan::Kernel::Ger => AExpr::MatMul(a, Box::new(AExpr::Transpose(b))),
                crate::plan::Kernel::GemmTr => AExpr::MatMul(Box::new(AExpr::Transpose(a)), b),
                crate::plan::Kernel::Gemm => AExpr::MatMul(a, b),
            };
            let scaled = match alpha {
                Some(alpha) => AExpr::Scale(Box::new(product), Box::new(alpha.clone())),
                None => product,
            };
            if *negate {
                AExpr::Neg(Box::new(scaled))
            } else {
                scaled
            }
        }
        Update::Entry(i, j, s) => AExpr::OneHot(Box::new(s.clone()), prog.shape(target), *i, *j),
        Update::Block(i, j, b) => AExpr::Embed(Box::new(b.clone()), prog.shape(target), *i, *j),
        Update::ToDiagonal(v) => AExpr::FromDiagonal(Box::new(v.clone()), prog.shape(target)),
        Update::EntryAt(at, s) => {
            AExpr::OneHotAt(Box::new(s.clone()), prog.shape(target), at.clone())
        }
        Update::AtExtremum(node, s) => AExpr::ExtremumAdjoint {
            node: *node,
            scale: Box::new(s.clone()),
        },
        Update::Constant(s) => AExpr::Fill(Box::new(s.clone()), prog.shape(target)),
        Update::Diagonal(s, n) => AExpr::Diag(Box::new(s.clone()), *n),
    }
}

/// The differential operator over the expressions of one reverse pass.
struct Differential<'a, 'p> {
    prog: &'p Program,
    grad: &'a Plan<'p>,
    tangent: &'a Plan<'p>,
    /// Whether the tangent of each value's adjoint has been declared (is nonzero).
    adjoint: Vec<bool>,
    /// The shared values whose tangent has been declared.
    shared: Vec<usize>,
    /// The tangent of each seed, where it has one.
    seed_tangents: Vec<Option<AExpr>>,
}

type B = Box<AExpr>;

#[allow(
    clippy::unnecessary_box_returns,
    reason = "the differentials build boxed trees"
)]
fn bx(e: AExpr) -> B {
    Box::new(e)
}

/// a + b, either of which may be zero (`None`).
fn sum(a: Option<AExpr>, b: Option<AExpr>) -> Option<AExpr> {
    match (a, b) {
        (Some(a), Some(b)) => Some(AExpr::Add(bx(a), bx(b))),
        (Some(x), None) | (None, Some(x)) => Some(x),
        (None, None) => None,
    }
}

/// a − b, either of which may be zero.
fn difference(a: Option<AExpr>, b: Option<AExpr>) -> Option<AExpr> {
    match (a, b) {
        (Some(a), Some(b)) => Some(AExpr::Sub(bx(a), bx(b))),
        (Some(a), None) => Some(a),
        (None, Some(b)) => Some(AExpr::Neg(bx(b))),
        (None, None) => None,
    }
}

/// 1/s.
#[allow(
    clippy::unnecessary_box_returns,
    reason = "the differentials build boxed trees"
)]
fn recip(s: &AExpr) -> B {
    bx(AExpr::Div(AExpr::lit("1.0"), bx(s.clone())))
}

impl Differential<'_, '_> {
    /// Adds d(`e`) to the tangent of the adjoint of `target`, declaring it on its first nonzero
    /// contribution.
    fn contribute(
        &mut self,
        target: ValueId,
        e: &AExpr,
        steps: &mut Vec<TangentStep>,
    ) -> Result<(), Unsupported> {
        if let Some(d) = self.d(e)? {
            if self.adjoint[target] {
                steps.push(TangentStep::Add { target, expr: d });
            } else {
                self.adjoint[target] = true;
                steps.push(TangentStep::Declare { target, expr: d });
            }
        }
        Ok(())
    }

    /// The differential of `e` along the tangents, `None` where it is zero.
    #[allow(
        clippy::too_many_lines,
        reason = "the differential of each kind of expression reads best as one match"
    )]
    fn d(&self, e: &AExpr) -> Result<Option<AExpr>, Unsupported> {
        let c = |x: &AExpr| bx(x.clone());
        Ok(match e {
            // Constants.
            AExpr::Lit(_) | AExpr::Cast(_) | AExpr::Step(..) => None,
            AExpr::Seed(j) => self.seed_tangents.get(*j).cloned().flatten(),
            AExpr::Val(v) => self.tangent.tangent_active[*v].then_some(AExpr::Tan(*v)),
            AExpr::Adj(u) => {
                if self.adjoint[*u] {
                    Some(AExpr::AdjTan(*u))
                } else if let Some(inline) = &self.grad.inline_operand[*u] {
                    self.d(inline)?
                } else {
                    None
                }
            }
            AExpr::Shared(k) => self.shared.contains(k).then_some(AExpr::SharedTan(*k)),
            // Linear.
            AExpr::Neg(a) => self.d(a)?.map(|x| AExpr::Neg(bx(x))),
            AExpr::Add(a, b) => sum(self.d(a)?, self.d(b)?),
            AExpr::Sub(a, b) => difference(self.d(a)?, self.d(b)?),
            AExpr::Transpose(a) => self.d(a)?.map(|x| AExpr::Transpose(bx(x))),
            AExpr::Trace(a) => self.d(a)?.map(|x| AExpr::Trace(bx(x))),
            AExpr::Sum(a) => self.d(a)?.map(|x| AExpr::Sum(bx(x))),
            AExpr::Entry(a, i, j) => self.d(a)?.map(|x| AExpr::Entry(bx(x), *i, *j)),
            AExpr::DiagonalOf(a) => self.d(a)?.map(|x| AExpr::DiagonalOf(bx(x))),
            AExpr::Phi(a) => self.d(a)?.map(|x| AExpr::Phi(bx(x))),
            AExpr::SymFromLower(a) => self.d(a)?.map(|x| AExpr::SymFromLower(bx(x))),
            AExpr::SymLower(a) => self.d(a)?.map(|x| AExpr::SymLower(bx(x))),
            // d(L⁻¹R) = L⁻¹(dR − dL·L⁻¹R), d(L⁻ᵀR) = L⁻ᵀ(dR − dLᵀ·L⁻ᵀR)
            AExpr::TriSolve { l, rhs, transpose } => {
                let moving = self.tangent.tangent_active[*l].then(|| {
                    let dl = bx(AExpr::Tan(*l));
                    let dl = if *transpose {
                        bx(AExpr::Transpose(dl))
                    } else {
                        dl
                    };
                    AExpr::Neg(bx(AExpr::MatMul(dl, c(e))))
                });
                sum(self.d(rhs)?, moving).map(|x| AExpr::TriSolve {
                    l: *l,
                    rhs: bx(x),
                    transpose: *transpose,
                })
            }
            AExpr::EntryAt(a, at) => self.d(a)?.map(|x| AExpr::EntryAt(bx(x), at.clone())),
            AExpr::OneHotAt(s, shape, at) => self
                .d(s)?
                .map(|x| AExpr::OneHotAt(bx(x), *shape, at.clone())),
            // The entry taken is the same nearby (away from ties): linear in what it scales.
            AExpr::ExtremumAdjoint { node, scale } => {
                self.d(scale)?.map(|x| AExpr::ExtremumAdjoint {
                    node: *node,
                    scale: bx(x),
                })
            }
            AExpr::ExtremumTangent { node, tangent } => {
                self.d(tangent)?.map(|x| AExpr::ExtremumTangent {
                    node: *node,
                    tangent: bx(x),
                })
            }
            AExpr::FromDiagonal(v, shape) => self.d(v)?.map(|x| AExpr::FromDiagonal(bx(x), *shape)),
            AExpr::Block(a, i, j, shape) => self.d(a)?.map(|x| AExpr::Block(bx(x), *i, *j, *shape)),
            AExpr::Embed(b, shape, i, j) => self.d(b)?.map(|x| AExpr::Embed(bx(x), *shape, *i, *j)),
            AExpr::Diag(s, n) => self.d(s)?.map(|x| AExpr::Diag(bx(x), *n)),
            AExpr::Fill(s, shape) => self.d(s)?.map(|x| AExpr::Fill(bx(x), *shape)),
            AExpr::OneHot(s, shape, i, j) => {
                self.d(s)?.map(|x| AExpr::OneHot(bx(x), *shape, *i, *j))
            }
            // d(a∗b) = da∗b + a∗db for every product ∗.
            AExpr::Mul(a, b)
            | AExpr::Scale(a, b)
            | AExpr::MatMul(a, b)
            | AExpr::Dot(a, b)
            | AExpr::ComponentMul(a, b)
            | AExpr::Cross(a, b)
            | AExpr::Kronecker(a, b) => {
                let make = |x: B, y: B| match e {
                    AExpr::Mul(..) => AExpr::Mul(x, y),
                    AExpr::Scale(..) => AExpr::Scale(x, y),
                    AExpr::MatMul(..) => AExpr::MatMul(x, y),
                    AExpr::Dot(..) => AExpr::Dot(x, y),
                    AExpr::ComponentMul(..) => AExpr::ComponentMul(x, y),
                    AExpr::Cross(..) => AExpr::Cross(x, y),
                    // Kronecker, the last product this arm takes (and nothing else reaches it).
                    AExpr::Adj(..)
                    | AExpr::Val(..)
                    | AExpr::Lit(..)
                    | AExpr::Cast(..)
                    | AExpr::Neg(..)
                    | AExpr::Add(..)
                    | AExpr::Sub(..)
                    | AExpr::Div(..)
                    | AExpr::DivBy(..)
                    | AExpr::Transpose(..)
                    | AExpr::ComponentDiv(..)
                    | AExpr::Diag(..)
                    | AExpr::Fill(..)
                    | AExpr::OneHot(..)
                    | AExpr::Method(..)
                    | AExpr::Helper(..)
                    | AExpr::Powi(..)
                    | AExpr::Powf(..)
                    | AExpr::DivOrZero(..)
                    | AExpr::AtZero(..)
                    | AExpr::Step(..)
                    | AExpr::Tan(..)
                    | AExpr::Trace(..)
                    | AExpr::Sum(..)
                    | AExpr::Entry(..)
                    | AExpr::ExtremumAdjoint { .. }
                    | AExpr::ExtremumTangent { .. }
                    | AExpr::EntryAt(..)
                    | AExpr::OneHotAt(..)
                    | AExpr::TriSolve { .. }
                    | AExpr::Phi(..)
                    | AExpr::SymFromLower(..)
                    | AExpr::SymLower(..)
                    | AExpr::DiagonalOf(..)
                    | AExpr::FromDiagonal(..)
                    | AExpr::Block(..)
                    | AExpr::Embed(..)
                    | AExpr::Kronecker(..)
                    | AExpr::SolveForward { .. }
                    | AExpr::PowerTangent { .. }
                    | AExpr::Partial { .. }
                    | AExpr::BranchTangent { .. }
                    | AExpr::CallTangent { .. }
                    | AExpr::Item(..)
                    | AExpr::MapAdj { .. }
                    | AExpr::MapAdjTan { .. }
                    | AExpr::BranchAdjTan { .. }
                    | AExpr::CallAdjTan { .. }
                    | AExpr::PowerAdjointTangent { .. }
                    | AExpr::KroneckerAdjointOf { .. }
                    | AExpr::Shared(..)
                    | AExpr::AdjTan(..)
                    | AExpr::SharedTan(..)
                    | AExpr::DeterminantGradient { .. }
                    | AExpr::SolveTransposed { .. }
                    | AExpr::KroneckerAdjoint { .. }
                    | AExpr::Seed(..)
                    | AExpr::BranchAdjoint { .. }
                    | AExpr::CallAdjoint { .. }
                    | AExpr::Field { .. }
                    | AExpr::Window { .. }
                    | AExpr::PowerAdjoint { .. } => AExpr::Kronecker(x, y),
                };
                sum(
                    self.d(a)?.map(|da| make(bx(da), c(b))),
                    self.d(b)?.map(|db| make(c(a), bx(db))),
                )
            }
            // d(a/b) = da/b − (a/b)·(db/b), for a scalar or a matrix over a scalar.
            AExpr::Div(a, b) | AExpr::DivBy(a, b) => {
                let scale = |x: B, y: B| {
                    if matches!(e, AExpr::Div(..)) {
                        AExpr::Mul(x, y)
                    } else {
                        AExpr::Scale(x, y)
                    }
                };
                let first = self.d(a)?.map(|da| scale(bx(da), recip(b)));
                let second = self.d(b)?.map(|db| {
                    let ratio = bx(e.clone());
                    scale(ratio, bx(AExpr::Mul(bx(db), recip(b))))
                });
                difference(first, second)
            }
            // d(A⊘B) = dA⊘B − (A⊘B)∘dB⊘B
            AExpr::ComponentDiv(a, b) => {
                let first = self.d(a)?.map(|da| AExpr::ComponentDiv(bx(da), c(b)));
                let second = self.d(b)?.map(|db| {
                    AExpr::ComponentDiv(bx(AExpr::ComponentMul(bx(e.clone()), bx(db))), c(b))
                });
                difference(first, second)
            }
            // d(a/b or 0) = (da/b or 0) − ((a/b)·db/b or 0)
            AExpr::DivOrZero(a, b) => {
                let first = self.d(a)?.map(|da| AExpr::DivOrZero(bx(da), c(b)));
                let second = self.d(b)?.map(|db| {
                    let ratio = bx(e.clone());
                    AExpr::DivOrZero(bx(AExpr::Mul(ratio, bx(db))), c(b))
                });
                difference(first, second)
            }
            AExpr::AtZero(t, a, b) => match (self.d(a)?, self.d(b)?) {
                (None, None) => None,
                (x, y) => Some(AExpr::AtZero(
                    c(t),
                    bx(x.unwrap_or(AExpr::Lit("0.0".into()))),
                    bx(y.unwrap_or(AExpr::Lit("0.0".into()))),
                )),
            },
            // The chain rule through the scalar functions the rules write.
            AExpr::Method(name, a) => {
                let Some(da) = self.d(a)? else {
                    return Ok(None);
                };
                let slope = match *name {
                    // d sin a = cos a·da, d cos a = −sin a·da
                    "sin" => AExpr::Method("cos", c(a)),
                    "cos" => AExpr::Neg(bx(AExpr::Method("sin", c(a)))),
                    // d ln a = da/a
                    "ln" => AExpr::Div(AExpr::lit("1.0"), c(a)),
                    // the sign is piecewise constant
                    "signum" => return Ok(None),
                    _ => return Err("a scalar function without a second-order rule"),
                };
                Some(AExpr::Mul(bx(slope), bx(da)))
            }
            // d σ(a) = σ(a)(1 − σ(a)) da
            AExpr::Helper(f, a) => {
                let Some(da) = self.d(a)? else {
                    return Ok(None);
                };
                match f {
                    crate::ir::Func::Sigmoid => {
                        let s = bx(AExpr::Helper(*f, c(a)));
                        let slope = AExpr::Mul(s.clone(), bx(AExpr::Sub(AExpr::lit("1.0"), s)));
                        Some(AExpr::Mul(bx(slope), bx(da)))
                    }
                    _ => return Err("a scalar function without a second-order rule"),
                }
            }
            // d aⁿ = n·aⁿ⁻¹ da, and 0 for n = 0 (where aⁿ⁻¹ would be 1/a, infinite at a = 0)
            AExpr::Powi(a, n) => self.d(a)?.map(|da| {
                let count = bx(AExpr::Cast(n.clone()));
                let slope = AExpr::AtZero(
                    count.clone(),
                    AExpr::lit("0.0"),
                    bx(AExpr::Mul(
                        count,
                        bx(AExpr::Powi(c(a), quote::quote!(((#n) - 1)))),
                    )),
                );
                AExpr::Mul(bx(slope), bx(da))
            }),
            // d aᵖ = p·aᵖ⁻¹ da + aᵖ·ln a dp
            AExpr::Powf(a, p) => {
                let first = self.d(a)?.map(|da| {
                    let lowered = AExpr::Powf(c(a), bx(AExpr::Sub(c(p), AExpr::lit("1.0"))));
                    AExpr::Mul(bx(AExpr::Mul(c(p), bx(lowered))), bx(da))
                });
                let second = self.d(p)?.map(|dp| {
                    let log = AExpr::Method("ln", c(a));
                    AExpr::Mul(bx(AExpr::Mul(bx(e.clone()), bx(log))), bx(dp))
                });
                sum(first, second)
            }
            // d(A⁻¹R) = A⁻¹·dR − A⁻¹·dA·A⁻¹R
            AExpr::SolveForward { solve, rhs } => {
                let a = self.prog.nodes[*solve].args[0];
                let first = self.d(rhs)?.map(|dr| AExpr::SolveForward {
                    solve: *solve,
                    rhs: bx(dr),
                });
                let second = self.d(&AExpr::Val(a))?.map(|da| AExpr::SolveForward {
                    solve: *solve,
                    rhs: bx(AExpr::MatMul(bx(da), bx(e.clone()))),
                });
                difference(first, second)
            }
            // d(A⁻ᵀG) = A⁻ᵀ·dG − A⁻ᵀ·dAᵀ·A⁻ᵀG
            AExpr::SolveTransposed { solve, rhs } => {
                let a = self.prog.nodes[*solve].args[0];
                let first = self.d(rhs)?.map(|dr| AExpr::SolveTransposed {
                    solve: *solve,
                    rhs: bx(dr),
                });
                let second = self.d(&AExpr::Val(a))?.map(|da| AExpr::SolveTransposed {
                    solve: *solve,
                    rhs: bx(AExpr::MatMul(bx(AExpr::Transpose(bx(da))), bx(e.clone()))),
                });
                difference(first, second)
            }
            // The closure's adjoint program, differentiated entry by entry along the tangents
            // of the map's arguments and of its adjoint.
            AExpr::MapAdj { node, input } => {
                let zbar = self.grad.adjoint_operand(*node);
                let dzbar = self.d(&zbar)?;
                let moving = moving_inputs(self.prog, self.tangent, *node);
                if dzbar.is_none() && moving.is_empty() {
                    return Ok(None);
                }
                let Op::Map(sub) = &self.prog.nodes[*node].op else {
                    return Err("a closure adjoint of something other than `map`");
                };
                let (adjoint, tangent) = body_plans(sub, *input, &moving);
                let second = body_second(&adjoint, &tangent, *input, dzbar.is_some())?;
                if !reads_computed(&adjoint, &tangent, &second) {
                    return Err("`map` closures that read a value their gradient does not form");
                }
                Some(AExpr::MapAdjTan {
                    node: *node,
                    input: *input,
                    zbar: bx(zbar),
                    dzbar: dzbar.map(bx),
                })
            }
            // The taken branch's adjoint program, differentiated along the tangents of the
            // captures and of the adjoints of the `if`'s results.
            AExpr::BranchAdjoint { node, captures } => {
                let zbars = branch_seeds(self.prog, self.grad, *node);
                let dzbars = zbars
                    .iter()
                    .map(|z| self.d(z))
                    .collect::<Result<Vec<_>, _>>()?;
                let moving = moving_captures(self.prog, self.tangent, *node);
                if dzbars.iter().all(Option::is_none) && moving.is_empty() {
                    return Ok(None);
                }
                let seeded: Vec<bool> = dzbars.iter().map(Option::is_some).collect();
                if range_of(self.prog, *node).is_some() {
                    range_body(self.prog, *node, captures, &moving)?;
                } else {
                    for side in [true, false] {
                        branch_side(self.prog, *node, side, captures, &moving, &seeded)?;
                    }
                }
                Some(AExpr::BranchAdjTan {
                    node: *node,
                    captures: captures.clone(),
                    zbars,
                    dzbars,
                })
            }
            // An entry of the captures' adjoints a branch handed back: that entry of their
            // tangents.
            AExpr::Field {
                tuple,
                index,
                shape,
            } => self
                .shared
                .contains(tuple)
                .then(|| AExpr::Item(bx(AExpr::SharedTan(*tuple)), *index, *shape)),
            // The callee's `_vjp_jvp`: its own second-order program, seeded with the call's
            // adjoint and that adjoint's tangent, the arguments' tangents given.
            AExpr::CallAdjoint { node } => {
                let seed = self.grad.adjoint_operand(*node);
                let dseed = self.d(&seed)?;
                let moving = self.prog.nodes[*node]
                    .args
                    .iter()
                    .any(|&a| self.tangent.tangent_active[a]);
                if dseed.is_none() && !moving {
                    return Ok(None);
                }
                Some(AExpr::CallAdjTan {
                    node: *node,
                    seed: bx(seed),
                    dseed: dseed.map(bx),
                })
            }
            // G = det A·A⁻ᵀ: dG = d(det A)·A⁻ᵀ − det A·A⁻ᵀ·dAᵀ·A⁻ᵀ = (d(det A)·G − G·dAᵀ·G)/det A,
            // for an invertible A (at a singular one, G is the cofactor matrix and this divides
            // by zero).
            AExpr::DeterminantGradient { matrix, det } => {
                let g = || bx(e.clone());
                let first = self
                    .d(&AExpr::Val(*det))?
                    .map(|dd| AExpr::Scale(g(), bx(dd)));
                let second = self.d(&AExpr::Val(*matrix))?.map(|da| {
                    AExpr::MatMul(bx(AExpr::MatMul(g(), bx(AExpr::Transpose(bx(da))))), g())
                });
                difference(first, second).map(|n| AExpr::DivBy(bx(n), bx(AExpr::Val(*det))))
            }
            // The adjoint map of a factor, bilinear in Z̄ and the other factor: the product rule.
            AExpr::KroneckerAdjoint { node, left } => {
                let zbar = self.grad.adjoint_operand(*node);
                let other = self.prog.nodes[*node].args[usize::from(*left)];
                let of = |zbar: AExpr, factor: AExpr| AExpr::KroneckerAdjointOf {
                    node: *node,
                    left: *left,
                    zbar: bx(zbar),
                    factor: bx(factor),
                };
                sum(
                    self.d(&zbar)?.map(|dz| of(dz, AExpr::Val(other))),
                    self.d(&AExpr::Val(other))?.map(|db| of(zbar.clone(), db)),
                )
            }
            // The tangent of Σᵣ (Aʳ)ᵀ·G·(Aᵏ⁻¹⁻ʳ)ᵀ along dA and dG, by the runtime's recurrence.
            AExpr::PowerAdjoint {
                base,
                adjoint,
                exponent,
            } => {
                let moving = self.tangent.tangent_active[*base];
                let dadjoint = self.d(adjoint)?;
                (moving || dadjoint.is_some()).then(|| AExpr::PowerAdjointTangent {
                    base: *base,
                    moving,
                    adjoint: adjoint.clone(),
                    dadjoint: dadjoint.map(bx),
                    exponent: exponent.clone(),
                })
            }
            AExpr::Window { .. } => return Err("trace chains tr(A·B·C…)"),
            AExpr::Item(..) => return Err("tuples of derivatives"),
            AExpr::Tan(_)
            | AExpr::AdjTan(_)
            | AExpr::SharedTan(_)
            | AExpr::Partial { .. }
            | AExpr::MapAdjTan { .. }
            | AExpr::BranchTangent { .. }
            | AExpr::BranchAdjTan { .. }
            | AExpr::CallTangent { .. }
            | AExpr::CallAdjTan { .. }
            | AExpr::PowerTangent { .. }
            | AExpr::PowerAdjointTangent { .. }
            | AExpr::KroneckerAdjointOf { .. } => {
                return Err("a second-order expression differentiated again");
            }
        })
    }
}

/// The adjoint of each result of the `if` node `node`: what the adjoint program seeds the
/// branch taken with (zero for a result nothing reads).
pub fn branch_seeds(prog: &Program, grad: &Plan, node: ValueId) -> Vec<AExpr> {
    let Op::Branch { then, .. } = &prog.nodes[node].op else {
        return Vec::new();
    };
    then.outputs
        .iter()
        .enumerate()
        .map(|(k, &o)| {
            let extract = prog
                .nodes
                .iter()
                .position(|n| matches!(n.op, Op::Extract(j) if j == k) && n.args == [node]);
            match extract {
                Some(e) if grad.adj.nonzero[e] => grad.adjoint_operand(e),
                _ => match then.shape(o) {
                    shape @ crate::ir::Shape::Matrix(..) => AExpr::Fill(AExpr::lit("0.0"), shape),
                    crate::ir::Shape::Scalar
                    | crate::ir::Shape::Bool
                    | crate::ir::Shape::Tuple
                    | crate::ir::Shape::Poison => AExpr::Lit("0.0".into()),
                },
            }
        })
        .collect()
}

/// The captures of the `if` node `node` (numbered as the branches' parameters) whose values
/// carry a tangent.
pub fn moving_captures(prog: &Program, tangent: &Plan, node: ValueId) -> Vec<usize> {
    let args = &prog.nodes[node].args;
    (0..args.len() - 1)
        .filter(|&k| tangent.tangent_active[args[k + 1]])
        .collect()
}

/// One branch of the `if` node `node` (`then` or not) differentiated twice: its gradient in the
/// captures `captures`, its tangent program along the captures `moving`, and its second-order
/// program, whose seed j (the adjoint of the `if`'s result j) has, where `seeded[j]`, the
/// tangent passed as the seed numbered (results + j).
pub fn branch_side<'p>(
    prog: &'p Program,
    node: ValueId,
    then: bool,
    captures: &[usize],
    moving: &[usize],
    seeded: &[bool],
) -> Result<(Plan<'p>, Plan<'p>, SecondOrder), Unsupported> {
    let Op::Branch {
        then: t,
        otherwise,
        over,
    } = &prog.nodes[node].op
    else {
        return Err("a branch adjoint of something other than `if`");
    };
    if over.as_ref().is_some_and(|o| o.range.is_some()) {
        return Err("a branch adjoint of a loop kept as a loop read as an `if`");
    }
    let side: &Program = if then { t } else { otherwise };
    let adjoint = Plan::new(
        side,
        Config {
            wrt: captures.to_vec(),
            all_products: true,
            ..Config::default()
        },
    );
    let tangent = Plan::new(
        side,
        Config {
            wrt: moving.to_vec(),
            mode: Mode::Forward,
            ..Config::default()
        },
    );
    let results = seeded.len();
    let seeds = (0..results)
        .map(|j| seeded[j].then_some(AExpr::Seed(results + j)))
        .collect();
    let second = tangent_of_reverse(&adjoint, &tangent, captures, seeds)?;
    if !reads_computed(&adjoint, &tangent, &second) {
        return Err("`if` branches that read a value their gradient does not form");
    }
    Ok((adjoint, tangent, second))
}

/// The counted loop the node `node` keeps as a loop, if it is one.
pub fn range_of(prog: &Program, node: ValueId) -> Option<&crate::ir::Range> {
    let Op::Branch {
        over: Some(over), ..
    } = &prog.nodes[node].op
    else {
        return None;
    };
    over.range.as_ref()
}

/// One iteration of the loop kept as a loop `node` differentiated twice, to run backwards: its
/// gradient in the captures `captures` and the parameters the loop carries (the plan's `wrt`,
/// in order; the second-order results are theirs), its tangent program along the captures
/// `moving` and the carried parameters, and its second-order program, every result seeded
/// with an adjoint (seed j) and that adjoint's tangent (seed results + j), which run from one
/// iteration to the one before.
pub fn range_body<'p>(
    prog: &'p Program,
    node: ValueId,
    captures: &[usize],
    moving: &[usize],
) -> Result<(Plan<'p>, Plan<'p>, SecondOrder), Unsupported> {
    let (Some(range), Op::Branch { then, .. }) = (range_of(prog, node), &prog.nodes[node].op)
    else {
        return Err("a loop adjoint of something other than a loop");
    };
    let with_carried = |list: &[usize]| {
        let mut wrt = list.to_vec();
        wrt.extend(range.carried.iter().filter(|p| !list.contains(p)));
        wrt.sort_unstable();
        wrt
    };
    let wrt = with_carried(captures);
    let adjoint = Plan::new(
        then,
        Config {
            wrt: wrt.clone(),
            all_products: true,
            ..Config::default()
        },
    );
    let tangent = Plan::new(
        then,
        Config {
            wrt: with_carried(moving),
            mode: Mode::Forward,
            ..Config::default()
        },
    );
    let results = then.outputs.len();
    let seeds = (0..results)
        .map(|j| Some(AExpr::Seed(results + j)))
        .collect();
    let second = tangent_of_reverse(&adjoint, &tangent, &wrt, seeds)?;
    if !reads_computed(&adjoint, &tangent, &second) {
        return Err("loop bodies that read a value their gradient does not form");
    }
    Ok((adjoint, tangent, second))
}

/// The inputs of the `map` node `node` (0: the mapped matrix, k: captured scalar k) whose
/// values carry a tangent.
pub fn moving_inputs(prog: &Program, tangent: &Plan, node: ValueId) -> Vec<usize> {
    let args = &prog.nodes[node].args;
    (0..args.len())
        .filter(|&k| tangent.tangent_active[args[k]])
        .collect()
}

/// The plans of a `map` closure's second order for its input `input`: its gradient (every live
/// value computed), and its tangent program along the inputs `moving`.
pub fn body_plans<'p>(sub: &'p Program, input: usize, moving: &[usize]) -> (Plan<'p>, Plan<'p>) {
    let adjoint = Plan::new(
        sub,
        Config {
            wrt: vec![input],
            all_products: true,
            ..Config::default()
        },
    );
    let tangent = Plan::new(
        sub,
        Config {
            wrt: moving.to_vec(),
            mode: Mode::Forward,
            ..Config::default()
        },
    );
    (adjoint, tangent)
}

/// The second-order program of a `map` closure: its seed is an entry of the map's adjoint, whose
/// tangent (when `seeded`) the caller passes as the seed numbered 1.
pub fn body_second(
    adjoint: &Plan,
    tangent: &Plan,
    input: usize,
    seeded: bool,
) -> Result<SecondOrder, Unsupported> {
    tangent_of_reverse(
        adjoint,
        tangent,
        &[input],
        vec![seeded.then_some(AExpr::Seed(1))],
    )
}

/// Whether every forward value the second-order program and the tangent program read is one
/// the gradient's forward pass computes as a plain value (or, for a `map` the tangent program
/// reads the partials of, one whose partials its own forward pass computes): the forms the
/// gradient skips (a product read only through a trace, a trace chain) are not yet
/// differentiated twice.
pub fn reads_computed(grad: &Plan, tangent: &Plan, second: &SecondOrder) -> bool {
    let prog = grad.prog;
    let mut ok = true;
    let mut check = |e: &AExpr| e.for_each_value(prog, &mut |v| ok &= grad.computed[v]);
    for (_, e) in &tangent.tangent {
        check(e);
    }
    for alias in tangent.tangent_alias.iter().flatten() {
        check(alias);
    }
    for step in &second.steps {
        match step {
            TangentStep::Share { expr, .. }
            | TangentStep::Declare { expr, .. }
            | TangentStep::Add { expr, .. } => check(expr),
        }
    }
    for r in second.results.iter().flatten() {
        check(r);
    }
    let traced = grad.forward.iter().any(|f| {
        matches!(
            f,
            crate::plan::Forward::TraceDot(_) | crate::plan::Forward::TraceChain(..)
        )
    });
    ok && !traced
}
