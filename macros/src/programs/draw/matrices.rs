//! Drawing matrices (and the `if`/block expressions and conditions of either kind): products,
//! maps, inverses and solves of diagonally dominant matrices. Part of `draw`.

use super::Gen;
use crate::programs::{Block, Cond, Dim, Expr, Float, Mix, Shape};

impl Gen<'_> {
    pub(super) fn matrix_shape(&mut self) -> Shape {
        let shapes: Vec<Shape> = self
            .shapes()
            .into_iter()
            .filter(|s| *s != Shape::Scalar)
            .collect();
        shapes[self.rng.below(shapes.len())]
    }

    pub(super) fn mat_leaf(&mut self, shape: Shape) -> (Expr, f64) {
        let Shape::Mat(r, c) = shape else {
            return self.scalar_leaf();
        };
        if self.in_data
            && let Some(leaf) = self.sample_leaf(shape)
        {
            return leaf;
        }
        let vis = self.visible();
        let same: Vec<usize> = vis
            .iter()
            .copied()
            .filter(|&id| self.vars[id].shape == shape)
            .collect();
        let flipped: Vec<usize> = vis
            .iter()
            .copied()
            .filter(|&id| self.vars[id].shape == Shape::Mat(c, r))
            .collect();
        if !same.is_empty() && (flipped.is_empty() || self.rng.chance(0.7)) {
            let k = self.rng.below(same.len());
            return self.var_expr(same[k]);
        }
        if !flipped.is_empty() {
            let k = self.rng.below(flipped.len());
            let (e, mag) = self.var_expr(flipped[k]);
            return (Expr::Method("transpose", Box::new(e), None), mag);
        }
        // Every program has vectors of both sizes: an outer product has any shape.
        let one = Dim::Lit(1);
        let (u, mu) = self.mat_leaf(Shape::Mat(r, one));
        let (v, mv) = self.mat_leaf(Shape::Mat(one, c));
        (Expr::Bin('*', Mix::Same, Box::new(u), Box::new(v)), mu * mv)
    }

    pub(super) fn mat(&mut self, shape: Shape, depth: usize) -> (Expr, f64) {
        if shape == Shape::Scalar {
            return self.scalar(depth);
        }
        if depth == 0 || self.closure || self.rng.chance(0.25) {
            return self.mat_leaf(shape);
        }
        let Shape::Mat(r, c) = shape else {
            unreachable!("matrix shapes only")
        };
        let d = depth - 1;
        let bx = Box::new;
        let square_lit = match (r, c) {
            (Dim::Lit(a), Dim::Lit(b)) if a == b && a > 1 => Some(a),
            _ => None,
        };
        let dominant = square_lit.is_some_and(|n| self.dominant.iter().any(|(_, m)| *m == n));
        let row_dominant = matches!(r, Dim::Lit(n) if self.dominant.iter().any(|(_, m)| *m == n));
        let (e, mag) = match self.rng.below(17) {
            0..=2 => {
                let (a, ma) = self.mat(shape, d);
                let (b, mb) = self.mat(shape, d);
                let op = self.rng.pick(&['+', '-']);
                (Expr::Bin(op, Mix::Same, bx(a), bx(b)), ma + mb)
            }
            3 => {
                let (s, ms) = self.scalar(d);
                let (m, mm) = self.mat(shape, d);
                if self.rng.chance(0.5) {
                    (Expr::Bin('*', Mix::ScalarLeft, bx(s), bx(m)), ms * mm)
                } else {
                    (Expr::Bin('*', Mix::ScalarRight, bx(m), bx(s)), ms * mm)
                }
            }
            4 => {
                let (m, mm) = self.mat(shape, d);
                let (p, lo, _) = self.positive(d);
                (Expr::Bin('/', Mix::ScalarRight, bx(m), bx(p)), mm / lo)
            }
            5 => {
                let (m, mm) = self.mat(shape, d);
                (Expr::Neg(bx(m)), mm)
            }
            6..=8 => {
                let one = Dim::Lit(1);
                let mut k = self.rng.pick(&[self.dims[0], self.dims[1], one]);
                if k == one && (r == one || c == one) {
                    k = self.dims[0];
                }
                let (a, ma) = self.mat(Shape::Mat(r, k), d);
                let (b, mb) = self.mat(Shape::Mat(k, c), d);
                (
                    Expr::Bin('*', Mix::Same, bx(a), bx(b)),
                    k.size() as f64 * ma * mb,
                )
            }
            9 => {
                let (m, mm) = self.mat(Shape::Mat(c, r), d);
                (Expr::Method("transpose", bx(m), None), mm)
            }
            10 => {
                let (a, ma) = self.mat(shape, d);
                let (b, mb) = self.mat(shape, d);
                (Expr::Method("component_mul", bx(a), Some(bx(b))), ma * mb)
            }
            11 => {
                let (a, ma) = self.mat(shape, d);
                let (b, lo, _) = self.positive_mat(shape, d);
                (Expr::Method("component_div", bx(a), Some(bx(b))), ma / lo)
            }
            12 | 13 => self.map(shape, d),
            14 if dominant => {
                let (_, a, margin, _) = self.dominant_of(square_lit.unwrap_or(2), d);
                (Expr::Inverse(bx(a)), 1.0 / margin)
            }
            15 if row_dominant => {
                let n = r.size();
                let (_, a, margin, _) = self.dominant_of(n, d);
                let (b, mb) = self.mat(shape, d);
                (Expr::Solve(bx(a), bx(b)), mb / margin)
            }
            16 if square_lit.is_some() => {
                let n = r.size() as f64;
                let m = self.mat(shape, d);
                let (m, mm) = Self::within(m, 1.0, shape);
                let k = self.rng.pick(&[2_u32, 3]);
                (
                    Expr::Pow(bx(m), k),
                    n.powi(k as i32 - 1) * mm.powi(k as i32),
                )
            }
            14..=16 if self.nest < 2 && d > 0 => self.if_expr(shape, d),
            _ => self.mat_leaf(shape),
        };
        Self::tame(e, mag, shape)
    }

    /// `m.map(|v| …)`: a scalar body of `v` and the scalars in scope.
    pub(super) fn map(&mut self, shape: Shape, d: usize) -> (Expr, f64) {
        let (m, mm) = self.mat(shape, d);
        if self.float != Float::Generic && self.rng.chance(0.25) {
            let f = self.rng.pick(&["tanh", "sin", "cos"]);
            let body = Expr::Method(f, Box::new(Expr::Var("v".into(), false)), None);
            return (Expr::Map(Box::new(m), Box::new(body), Some(f)), 1.0);
        }
        let saved = (self.scope.clone(), self.closure);
        self.scope = self.visible();
        self.scope
            .retain(|&id| self.vars[id].shape == Shape::Scalar);
        self.closure = true;
        self.declare("v", Shape::Scalar, mm, false, false);
        let (body, mb) = self.scalar(2.min(d + 1));
        self.vars.pop();
        (self.scope, self.closure) = saved;
        (Expr::Map(Box::new(m), Box::new(body), None), mb)
    }

    /// A matrix with positive entries: `(value, lo, hi)`.
    pub(super) fn positive_mat(&mut self, shape: Shape, d: usize) -> (Expr, f64, f64) {
        let m = self.mat(shape, d);
        let (m, mm) = Self::within(m, 2.0, shape);
        let v = || Box::new(Expr::Var("v".into(), false));
        let (body, lo, hi) = match self.rng.below(3) {
            0 => (Expr::Method("exp", v(), None), (-mm).exp(), mm.exp()),
            1 => {
                let c = self.literal(0.5, 1.5);
                let sq = Expr::Bin('*', Mix::Same, v(), v());
                (
                    Expr::Bin('+', Mix::Same, Box::new(sq), Box::new(Expr::Lit(c))),
                    c,
                    mm * mm + c,
                )
            }
            _ => (Expr::Helper("sigmoid", v()), 1.0 / (1.0 + mm.exp()), 1.0),
        };
        (Expr::Map(Box::new(m), Box::new(body), None), lo, hi)
    }

    /// A diagonally dominant matrix of any dominant size: `(n, value, margin, bound)`.
    pub(super) fn dominant(&mut self, d: usize) -> (usize, Expr, f64, f64) {
        let n = self.dominant[self.rng.below(self.dominant.len())].1;
        self.dominant_of(n, d)
    }

    /// A diagonally dominant n×n matrix with a positive diagonal: `(n, value, margin, bound)`,
    /// where the margin bounds |aᵢᵢ| − Σⱼ |aᵢⱼ| from below (so ‖A⁻¹‖∞ ≤ 1 / margin and
    /// det A ≥ marginⁿ).
    pub(super) fn dominant_of(&mut self, n: usize, d: usize) -> (usize, Expr, f64, f64) {
        let names: Vec<String> = self
            .dominant
            .iter()
            .filter(|(_, m)| *m == n)
            .map(|(name, _)| name.clone())
            .collect();
        let name = names[self.rng.below(names.len())].clone();
        let mut e = Expr::Var(name, true);
        // The fill has a diagonal in [n + 1, n + 2) and other entries in [-1, 1): margin 2.
        let (mut margin, mut mag) = (2.0, n as f64 + 2.0);
        for _ in 0..self.rng.below(3) {
            match self.rng.below(3) {
                0 => e = Expr::Method("transpose", Box::new(e), None),
                1 if margin >= 1.0 => {
                    let shape = Shape::Mat(Dim::Lit(n), Dim::Lit(n));
                    let p = self.mat(shape, d);
                    let (p, _) = Self::within(p, 0.5 / n as f64, shape);
                    e = Expr::Bin('+', Mix::Same, Box::new(e), Box::new(p));
                    margin -= 0.5;
                    mag += 0.5;
                }
                _ => {
                    let s = self.literal(0.5, 1.5);
                    e = Expr::Bin('*', Mix::ScalarRight, Box::new(e), Box::new(Expr::Lit(s)));
                    margin *= s;
                    mag *= s;
                }
            }
        }
        (n, e, margin, mag)
    }

    pub(super) fn if_expr(&mut self, shape: Shape, d: usize) -> (Expr, f64) {
        let c = self.cond(d);
        let (a, ma) = self.block(shape, d);
        let (b, mb) = self.block(shape, d);
        (Expr::If(Box::new(c), Box::new(a), Box::new(b)), ma.max(mb))
    }

    pub(super) fn block_expr(&mut self, shape: Shape, d: usize) -> (Expr, f64) {
        let (b, mag) = self.block(shape, d);
        (Expr::Block(Box::new(b)), mag)
    }

    /// `{ statements; tail }` in a scope of its own (only a tail inside closures).
    pub(super) fn block(&mut self, shape: Shape, d: usize) -> (Block, f64) {
        let saved = self.scope.len();
        self.nest += 1;
        let stmts = if self.closure || self.rng.chance(0.5) {
            Vec::new()
        } else {
            vec![self.stmt()]
        };
        let (tail, mag) = self.mat(shape, d.saturating_sub(1));
        self.nest -= 1;
        self.scope.truncate(saved);
        (Block { stmts, tail }, mag)
    }

    pub(super) fn cond(&mut self, d: usize) -> Cond {
        match self.rng.below(10) {
            0..=4 => {
                let op = self.rng.pick(&["<", ">", "<=", ">="]);
                let (a, _) = self.scalar(d.min(2));
                let b = if self.rng.chance(0.7) {
                    Expr::Lit(self.literal(-0.5, 0.5))
                } else {
                    self.scalar(d.min(1)).0
                };
                Cond::Cmp(op, a, b)
            }
            5 | 6 if !self.flags.is_empty() => Cond::Flag(self.flags[0].clone()),
            7 if !self.ints.is_empty() || !self.counters.is_empty() => {
                let names: Vec<String> = self
                    .ints
                    .iter()
                    .cloned()
                    .chain(if self.closure {
                        Vec::new()
                    } else {
                        self.counters.iter().map(|c| c.0.clone()).collect()
                    })
                    .collect();
                if names.is_empty() {
                    return self.cond(d);
                }
                let name = names[self.rng.below(names.len())].clone();
                let op = self.rng.pick(&["<", ">", "==", "!="]);
                Cond::IntCmp(name, op, self.rng.below(4) as i64)
            }
            8 if d > 0 => Cond::Not(Box::new(self.cond(d - 1))),
            9 if d > 0 => {
                let (a, b) = (self.cond(d - 1), self.cond(d - 1));
                if self.rng.chance(0.5) {
                    Cond::And(Box::new(a), Box::new(b))
                } else {
                    Cond::Or(Box::new(a), Box::new(b))
                }
            }
            _ => {
                let (a, _) = self.scalar(1);
                Cond::Cmp(">", a, Expr::Lit(self.literal(-0.5, 0.5)))
            }
        }
    }
}
