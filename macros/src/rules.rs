//! The rule table: for each operation, what its adjoint adds to its arguments' adjoints.
//!
//! Each rule carries the identity it comes from. `Z̄` (here `g`) is the adjoint flowing into the
//! node's result `z`; a rule returns `(argument, contribution)` pairs, only for arguments that
//! need an adjoint. Shapes were checked by `shape`, so a rule may rely on them. Read by `diff`.

use crate::adjoint::{AExpr, Step};
use crate::ir::{Build, Dim, Func, Op, Program, Shape, ValueId};

type B = Box<AExpr>;

/// What a rule may read about the whole program.
pub struct Context<'a> {
    pub prog: &'a Program,
    /// Values the forward pass computes: a rule may reuse them.
    pub live: &'a [bool],
    /// Values that depend on a differentiated parameter: only they receive contributions.
    pub active: &'a [bool],
}

impl Context<'_> {
    /// A live `try_inverse` of `a`, whose value a rule can share instead of inverting again.
    fn inverse_of(&self, a: ValueId) -> Option<ValueId> {
        (0..self.prog.nodes.len()).find(|&v| {
            self.live[v]
                && matches!(self.prog.nodes[v].op, Op::Inverse(_))
                && self.prog.nodes[v].args == [a]
        })
    }
}

#[allow(
    clippy::unnecessary_box_returns,
    reason = "rules build boxed trees; boxing here keeps each rule one line"
)]
fn val(v: ValueId) -> B {
    Box::new(AExpr::Val(v))
}

/// ∂aᵖ/∂a = p·aᵖ⁻¹ for z = aᵖ: p·z/a wherever a ≠ 0, which reuses the power the value
/// computed instead of raising a to a second power; p·aᵖ⁻¹ itself at a = 0, where z/a cannot
/// stand for it (0⁰ = 1 for p = 1, and ±∞ for p < 1).
#[allow(
    clippy::unnecessary_box_returns,
    reason = "rules build boxed trees; boxing here keeps each rule one line"
)]
fn powf_slope(a: ValueId, p: ValueId, z: ValueId) -> B {
    let textbook = AExpr::Mul(
        val(p),
        Box::new(AExpr::Powf(
            val(a),
            Box::new(AExpr::Sub(val(p), AExpr::lit("1.0"))),
        )),
    );
    let reused = AExpr::Mul(Box::new(AExpr::Mul(val(p), val(z))), recip(val(a)));
    Box::new(AExpr::AtZero(val(a), Box::new(textbook), Box::new(reused)))
}

/// 1/s for a scalar s.
#[allow(
    clippy::unnecessary_box_returns,
    reason = "rules build boxed trees; boxing here keeps each rule one line"
)]
fn recip(s: B) -> B {
    Box::new(AExpr::Div(AExpr::lit("1.0"), s))
}

/// The steps of a solve `id` = M⁻¹B (args `[M, B]`): the solve of its adjoint, `solved`, shared,
/// then B̄ += that and M̄ −= `outer(that)`.
fn solve_adjoints(
    cx: &Context,
    id: ValueId,
    shared: &mut usize,
    solved: AExpr,
    outer: impl Fn(Box<AExpr>) -> AExpr,
) -> Vec<Step> {
    let args = &cx.prog.nodes[id].args;
    let need = |k: usize| cx.active[args[k]];
    if !need(0) && !need(1) {
        return Vec::new();
    }
    let t = *shared;
    *shared += 1;
    let mut steps = vec![Step::Share {
        index: t,
        expr: solved,
    }];
    if need(1) {
        steps.push(Step::Add {
            target: args[1],
            expr: AExpr::Shared(t),
        });
    }
    if need(0) {
        steps.push(Step::Add {
            target: args[0],
            expr: AExpr::Neg(Box::new(outer(Box::new(AExpr::Shared(t))))),
        });
    }
    steps
}

