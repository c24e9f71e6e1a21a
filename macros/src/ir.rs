//! A flat IR for one function body.
//!
//! Values live in one vector, indexed by [`ValueId`]; every node's arguments come before it, so
//! the vector's order is an evaluation order and its reverse is the order of the adjoint sweep.
//! `lower` builds it, `shape` fills in every node's [`Shape`], `diff` reads it. Its textual form
//! (`Display`) is what pass tests compare against:
//!
//! ```text
//! v0 = param 0 : 5×1
//! v1 = param 1 : 20×5
//! v3 = mul v1 v0 : 20×1
//! ```

use std::fmt;

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};

/// Index of a value in [`Program::nodes`].
pub type ValueId = usize;

thread_local! {
    /// Names of const generic parameters, interned so [`Dim`] stays `Copy`.
    static SYMBOLS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A matrix dimension: a literal size, or a const generic parameter of the function.
///
/// Two symbolic dimensions are equal only when they name the same parameter: `N` and `M` are
/// different unless they are the same name, and neither equals a literal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dim {
    Lit(usize),
    Sym(u32),
}

impl Dim {
    /// The dimension named by the const generic parameter `name`.
    pub fn symbol(name: &str) -> Dim {
        SYMBOLS.with(|s| {
            let mut s = s.borrow_mut();
            let index = s.iter().position(|n| n == name).unwrap_or_else(|| {
                s.push(name.to_string());
                s.len() - 1
            });
            Dim::Sym(u32::try_from(index).unwrap_or(u32::MAX))
        })
    }

    pub fn value(self) -> Option<usize> {
        match self {
            Dim::Lit(n) => Some(n),
            Dim::Sym(_) => None,
        }
    }

    /// A size for cost estimates: the literal, or a typical size for a parameter.
    pub fn estimate(self) -> usize {
        self.value().unwrap_or(8)
    }

    /// The dimension in generated code: `3` or `N`.
    pub fn tokens(self) -> TokenStream {
        match self {
            Dim::Lit(n) => {
                let lit = proc_macro2::Literal::usize_unsuffixed(n);
                quote!(#lit)
            }
            Dim::Sym(_) => {
                let ident = proc_macro2::Ident::new(&self.to_string(), Span::call_site());
                quote!(#ident)
            }
        }
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Dim::Lit(n) => write!(f, "{n}"),
            Dim::Sym(i) => SYMBOLS
                .with(|s| f.write_str(s.borrow().get(*i as usize).map_or("?", String::as_str))),
        }
    }
}

/// The shape of a value: a scalar or a matrix of `rows × cols`.
///
/// `Poison` marks a value whose shape could not be computed because of an error already
/// reported; checks that meet it stay silent, so one mistake gives one error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Scalar,
    Matrix(Dim, Dim),
    /// A condition: never differentiated, only branched on.
    Bool,
    /// The results of an `if`, read one by one through `extract`.
    Tuple,
    Poison,
}

impl Shape {
    pub fn is_scalar(self) -> bool {
        self == Shape::Scalar
    }

    pub fn is_matrix(self) -> bool {
        matches!(self, Shape::Matrix(..))
    }

    /// A matrix of literal sizes.
    pub fn matrix(rows: usize, cols: usize) -> Shape {
        Shape::Matrix(Dim::Lit(rows), Dim::Lit(cols))
    }

    /// Whether this is a column vector (n×1) or a row vector (1×n).
    pub fn is_vector(self) -> bool {
        matches!(
            self,
            Shape::Matrix(_, Dim::Lit(1)) | Shape::Matrix(Dim::Lit(1), _)
        )
    }

    /// Number of entries of a matrix (estimated for const generic sizes), 1 for a scalar.
    pub fn len(self) -> usize {
        match self {
            Shape::Matrix(r, c) => r.estimate().saturating_mul(c.estimate()),
            Shape::Scalar | Shape::Bool | Shape::Tuple | Shape::Poison => 1,
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Shape::Scalar => f.write_str("a scalar"),
            Shape::Matrix(r, c) => write!(f, "{r}×{c}"),
            Shape::Bool => f.write_str("a boolean"),
            Shape::Tuple => f.write_str("the results of an `if`"),
            Shape::Poison => f.write_str("unknown"),
        }
    }
}

