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
//!
//! Some programs read data sets ([`data`]): loops over their samples add to variables declared
//! before the loop and assign nothing else from outside.

use super::{Dim, Expr, Float, Function, Mix, Param, ParamKind, Program, Rng, Shape};

mod data;
mod matrices;
mod scalars;
mod settle;
mod statements;

/// Whether to write block statements `{ … }` (`let x = { … };` is always drawn). Once rejected
/// by the macro ("this statement has no effect on the result"); kept as a switch so a batch
/// can leave them out when looking for something else.
const BLOCK_STATEMENTS: bool = true;

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
    /// The function's data sets and the shape of their samples.
    data: Vec<(String, Shape)>,
    /// Inside the body of a loop over data.
    in_data: bool,
    /// Ids of the samples of the loop over data being drawn.
    samples: Vec<usize>,
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
    // Whether the program reads data sets is drawn apart, so that the programs without them are
    // the ones the seed gave before loops over data were drawn.
    let mut side = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ (index as u64).wrapping_mul(0xd1b5_4a32_d192_ed03)
        ^ 0xda7a);
    side.next_u64();
    let data = if side.chance(data::DATA_CHANCE) {
        data::data_sets(&mut side, dims)
    } else {
        Vec::new()
    };
    let at = side.below(64);
    let mut main = function(&mut rng, float, generic_n, dims, name, sigs, (data, at));
    for f in callees.iter_mut().chain(std::iter::once(&mut main)) {
        f.body.iter_mut().for_each(settle::settle_stmt);
        settle::settle(&mut f.tail);
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
        data: Vec::new(),
        in_data: false,
        samples: Vec::new(),
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
        shape @ Shape::Mat(..) => {
            let (a, ma) = g.mat(shape, 2);
            let (b, mb) = g.mat_leaf(shape);
            Gen::tame(
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
    (data, at): (Vec<Param>, usize),
) -> Function {
    let mut params = main_params(rng, float, dims);
    // The data sets, among the other parameters.
    let at = at % (params.len() + 1);
    params.splice(at..at, data);
    let mut g = new_gen(rng, float, dims, callees);
    g.declare_params(&params, 1.0);
    let count = 4 + g.rng.below(11);
    let body = if g.data.is_empty() {
        g.stmts(count)
    } else {
        // At least one loop over the data sets.
        let at = g.rng.below(count);
        let mut body = Vec::new();
        for k in 0..count {
            if k == at {
                body.extend(g.data_block());
            } else {
                body.push(g.stmt());
            }
        }
        body
    };
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
                    self.declare(&p.name, shape, mag, false, shape != Shape::Scalar);
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
                ParamKind::Samples(shape) => self.data.push((p.name.clone(), shape)),
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
        if v.is_ref && v.shape == Shape::Scalar {
            return (Expr::Deref(v.name.clone()), v.mag);
        }
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
    fn tame(e: Expr, mag: f64, shape: Shape) -> (Expr, f64) {
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
    fn within((e, mag): (Expr, f64), limit: f64, shape: Shape) -> (Expr, f64) {
        if mag <= limit {
            return (e, mag);
        }
        let (e, m) = Self::tame(e, mag * CAP / limit, shape);
        (e, m * limit / CAP)
    }

    fn literal(&mut self, lo: f64, hi: f64) -> f64 {
        let v = rounded(lo + (hi - lo) * self.rng.unit());
        if v == 0.0 { 0.5 } else { v }
    }
}
