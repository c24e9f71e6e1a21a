//! Drawing scalars: leaves, arithmetic, scalar functions, reductions of matrices, and values
//! bounded away from zero. Part of `draw`.

use super::{CAP, Callee, Gen};
use crate::programs::{Dim, Expr, Float, Idx, Mix, Shape};

impl Gen<'_> {
    pub(super) fn scalar_leaf(&mut self) -> (Expr, f64) {
        if self.in_data
            && let Some(leaf) = self.sample_leaf(Shape::Scalar)
        {
            return leaf;
        }
        let vis = self.visible();
        let scalars: Vec<usize> = vis
            .iter()
            .copied()
            .filter(|&id| self.vars[id].shape == Shape::Scalar)
            .collect();
        let mats: Vec<usize> = vis
            .iter()
            .copied()
            .filter(|&id| self.vars[id].shape != Shape::Scalar)
            .collect();
        match self.rng.below(6) {
            0 | 1 if !scalars.is_empty() => {
                let k = self.rng.below(scalars.len());
                self.var_expr(scalars[k])
            }
            2 if !mats.is_empty() => {
                let id = mats[self.rng.below(mats.len())];
                let (m, mag) = self.var_expr(id);
                let shape = self.vars[id].shape;
                (self.index(m, shape), mag)
            }
            3 if self.float != Float::Generic && !self.closure && !self.counters.is_empty() => {
                let (name, end) = self.counters[self.rng.below(self.counters.len())].clone();
                (Expr::Cast(name), end as f64)
            }
            4 if self.float != Float::Generic && !self.ints.is_empty() => {
                (Expr::Cast(self.ints[0].clone()), 3.0)
            }
            _ => {
                let v = self.literal(-2.0, 2.0);
                (Expr::Lit(v), v.abs())
            }
        }
    }

    /// An entry of a matrix, by literals or loop counters.
    pub(super) fn index(&mut self, m: Expr, shape: Shape) -> Expr {
        let Shape::Mat(r, c) = shape else {
            return m;
        };
        let limit = |d: Dim| match d {
            Dim::Lit(n) => n,
            Dim::N => 2,
        };
        let idx = |g: &mut Self, d: Dim| {
            let n = limit(d);
            let counters: Vec<(String, usize)> = g
                .counters
                .iter()
                .filter(|(_, end)| *end <= n)
                .cloned()
                .collect();
            if !g.closure && !counters.is_empty() && g.rng.chance(0.6) {
                Idx::Counter(counters[g.rng.below(counters.len())].0.clone())
            } else {
                Idx::Lit(g.rng.below(n))
            }
        };
        let linear = c == Dim::Lit(1) || r == Dim::Lit(1);
        if linear && self.rng.chance(0.7) {
            let d = if c == Dim::Lit(1) { r } else { c };
            let i = idx(self, d);
            Expr::Index(Box::new(m), i, None)
        } else {
            let i = idx(self, r);
            let j = idx(self, c);
            Expr::Index(Box::new(m), i, Some(j))
        }
    }

    /// A scalar that is not a bare literal, so methods can be called on it.
    pub(super) fn receiver(&mut self, depth: usize) -> (Expr, f64) {
        match self.scalar(depth) {
            (Expr::Lit(_), _) => {
                let vis = self.visible();
                let id = vis
                    .iter()
                    .copied()
                    .find(|&id| self.vars[id].shape != Shape::Scalar || self.closure)
                    .expect("invariant: a vector parameter or the closure's argument is in scope");
                let (e, mag) = self.var_expr(id);
                let shape = self.vars[id].shape;
                (self.index(e, shape), mag)
            }
            other => other,
        }
    }

    pub(super) fn scalar(&mut self, depth: usize) -> (Expr, f64) {
        if depth == 0 || self.rng.chance(0.25) {
            return self.scalar_leaf();
        }
        let d = depth - 1;
        let bx = Box::new;
        let (e, mag) = match self.rng.below(24) {
            0..=2 => {
                let (a, ma) = self.scalar(d);
                let (b, mb) = self.scalar(d);
                let op = self.rng.pick(&['+', '-']);
                (Expr::Bin(op, Mix::Same, bx(a), bx(b)), ma + mb)
            }
            3 | 4 => {
                let (a, ma) = self.scalar(d);
                let (b, mb) = self.scalar(d);
                (Expr::Bin('*', Mix::Same, bx(a), bx(b)), ma * mb)
            }
            5 => {
                let (a, ma) = self.scalar(d);
                let (p, lo, _) = self.positive(d);
                (Expr::Bin('/', Mix::Same, bx(a), bx(p)), ma / lo)
            }
            6 => {
                let (a, ma) = self.scalar(d);
                (Expr::Neg(bx(a)), ma)
            }
            7 => {
                let (a, ma) = self.receiver(d);
                let (a, ma) = Self::within((a, ma), 2.0, Shape::Scalar);
                (Expr::Method("exp", bx(a), None), ma.exp())
            }
            8 => {
                let (p, lo, hi) = self.positive(d);
                (
                    Expr::Method("ln", bx(p), None),
                    lo.ln().abs().max(hi.ln().abs()),
                )
            }
            9 => {
                let (p, _, hi) = self.positive(d);
                let name = self.rng.pick(&["ln_1p", "sqrt"]);
                let mag = if name == "sqrt" {
                    hi.sqrt()
                } else {
                    hi.ln_1p()
                };
                (Expr::Method(name, bx(p), None), mag)
            }
            10 => {
                let (a, ma) = self.receiver(d);
                let (a, ma) = Self::within((a, ma), 2.0, Shape::Scalar);
                let k = if !self.ints.is_empty() && self.rng.chance(0.4) {
                    self.ints[0].clone()
                } else {
                    self.rng.pick(&["2", "3"]).to_string()
                };
                (Expr::Powi(bx(a), k), ma.max(1.0).powi(3))
            }
            11 => self.powf(d),
            12 => {
                let (a, _) = self.receiver(d);
                let f = self.rng.pick(&["sin", "cos", "tanh"]);
                (Expr::Method(f, bx(a), None), 1.0)
            }
            13 => {
                let (a, ma) = self.scalar(d);
                if self.rng.chance(0.5) {
                    (Expr::Helper("sigmoid", bx(a)), 1.0)
                } else {
                    (Expr::Helper("softplus", bx(a)), ma + 1.0)
                }
            }
            14 => {
                let (p, _, hi) = self.absolute(d);
                (p, hi)
            }
            15..=19 => self.reduction(d),
            20 if !self.closure && !self.callees.is_empty() => self.scalar_call(d),
            21 if !self.closure && !self.dominant.is_empty() => {
                let (p, _, hi) = self.determinant(d);
                (p, hi)
            }
            22 if self.nest < 2 && d > 0 => self.if_expr(Shape::Scalar, d),
            23 if self.nest < 2 && d > 0 && !self.closure => self.block_expr(Shape::Scalar, d),
            _ => self.scalar_leaf(),
        };
        Self::tame(e, mag, Shape::Scalar)
    }

    pub(super) fn powf(&mut self, d: usize) -> (Expr, f64) {
        let (base, lo, hi) = self.positive(d);
        let (p, mp) = if self.rng.chance(0.5) {
            let v = self.literal(0.5, 2.5);
            (Expr::Lit(v), v)
        } else {
            let a = self.scalar(d);
            Self::within(a, 1.5, Shape::Scalar)
        };
        let mag = (mp * lo.ln().abs().max(hi.ln().abs())).exp();
        (Expr::Powf(Box::new(base), Box::new(p)), mag)
    }

    /// `(tanh x ± 1.5).abs()`: at least 0.5 away from the kink.
    pub(super) fn absolute(&mut self, d: usize) -> (Expr, f64, f64) {
        let (a, _) = self.receiver(d);
        let t = Expr::Method("tanh", Box::new(a), None);
        let op = self.rng.pick(&['+', '-']);
        let inner = Expr::Bin(op, Mix::Same, Box::new(t), Box::new(Expr::Lit(1.5)));
        (Expr::Method("abs", Box::new(inner), None), 0.5, 2.5)
    }

    /// A matrix reduced to a scalar.
    pub(super) fn reduction(&mut self, d: usize) -> (Expr, f64) {
        if self.closure {
            return self.scalar_leaf();
        }
        let shape = self.matrix_shape();
        let count = shape.count() as f64;
        let bx = Box::new;
        match self.rng.below(8) {
            0 => {
                let (m, mm) = self.mat(shape, d);
                (Expr::Method("sum", bx(m), None), count * mm)
            }
            1 => {
                let (m, mm) = self.mat(shape, d);
                (Expr::Method("mean", bx(m), None), mm)
            }
            2 => {
                let (a, ma) = self.mat(shape, d);
                let (b, mb) = self.mat(shape, d);
                (Expr::Method("dot", bx(a), Some(bx(b))), count * ma * mb)
            }
            3 => {
                let (m, mm) = self.mat(shape, d);
                (Expr::Method("norm_squared", bx(m), None), count * mm * mm)
            }
            4 => {
                let (m, _, hi) = self.positive_mat(shape, d);
                (Expr::Method("norm", bx(m), None), count.sqrt() * hi)
            }
            5 => {
                let (m, mm) = self.mat(shape, d);
                (self.index(m, shape), mm)
            }
            6 => {
                let n = self.dims[self.rng.below(2)];
                let (m, mm) = self.mat(Shape::Mat(n, n), d);
                (Expr::Method("trace", bx(m), None), n.size() as f64 * mm)
            }
            _ => self.kronecker(d),
        }
    }

    /// A reduction of a Kronecker product of two small matrices of literal sizes.
    pub(super) fn kronecker(&mut self, d: usize) -> (Expr, f64) {
        let lits: Vec<Dim> = self
            .dims
            .iter()
            .copied()
            .filter(|d| matches!(d, Dim::Lit(_)))
            .collect();
        let one = Dim::Lit(1);
        let pick = |g: &mut Self| {
            let n = lits[g.rng.below(lits.len())];
            match g.rng.below(3) {
                0 => Shape::Mat(n, one),
                1 => Shape::Mat(one, n),
                _ => Shape::Mat(n, n),
            }
        };
        let (sa, sb) = (pick(self), pick(self));
        let (a, ma) = self.mat(sa, d);
        let (b, mb) = self.mat(sb, d);
        let k = Expr::Method("kronecker", Box::new(a), Some(Box::new(b)));
        let count = (sa.count() * sb.count()) as f64;
        if self.rng.chance(0.5) {
            (Expr::Method("sum", Box::new(k), None), count * ma * mb)
        } else {
            (
                Expr::Method("norm_squared", Box::new(k), None),
                count * (ma * mb).powi(2),
            )
        }
    }

    pub(super) fn determinant(&mut self, d: usize) -> (Expr, f64, f64) {
        let (n, a, margin, mag) = self.dominant(d);
        let lo = margin.powi(n as i32);
        let hi = (mag * n as f64).powi(n as i32);
        (Expr::Method("determinant", Box::new(a), None), lo, hi)
    }

    pub(super) fn scalar_call(&mut self, d: usize) -> (Expr, f64) {
        let scalar: Vec<Callee> = self
            .callees
            .iter()
            .filter(|c| c.ret == Shape::Scalar)
            .cloned()
            .collect();
        if scalar.is_empty() {
            return self.scalar_leaf();
        }
        let c = scalar[self.rng.below(scalar.len())].clone();
        (Expr::Call(c.name.clone(), self.call_args(&c, d)), CAP)
    }

    pub(super) fn call_args(&mut self, c: &Callee, d: usize) -> Vec<(Expr, bool)> {
        c.params
            .iter()
            .map(|&shape| match shape {
                Shape::Scalar => (self.scalar(d).0, false),
                shape @ Shape::Mat(..) => (self.mat(shape, d).0, true),
            })
            .collect()
    }

    /// A scalar with a positive lower bound: `(value, lo, hi)`.
    pub(super) fn positive(&mut self, d: usize) -> (Expr, f64, f64) {
        let bx = Box::new;
        let (e, lo, hi) = match self.rng.below(10) {
            0 | 1 => {
                let a = self.receiver(d);
                let (a, ma) = Self::within(a, 2.0, Shape::Scalar);
                (Expr::Method("exp", bx(a), None), (-ma).exp(), ma.exp())
            }
            2 => {
                let (a, ma) = self.scalar(d);
                let c = self.literal(0.5, 1.5);
                let square = Expr::Bin('*', Mix::Same, bx(a.clone()), bx(a));
                (
                    Expr::Bin('+', Mix::Same, bx(square), bx(Expr::Lit(c))),
                    c,
                    ma * ma + c,
                )
            }
            3 => {
                let (a, ma) = self.scalar(d);
                (Expr::Helper("sigmoid", bx(a)), 1.0 / (1.0 + ma.exp()), 1.0)
            }
            4 => {
                let (a, ma) = self.scalar(d);
                let lo = (-ma).exp().ln_1p();
                (Expr::Helper("softplus", bx(a)), lo, ma + 1.0)
            }
            5 => {
                let (a, _) = self.receiver(d);
                let cos = Expr::Method("cos", bx(a), None);
                (
                    Expr::Bin('+', Mix::Same, bx(cos), bx(Expr::Lit(2.0))),
                    1.0,
                    3.0,
                )
            }
            6 => self.absolute(d),
            7 if !self.closure => {
                let shape = self.matrix_shape();
                let (m, mm) = self.mat(shape, d);
                let c = self.literal(0.5, 1.5);
                let sq = Expr::Method("norm_squared", bx(m), None);
                let hi = shape.count() as f64 * mm * mm + c;
                (Expr::Bin('+', Mix::Same, bx(sq), bx(Expr::Lit(c))), c, hi)
            }
            8 if !self.closure => {
                let shape = self.matrix_shape();
                let (m, lo, hi) = self.positive_mat(shape, d);
                let n = shape.count() as f64;
                if self.rng.chance(0.5) {
                    (
                        Expr::Method("norm", bx(m), None),
                        n.sqrt() * lo,
                        n.sqrt() * hi,
                    )
                } else {
                    (Expr::Method("sum", bx(m), None), n * lo, n * hi)
                }
            }
            9 if !self.closure && !self.dominant.is_empty() => self.determinant(d),
            _ => {
                let c = self.literal(0.5, 2.0);
                let a = self.receiver(d);
                let (a, ma) = Self::within(a, 1.0, Shape::Scalar);
                let e = Expr::Bin(
                    '+',
                    Mix::Same,
                    bx(Expr::Helper("sigmoid", bx(a))),
                    bx(Expr::Lit(c)),
                );
                (e, c + 1.0 / (1.0 + ma.exp()), c + 1.0)
            }
        };
        if hi <= 20.0 {
            return (e, lo, hi);
        }
        let k = 10.0 / hi;
        let k: f64 = format!("{k:.2e}")
            .parse()
            .expect("invariant: a formatted float parses");
        (
            Expr::Bin('*', Mix::Same, bx(e), bx(Expr::Lit(k))),
            lo * k,
            hi * k,
        )
    }
}
