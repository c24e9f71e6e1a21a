//! nalgebra type syntax → shapes.
//!
//! Reads the types users write for parameters and `let` annotations (`SMatrix<f64, 3, 4>`,
//! `SVector<f64, 5>`, `Matrix3<f64>`, `RowVector2<f32>`, `f64`, `usize`, …) under any path
//! prefix, and says what each one is: a float scalar, a fixed-size float matrix, or an integer or
//! boolean constant. Sizes may be literals or the function's const generic parameters, and the
//! scalar may be a type parameter (`T: RealField`). Runs for `ast` (parameters) and `lower`
//! (annotations).

use std::fmt;

use syn::{GenericArgument, PathArguments, Type};

use crate::ir::{Dim, Shape};

/// The float type every float value of one function shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Float {
    F32,
    F64,
    /// A type parameter of the function, such as `T: RealField + Copy`; interned like a
    /// symbolic dimension.
    Generic(Dim),
}

impl Float {
    pub fn name(self) -> String {
        match self {
            Float::F32 => "f32".into(),
            Float::F64 => "f64".into(),
            Float::Generic(name) => name.to_string(),
        }
    }

    pub fn is_generic(self) -> bool {
        matches!(self, Float::Generic(_))
    }
}

impl fmt::Display for Float {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// The generic parameters a type may name.
#[derive(Default)]
pub struct Env {
    /// Type parameters, usable as the scalar type.
    pub types: Vec<String>,
    /// Const parameters, usable as sizes.
    pub consts: Vec<String>,
    /// The function's own name: calling it is recursion, which is not supported.
    pub function: String,
}

/// What a written type denotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `f64` or `f32`.
    Scalar(Float),
    /// A fixed-size matrix of `rows × cols` floats.
    Matrix { float: Float, rows: Dim, cols: Dim },
    /// An integer type (`usize`, `i32`, …): usable as a constant, never differentiated.
    Int,
    /// `bool`: a constant.
    Bool,
    /// A slice or array of samples, `&[SVector<f64, 3>]` or `&[f64; 50]`: data a loop over
    /// data reads (`for x in xs.iter()`), never differentiated.
    Samples { float: Float, shape: Shape },
    /// A slice or array of integers, `&[usize]`: labels a loop over data reads alongside its
    /// samples, usable as indices (`z[label]`).
    Integers,
}

impl Kind {
    pub fn float(self) -> Option<Float> {
        match self {
            Kind::Scalar(float) | Kind::Matrix { float, .. } => Some(float),
            Kind::Int | Kind::Bool | Kind::Samples { .. } | Kind::Integers => None,
        }
    }

    /// The shape of a value of this type; `None` for integers, booleans and samples.
    pub fn shape(self) -> Option<Shape> {
        match self {
            Kind::Scalar(_) => Some(Shape::Scalar),
            Kind::Matrix { rows, cols, .. } => Some(Shape::Matrix(rows, cols)),
            Kind::Int | Kind::Bool | Kind::Samples { .. } | Kind::Integers => None,
        }
    }
}

const SUPPORTED: &str = "supported types are `f64`, `f32`, integers, `bool`, and fixed-size nalgebra matrices: \
`SMatrix<T, R, C>`, `SVector<T, N>`, `RowSVector<T, N>`, `Matrix1`..`Matrix6`, `MatrixRxC` (e.g. `Matrix2x3`), \
`Vector1`..`Vector6` and `RowVector1`..`RowVector6`, with `T` = `f64`, `f32` or a type parameter of the \
function, and sizes that are literals or const generic parameters";

/// Classifies a type written without a leading `&` (the caller strips references), in a
/// function with the generic parameters `env`.
pub fn classify(ty: &Type, env: &Env) -> Result<Kind, syn::Error> {
    match ty {
        Type::Paren(inner) => classify(&inner.elem, env),
        Type::Group(inner) => classify(&inner.elem, env),
        Type::Path(path) if path.qself.is_none() => classify_path(ty, &path.path, env),
        // A data set, read by a loop over data.
        Type::Slice(syn::TypeSlice { elem, .. }) | Type::Array(syn::TypeArray { elem, .. }) => {
            match classify(elem, env)? {
                Kind::Scalar(float) => Ok(Kind::Samples {
                    float,
                    shape: Shape::Scalar,
                }),
                Kind::Matrix { float, rows, cols } => Ok(Kind::Samples {
                    float,
                    shape: Shape::Matrix(rows, cols),
                }),
                Kind::Int => Ok(Kind::Integers),
                Kind::Bool | Kind::Samples { .. } | Kind::Integers => Err(syn::Error::new_spanned(
                    elem,
                    format!(
                        "the samples of a data set are floats, fixed-size float matrices or \
                         integers, as in `xs: &[SVector<f64, 3>]`, `ys: &[f64]` or \
                         `labels: &[usize]`, read with \
                         `for (x, y) in xs.iter().zip(ys.iter())`; {SUPPORTED}"
                    ),
                )),
            }
        }
        _ => Err(syn::Error::new_spanned(
            ty,
            format!("unsupported type; {SUPPORTED}"),
        )),
    }
}

