//! Draws random programs from a seed.
//!
//! Generation is by shape: asked for a value of a shape, the generator picks an operation that
//! yields it and asks for its operands' shapes in turn, down to names in scope. Every value
//! carries `mag`, a bound on the absolute value of its entries that holds for the inputs the
//! tests draw (floats in [-1, 1), diagonally dominant matrices with entries below n + 2), and a
//! value whose bound passes [`CAP`] is scaled back by a literal. `ln`, `sqrt`, `powf` and
//! divisions take values from [`Gen::positive`], which also carries a lower bound; inverses,
//! solves and determinants take a diagonally dominant parameter perturbed by less than its
//! margin ([`Gen::dominant`]), so they are well-conditioned whatever the seed. `abs` is applied
//! only to `tanh(x) ± 1.5`, so no input sits at a kink.
//!
//! Inside loops, the growth of a bound from one iteration to the next is kept finite: a variable
//! from outside the loop is either an accumulator (only `+=` / `-=` of values that do not read
//! it; hidden from reads in the loop) or is reassigned only through a squashing function.

use super::{
    Block, Cond, Dim, Expr, Float, Function, Idx, Mix, Param, ParamKind, Program, Rng, Shape, Stmt,
};

/// Whether to write block statements `{ … }` (not `let x = { … };`, which is always drawn):
/// the macro rejects them today ("this statement has no effect on the result"), and one such
/// program would keep a whole batch from compiling.
const BLOCK_STATEMENTS: bool = false;

/// The largest bound an intermediate value may have before it is scaled down.
const CAP: f64 = 4.0;

#[derive(Clone)]
struct Var {
    name: String,
    shape: Shape,
    mag: f64,
    mutable: bool,
    is_ref: bool,
    /// An accumulator of an enclosing loop: written with `+=`, never read in the loop.
    hidden: bool,
    loop_depth: usize,
}

/// A `#[gradient]` function the program may call.
#[derive(Clone)]
struct Callee {
    name: String,
    params: Vec<Shape>,
    ret: Shape,
}

struct Gen<'r> {
    rng: &'r mut Rng,
    float: Float,
    dims: [Dim; 2],
    vars: Vec<Var>,
    /// Ids of the variables in scope, in order of declaration; a later name shadows.
    scope: Vec<usize>,
    dominant: Vec<(String, usize)>,
    /// Loop counters in scope and their exclusive bounds.
    counters: Vec<(String, usize)>,
    ints: Vec<String>,
    flags: Vec<String>,
    callees: Vec<Callee>,
    loop_depth: usize,
    /// Statement nesting, which bounds how deep blocks go.
    nest: usize,
    next_local: usize,
    /// Inside a `map` closure: only scalars are in scope.
    closure: bool,
}

/// The program of `index` drawn from `seed`.
pub(super) fn program(seed: u64, index: usize) -> Program {
    let mut rng = Rng(seed
        .wrapping_mul(0x2545_f491_4f6c_dd1d)
        .wrapping_add(index as u64 * 0x9e37_79b9));
    rng.next_u64();
    let float = match rng.below(100) {
        0..70 => Float::F64,
        70..82 => Float::F32,
        _ => Float::Generic,
    };
    let generic_n = rng.chance(0.2);
    let d1 = if generic_n {
        Dim::N
    } else {
        Dim::Lit(rng.pick(&[2, 3]))
    };
    let dims = [d1, Dim::Lit(rng.pick(&[2, 3]))];
    let name = format!("p{index:03}");
    let mut callees = Vec::new();
    if float != Float::Generic && !generic_n && rng.chance(0.35) {
        for k in 0..=rng.below(2) {
            let helper = callee(&mut rng, float, dims, &format!("{name}_h{k}"), &callees);
            callees.push(helper);
        }
    }
    let sigs = callees.iter().map(signature).collect();
    let mut main = function(&mut rng, float, generic_n, dims, name, sigs);
    for f in callees.iter_mut().chain(std::iter::once(&mut main)) {
        f.body.iter_mut().for_each(settle_stmt);
        settle(&mut f.tail);
    }
    Program {
        index,
        callees,
        main,
    }
}

