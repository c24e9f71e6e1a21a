//! Random programs in the language `#[gradient]` reads, checked against dual numbers.
//!
//! [`draw`] draws deep, valid programs from a seed as a small typed syntax tree ([`Function`]),
//! with every value bounded by construction (magnitudes tracked through each operation, `ln`,
//! `sqrt`, `powf` and division only of values bounded away from zero, inverses only of
//! diagonally dominant matrices). [`print`] writes each program twice: as a user writes it under
//! `#[gradient]`, and as a generic twin `fn {name}_ref<T: RealField + Copy>` that
//! `num_dual::Dual64` runs. [`render`] turns a batch into an integration test file that compares
//! `{name}_grad` and `{name}_vjp` with the dual-number derivative of the twin, entry by entry.
//!
//! A quarter of the programs also take data sets (`xs: &[SVector<f64, 3>]`, `ys: &[f64]`) and
//! loop over them (`for (xi, yi) in xs.iter().zip(ys.iter()) { … t += …; }`); the tests fill
//! each with [`SAMPLES`] samples and pass the twin the same samples on dual numbers.
//!
//! [`patterns`] tags the programs that contain a code shape known to trigger a macro bug.
//!
//! A fixed-seed sample is checked in as `tests/random_programs.rs` (kept up to date by
//! [`render::the_random_sample_is_up_to_date`]); `.ci/random-programs` writes and runs larger
//! batches through [`render::write_random_batch`].

mod draw;
mod patterns;
mod print;
mod render;

/// A dimension: a literal size, or the function's `const N: usize`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Dim {
    Lit(usize),
    N,
}

impl Dim {
    /// The size this dimension has when the tests run (`N` is instantiated at 3).
    fn size(self) -> usize {
        match self {
            Dim::Lit(n) => n,
            Dim::N => 3,
        }
    }
}

/// The shape of a value: a float scalar or a matrix (a vector has one column).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Shape {
    Scalar,
    Mat(Dim, Dim),
}

impl Shape {
    fn count(self) -> usize {
        match self {
            Shape::Scalar => 1,
            Shape::Mat(r, c) => r.size() * c.size(),
        }
    }
}

/// The scalar type a user's function is written over.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Float {
    F64,
    F32,
    /// `T: RealField + Copy`.
    Generic,
}

/// What a parameter is, and how the tests fill it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ParamKind {
    /// A float scalar (by value) or matrix (by `&`), entries uniform in [-1, 1).
    Float(Shape),
    /// An n×n matrix by `&`, filled strictly diagonally dominant with a positive diagonal.
    Dominant(usize),
    /// An `i32` that the tests set to 2 or 3.
    Int,
    Bool,
    /// A data set: a slice of samples of this shape (`&[SVector<f64, 3>]`, `&[f64]`), never
    /// differentiated; the tests fill it with [`SAMPLES`] samples, entries uniform in [-1, 1).
    Samples(Shape),
}

/// How many samples the tests put in each data set (the interpreter's property tests draw 3).
const SAMPLES: usize = 4;

#[derive(Clone, Debug)]
struct Param {
    name: String,
    kind: ParamKind,
}

impl Param {
    fn shape(&self) -> Option<Shape> {
        match self.kind {
            ParamKind::Float(shape) => Some(shape),
            ParamKind::Dominant(n) => Some(Shape::Mat(Dim::Lit(n), Dim::Lit(n))),
            ParamKind::Int | ParamKind::Bool | ParamKind::Samples(_) => None,
        }
    }
}

/// How a binary arithmetic operator combines the shapes of its operands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mix {
    /// Both scalars, or both matrices (sum, difference or matrix product).
    Same,
    /// A scalar on the left of a matrix.
    ScalarLeft,
    /// A matrix on the left of a scalar.
    ScalarRight,
}

/// An index: a literal or a loop counter.
#[derive(Clone, Debug)]
enum Idx {
    Lit(usize),
    Counter(String),
}