fn classify_path(ty: &Type, path: &syn::Path, env: &Env) -> Result<Kind, syn::Error> {
    let last = path
        .segments
        .last()
        .expect("invariant: a path has a segment");
    let name = last.ident.to_string();
    let args: Vec<&GenericArgument> = match &last.arguments {
        PathArguments::None => Vec::new(),
        PathArguments::AngleBracketed(a) => a.args.iter().collect(),
        PathArguments::Parenthesized(_) => {
            return Err(syn::Error::new_spanned(
                ty,
                format!("unsupported type; {SUPPORTED}"),
            ));
        }
    };
    let unsupported = || {
        syn::Error::new_spanned(
            ty,
            format!(
                "unsupported type `{}`; {SUPPORTED}",
                crate::text::tokens(ty)
            ),
        )
    };
    if args.is_empty() {
        return match name.as_str() {
            "f64" => Ok(Kind::Scalar(Float::F64)),
            "f32" => Ok(Kind::Scalar(Float::F32)),
            "bool" => Ok(Kind::Bool),
            "usize" | "isize" | "u8" | "u16" | "u32" | "u64" | "u128" | "i8" | "i16" | "i32"
            | "i64" | "i128" => Ok(Kind::Int),
            _ if path.segments.len() == 1 && env.types.contains(&name) => {
                Ok(Kind::Scalar(Float::Generic(Dim::symbol(&name))))
            }
            _ => Err(unsupported()),
        };
    }
    if is_dynamic(&name) {
        return Err(syn::Error::new_spanned(
            ty,
            format!(
                "`{name}` has a size known only at run time; `#[gradient]` needs fixed sizes such as `SMatrix<f64, 3, 4>` or `SVector<f64, 3>`"
            ),
        ));
    }
    let float = || float_arg(ty, args[0], env);
    let dim = |i: usize| {
        args.get(i)
            .map_or_else(|| Err(unsupported()), |a| dim_arg(a, env))
    };
    let one = Dim::Lit(1);
    let (rows, cols) = match name.as_str() {
        "SMatrix" if args.len() == 3 => (dim(1)?, dim(2)?),
        "SVector" if args.len() == 2 => (dim(1)?, one),
        "RowSVector" if args.len() == 2 => (one, dim(1)?),
        _ if args.len() == 1 => match alias_dims(&name) {
            Some((r, c)) => (Dim::Lit(r), Dim::Lit(c)),
            None => return Err(unsupported()),
        },
        _ => return Err(unsupported()),
    };
    Ok(Kind::Matrix {
        float: float()?,
        rows,
        cols,
    })
}

/// Whether `name` names a nalgebra matrix type (`SMatrix`, `Vector3`, `DMatrix`, …), as the type
/// in a constructor path like `Vector3::new`.
pub fn is_matrix_type_name(name: &str) -> bool {
    matches!(
        name,
        "SMatrix" | "SVector" | "RowSVector" | "Matrix" | "Vector" | "RowVector"
    ) || alias_dims(name).is_some()
        || is_dynamic(name)
}

/// The sizes of the matrix type a constructor path names (`Vector3` in `Vector3::new`,
/// `SMatrix::<f64, 2, N>` in `SMatrix::<f64, 2, N>::zeros`), its float argument, if written,
/// left to the function's own float type.
pub fn constructor_dims(segment: &syn::PathSegment, env: &Env) -> Option<(Dim, Dim)> {
    let name = segment.ident.to_string();
    let args: Vec<&GenericArgument> = match &segment.arguments {
        PathArguments::None => Vec::new(),
        PathArguments::AngleBracketed(a) => a.args.iter().collect(),
        PathArguments::Parenthesized(_) => return None,
    };
    let dim = |i: usize| args.get(i).and_then(|a| dim_arg(a, env).ok());
    match name.as_str() {
        "SMatrix" if args.len() == 3 => Some((dim(1)?, dim(2)?)),
        "SVector" if args.len() == 2 => Some((dim(1)?, Dim::Lit(1))),
        "RowSVector" if args.len() == 2 => Some((Dim::Lit(1), dim(1)?)),
        _ if args.len() <= 1 => alias_dims(&name).map(|(r, c)| (Dim::Lit(r), Dim::Lit(c))),
        _ => None,
    }
}