fn signature(f: &Function) -> Callee {
    Callee {
        name: f.name.clone(),
        params: f.params.iter().filter_map(Param::shape).collect(),
        ret: f.ret,
    }
}

fn new_gen(rng: &mut Rng, float: Float, dims: [Dim; 2], callees: Vec<Callee>) -> Gen<'_> {
    Gen {
        rng,
        float,
        dims,
        vars: Vec::new(),
        scope: Vec::new(),
        dominant: Vec::new(),
        counters: Vec::new(),
        ints: Vec::new(),
        flags: Vec::new(),
        callees,
        loop_depth: 0,
        nest: 0,
        next_local: 0,
        closure: false,
    }
}

/// A helper: vectors of both sizes, maybe a scalar and a matrix, returning a scalar or a matrix.
fn callee(
    rng: &mut Rng,
    float: Float,
    dims: [Dim; 2],
    name: &str,
    earlier: &[Function],
) -> Function {
    let ret = match rng.below(3) {
        0 => Shape::Scalar,
        1 => Shape::Mat(dims[0], Dim::Lit(1)),
        _ => Shape::Mat(dims[0], dims[1]),
    };
    let mut params = vec![
        Param {
            name: "u".into(),
            kind: ParamKind::Float(Shape::Mat(dims[0], Dim::Lit(1))),
        },
        Param {
            name: "w".into(),
            kind: ParamKind::Float(Shape::Mat(dims[1], Dim::Lit(1))),
        },
    ];
    if rng.chance(0.6) {
        params.push(Param {
            name: "c".into(),
            kind: ParamKind::Float(Shape::Scalar),
        });
    }
    if rng.chance(0.4) {
        params.push(Param {
            name: "a".into(),
            kind: ParamKind::Float(Shape::Mat(dims[0], dims[1])),
        });
    }
    let sigs = earlier.iter().map(signature).collect();
    let mut g = new_gen(rng, float, dims, sigs);
    g.declare_params(&params, CAP);
    let count = 2 + g.rng.below(4);
    let body = g.stmts(count);
    let tail = match ret {
        Shape::Scalar => g.tail(),
        shape => {
            let (a, ma) = g.mat(shape, 2);
            let (b, mb) = g.mat_leaf(shape);
            g.tame(
                Expr::Bin('+', Mix::Same, Box::new(b), Box::new(a)),
                ma + mb,
                shape,
            )
            .0
        }
    };
    Function {
        name: name.to_string(),
        float,
        generic_n: false,
        params,
        wrt: None,
        ret,
        body,
        tail,
        early_return: false,
    }
}

fn function(
    rng: &mut Rng,
    float: Float,
    generic_n: bool,
    dims: [Dim; 2],
    name: String,
    callees: Vec<Callee>,
) -> Function {
    let params = main_params(rng, float, dims);
    let mut g = new_gen(rng, float, dims, callees);
    g.declare_params(&params, 1.0);
    let count = 4 + g.rng.below(11);
    let body = g.stmts(count);
    let tail = g.tail();
    let floats: Vec<String> = params
        .iter()
        .filter(|p| p.shape().is_some())
        .map(|p| p.name.clone())
        .collect();
    let wrt = if g.rng.chance(0.3) {
        let mut chosen: Vec<String> = floats
            .iter()
            .filter(|_| g.rng.chance(0.5))
            .cloned()
            .collect();
        if chosen.is_empty() {
            chosen.push(floats[g.rng.below(floats.len())].clone());
        }
        if chosen.len() > 1 && g.rng.chance(0.5) {
            chosen.reverse();
        }
        Some(chosen)
    } else {
        None
    };
    let early_return = g.rng.chance(0.15);
    Function {
        name,
        float,
        generic_n,
        params,
        wrt,
        ret: Shape::Scalar,
        body,
        tail,
        early_return,
    }
}