#[derive(Clone, Debug)]
enum Expr {
    /// A name; `true` when it is a matrix taken by `&` (a parameter, or a sample of a loop over
    /// data).
    Var(String, bool),
    /// `*y`: a scalar sample of a loop over data, bound by reference.
    Deref(String),
    /// `SMatrix::<f64, R, C>::zeros()`.
    Zeros(Shape),
    Lit(f64),
    /// A literal with a type suffix, where nothing else fixes the type of an expression.
    Typed(f64),
    Bin(char, Mix, Box<Expr>, Box<Expr>),
    Neg(Box<Expr>),
    /// A method without arguments (`transpose`, `exp`, …) or with one matrix argument (`dot`,
    /// `component_mul`, `component_div`, `kronecker`).
    Method(&'static str, Box<Expr>, Option<Box<Expr>>),
    /// `.powi(k)`: a literal or an integer parameter.
    Powi(Box<Expr>, String),
    Powf(Box<Expr>, Box<Expr>),
    /// `.pow(k)` of a square matrix.
    Pow(Box<Expr>, u32),
    /// `matgrad::sigmoid(x)` or `matgrad::softplus(x)`.
    Helper(&'static str, Box<Expr>),
    /// `.map(|v| body)`; `Some(f)` prints `.map(f64::f)` where the dialect allows it.
    Map(Box<Expr>, Box<Expr>, Option<&'static str>),
    Inverse(Box<Expr>),
    Solve(Box<Expr>, Box<Expr>),
    Index(Box<Expr>, Idx, Option<Idx>),
    /// `(name as f64)` of a loop counter or an integer parameter.
    Cast(String),
    /// A call of a generated `#[gradient]` function; matrix arguments are passed by `&`.
    Call(String, Vec<(Expr, bool)>),
    If(Box<Cond>, Box<Block>, Box<Block>),
    Block(Box<Block>),
}

#[derive(Clone, Debug)]
enum Cond {
    Cmp(&'static str, Expr, Expr),
    /// A comparison of an integer parameter with a literal.
    IntCmp(String, &'static str, i64),
    Flag(String),
    Not(Box<Cond>),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
}

#[derive(Clone, Debug)]
struct Block {
    stmts: Vec<Stmt>,
    tail: Expr,
}

#[derive(Clone, Debug)]
enum Stmt {
    Let {
        name: String,
        mutable: bool,
        ty: Option<Shape>,
        init: Expr,
    },
    /// `name op value;` with op one of `=`, `+=`, `-=`, `*=`.
    Assign {
        name: String,
        op: &'static str,
        value: Expr,
    },
    If {
        arms: Vec<(Cond, Vec<Stmt>)>,
        otherwise: Option<Vec<Stmt>>,
    },
    For {
        var: String,
        end: usize,
        body: Vec<Stmt>,
    },
    Block(Vec<Stmt>),
    /// A loop over data: `for x in xs.iter() { … }` or
    /// `for (x, y) in xs.iter().zip(ys.iter()) { … }`, whose body adds to outer variables only
    /// with `+=` and `-=` (at its top level or in a counted loop inside it) and never reads them.
    Data {
        samples: Vec<Sample>,
        /// Print `.zip(ys)` rather than `.zip(ys.iter())`.
        bare_zip: bool,
        body: Vec<Stmt>,
    },
}

/// One sample a loop over data binds.
#[derive(Clone, Debug)]
struct Sample {
    /// The name the body reads it by.
    name: String,
    /// The data set it runs over.
    set: String,
    /// Bound by the pattern `&x` (a value) rather than `x` (a reference).
    by_value: bool,
}

/// One generated function, with the body of both dialects.
#[derive(Clone, Debug)]
struct Function {
    name: String,
    float: Float,
    /// Whether the function has a `const N: usize` parameter.
    generic_n: bool,
    params: Vec<Param>,
    /// `Some` prints `#[gradient(wrt(…))]`.
    wrt: Option<Vec<String>>,
    ret: Shape,
    body: Vec<Stmt>,
    tail: Expr,
    /// Print the tail as `return …;`.
    early_return: bool,
}

impl Function {
    /// The differentiated parameters, in the order `{name}_grad` returns them.
    fn differentiated(&self) -> Vec<&Param> {
        match &self.wrt {
            Some(names) => names
                .iter()
                .map(|n| {
                    self.params
                        .iter()
                        .find(|p| &p.name == n)
                        .expect("invariant: wrt names parameters")
                })
                .collect(),
            None => self.float_params(),
        }
    }

    fn float_params(&self) -> Vec<&Param> {
        self.params.iter().filter(|p| p.shape().is_some()).collect()
    }
}

/// A program of the sample: its `#[gradient]` callees first, then the function tested.
#[derive(Clone, Debug)]
struct Program {
    index: usize,
    callees: Vec<Function>,
    main: Function,
}

/// The splitmix64 generator: the same programs from the same seed on every machine.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n.
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability p.
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// Program `index` of `seed` as source text, as the macro's own property tests read it: the
/// functions it calls, then itself, each as `(attribute arguments, fn source)`.
pub(crate) fn sources(seed: u64, index: usize) -> (Vec<(String, String)>, (String, String)) {
    let p = draw::program(seed, index);
    let split = |f: &Function| {
        let text = print::Printer::user(f.float).function(f);
        let (attr_line, rest) = text.split_once('\n').unwrap_or(("", text.as_str()));
        let attr = attr_line
            .strip_prefix("#[gradient(")
            .and_then(|a| a.strip_suffix(")]"))
            .unwrap_or("")
            .to_string();
        (attr, rest.to_string())
    };
    (p.callees.iter().map(split).collect(), split(&p.main))
}