/// Where a node came from: the first and last token of its source expression, so an error
/// can underline the whole expression on stable Rust (where spans cannot be joined).
#[derive(Clone, Copy, Debug)]
pub struct Loc {
    pub start: Span,
    pub end: Span,
}

impl Loc {
    pub fn of<T: ToTokens>(tokens: &T) -> Self {
        let stream = tokens.to_token_stream();
        let mut iter = stream.into_iter();
        let start = iter.next().map_or_else(Span::call_site, |t| t.span());
        let end = iter.last().map_or(start, |t| t.span());
        Loc { start, end }
    }

    /// An error underlining the whole expression.
    pub fn error(self, message: impl fmt::Display) -> syn::Error {
        let start = syn::Ident::new("start", self.start);
        let end = syn::Ident::new("end", self.end);
        syn::Error::new_spanned(quote!(#start #end), message)
    }
}

/// Scalar functions the macro knows the derivative of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    Exp,
    Ln,
    Ln1p,
    Sqrt,
    Sin,
    Cos,
    Tanh,
    Abs,
    Sigmoid,
    Softplus,
}

impl Func {
    pub const ALL: [Func; 10] = [
        Func::Exp,
        Func::Ln,
        Func::Ln1p,
        Func::Sqrt,
        Func::Sin,
        Func::Cos,
        Func::Tanh,
        Func::Abs,
        Func::Sigmoid,
        Func::Softplus,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Func::Exp => "exp",
            Func::Ln => "ln",
            Func::Ln1p => "ln_1p",
            Func::Sqrt => "sqrt",
            Func::Sin => "sin",
            Func::Cos => "cos",
            Func::Tanh => "tanh",
            Func::Abs => "abs",
            Func::Sigmoid => "sigmoid",
            Func::Softplus => "softplus",
        }
    }

    pub fn from_name(name: &str) -> Option<Func> {
        Func::ALL.into_iter().find(|f| f.name() == name)
    }

    /// `sigmoid` and `softplus` are free functions of the runtime; the rest are float methods.
    pub fn is_helper(self) -> bool {
        matches!(self, Func::Sigmoid | Func::Softplus)
    }
}