fn main_params(rng: &mut Rng, float: Float, dims: [Dim; 2]) -> Vec<Param> {
    let [d1, d2] = dims;
    let float_param = |name: &str, shape| Param {
        name: name.into(),
        kind: ParamKind::Float(shape),
    };
    let mut params = vec![
        float_param("x", Shape::Mat(d1, Dim::Lit(1))),
        float_param("y", Shape::Mat(d2, Dim::Lit(1))),
    ];
    let extra = [
        Shape::Mat(d1, d2),
        Shape::Mat(d2, d2),
        Shape::Mat(Dim::Lit(1), d2),
        Shape::Mat(d1, d1),
    ];
    for k in 0..rng.below(3) {
        params.push(float_param(&format!("m{k}"), rng.pick(&extra)));
    }
    for k in 0..=rng.below(2) {
        params.push(float_param(&format!("s{k}"), Shape::Scalar));
    }
    if rng.chance(0.5) {
        let n = match (d1, d2) {
            (Dim::Lit(a), Dim::Lit(b)) => rng.pick(&[a, b]),
            (_, Dim::Lit(b)) | (Dim::Lit(b), _) => b,
            _ => 2,
        };
        params.push(Param {
            name: "k".into(),
            kind: ParamKind::Dominant(n),
        });
    }
    if float != Float::Generic && rng.chance(0.3) {
        params.push(Param {
            name: "n".into(),
            kind: ParamKind::Int,
        });
    }
    if rng.chance(0.4) {
        params.push(Param {
            name: "flag".into(),
            kind: ParamKind::Bool,
        });
    }
    let turn = rng.below(params.len());
    params.rotate_left(turn);
    params
}