/// The steps of node `id`'s rule: contributions to its active arguments, after any value they
/// share. `shared` numbers shared values across the whole adjoint program.
pub fn adjoints(cx: &Context, id: ValueId, shared: &mut usize) -> Vec<Step> {
    let prog = cx.prog;
    let node = &prog.nodes[id];
    let args = &node.args;
    let need = |k: usize| cx.active[args[k]];
    // Rules whose contributions share one computed value.
    if let Op::Solve(_) = node.op {
        // Z = A⁻¹B: dZ = A⁻¹(dB − dA·Z) ⇒ B̄ += A⁻ᵀZ̄, Ā −= (A⁻ᵀZ̄)·Zᵀ, with A⁻ᵀZ̄ solved, not inverted.
        let solved = AExpr::SolveTransposed {
            solve: id,
            rhs: Box::new(AExpr::Adj(id)),
        };
        return solve_adjoints(cx, id, shared, solved, |s| {
            AExpr::MatMul(s, Box::new(AExpr::Transpose(val(id))))
        });
    }
    if let Op::TriSolve { transpose } = node.op {
        // Z = L⁻¹B: B̄ += L⁻ᵀZ̄, L̄ += −L⁻ᵀZ̄·Zᵀ; Z = L⁻ᵀB: B̄ += L⁻¹Z̄, L̄ += −Z·(L⁻¹Z̄)ᵀ (the
        // solve reads L's lower triangle, and L̄'s upper one is never read, as for the
        // factorisation below).
        let back = AExpr::TriSolve {
            l: args[0],
            rhs: Box::new(AExpr::Adj(id)),
            transpose: !transpose,
        };
        return solve_adjoints(cx, id, shared, back, |s| {
            if transpose {
                AExpr::MatMul(val(id), Box::new(AExpr::Transpose(s)))
            } else {
                AExpr::MatMul(s, Box::new(AExpr::Transpose(val(id))))
            }
        });
    }
    if let Op::Call(_) = node.op {
        // The callee's vector-Jacobian product, seeded with this call's adjoint, gives the
        // adjoints of all its value arguments at once.
        if !args.iter().any(|&a| cx.active[a]) {
            return Vec::new();
        }
        let t = *shared;
        *shared += 1;
        let mut steps = vec![Step::Share {
            index: t,
            expr: AExpr::CallAdjoint { node: id },
        }];
        for (index, &a) in args.iter().enumerate() {
            if cx.active[a] {
                steps.push(Step::Add {
                    target: a,
                    expr: AExpr::Field {
                        tuple: t,
                        index,
                        shape: prog.shape(a),
                    },
                });
            }
        }
        return steps;
    }
    if let Op::Branch { .. } = node.op {
        // Both branches are programs of the captured values: the taken one's adjoint program
        // gives their adjoints, from the adjoints of what the `if` produced.
        let captures: Vec<usize> = (0..args.len() - 1)
            .filter(|&k| cx.active[args[k + 1]])
            .collect();
        if captures.is_empty() {
            return Vec::new();
        }
        let t = *shared;
        *shared += 1;
        let mut steps = vec![Step::Share {
            index: t,
            expr: AExpr::BranchAdjoint {
                node: id,
                captures: captures.clone(),
            },
        }];
        for (index, &k) in captures.iter().enumerate() {
            let shape = prog.shape(args[k + 1]);
            steps.push(Step::Add {
                target: args[k + 1],
                expr: AExpr::Field {
                    tuple: t,
                    index,
                    shape,
                },
            });
        }
        return steps;
    }
    simple(cx, id)
        .into_iter()
        .filter(|(k, _)| need(*k))
        .map(|(k, expr)| Step::Add {
            target: args[k],
            expr,
        })
        .collect()
}