/// An operation. Arguments are in [`Node::args`]; the shapes of the arguments decide which
/// rule applies (`mul` is a matrix product, a scaling or a scalar product).
#[derive(Clone, Debug)]
pub enum Op {
    /// The function's float parameter with this index in the signature.
    Param(usize),
    /// A scalar constant, emitted as written (`2.0`, `PI`, `(n as f64)`).
    Const(TokenStream),
    Add,
    Sub,
    Mul,
    Div,
    Neg,
    Transpose,
    Trace,
    Sum,
    Mean,
    Dot,
    Norm,
    NormSquared,
    ComponentMul,
    ComponentDiv,
    /// Applies a scalar program to every entry: `args[0]` is the matrix, `args[1..]` are
    /// scalars the closure captures, which are the program's parameters `1..`.
    Map(Box<Program>),
    /// A scalar function of a scalar.
    Unary(Func),
    /// `a.powi(n)` with an integer expression `n`.
    Powi(TokenStream),
    /// `a.powf(p)`: `args` = `[a, p]`.
    Powf,
    /// `a.max(b)` of scalars (also `f64::max(a, b)`, and half of `clamp`); at a tie, `a`.
    Max,
    /// `a.min(b)` of scalars; at a tie, `a`.
    Min,
    /// `m[(i, j)]`, or `v[i]` for a vector (then `j` is `usize::MAX` until `shape` resolves it).
    Index(usize, usize),
    /// `v[k]` or `m[(i, j)]` with an index known only at run time, from integer parameters.
    IndexAt(At),
    /// A field of `self` read in a method, `let x: &SMatrix<f64, 20, 3> = &self.x;`: a constant
    /// of the annotated shape, read in place (`self.x`) wherever it is used.
    Field(TokenStream, Shape),
    /// `m[(i, j)] = s` on a `let mut` matrix: `args` = `[m, s]`, the value m with entry (i, j)
    /// replaced by s (`v[i] = s` as for `Index`).
    SetEntry(usize, usize),
    /// A block of a matrix, copied out: `m.row(i)`, `m.column(j)`, `m.fixed_rows::<R>(i)`,
    /// `m.fixed_columns::<C>(j)`, `m.fixed_view::<R, C>(i, j)`. Its top-left entry is
    /// `(row, col)`; a size `None` is the matrix's whole extent (`shape` resolves it; the
    /// node's shape is the block's).
    View {
        row: usize,
        col: usize,
        rows: Option<Dim>,
        cols: Option<Dim>,
    },
    /// `m.set_row(i, &r)` / `m.set_column(j, &c)` on a `let mut` matrix: `args` = `[m, x]`, the
    /// value m with the block at `(row, col)` (sized as for `View`) replaced by x.
    SetView {
        row: usize,
        col: usize,
        rows: Option<Dim>,
        cols: Option<Dim>,
    },
    /// `m.max()`, `m.min()`, `m.amax()`, `m.amin()`: the entry a reduction takes (see
    /// [`Extremum`]).
    Extremum(Extremum),
    /// `m.diagonal()`: the entries (i, i), as a column of min(rows, cols).
    DiagonalOf,
    /// `a.cross(&b)` of two 3-vectors (both columns or both rows).
    Cross,
    /// `a.cholesky().unwrap()` (or `.expect(…)`): the factor L of A = L·Lᵀ, read from A's lower
    /// triangle as nalgebra does; its `.l()` is this value.
    Cholesky(Finish),
    /// L⁻¹·B (or L⁻ᵀ·B when `transpose`) for a lower-triangular L: `args` = `[L, B]`.
    TriSolve {
        transpose: bool,
    },
    /// The identity matrix of the size of the square matrix `args[0]`: a constant.
    IdentityOf,
    /// Π Aᵢᵢ, the product of the diagonal entries in order (of a Cholesky factor, whose
    /// diagonal is positive).
    DiagonalProduct,
    /// `a.try_inverse().unwrap()` (or `.expect(…)`).
    Inverse(Finish),
    Determinant,
    /// `a.lu().solve(&b).unwrap()`: `args` = `[a, b]`.
    Solve(Finish),
    Kronecker,
    /// A matrix of `rows × cols` built in the body (see [`Build`]).
    Build {
        kind: Build,
        rows: Dim,
        cols: Dim,
    },
    /// `a.pow(k)` with an integer expression `k`.
    MatrixPower(TokenStream),
    /// tr(F₀·F₁·…) of the factors `args`, each transposed where the flag says; made by `fuse`.
    TraceChain(Vec<bool>),
    /// A comparison of two scalars: a condition.
    Compare(Compare),
    Not,
    And,
    Or,
    /// A boolean constant or parameter, as written.
    BoolConst(TokenStream),
    /// `if args[0] { then } else { otherwise }`: `args[1..]` are the outer values the branches
    /// read (the programs' parameters `0..`), and both programs have one result per output of
    /// the `if` (its value, then the outer variables it assigns), read through `Extract`.
    ///
    /// With `over`, a loop over data: `then` runs once per sample (`otherwise` is the same
    /// program, and `args[0]` the constant `true`), its results are the amounts each sample adds
    /// to the outer variables the loop accumulates, and the node's results are their sums.
    /// Sums are linear, so every derivative of the node is the sum of the body's over the
    /// samples: the branch rules hold as they are, summed.
    Branch {
        then: Box<Program>,
        otherwise: Box<Program>,
        over: Option<Box<Over>>,
    },
    /// Result `k` of the `Branch` node `args[0]`.
    Extract(usize),
    /// `((args[0] ± args[1]) ± args[2]) …`, a minus where the flag of the term is set: a variable
    /// and what a loop over data adds to it (`acc += a; acc -= b;`), term by term. Its terms are
    /// results of the loop's node, which adds them to the variable sample by sample, in the
    /// order the function does, so the value is the function's to the last bit.
    Accumulate(Vec<bool>),
    /// A call of another `#[gradient]` function (or one with a hand-written `{name}_vjp`): `args`
    /// are the arguments that are values, in order.
    Call(Box<CallSite>),
}