/// Sizes of nalgebra's fixed-size aliases: `Matrix3`, `Matrix2x4`, `Vector5`, `RowVector2`.
fn alias_dims(name: &str) -> Option<(usize, usize)> {
    let small = |s: &str| s.parse::<usize>().ok().filter(|n| (1..=6).contains(n));
    if let Some(rest) = name.strip_prefix("RowVector") {
        return small(rest).map(|n| (1, n));
    }
    if let Some(rest) = name.strip_prefix("Vector") {
        return small(rest).map(|n| (n, 1));
    }
    let rest = name.strip_prefix("Matrix")?;
    match rest.split_once('x') {
        Some((r, c)) => Some((small(r)?, small(c)?)),
        None => small(rest).map(|n| (n, n)),
    }
}

fn is_dynamic(name: &str) -> bool {
    name.starts_with("DMatrix")
        || name.starts_with("DVector")
        || name.starts_with("RowDVector")
        || name == "OMatrix"
        || name == "OVector"
        || name.contains("Xx")
        || name.ends_with("xX")
        || name == "MatrixX"
}

fn float_arg(ty: &Type, arg: &GenericArgument, env: &Env) -> Result<Float, syn::Error> {
    if let GenericArgument::Type(inner) = arg
        && let Ok(Kind::Scalar(float)) = classify(inner, env)
    {
        return Ok(float);
    }
    Err(syn::Error::new_spanned(
        arg,
        format!(
            "the entries of `{}` must be `f64`, `f32` or a type parameter such as `T: RealField + Copy` to be differentiated",
            crate::text::tokens(ty)
        ),
    ))
}

pub(crate) fn dim_arg(arg: &GenericArgument, env: &Env) -> Result<Dim, syn::Error> {
    // A const generic parameter: `SMatrix<f64, N, M>` parses `N` as a type argument.
    let name = match arg {
        GenericArgument::Type(Type::Path(p)) if p.qself.is_none() => {
            p.path.get_ident().map(ToString::to_string)
        }
        GenericArgument::Const(syn::Expr::Path(p)) => p.path.get_ident().map(ToString::to_string),
        _ => None,
    };
    if let Some(name) = name {
        if env.consts.contains(&name) {
            return Ok(Dim::symbol(&name));
        }
        return Err(syn::Error::new_spanned(
            arg,
            format!(
                "`{name}` is not a const generic parameter of this function; sizes are integer literals or `const N: usize` parameters"
            ),
        ));
    }
    let literal = match arg {
        GenericArgument::Const(syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(int),
            ..
        })) => Some(int),
        GenericArgument::Const(syn::Expr::Block(block)) => match block.block.stmts.as_slice() {
            [
                syn::Stmt::Expr(
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Int(int),
                        ..
                    }),
                    None,
                ),
            ] => Some(int),
            _ => None,
        },
        _ => None,
    };
    let error = || {
        syn::Error::new_spanned(
            arg,
            "matrix sizes must be integer literals such as `3` or const generic parameters such as `N`",
        )
    };
    let value = literal
        .ok_or_else(error)?
        .base10_parse::<usize>()
        .map_err(|_| error())?;
    if value == 0 {
        return Err(syn::Error::new_spanned(
            arg,
            "a matrix needs at least one row and one column",
        ));
    }
    Ok(Dim::Lit(value))
}

/// Strips one `&` from a parameter type: `(&SMatrix<…>, true)` → `(SMatrix<…>, by_ref)`.
pub fn strip_ref(ty: &Type) -> Result<(&Type, bool), syn::Error> {
    match ty {
        Type::Reference(r) if r.mutability.is_some() => Err(syn::Error::new_spanned(
            ty,
            "`&mut` parameters are not supported; take the value by `&` or by value",
        )),
        Type::Reference(r) => Ok((&r.elem, true)),
        _ => Ok((ty, false)),
    }
}