/// Rules whose contributions are independent: `(argument index, contribution)`.
#[allow(
    clippy::too_many_lines,
    reason = "the rule table reads best as one match, a rule an arm"
)]
fn simple(cx: &Context, id: ValueId) -> Vec<(usize, AExpr)> {
    let prog = cx.prog;
    let node = &prog.nodes[id];
    let args = &node.args;
    let g = || Box::new(AExpr::Adj(id));
    let z = || val(id);
    let shape = |k: usize| prog.shape(args[k]);
    let mut out: Vec<(usize, AExpr)> = Vec::new();
    match &node.op {
        // Parameters and constants end the sweep; the rules of solves are in `adjoints`, where
        // their two contributions share one solve; conditions have no derivative; an `if` and
        // its results are handled in `adjoints` and `diff`.
        Op::Param(_)
        | Op::Const(_)
        | Op::Field(..)
        | Op::IdentityOf
        | Op::Solve(_)
        | Op::TriSolve { .. }
        | Op::Compare(_)
        | Op::Not
        | Op::And
        | Op::Or
        | Op::BoolConst(_)
        | Op::Branch { .. }
        | Op::Extract(_)
        | Op::Call(_) => {}
        // d(A ± B) = dA ± dB ⇒ Ā += Z̄, B̄ ±= Z̄
        Op::Add => {
            out.push((0, AExpr::Adj(id)));
            out.push((1, AExpr::Adj(id)));
        }
        Op::Sub => {
            out.push((0, AExpr::Adj(id)));
            out.push((1, AExpr::Neg(g())));
        }
        // d(A ± B₁ ± B₂ …) = dA ± dB₁ ± dB₂ … ⇒ Ā += Z̄, B̄ₖ ±= Z̄
        Op::Accumulate(minus) => {
            out.push((0, AExpr::Adj(id)));
            for (k, &m) in minus.iter().enumerate() {
                out.push((k + 1, if m { AExpr::Neg(g()) } else { AExpr::Adj(id) }));
            }
        }
        // d(−A) = −dA ⇒ Ā −= Z̄
        Op::Neg => out.push((0, AExpr::Neg(g()))),
        Op::Mul => match (shape(0), shape(1)) {
            // d(A·B) = dA·B + A·dB ⇒ Ā += Z̄Bᵀ, B̄ += AᵀZ̄
            (Shape::Matrix(..), Shape::Matrix(..)) => {
                out.push((
                    0,
                    AExpr::MatMul(g(), Box::new(AExpr::Transpose(val(args[1])))),
                ));
                out.push((
                    1,
                    AExpr::MatMul(Box::new(AExpr::Transpose(val(args[0]))), g()),
                ));
            }
            // d(s·A) = ds·A + s·dA ⇒ s̄ += ⟨A, Z̄⟩, Ā += s·Z̄
            (Shape::Scalar, Shape::Matrix(..)) => {
                out.push((0, AExpr::Dot(g(), val(args[1]))));
                out.push((1, AExpr::Scale(g(), val(args[0]))));
            }
            (Shape::Matrix(..), Shape::Scalar) => {
                out.push((0, AExpr::Scale(g(), val(args[1]))));
                out.push((1, AExpr::Dot(g(), val(args[0]))));
            }
            // d(ab) = da·b + a·db
            _ => {
                out.push((0, AExpr::Mul(g(), val(args[1]))));
                out.push((1, AExpr::Mul(g(), val(args[0]))));
            }
        },
        // d(A/s) = dA/s − A·ds/s² ⇒ Ā += Z̄/s, s̄ −= ⟨A, Z̄⟩/s² = ⟨Z, Z̄⟩/s. Both multiply by
        // the one reciprocal 1/s, which the compiler forms once (and hoists out of a loop where
        // s is invariant), rather than dividing twice.
        Op::Div => {
            let inverse = || recip(val(args[1]));
            if shape(0).is_matrix() {
                out.push((0, AExpr::Scale(g(), inverse())));
                out.push((
                    1,
                    AExpr::Neg(Box::new(AExpr::Mul(
                        Box::new(AExpr::Dot(g(), z())),
                        inverse(),
                    ))),
                ));
            } else {
                out.push((0, AExpr::Mul(g(), inverse())));
                out.push((
                    1,
                    AExpr::Neg(Box::new(AExpr::Mul(
                        Box::new(AExpr::Mul(g(), z())),
                        inverse(),
                    ))),
                ));
            }
        }
        // d(Aᵀ) = (dA)ᵀ ⇒ Ā += Z̄ᵀ
        Op::Transpose => out.push((0, AExpr::Transpose(g()))),
        // d tr A = tr dA ⇒ Ā += z̄·I
        Op::Trace => {
            let Shape::Matrix(n, _) = shape(0) else {
                return Vec::new();
            };
            out.push((0, AExpr::Diag(g(), n)));
        }
        // d ΣA = Σ dA ⇒ Ā += z̄·𝟙 (÷ the number of entries for the mean)
        Op::Sum => out.push((0, AExpr::Fill(g(), shape(0)))),
        Op::Mean => {
            let count = match shape(0) {
                Shape::Matrix(Dim::Lit(r), Dim::Lit(c)) => AExpr::lit(format!("{}.0", r * c)),
                Shape::Matrix(r, c) => {
                    let (r, c) = (r.tokens(), c.tokens());
                    Box::new(AExpr::Cast(quote::quote!(#r * #c)))
                }
                Shape::Scalar | Shape::Bool | Shape::Tuple | Shape::Poison => AExpr::lit("1.0"),
            };
            out.push((0, AExpr::Fill(Box::new(AExpr::Div(g(), count)), shape(0))));
        }
        // d⟨A, B⟩ = ⟨dA, B⟩ + ⟨A, dB⟩ ⇒ Ā += z̄·B, B̄ += z̄·A
        Op::Dot => {
            out.push((0, AExpr::Scale(val(args[1]), g())));
            out.push((1, AExpr::Scale(val(args[0]), g())));
        }
        // d‖A‖² = 2⟨A, dA⟩ ⇒ Ā += 2z̄·A
        Op::NormSquared => out.push((
            0,
            AExpr::Scale(val(args[0]), Box::new(AExpr::Mul(AExpr::lit("2.0"), g()))),
        )),
        // d‖A‖ = ⟨A, dA⟩/‖A‖ ⇒ Ā += (z̄/z)·A, and 0 at A = 0 (a subgradient of the kink)
        Op::Norm => out.push((
            0,
            AExpr::Scale(val(args[0]), Box::new(AExpr::DivOrZero(g(), z()))),
        )),
        // d(A∘B) = dA∘B + A∘dB ⇒ Ā += Z̄∘B, B̄ += Z̄∘A
        Op::ComponentMul => {
            out.push((0, AExpr::ComponentMul(g(), val(args[1]))));
            out.push((1, AExpr::ComponentMul(g(), val(args[0]))));
        }
        // d(A⊘B) = dA⊘B − A∘dB⊘(B∘B) ⇒ Ā += Z̄⊘B, B̄ −= (Z̄∘Z)⊘B
        Op::ComponentDiv => {
            out.push((0, AExpr::ComponentDiv(g(), val(args[1]))));
            let gz = Box::new(AExpr::ComponentMul(g(), z()));
            out.push((
                1,
                AExpr::Neg(Box::new(AExpr::ComponentDiv(gz, val(args[1])))),
            ));
        }
        // d f∘(A) = f′∘(A)∘dA ⇒ Ā += Z̄∘f′∘(A); a captured scalar s gets Σ Z̄∘∂f/∂s
        Op::Map(_) => {
            for input in 0..args.len() {
                out.push((input, AExpr::MapAdj { node: id, input }));
            }
        }
        Op::Unary(f) => out.push((0, AExpr::Mul(g(), unary_derivative(*f, val(args[0]), z())))),
        // d aⁿ = n·aⁿ⁻¹ da
        Op::Powi(n) => {
            let factor = AExpr::Cast(n.clone());
            let power = AExpr::Powi(val(args[0]), quote::quote!(((#n) - 1)));
            out.push((
                0,
                AExpr::Mul(g(), Box::new(AExpr::Mul(Box::new(factor), Box::new(power)))),
            ));
        }
        // z = max(a, b): dz = [a ≥ b]·da + [a < b]·db ⇒ ā += z̄·[a ≥ b], b̄ += z̄·(1 − [a ≥ b]);
        // z = min(a, b) the same with [b ≥ a]. At a tie the derivative follows `a`, as the value
        // can be said to.
        Op::Max | Op::Min => {
            let step = select(&node.op, args);
            let other = Box::new(AExpr::Sub(AExpr::lit("1.0"), step.clone()));
            out.push((0, AExpr::Mul(g(), step)));
            out.push((1, AExpr::Mul(g(), other)));
        }
        // d aᵖ = p·aᵖ⁻¹ da + aᵖ·ln a dp
        Op::Powf => {
            out.push((0, AExpr::Mul(g(), powf_slope(args[0], args[1], id))));
            let log = AExpr::Method("ln", val(args[0]));
            out.push((1, AExpr::Mul(g(), Box::new(AExpr::Mul(z(), Box::new(log))))));
        }
        // dz = dA[(i, j)] ⇒ Ā[(i, j)] += z̄
        Op::Index(i, j) => out.push((0, AExpr::OneHot(g(), shape(0), *i, *j))),
        // z = A's entry k (|Aₖ| for a magnitude): dz = dAₖ (sign(Aₖ)·dAₖ) ⇒ Āₖ += z̄ (sign·z̄)
        Op::Extremum(_) => out.push((
            0,
            AExpr::ExtremumAdjoint {
                node: id,
                scale: g(),
            },
        )),
        // z = A[k] at a run-time k ⇒ Ā[k] += z̄
        Op::IndexAt(at) => out.push((0, AExpr::OneHotAt(g(), shape(0), Box::new(at.clone())))),
        // A = L·Lᵀ from A's lower triangle: ⟨L̄, dL⟩ = ⟨M, sym(dA)⟩ with
        // M = L⁻ᵀ·Φ(Lᵀ·L̄)·L⁻¹ (Murray 2016) ⇒ Ā += sym*(M), what the lower triangle reads. L̄'s
        // upper triangle, where L has no entries, is never read: Lᵀ times a strictly upper
        // matrix is strictly upper, and Φ keeps the lower triangle.
        Op::Cholesky(_) => {
            let p = AExpr::Phi(Box::new(AExpr::MatMul(
                Box::new(AExpr::Transpose(z())),
                g(),
            )));
            let solve_t = |rhs: AExpr| AExpr::TriSolve {
                l: id,
                rhs: Box::new(rhs),
                transpose: true,
            };
            let m = solve_t(AExpr::Transpose(Box::new(solve_t(AExpr::Transpose(
                Box::new(p),
            )))));
            out.push((0, AExpr::SymLower(Box::new(m))));
        }
        // z = Π Aᵢᵢ: ∂z/∂Aᵢᵢ = z/Aᵢᵢ ⇒ Ā += Diag(z·z̄ ⊘ diag A)
        Op::DiagonalProduct => {
            let n = prog.shape(args[0]);
            let column = crate::simplify::diagonal_shape(n);
            let scale = AExpr::Fill(Box::new(AExpr::Mul(z(), g())), column);
            let each =
                AExpr::ComponentDiv(Box::new(scale), Box::new(AExpr::DiagonalOf(val(args[0]))));
            out.push((0, AExpr::FromDiagonal(Box::new(each), n)));
        }
        // z = diag(A): dz = diag(dA) ⇒ Ā += Diag(z̄), z̄ on the diagonal
        Op::DiagonalOf => out.push((0, AExpr::FromDiagonal(g(), shape(0)))),
        // z = a × b: ⟨z̄, a × b⟩ = ⟨b × z̄, a⟩ = ⟨z̄ × a, b⟩ ⇒ ā += b × z̄, b̄ += z̄ × a
        Op::Cross => {
            out.push((0, AExpr::Cross(val(args[1]), g())));
            out.push((1, AExpr::Cross(g(), val(args[0]))));
        }
        // Z = A[block at (i, j)]: dZ = the block of dA ⇒ Ā[block] += Z̄, the rest untouched
        Op::View { row, col, .. } => out.push((0, AExpr::Embed(g(), shape(0), *row, *col))),
        // Z = A with the block at (i, j) set to B: dZ = dA with that block zero + dB embedded
        // there ⇒ Ā += Z̄ with the block zero, B̄ += Z̄'s block
        Op::SetView { row, col, .. } => {
            let block = || Box::new(AExpr::Block(g(), *row, *col, shape(1)));
            let kept = AExpr::Sub(g(), Box::new(AExpr::Embed(block(), shape(0), *row, *col)));
            out.push((0, kept));
            out.push((1, *block()));
        }
        // Z = A with entry (i, j) set to s: dZ = dA − dA[(i, j)]·eᵢⱼ + ds·eᵢⱼ ⇒ Ā += Z̄ with its
        // (i, j) entry zero, s̄ += Z̄[(i, j)]
        Op::SetEntry(i, j) => {
            let kept = AExpr::Sub(
                g(),
                Box::new(AExpr::OneHot(
                    Box::new(AExpr::Entry(g(), *i, *j)),
                    shape(0),
                    *i,
                    *j,
                )),
            );
            out.push((0, kept));
            out.push((1, AExpr::Entry(g(), *i, *j)));
        }
        // d(A⁻¹) = −A⁻¹·dA·A⁻¹ ⇒ Ā −= Zᵀ·Z̄·Zᵀ
        Op::Inverse(_) => {
            let left = Box::new(AExpr::MatMul(Box::new(AExpr::Transpose(z())), g()));
            out.push((
                0,
                AExpr::Neg(Box::new(AExpr::MatMul(
                    left,
                    Box::new(AExpr::Transpose(z())),
                ))),
            ));
        }
        // d det A = det A·tr(A⁻¹dA) ⇒ Ā += z̄·z·A⁻ᵀ, reusing a live inverse of A when the
        // program has one (ln det and a quadratic form in A⁻¹ then share one inversion).
        Op::Determinant => {
            let gradient = match cx.inverse_of(args[0]) {
                Some(inverse) => AExpr::Scale(Box::new(AExpr::Transpose(val(inverse))), z()),
                None => AExpr::DeterminantGradient {
                    matrix: args[0],
                    det: id,
                },
            };
            out.push((0, AExpr::Scale(Box::new(gradient), g())));
        }
        // Z built from scalars: an entry's scalar gets that entry of Z̄ (zᵢⱼ = sₖ ⇒ s̄ₖ += z̄ᵢⱼ),
        // a filled matrix's scalar the sum of Z̄ (Z = s·𝟙 ⇒ s̄ += Σ Z̄), a scaled identity's the
        // trace (Z = s·I ⇒ s̄ += tr Z̄).
        Op::Build { kind, rows, .. } => match kind {
            Build::Entries => {
                let r = rows.value().unwrap_or(1);
                for k in 0..args.len() {
                    out.push((k, AExpr::Entry(g(), k % r, k / r)));
                }
            }
            Build::Fill => out.push((0, AExpr::Sum(g()))),
            Build::Diagonal => out.push((0, AExpr::Trace(g()))),
        },
        // d(A⊗B) = dA⊗B + A⊗dB ⇒ Ā_ij += ⟨Z̄₍ᵢⱼ₎, B⟩, B̄ += Σ A_ij Z̄₍ᵢⱼ₎
        Op::Kronecker => {
            out.push((
                0,
                AExpr::KroneckerAdjoint {
                    node: id,
                    left: true,
                },
            ));
            out.push((
                1,
                AExpr::KroneckerAdjoint {
                    node: id,
                    left: false,
                },
            ));
        }
        // d tr(F₀·…·Fₖ₋₁) = Σᵢ tr(Cᵢ·dFᵢ) with Cᵢ the product of the other factors in cyclic
        // order ⇒ F̄ᵢ += z̄·Cᵢᵀ (and z̄·Cᵢ for a transposed factor); `fuse` plans the Cᵢ.
        Op::TraceChain(transposed) => {
            let dims = crate::fuse::factor_shapes(prog, args, transposed);
            let needed: Vec<bool> = args.iter().map(|&a| cx.active[a]).collect();
            let plan = crate::fuse::plan(&crate::fuse::estimates(&dims), &needed);
            for (i, &t) in transposed.iter().enumerate() {
                let Some(window) = plan.complements[i].filter(|_| needed[i]) else {
                    continue;
                };
                let complement = Box::new(AExpr::Window { node: id, window });
                let c = if t {
                    complement
                } else {
                    Box::new(AExpr::Transpose(complement))
                };
                out.push((i, AExpr::Scale(c, g())));
            }
        }
        // d(Aᵏ) = Σ_{r<k} Aʳ·dA·Aᵏ⁻¹⁻ʳ ⇒ Ā += Σ_{r<k} (Aʳ)ᵀ·Z̄·(Aᵏ⁻¹⁻ʳ)ᵀ
        Op::MatrixPower(k) => {
            out.push((
                0,
                AExpr::PowerAdjoint {
                    base: args[0],
                    adjoint: g(),
                    exponent: k.clone(),
                },
            ));
        }
    }
    out
}

/// f′(a) for the scalar functions, in terms of a and z = f(a).
#[allow(
    clippy::unnecessary_box_returns,
    reason = "the result is an operand of a boxed tree"
)]
fn unary_derivative(f: Func, a: B, z: B) -> B {
    let one = || AExpr::lit("1.0");
    Box::new(match f {
        // d eᵃ = eᵃ da
        Func::Exp => return z,
        // d ln a = da / a
        Func::Ln => AExpr::Div(one(), a),
        // d ln(1 + a) = da / (1 + a)
        Func::Ln1p => AExpr::Div(one(), Box::new(AExpr::Add(one(), a))),
        // d √a = da / (2√a)
        Func::Sqrt => AExpr::Div(AExpr::lit("0.5"), z),
        // d sin a = cos a da
        Func::Sin => AExpr::Method("cos", a),
        // d cos a = −sin a da
        Func::Cos => AExpr::Neg(Box::new(AExpr::Method("sin", a))),
        // d tanh a = (1 − tanh² a) da
        Func::Tanh => AExpr::Sub(one(), Box::new(AExpr::Mul(z.clone(), z))),
        // d |a| = sign(a) da
        Func::Abs => AExpr::Method("signum", a),
        // d σ(a) = σ(a)(1 − σ(a)) da
        Func::Sigmoid => AExpr::Mul(z.clone(), Box::new(AExpr::Sub(one(), z))),
        // d softplus(a) = σ(a) da
        Func::Softplus => AExpr::Helper(Func::Sigmoid, a),
    })
}

/// The tangent of node `id` from its arguments' tangents (`AExpr::Tan`): the differential of
/// each rule above, with only the terms of active arguments. `None` for a node with no tangent
/// (a parameter, a constant, a condition).
#[allow(
    clippy::too_many_lines,
    reason = "the tangent rule table reads best as one match, a rule an arm"
)]
pub fn tangent(prog: &Program, active: &[bool], id: ValueId) -> Option<AExpr> {
    let node = &prog.nodes[id];
    let args = &node.args;
    let on = |k: usize| active[args[k]];
    let d = |k: usize| Box::new(AExpr::Tan(args[k]));
    let v = |k: usize| val(args[k]);
    let z = || val(id);
    let shape = |k: usize| prog.shape(args[k]);
    // The terms of the active arguments, summed.
    let terms = |parts: Vec<(usize, AExpr)>| {
        parts
            .into_iter()
            .filter(|(k, _)| on(*k))
            .map(|(_, e)| e)
            .reduce(|a, b| AExpr::Add(Box::new(a), Box::new(b)))
    };
    match &node.op {
        Op::Param(_)
        | Op::Const(_)
        | Op::Field(..)
        | Op::IdentityOf
        | Op::Compare(_)
        | Op::Not
        | Op::And
        | Op::Or
        | Op::BoolConst(_) => None,
        // d(A ± B) = dA ± dB
        Op::Add => terms(vec![(0, AExpr::Tan(args[0])), (1, AExpr::Tan(args[1]))]),
        Op::Sub => match (on(0), on(1)) {
            (true, true) => Some(AExpr::Sub(d(0), d(1))),
            (true, false) => Some(AExpr::Tan(args[0])),
            _ => Some(AExpr::Neg(d(1))),
        },
        Op::Neg => Some(AExpr::Neg(d(0))),
        // d(A ± B₁ ± B₂ …) = dA ± dB₁ ± dB₂ …
        Op::Accumulate(minus) => {
            let mut parts = vec![(0, AExpr::Tan(args[0]))];
            for (k, &m) in minus.iter().enumerate() {
                let t = AExpr::Tan(args[k + 1]);
                parts.push((k + 1, if m { AExpr::Neg(Box::new(t)) } else { t }));
            }
            terms(parts)
        }
        Op::Mul => terms(match (shape(0), shape(1)) {
            // d(A·B) = dA·B + A·dB
            (Shape::Matrix(..), Shape::Matrix(..)) => vec![
                (0, AExpr::MatMul(d(0), v(1))),
                (1, AExpr::MatMul(v(0), d(1))),
            ],
            // d(s·A) = ds·A + s·dA
            (Shape::Scalar, Shape::Matrix(..)) => {
                vec![(0, AExpr::Scale(v(1), d(0))), (1, AExpr::Scale(d(1), v(0)))]
            }
            (Shape::Matrix(..), Shape::Scalar) => {
                vec![(0, AExpr::Scale(d(0), v(1))), (1, AExpr::Scale(v(0), d(1)))]
            }
            // d(ab) = da·b + a·db
            _ => vec![(0, AExpr::Mul(d(0), v(1))), (1, AExpr::Mul(v(0), d(1)))],
        }),
        // d(A/s) = dA/s − Z·ds/s
        // (each term multiplies by the one reciprocal 1/s, as in the adjoint)
        Op::Div => {
            let ds_over_s = Box::new(AExpr::Mul(d(1), recip(v(1))));
            terms(if shape(0).is_matrix() {
                vec![
                    (0, AExpr::Scale(d(0), recip(v(1)))),
                    (1, AExpr::Neg(Box::new(AExpr::Scale(z(), ds_over_s)))),
                ]
            } else {
                vec![
                    (0, AExpr::Mul(d(0), recip(v(1)))),
                    (1, AExpr::Neg(Box::new(AExpr::Mul(z(), ds_over_s)))),
                ]
            })
        }
        // d(Aᵀ) = (dA)ᵀ
        Op::Transpose => Some(AExpr::Transpose(d(0))),
        // d tr A = tr dA
        Op::Trace => Some(AExpr::Trace(d(0))),
        // d ΣA = Σ dA, and the mean divides by the count
        Op::Sum => Some(AExpr::Sum(d(0))),
        Op::Mean => {
            let count = match shape(0) {
                Shape::Matrix(Dim::Lit(r), Dim::Lit(c)) => AExpr::lit(format!("{}.0", r * c)),
                Shape::Matrix(r, c) => {
                    let (r, c) = (r.tokens(), c.tokens());
                    Box::new(AExpr::Cast(quote::quote!(#r * #c)))
                }
                Shape::Scalar | Shape::Bool | Shape::Tuple | Shape::Poison => AExpr::lit("1.0"),
            };
            Some(AExpr::Div(Box::new(AExpr::Sum(d(0))), count))
        }
        // d⟨A, B⟩ = ⟨dA, B⟩ + ⟨A, dB⟩
        Op::Dot => terms(vec![
            (0, AExpr::Dot(d(0), v(1))),
            (1, AExpr::Dot(v(0), d(1))),
        ]),
        // d‖A‖² = 2⟨A, dA⟩
        Op::NormSquared => Some(AExpr::Mul(
            AExpr::lit("2.0"),
            Box::new(AExpr::Dot(v(0), d(0))),
        )),
        // d‖A‖ = ⟨A, dA⟩/‖A‖, 0 at A = 0 as in the adjoint
        Op::Norm => Some(AExpr::DivOrZero(Box::new(AExpr::Dot(v(0), d(0))), z())),
        // d(A∘B) = dA∘B + A∘dB
        Op::ComponentMul => terms(vec![
            (0, AExpr::ComponentMul(d(0), v(1))),
            (1, AExpr::ComponentMul(v(0), d(1))),
        ]),
        // d(A⊘B) = dA⊘B − Z∘dB⊘B
        Op::ComponentDiv => terms(vec![
            (0, AExpr::ComponentDiv(d(0), v(1))),
            (
                1,
                AExpr::Neg(Box::new(AExpr::ComponentDiv(
                    Box::new(AExpr::ComponentMul(z(), d(1))),
                    v(1),
                ))),
            ),
        ]),
        // d f∘(A) = ∂f/∂x∘(A)∘dA + Σₛ ∂f/∂s∘(A)·ds, with the partials computed entry by entry
        // together with the map's value
        Op::Map(_) => terms(
            (0..args.len())
                .map(|k| {
                    let partial = Box::new(AExpr::Partial { node: id, input: k });
                    if k == 0 {
                        (k, AExpr::ComponentMul(partial, d(k)))
                    } else {
                        (k, AExpr::Scale(partial, d(k)))
                    }
                })
                .collect(),
        ),
        // d f(a) = f′(a) da
        Op::Unary(f) => Some(AExpr::Mul(d(0), unary_derivative(*f, v(0), z()))),
        // d aⁿ = n·aⁿ⁻¹ da
        Op::Powi(n) => {
            let factor = AExpr::Cast(n.clone());
            let power = AExpr::Powi(v(0), quote::quote!(((#n) - 1)));
            Some(AExpr::Mul(
                d(0),
                Box::new(AExpr::Mul(Box::new(factor), Box::new(power))),
            ))
        }
        // d max(a, b) = [a ≥ b]·da + (1 − [a ≥ b])·db, and min with [b ≥ a]
        Op::Max | Op::Min => {
            let step = select(&node.op, args);
            let other = Box::new(AExpr::Sub(AExpr::lit("1.0"), step.clone()));
            terms(vec![
                (0, AExpr::Mul(d(0), step)),
                (1, AExpr::Mul(d(1), other)),
            ])
        }
        // d aᵖ = p·aᵖ⁻¹ da + aᵖ·ln a dp
        Op::Powf => {
            let log = AExpr::Method("ln", v(0));
            terms(vec![
                (0, AExpr::Mul(d(0), powf_slope(args[0], args[1], id))),
                (
                    1,
                    AExpr::Mul(d(1), Box::new(AExpr::Mul(z(), Box::new(log)))),
                ),
            ])
        }
        // dz = dA[(i, j)]
        Op::Index(i, j) => Some(AExpr::Entry(d(0), *i, *j)),
        // dZ = dA − dA[(i, j)]·eᵢⱼ + ds·eᵢⱼ
        Op::SetEntry(i, j) => terms(vec![
            (
                0,
                AExpr::Sub(
                    d(0),
                    Box::new(AExpr::OneHot(
                        Box::new(AExpr::Entry(d(0), *i, *j)),
                        shape(0),
                        *i,
                        *j,
                    )),
                ),
            ),
            (1, AExpr::OneHot(d(1), shape(0), *i, *j)),
        ]),
        // dz = dAₖ at the entry taken (times its sign for a magnitude)
        Op::Extremum(_) => Some(AExpr::ExtremumTangent {
            node: id,
            tangent: d(0),
        }),
        // dz = dA[k]
        Op::IndexAt(at) => Some(AExpr::EntryAt(d(0), Box::new(at.clone()))),
        // dL = L·Φ(L⁻¹·sym(dA)·L⁻ᵀ)
        Op::Cholesky(_) => {
            let solve = |rhs: AExpr| AExpr::TriSolve {
                l: id,
                rhs: Box::new(rhs),
                transpose: false,
            };
            let inner = solve(AExpr::Transpose(Box::new(solve(AExpr::Transpose(
                Box::new(AExpr::SymFromLower(d(0))),
            )))));
            Some(AExpr::MatMul(z(), Box::new(AExpr::Phi(Box::new(inner)))))
        }
        // dz = z·Σ dAᵢᵢ/Aᵢᵢ
        Op::DiagonalProduct => Some(AExpr::Mul(
            z(),
            Box::new(AExpr::Sum(Box::new(AExpr::ComponentDiv(
                Box::new(AExpr::DiagonalOf(d(0))),
                Box::new(AExpr::DiagonalOf(v(0))),
            )))),
        )),
        // d(L⁻¹B) = L⁻¹(dB − dL·Z), d(L⁻ᵀB) = L⁻ᵀ(dB − dLᵀ·Z)
        Op::TriSolve { transpose } => {
            let dl = if *transpose {
                AExpr::Transpose(d(0))
            } else {
                *d(0)
            };
            let rhs = terms(vec![
                (1, AExpr::Tan(args[1])),
                (0, AExpr::Neg(Box::new(AExpr::MatMul(Box::new(dl), z())))),
            ]);
            rhs.map(|rhs| AExpr::TriSolve {
                l: args[0],
                rhs: Box::new(rhs),
                transpose: *transpose,
            })
        }
        // dz = diag(dA)
        Op::DiagonalOf => Some(AExpr::DiagonalOf(d(0))),
        // dz = da × b + a × db
        Op::Cross => terms(vec![
            (0, AExpr::Cross(d(0), v(1))),
            (1, AExpr::Cross(v(0), d(1))),
        ]),
        // dZ = the block of dA
        Op::View { row, col, .. } => Some(AExpr::Block(d(0), *row, *col, prog.shape(id))),
        // dZ = dA with the block zero, plus dB there
        Op::SetView { row, col, .. } => terms(vec![
            (
                0,
                AExpr::Sub(
                    d(0),
                    Box::new(AExpr::Embed(
                        Box::new(AExpr::Block(d(0), *row, *col, shape(1))),
                        shape(0),
                        *row,
                        *col,
                    )),
                ),
            ),
            (1, AExpr::Embed(d(1), shape(0), *row, *col)),
        ]),
        // d(A⁻¹) = −Z·dA·Z
        Op::Inverse(_) => Some(AExpr::Neg(Box::new(AExpr::MatMul(
            Box::new(AExpr::MatMul(z(), d(0))),
            z(),
        )))),
        // d det A = ⟨det A·A⁻ᵀ, dA⟩ (the cofactors when A is singular)
        Op::Determinant => Some(AExpr::Dot(
            Box::new(AExpr::DeterminantGradient {
                matrix: args[0],
                det: id,
            }),
            d(0),
        )),
        // Z = A⁻¹B: dZ = A⁻¹(dB − dA·Z), through the forward LU
        Op::Solve(_) => {
            let rhs = terms(vec![
                (1, AExpr::Tan(args[1])),
                (0, AExpr::Neg(Box::new(AExpr::MatMul(d(0), z())))),
            ])?;
            Some(AExpr::SolveForward {
                solve: id,
                rhs: Box::new(rhs),
            })
        }
        // dZ is built the same way from the scalars' tangents: Σₖ dsₖ·eᵢⱼ, ds·𝟙, ds·I
        Op::Build { kind, rows, .. } => match kind {
            Build::Entries => {
                let r = rows.value().unwrap_or(1);
                let shape = prog.shape(id);
                terms(
                    (0..args.len())
                        .map(|k| (k, AExpr::OneHot(d(k), shape, k % r, k / r)))
                        .collect(),
                )
            }
            Build::Fill => terms(vec![(0, AExpr::Fill(d(0), prog.shape(id)))]),
            Build::Diagonal => match prog.shape(id) {
                Shape::Matrix(n, _) => terms(vec![(0, AExpr::Diag(d(0), n))]),
                Shape::Scalar | Shape::Bool | Shape::Tuple | Shape::Poison => None,
            },
        },
        // d(A⊗B) = dA⊗B + A⊗dB
        Op::Kronecker => terms(vec![
            (0, AExpr::Kronecker(d(0), v(1))),
            (1, AExpr::Kronecker(v(0), d(1))),
        ]),
        // d(Aᵏ) = Σ_{r<k} Aʳ·dA·Aᵏ⁻¹⁻ʳ
        Op::MatrixPower(k) => Some(AExpr::PowerTangent {
            base: args[0],
            tangent: d(0),
            exponent: k.clone(),
        }),
        // d tr(F₀·…·Fₖ₋₁) = Σᵢ tr(dFᵢ·Cᵢ) = Σᵢ ⟨dFᵢᵀ, Cᵢ⟩ with Cᵢ the other factors in cyclic
        // order, planned by `fuse` as for the adjoint
        Op::TraceChain(transposed) => {
            let dims = crate::fuse::factor_shapes(prog, args, transposed);
            let needed: Vec<bool> = args.iter().map(|&a| active[a]).collect();
            let plan = crate::fuse::plan(&crate::fuse::estimates(&dims), &needed);
            let parts = transposed
                .iter()
                .enumerate()
                .filter_map(|(i, &t)| {
                    let window = plan.complements[i]?;
                    let c = Box::new(AExpr::Window { node: id, window });
                    let df = if t {
                        AExpr::Tan(args[i])
                    } else {
                        AExpr::Transpose(Box::new(AExpr::Tan(args[i])))
                    };
                    Some((i, AExpr::Dot(Box::new(df), c)))
                })
                .collect();
            terms(parts)
        }
        // An `if` runs the tangent program of the branch it takes.
        Op::Branch { .. } => Some(AExpr::BranchTangent { node: id }),
        Op::Extract(k) => Some(AExpr::Item(Box::new(AExpr::Tan(args[0])), *k, node.shape)),
        // A call runs the callee's `_jvp`.
        Op::Call(_) => Some(AExpr::CallTangent { node: id }),
    }
}

/// [a ≥ b] for `max(a, b)`, [b ≥ a] for `min(a, b)`: 1 where the value is `a`.
#[allow(
    clippy::unnecessary_box_returns,
    reason = "the result is an operand of a boxed tree"
)]
fn select(op: &Op, args: &[ValueId]) -> B {
    let (a, b) = (val(args[0]), val(args[1]));
    Box::new(match op {
        Op::Min => AExpr::Step(b, a),
        Op::Param(..)
        | Op::Const(..)
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
        | Op::Map(..)
        | Op::Unary(..)
        | Op::Powi(..)
        | Op::Powf
        | Op::Max
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
        | Op::Field(..)
        | Op::Extremum(_)
        | Op::Cross
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
        | Op::Call(..) => AExpr::Step(a, b),
    })
}