/// What a loop over data runs over: `for x in xs.iter()` or `for (x, y) in
/// xs.iter().zip(ys.iter())`, with xs and ys slices (or arrays) of fixed-size samples.
#[derive(Clone, Debug)]
pub struct Over {
    /// Each slice: the expression that names it in generated code (`xs`, `self.xs`) and its name
    /// for the interpreter's data (`xs`).
    pub slices: Vec<(TokenStream, String)>,
    /// The variable each sample is bound to in generated code, one per slice; the body reads
    /// it as the constant `Op::Field((*var), shape)`.
    pub vars: Vec<proc_macro2::Ident>,
    /// The pattern as written (`(x, y)`), for texts.
    pub pattern: String,
    /// For a counted loop kept as a loop (`for i in 0..200`), instead of data: see [`Range`].
    pub range: Option<Range>,
}

/// A counted loop kept as a loop: `then` is one iteration, whose results are the new values of
/// the outer variables it assigns (result k the new value of the parameter `carried[k]`, its
/// value at the start of the iteration). The node's results are their values after the last
/// iteration; the other parameters are read, unchanged, by every iteration.
#[derive(Clone, Debug)]
pub struct Range {
    pub start: i64,
    /// A literal, or a const generic parameter of the function (then `start` is 0).
    pub end: Dim,
    /// The counter in generated code (a `usize`); the body reads the loop variable as it.
    pub counter: proc_macro2::Ident,
    /// For each result, the parameter it replaces in the next iteration.
    pub carried: Vec<usize>,
}