fn rounded(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

impl Gen<'_> {
    fn declare_params(&mut self, params: &[Param], mag: f64) {
        for p in params {
            match p.kind {
                ParamKind::Float(shape) => {
                    self.declare(&p.name, shape, mag, false, shape != Shape::Scalar)
                }
                ParamKind::Dominant(n) => {
                    self.declare(
                        &p.name,
                        Shape::Mat(Dim::Lit(n), Dim::Lit(n)),
                        n as f64 + 2.0,
                        false,
                        true,
                    );
                    self.dominant.push((p.name.clone(), n));
                }
                ParamKind::Int => self.ints.push(p.name.clone()),
                ParamKind::Bool => self.flags.push(p.name.clone()),
            }
        }
    }

    fn declare(&mut self, name: &str, shape: Shape, mag: f64, mutable: bool, is_ref: bool) {
        self.vars.push(Var {
            name: name.to_string(),
            shape,
            mag,
            mutable,
            is_ref,
            hidden: false,
            loop_depth: self.loop_depth,
        });
        self.scope.push(self.vars.len() - 1);
    }

    /// The ids of the readable variables: the last of each name, unless it is hidden.
    fn visible(&self) -> Vec<usize> {
        let mut seen: Vec<&str> = Vec::new();
        let mut out = Vec::new();
        for &id in self.scope.iter().rev() {
            let v = &self.vars[id];
            if seen.contains(&v.name.as_str()) {
                continue;
            }
            seen.push(&v.name);
            if !v.hidden {
                out.push(id);
            }
        }
        out.reverse();
        out
    }

    fn var_expr(&self, id: usize) -> (Expr, f64) {
        let v = &self.vars[id];
        (Expr::Var(v.name.clone(), v.is_ref), v.mag)
    }

    fn shapes(&self) -> Vec<Shape> {
        let [d1, d2] = self.dims;
        let one = Dim::Lit(1);
        vec![
            Shape::Scalar,
            Shape::Scalar,
            Shape::Mat(d1, one),
            Shape::Mat(d2, one),
            Shape::Mat(d1, d2),
            Shape::Mat(d2, d1),
            Shape::Mat(d1, d1),
            Shape::Mat(d2, d2),
            Shape::Mat(one, d2),
        ]
    }

    /// Scales a value whose bound passed [`CAP`].
    fn tame(&mut self, e: Expr, mag: f64, shape: Shape) -> (Expr, f64) {
        if mag <= CAP {
            return (e, mag);
        }
        let k: f64 = format!("{:.2e}", 0.99 / mag)
            .parse()
            .expect("invariant: a formatted float parses");
        let mix = if shape == Shape::Scalar {
            Mix::Same
        } else {
            Mix::ScalarRight
        };
        (
            Expr::Bin('*', mix, Box::new(e), Box::new(Expr::Lit(k))),
            mag * k,
        )
    }

    /// Scales down to a bound of `limit`.
    fn within(&mut self, (e, mag): (Expr, f64), limit: f64, shape: Shape) -> (Expr, f64) {
        if mag <= limit {
            return (e, mag);
        }
        let (e, m) = self.tame(e, mag * CAP / limit, shape);
        (e, m * limit / CAP)
    }

    fn literal(&mut self, lo: f64, hi: f64) -> f64 {
        let v = rounded(lo + (hi - lo) * self.rng.unit());
        if v == 0.0 { 0.5 } else { v }
    }

    // ---- scalars -------------------------------------------------------------------------

    fn scalar_leaf(&mut self) -> (Expr, f64) {
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
    fn index(&mut self, m: Expr, shape: Shape) -> Expr {
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
    fn receiver(&mut self, depth: usize) -> (Expr, f64) {
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

    fn scalar(&mut self, depth: usize) -> (Expr, f64) {
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
                let (a, ma) = self.within((a, ma), 2.0, Shape::Scalar);
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
                let (a, ma) = self.within((a, ma), 2.0, Shape::Scalar);
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
        self.tame(e, mag, Shape::Scalar)
    }

    fn powf(&mut self, d: usize) -> (Expr, f64) {
        let (base, lo, hi) = self.positive(d);
        let (p, mp) = if self.rng.chance(0.5) {
            let v = self.literal(0.5, 2.5);
            (Expr::Lit(v), v)
        } else {
            let a = self.scalar(d);
            self.within(a, 1.5, Shape::Scalar)
        };
        let mag = (mp * lo.ln().abs().max(hi.ln().abs())).exp();
        (Expr::Powf(Box::new(base), Box::new(p)), mag)
    }

    /// `(tanh x ± 1.5).abs()`: at least 0.5 away from the kink.
    fn absolute(&mut self, d: usize) -> (Expr, f64, f64) {
        let (a, _) = self.receiver(d);
        let t = Expr::Method("tanh", Box::new(a), None);
        let op = self.rng.pick(&['+', '-']);
        let inner = Expr::Bin(op, Mix::Same, Box::new(t), Box::new(Expr::Lit(1.5)));
        (Expr::Method("abs", Box::new(inner), None), 0.5, 2.5)
    }

    /// A matrix reduced to a scalar.
    fn reduction(&mut self, d: usize) -> (Expr, f64) {
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
    fn kronecker(&mut self, d: usize) -> (Expr, f64) {
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

    fn determinant(&mut self, d: usize) -> (Expr, f64, f64) {
        let (n, a, margin, mag) = self.dominant(d);
        let lo = margin.powi(n as i32);
        let hi = (mag * n as f64).powi(n as i32);
        (Expr::Method("determinant", Box::new(a), None), lo, hi)
    }

    fn scalar_call(&mut self, d: usize) -> (Expr, f64) {
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

    fn call_args(&mut self, c: &Callee, d: usize) -> Vec<(Expr, bool)> {
        c.params
            .iter()
            .map(|&shape| match shape {
                Shape::Scalar => (self.scalar(d).0, false),
                shape => (self.mat(shape, d).0, true),
            })
            .collect()
    }

    /// A scalar with a positive lower bound: `(value, lo, hi)`.
    fn positive(&mut self, d: usize) -> (Expr, f64, f64) {
        let bx = Box::new;
        let (e, lo, hi) = match self.rng.below(10) {
            0 | 1 => {
                let a = self.receiver(d);
                let (a, ma) = self.within(a, 2.0, Shape::Scalar);
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
                let (a, ma) = self.within(a, 1.0, Shape::Scalar);
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

    // ---- matrices ------------------------------------------------------------------------

    fn matrix_shape(&mut self) -> Shape {
        let shapes: Vec<Shape> = self
            .shapes()
            .into_iter()
            .filter(|s| *s != Shape::Scalar)
            .collect();
        shapes[self.rng.below(shapes.len())]
    }

    fn mat_leaf(&mut self, shape: Shape) -> (Expr, f64) {
        let Shape::Mat(r, c) = shape else {
            return self.scalar_leaf();
        };
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

    fn mat(&mut self, shape: Shape, depth: usize) -> (Expr, f64) {
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
                let (m, mm) = self.within(m, 1.0, shape);
                let k = self.rng.pick(&[2_u32, 3]);
                (
                    Expr::Pow(bx(m), k),
                    n.powi(k as i32 - 1) * mm.powi(k as i32),
                )
            }
            14..=16 if self.nest < 2 && d > 0 => self.if_expr(shape, d),
            _ => self.mat_leaf(shape),
        };
        self.tame(e, mag, shape)
    }

    /// `m.map(|v| …)`: a scalar body of `v` and the scalars in scope.
    fn map(&mut self, shape: Shape, d: usize) -> (Expr, f64) {
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
    fn positive_mat(&mut self, shape: Shape, d: usize) -> (Expr, f64, f64) {
        let m = self.mat(shape, d);
        let (m, mm) = self.within(m, 2.0, shape);
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
    fn dominant(&mut self, d: usize) -> (usize, Expr, f64, f64) {
        let n = self.dominant[self.rng.below(self.dominant.len())].1;
        self.dominant_of(n, d)
    }

    /// A diagonally dominant n×n matrix with a positive diagonal: `(n, value, margin, bound)`,
    /// where the margin bounds |aᵢᵢ| − Σⱼ |aᵢⱼ| from below (so ‖A⁻¹‖∞ ≤ 1 / margin and
    /// det A ≥ marginⁿ).
    fn dominant_of(&mut self, n: usize, d: usize) -> (usize, Expr, f64, f64) {
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
                    let (p, _) = self.within(p, 0.5 / n as f64, shape);
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

    fn if_expr(&mut self, shape: Shape, d: usize) -> (Expr, f64) {
        let c = self.cond(d);
        let (a, ma) = self.block(shape, d);
        let (b, mb) = self.block(shape, d);
        (Expr::If(Box::new(c), Box::new(a), Box::new(b)), ma.max(mb))
    }

    fn block_expr(&mut self, shape: Shape, d: usize) -> (Expr, f64) {
        let (b, mag) = self.block(shape, d);
        (Expr::Block(Box::new(b)), mag)
    }

    /// `{ statements; tail }` in a scope of its own (only a tail inside closures).
    fn block(&mut self, shape: Shape, d: usize) -> (Block, f64) {
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

    fn cond(&mut self, d: usize) -> Cond {
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

    // ---- statements ----------------------------------------------------------------------

    fn stmts(&mut self, count: usize) -> Vec<Stmt> {
        (0..count).map(|_| self.stmt()).collect()
    }

    fn stmt(&mut self) -> Stmt {
        let nested = self.nest < 3;
        match self.rng.below(20) {
            0..=6 => self.let_stmt(),
            7..=10 => self.assign().unwrap_or_else(|| self.let_stmt()),
            11 | 12 if nested => self.if_stmt(),
            13 | 14 if nested => self.for_stmt(),
            15 if nested && BLOCK_STATEMENTS => {
                let saved = self.scope.len();
                self.nest += 1;
                let count = 1 + self.rng.below(3);
                let body = self.stmts(count);
                self.nest -= 1;
                self.scope.truncate(saved);
                Stmt::Block(body)
            }
            16 if !self.callees.is_empty() => self.call_stmt(),
            17 => self.scale().unwrap_or_else(|| self.let_stmt()),
            _ => self.let_stmt(),
        }
    }

    /// A fresh local name, or (one time in five) the name of a local in scope, shadowed.
    fn local_name(&mut self) -> String {
        let locals: Vec<String> = self
            .visible()
            .iter()
            .filter(|&&id| self.vars[id].name.starts_with('t'))
            .map(|&id| self.vars[id].name.clone())
            .collect();
        if !locals.is_empty() && self.rng.chance(0.2) {
            return locals[self.rng.below(locals.len())].clone();
        }
        self.next_local += 1;
        format!("t{}", self.next_local - 1)
    }

    fn let_stmt(&mut self) -> Stmt {
        let shapes = self.shapes();
        let shape = shapes[self.rng.below(shapes.len())];
        let depth = 1 + self.rng.below(2);
        let (init, mag) = self.mat(shape, depth);
        let name = self.local_name();
        let mutable = self.rng.chance(0.4);
        let ty = self.rng.chance(0.3).then_some(shape);
        self.declare(&name, shape, mag, mutable, false);
        Stmt::Let {
            name,
            mutable,
            ty,
            init,
        }
    }

    fn call_stmt(&mut self) -> Stmt {
        let c = self.callees[self.rng.below(self.callees.len())].clone();
        let args = self.call_args(&c, 2);
        let name = self.local_name();
        let ty = (c.ret != Shape::Scalar || self.rng.chance(0.5)).then_some(c.ret);
        self.declare(&name, c.ret, CAP, false, false);
        Stmt::Let {
            name,
            mutable: false,
            ty,
            init: Expr::Call(c.name, args),
        }
    }

    fn mutable_targets(&self) -> Vec<usize> {
        let mut ids: Vec<usize> = self
            .scope
            .iter()
            .copied()
            .filter(|&id| self.vars[id].mutable)
            .collect();
        // Only the binding a name refers to can be assigned.
        ids.retain(|&id| {
            let name = &self.vars[id].name;
            self.scope
                .iter()
                .rev()
                .find(|&&j| &self.vars[j].name == name)
                == Some(&id)
        });
        ids
    }

    fn assign(&mut self) -> Option<Stmt> {
        let targets = self.mutable_targets();
        if targets.is_empty() {
            return None;
        }
        let id = targets[self.rng.below(targets.len())];
        let (name, shape, outer, hidden) = {
            let v = &self.vars[id];
            (
                v.name.clone(),
                v.shape,
                v.loop_depth < self.loop_depth,
                v.hidden,
            )
        };
        if hidden || !outer {
            let op = if hidden {
                self.rng.pick(&["+=", "-="])
            } else {
                self.rng.pick(&["=", "+=", "-=", "="])
            };
            // `t += …` borrows `t` while the right side runs, which must not assign it.
            self.vars[id].mutable = op == "=";
            let (value, mv) = self.mat(shape, 2);
            let v = &mut self.vars[id];
            v.mutable = true;
            v.mag = if op == "=" { v.mag.max(mv) } else { v.mag + mv };
            return Some(Stmt::Assign { name, op, value });
        }
        // Reassigned in a loop it was declared outside of: through a squashing function.
        let (value, _) = self.mat(shape, 2);
        let value = match shape {
            Shape::Scalar => match self.rng.below(3) {
                0 => Expr::Method("tanh", Box::new(self.nonliteral(value)), None),
                1 => Expr::Method("sin", Box::new(self.nonliteral(value)), None),
                _ => Expr::Helper("sigmoid", Box::new(value)),
            },
            _ => {
                let f = self.rng.pick(&["tanh", "sin"]);
                let body = Expr::Method(f, Box::new(Expr::Var("v".into(), false)), None);
                Expr::Map(Box::new(value), Box::new(body), Some(f))
            }
        };
        let v = &mut self.vars[id];
        v.mag = v.mag.max(1.0);
        Some(Stmt::Assign {
            name,
            op: "=",
            value,
        })
    }

    fn nonliteral(&mut self, e: Expr) -> Expr {
        match e {
            Expr::Lit(_) => self.receiver(1).0,
            other => other,
        }
    }

    /// `t *= s` outside loops (or on a local of the current iteration).
    fn scale(&mut self) -> Option<Stmt> {
        let targets: Vec<usize> = self
            .mutable_targets()
            .into_iter()
            .filter(|&id| self.vars[id].loop_depth == self.loop_depth && !self.vars[id].hidden)
            .collect();
        if targets.is_empty() {
            return None;
        }
        let id = targets[self.rng.below(targets.len())];
        self.vars[id].mutable = false;
        let (value, mv) = if self.rng.chance(0.5) {
            let v = self.literal(0.5, 1.5);
            (Expr::Lit(v), v.abs())
        } else {
            let s = self.scalar(2);
            self.within(s, 1.5, Shape::Scalar)
        };
        let v = &mut self.vars[id];
        v.mutable = true;
        v.mag *= mv;
        Some(Stmt::Assign {
            name: v.name.clone(),
            op: "*=",
            value,
        })
    }

    fn if_stmt(&mut self) -> Stmt {
        let mut arms = Vec::new();
        for _ in 0..=self.rng.below(3) {
            let c = self.cond(2);
            let body = self.branch();
            arms.push((c, body));
        }
        let otherwise = self.rng.chance(0.6).then(|| self.branch());
        Stmt::If { arms, otherwise }
    }

    fn branch(&mut self) -> Vec<Stmt> {
        let saved = self.scope.len();
        self.nest += 1;
        let count = 1 + self.rng.below(3);
        let body = (0..count)
            .map(|_| {
                if self.rng.chance(0.4) {
                    self.assign().unwrap_or_else(|| self.stmt())
                } else {
                    self.stmt()
                }
            })
            .collect();
        self.nest -= 1;
        self.scope.truncate(saved);
        body
    }

    fn for_stmt(&mut self) -> Stmt {
        let bound = self
            .dims
            .iter()
            .map(|d| match d {
                Dim::Lit(n) => *n,
                Dim::N => 2,
            })
            .min()
            .unwrap_or(2);
        let end = 2 + self.rng.below(bound - 1);
        let var = ["i", "j", "l"][self.loop_depth.min(2)].to_string();
        // Accumulators of this loop: hidden from reads; other outer variables are reassigned
        // only through squashing functions, so their bound is at least 1.
        for id in self.mutable_targets() {
            if self.vars[id].hidden || self.vars[id].loop_depth != self.loop_depth {
                continue;
            }
            if self.rng.chance(0.5) {
                self.vars[id].hidden = true;
            } else {
                self.vars[id].mag = self.vars[id].mag.max(1.0);
            }
        }
        let hidden: Vec<usize> = (0..self.vars.len())
            .filter(|&id| self.vars[id].hidden)
            .collect();
        let before: Vec<f64> = hidden.iter().map(|&id| self.vars[id].mag).collect();
        let newly: Vec<usize> = hidden
            .iter()
            .copied()
            .filter(|&id| self.vars[id].loop_depth >= self.loop_depth)
            .collect();
        let saved = self.scope.len();
        self.nest += 1;
        self.loop_depth += 1;
        self.counters.push((var.clone(), end));
        let count = 1 + self.rng.below(4);
        let body = self.stmts(count);
        self.counters.pop();
        self.loop_depth -= 1;
        self.nest -= 1;
        self.scope.truncate(saved);
        for (&id, b) in hidden.iter().zip(before) {
            let v = &mut self.vars[id];
            v.mag = b + end as f64 * (v.mag - b);
        }
        for id in newly {
            self.vars[id].hidden = false;
        }
        Stmt::For { var, end, body }
    }

    /// The value: a few locals in scope, reduced to scalars, in a sum with small weights.
    fn tail(&mut self) -> Expr {
        let vis = self.visible();
        let mut picked: Vec<usize> = vis
            .iter()
            .rev()
            .copied()
            .filter(|&id| self.vars[id].name.starts_with('t'))
            .take(4)
            .collect();
        if picked.is_empty() {
            picked.push(vis[0]);
        }
        let mut total: Option<Expr> = None;
        for id in picked {
            let (e, mag) = self.var_expr(id);
            let shape = self.vars[id].shape;
            let (term, mag) = match shape {
                Shape::Scalar => (e, mag),
                Shape::Mat(r, c) => match self.rng.below(4) {
                    0 => (
                        Expr::Method("sum", Box::new(e), None),
                        mag * shape.count() as f64,
                    ),
                    1 => (
                        Expr::Method("norm_squared", Box::new(e), None),
                        mag * mag * shape.count() as f64,
                    ),
                    2 if r == c => (
                        Expr::Method("trace", Box::new(e), None),
                        mag * r.size() as f64,
                    ),
                    _ => (self.index(e, shape), mag),
                },
            };
            let (term, _) = self.tame(term, mag, Shape::Scalar);
            total = Some(match total {
                None => term,
                Some(t) => Expr::Bin(
                    self.rng.pick(&['+', '-']),
                    Mix::Same,
                    Box::new(t),
                    Box::new(term),
                ),
            });
        }
        let total = total.expect("invariant: at least one term");
        if self.rng.chance(0.4) {
            let (extra, _) = self.scalar(2);
            Expr::Bin('+', Mix::Same, Box::new(total), Box::new(extra))
        } else {
            total
        }
    }
}

// ---- literal types ---------------------------------------------------------------------------

/// Whether Rust knows the float type of `e` without looking at its context.
fn typed(e: &Expr) -> bool {
    match e {
        Expr::Lit(_) => false,
        Expr::Bin(_, _, a, b) => typed(a) || typed(b),
        Expr::Neg(a) => typed(a),
        Expr::If(_, a, b) => typed(&a.tail) || typed(&b.tail),
        Expr::Block(b) => typed(&b.tail),
        _ => true,
    }
}

/// Gives an untyped expression a type by suffixing its leftmost literal.
///
/// Before: `let t0 = 0.5 * 0.2;` (then `t0.exp()` is a call on an ambiguous `{float}`)
/// After: `let t0 = 0.5_f64 * 0.2;`
fn settle_value(e: &mut Expr) {
    if typed(e) {
        return;
    }
    match e {
        Expr::Lit(v) => *e = Expr::Typed(*v),
        Expr::Bin(_, _, a, _) | Expr::Neg(a) => settle_value(a),
        Expr::If(_, a, _) => settle_value(&mut a.tail),
        Expr::Block(b) => settle_value(&mut b.tail),
        _ => {}
    }
}

/// Settles every place where Rust needs the type of a value: method receivers, arguments of
/// generic functions, closure bodies and `let` initialisers.
fn settle(e: &mut Expr) {
    match e {
        Expr::Var(..) | Expr::Lit(_) | Expr::Typed(_) | Expr::Cast(_) => {}
        Expr::Bin(_, _, a, b) | Expr::Solve(a, b) => {
            settle(a);
            settle(b);
        }
        Expr::Neg(a) | Expr::Inverse(a) | Expr::Index(a, ..) => settle(a),
        Expr::Method(_, a, arg) => {
            settle(a);
            settle_value(a);
            if let Some(arg) = arg {
                settle(arg);
            }
        }
        Expr::Powi(a, _) | Expr::Pow(a, _) | Expr::Helper(_, a) => {
            settle(a);
            settle_value(a);
        }
        Expr::Powf(a, p) => {
            settle(a);
            settle_value(a);
            settle(p);
        }
        Expr::Map(a, body, _) => {
            settle(a);
            settle(body);
            settle_value(body);
        }
        Expr::Call(_, args) => args.iter_mut().for_each(|(a, _)| settle(a)),
        Expr::If(c, a, b) => {
            settle_cond(c);
            settle_block(a);
            settle_block(b);
        }
        Expr::Block(b) => settle_block(b),
    }
}

fn settle_block(b: &mut Block) {
    b.stmts.iter_mut().for_each(settle_stmt);
    settle(&mut b.tail);
}

fn settle_cond(c: &mut Cond) {
    match c {
        Cond::Cmp(_, a, b) => {
            settle(a);
            settle(b);
            if !typed(a) && !typed(b) {
                settle_value(a);
            }
        }
        Cond::IntCmp(..) | Cond::Flag(_) => {}
        Cond::Not(a) => settle_cond(a),
        Cond::And(a, b) | Cond::Or(a, b) => {
            settle_cond(a);
            settle_cond(b);
        }
    }
}

fn settle_stmt(s: &mut Stmt) {
    match s {
        Stmt::Let { init, .. } => {
            settle(init);
            settle_value(init);
        }
        Stmt::Assign { value, .. } => settle(value),
        Stmt::If { arms, otherwise } => {
            for (c, body) in arms {
                settle_cond(c);
                body.iter_mut().for_each(settle_stmt);
            }
            otherwise.iter_mut().flatten().for_each(settle_stmt);
        }
        Stmt::For { body, .. } | Stmt::Block(body) => body.iter_mut().for_each(settle_stmt),
    }
}