impl Range {
    /// The bounds in generated code: `3` and `200`, or `0` and `N`.
    pub fn bounds(&self) -> (TokenStream, TokenStream) {
        let start =
            proc_macro2::Literal::usize_unsuffixed(usize::try_from(self.start).unwrap_or(0));
        (quote!(#start), self.end.tokens())
    }

    /// The number of iterations in generated code (the length of the tape): `197`, or `N`.
    pub fn trips(&self) -> TokenStream {
        match self.end {
            Dim::Lit(end) => {
                let n = usize::try_from(i64::try_from(end).unwrap_or(0) - self.start).unwrap_or(0);
                let n = proc_macro2::Literal::usize_unsuffixed(n);
                quote!(#n)
            }
            Dim::Sym(_) => self.end.tokens(),
        }
    }
}

impl Over {
    /// `xs.iter()` or `xs.iter().zip(ys.iter())`.
    pub fn iterator(&self) -> TokenStream {
        let mut slices = self.slices.iter().map(|(t, _)| t);
        let first = slices.next();
        let mut out = quote!(#first.iter());
        for s in slices {
            out = quote!(#out.zip(#s.iter()));
        }
        out
    }

    /// The loop's pattern: `v` or `(v, w)`.
    pub fn pattern(&self) -> TokenStream {
        match self.vars.as_slice() {
            [one] => quote!(#one),
            vars => quote!((#(#vars),*)),
        }
    }

    /// The loop as the user wrote it, for texts: `for (x, y) in xs.iter().zip(ys.iter())`.
    pub fn text(&self) -> String {
        match &self.range {
            Some(r) => format!("for {} in {}..{}", self.pattern, r.start, r.end),
            None => format!(
                "for {} in {}",
                self.pattern,
                crate::text::tokens(&self.iterator())
            ),
        }
    }
}

/// How a matrix built in the body gets its entries from the node's scalar arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Build {
    /// One argument per entry, in column-major order: `Vector3::new(a, b, c)`, and
    /// `Matrix2::new(a, b, c, d)`, whose arguments nalgebra takes row by row.
    Entries,
    /// One argument in every entry: `from_element(s)`, `repeat(s)`, and `zeros()` (of 0).
    Fill,
    /// One argument on the diagonal, zeros elsewhere: `identity()` (of 1).
    Diagonal,
}

/// How a call is written, so the generated code can call the function and its `_vjp` the same way.
#[derive(Clone, Debug)]
pub struct CallSite {
    /// The callee, turbofish included: `layer`, `nets::layer::<4>`.
    pub path: TokenStream,
    /// Its vector-Jacobian product: `layer_vjp`, `nets::layer_vjp::<4>`.
    pub vjp: TokenStream,
    /// Its Jacobian-vector product: `layer_jvp`, `nets::layer_jvp::<4>`.
    pub jvp: TokenStream,
    /// The tangent of its vector-Jacobian product, for second derivatives: `layer_vjp_jvp`.
    pub vjp_jvp: TokenStream,
    /// Each argument: a value of the program (`Value`, in the order of the node's arguments),
    /// or a constant passed as written.
    pub args: Vec<CallArg>,
    /// The result's shape: a scalar, unless a `let` annotation says otherwise.
    pub result: Shape,
}

#[derive(Clone, Debug)]
pub enum CallArg {
    Value { by_ref: bool },
    Constant(TokenStream),
}

/// The path of a function's vector-Jacobian product: `layer_vjp`, `nets::layer_vjp::<4>`.
pub fn vjp_path(path: &syn::Path) -> syn::Path {
    companion_path(path, "vjp")
}

/// The path of a companion of a function: `layer_jvp`, `nets::layer_jvp::<4>`.
pub fn companion_path(path: &syn::Path, suffix: &str) -> syn::Path {
    let mut path = path.clone();
    if let Some(last) = path.segments.last_mut() {
        last.ident = quote::format_ident!("{}_{}", last.ident, suffix, span = last.ident.span());
    }
    path
}

/// The comparison operators a condition can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compare {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Compare {
    pub fn symbol(self) -> &'static str {
        match self {
            Compare::Lt => "<",
            Compare::Le => "<=",
            Compare::Gt => ">",
            Compare::Ge => ">=",
            Compare::Eq => "==",
            Compare::Ne => "!=",
        }
    }
}

/// How an `Option` result is opened, exactly as the user wrote it, so the generated code panics
/// when and as the original does.
#[derive(Clone, Debug)]
pub enum Finish {
    Unwrap,
    /// The tokens inside `.expect(…)`.
    Expect(TokenStream),
}

impl Finish {
    pub fn tokens(&self) -> TokenStream {
        match self {
            Finish::Unwrap => quote!(.unwrap()),
            Finish::Expect(message) => quote!(.expect(#message)),
        }
    }
}

impl Op {
    /// The programs nested in this operation, labelled: a closure's, or a branch's two.
    pub fn bodies(&self) -> Vec<(&'static str, &Program)> {
        match self {
            Op::Map(sub) => vec![("", sub)],
            Op::Branch {
                over: Some(_),
                then,
                ..
            } => vec![("each:", then)],
            Op::Branch {
                then, otherwise, ..
            } => vec![("then:", then), ("else:", otherwise)],
            Op::Param(_)
            | Op::Const(_)
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
            | Op::Field(..)
            | Op::Extremum(_)
            | Op::Cross
            | Op::Inverse(_)
            | Op::Determinant
            | Op::Solve(_)
            | Op::Kronecker
            | Op::Build { .. }
            | Op::MatrixPower(_)
            | Op::TraceChain(_)
            | Op::Compare(_)
            | Op::Not
            | Op::And
            | Op::Or
            | Op::BoolConst(_)
            | Op::Extract(_)
            | Op::Call(_) => Vec::new(),
        }
    }

    pub fn mnemonic(&self) -> String {
        match self {
            Op::Param(i) => format!("param {i}"),
            Op::Const(tokens) => format!("const {}", crate::text::tokens(tokens)),
            Op::Add => "add".into(),
            Op::Accumulate(minus) => format!(
                "accumulate {}",
                minus
                    .iter()
                    .map(|&m| if m { '-' } else { '+' })
                    .collect::<String>()
            ),
            Op::Sub => "sub".into(),
            Op::Mul => "mul".into(),
            Op::Div => "div".into(),
            Op::Neg => "neg".into(),
            Op::Transpose => "transpose".into(),
            Op::Trace => "trace".into(),
            Op::Sum => "sum".into(),
            Op::Mean => "mean".into(),
            Op::Dot => "dot".into(),
            Op::Norm => "norm".into(),
            Op::NormSquared => "norm_squared".into(),
            Op::ComponentMul => "component_mul".into(),
            Op::ComponentDiv => "component_div".into(),
            Op::Map(_) => "map".into(),
            Op::Unary(f) => f.name().into(),
            Op::Powi(n) => format!("powi {}", crate::text::tokens(n)),
            Op::Powf => "powf".into(),
            Op::Max => "max".into(),
            Op::Min => "min".into(),
            Op::Index(i, j) => format!("index ({i}, {j})"),
            Op::SetEntry(i, j) => format!("set ({i}, {j})"),
            Op::DiagonalOf => "diagonal".into(),
            Op::Cholesky(_) => "cholesky".into(),
            Op::IdentityOf => "identity_of".into(),
            Op::DiagonalProduct => "diagonal_product".into(),
            Op::TriSolve { transpose } => {
                if *transpose {
                    "tri_solve_transposed".into()
                } else {
                    "tri_solve".into()
                }
            }
            Op::IndexAt(at) => format!("index {at}"),
            Op::Field(tokens, _) => format!("field {}", crate::text::tokens(tokens)),
            Op::Extremum(e) => e.method().into(),
            Op::Cross => "cross".into(),
            Op::View {
                row,
                col,
                rows,
                cols,
            } => format!("view ({row}, {col}) {}", extent(*rows, *cols)),
            Op::SetView {
                row,
                col,
                rows,
                cols,
            } => format!("set_view ({row}, {col}) {}", extent(*rows, *cols)),
            Op::Inverse(_) => "inverse".into(),
            Op::Determinant => "determinant".into(),
            Op::Solve(_) => "solve".into(),
            Op::Kronecker => "kronecker".into(),
            Op::Build { kind, rows, cols } => {
                format!("build {kind:?} {rows}×{cols}").to_lowercase()
            }
            Op::MatrixPower(k) => format!("pow {}", crate::text::tokens(k)),
            Op::TraceChain(t) => {
                let flags: String = t.iter().map(|&t| if t { 'T' } else { '.' }).collect();
                format!("trace_chain {flags}")
            }
            Op::Compare(c) => format!("compare {}", c.symbol()),
            Op::Not => "not".into(),
            Op::And => "and".into(),
            Op::Or => "or".into(),
            Op::BoolConst(t) => format!("bool {}", crate::text::tokens(t)),
            Op::Branch {
                over: Some(over), ..
            } if over.range.is_some() => format!("loop {}", over.text()),
            Op::Branch {
                over: Some(over), ..
            } => format!("sum {}", over.text()),
            Op::Branch { .. } => "if".into(),
            Op::Extract(k) => format!("extract {k}"),
            Op::Call(site) => format!("call {}", crate::text::tokens(&site.path)),
        }
    }
}

/// An index known only at run time: integer expressions of the function's integer parameters,
/// `row` alone for `v[k]` (a vector's k-th entry), `row` and `col` for `m[(i, j)]`. Out of range,
/// it panics where the function itself would, in nalgebra's indexing.
#[derive(Clone, Debug)]
pub struct At {
    pub row: TokenStream,
    pub col: Option<TokenStream>,
}

impl At {
    /// The index as generated code writes it in `m[…]`.
    pub fn tokens(&self) -> TokenStream {
        let row = &self.row;
        match &self.col {
            Some(col) => quote!((((#row) as usize), ((#col) as usize))),
            None => quote!(((#row) as usize)),
        }
    }
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let row = crate::text::tokens(&self.row);
        match &self.col {
            Some(col) => write!(f, "[({row}, {})]", crate::text::tokens(col)),
            None => write!(f, "[{row}]"),
        }
    }
}

/// A reduction of a matrix to one of its entries. Its derivative is that of the entry taken,
/// the first in column-major order at a tie (times the entry's sign for the magnitudes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extremum {
    Max,
    Min,
    /// The largest magnitude |mₖ|.
    AMax,
    /// The smallest magnitude |mₖ|.
    AMin,
}

impl Extremum {
    /// The nalgebra method.
    pub fn method(self) -> &'static str {
        match self {
            Extremum::Max => "max",
            Extremum::Min => "min",
            Extremum::AMax => "amax",
            Extremum::AMin => "amin",
        }
    }

    /// The `kind` of `extremum_index` in the runtime.
    pub fn kind(self) -> u8 {
        match self {
            Extremum::Max => 0,
            Extremum::Min => 1,
            Extremum::AMax => 2,
            Extremum::AMin => 3,
        }
    }

    /// Whether the value is a magnitude, whose derivative carries the entry's sign.
    pub fn magnitude(self) -> bool {
        matches!(self, Extremum::AMax | Extremum::AMin)
    }
}

/// The size of a block as the IR prints it: `1×all` for a row.
fn extent(rows: Option<Dim>, cols: Option<Dim>) -> String {
    let side = |d: Option<Dim>| d.map_or_else(|| "all".to_owned(), |d| d.to_string());
    format!("{}×{}", side(rows), side(cols))
}

/// One value of the program.
#[derive(Clone, Debug)]
pub struct Node {
    pub op: Op,
    pub args: Vec<ValueId>,
    /// Filled in by `shape`; `Poison` until then.
    pub shape: Shape,
    pub loc: Loc,
    /// The source expression, for messages and derivations.
    pub text: String,
    /// The local the value was bound to (`let r = …` names its value `r`), for derivations.
    pub name: Option<String>,
}

/// A `let` type annotation to check once shapes are known.
#[derive(Clone, Debug)]
pub struct Annotation {
    pub value: ValueId,
    pub shape: Shape,
    pub name: String,
    pub ty: String,
    pub loc: Loc,
}

/// A straight-line program computing one scalar.
#[derive(Clone, Debug, Default)]
pub struct Program {
    pub nodes: Vec<Node>,
    /// The value the program returns, once lowering found it.
    pub output: Option<ValueId>,
    /// The results of a branch of an `if` (then `output` is `None`).
    pub outputs: Vec<ValueId>,
    /// The paths by which the body names matgrad's helpers (`sigmoid`, `matgrad::softplus`),
    /// with the helper each is taken for: the generated code checks they are matgrad's.
    pub helpers: Vec<(TokenStream, Func)>,
    pub annotations: Vec<Annotation>,
}

impl Program {
    pub fn push(&mut self, op: Op, args: Vec<ValueId>, loc: Loc, text: String) -> ValueId {
        self.nodes.push(Node {
            op,
            args,
            shape: Shape::Poison,
            loc,
            text,
            name: None,
        });
        self.nodes.len() - 1
    }

    /// What the program hands back: its output, or a branch's results.
    pub fn results(&self) -> Vec<ValueId> {
        match self.output {
            Some(out) => vec![out],
            None => self.outputs.clone(),
        }
    }

    pub fn shape(&self, id: ValueId) -> Shape {
        self.nodes[id].shape
    }

    /// The node of parameter `index`, if the body mentions it.
    pub fn param_node(&self, index: usize) -> Option<ValueId> {
        self.nodes
            .iter()
            .position(|n| matches!(n.op, Op::Param(i) if i == index))
    }
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        for (id, node) in self.nodes.iter().enumerate() {
            write!(f, "v{id} = {}", node.op.mnemonic())?;
            for arg in &node.args {
                write!(f, " v{arg}")?;
            }
            match node.shape {
                Shape::Scalar => writeln!(f, " : scalar")?,
                shape => writeln!(f, " : {shape}")?,
            }
            for (label, sub) in node.op.bodies() {
                if !label.is_empty() {
                    writeln!(f, "  {label}")?;
                }
                for line in sub.to_string().lines() {
                    writeln!(f, "    {line}")?;
                }
            }
        }
        if let Some(out) = self.output {
            writeln!(f, "return v{out}")?;
        }
        if !self.outputs.is_empty() {
            let outs: Vec<String> = self.outputs.iter().map(|o| format!("v{o}")).collect();
            writeln!(f, "results {}", outs.join(" "))?;
        }
        Ok(())
    }
}
