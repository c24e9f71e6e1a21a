//! nalgebra type syntax → shapes.
//!
//! Reads the types users write for parameters and `let` annotations (`SMatrix<f64, 3, 4>`,
//! `SVector<f64, 5>`, `Matrix3<f64>`, `RowVector2<f32>`, `f64`, `usize`, …) under any path
//! prefix, and says what each one is: a float scalar, a fixed-size float matrix, or an integer or
//! boolean constant. Runs for `ast` (parameters) and `lower` (annotations).

use std::fmt;

use syn::{GenericArgument, PathArguments, Type};

use crate::ir::Shape;

/// The float type every float value of one function shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Float {
    F32,
    F64,
}

impl Float {
    pub fn name(self) -> &'static str {
        match self {
            Float::F32 => "f32",
            Float::F64 => "f64",
        }
    }
}

impl fmt::Display for Float {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a written type denotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `f64` or `f32`.
    Scalar(Float),
    /// A fixed-size matrix of `rows × cols` floats.
    Matrix {
        float: Float,
        rows: usize,
        cols: usize,
    },
    /// An integer type (`usize`, `i32`, …): usable as a constant, never differentiated.
    Int,
    /// `bool`: a constant.
    Bool,
}

impl Kind {
    pub fn float(self) -> Option<Float> {
        match self {
            Kind::Scalar(float) | Kind::Matrix { float, .. } => Some(float),
            Kind::Int | Kind::Bool => None,
        }
    }

    /// The shape of a value of this type; `None` for integers and booleans.
    pub fn shape(self) -> Option<Shape> {
        match self {
            Kind::Scalar(_) => Some(Shape::Scalar),
            Kind::Matrix { rows, cols, .. } => Some(Shape::Matrix(rows, cols)),
            Kind::Int | Kind::Bool => None,
        }
    }
}

const SUPPORTED: &str = "supported types are `f64`, `f32`, integers, `bool`, and fixed-size nalgebra matrices: \
`SMatrix<T, R, C>`, `SVector<T, N>`, `RowSVector<T, N>`, `Matrix1`..`Matrix6`, `MatrixRxC` (e.g. `Matrix2x3`), \
`Vector1`..`Vector6` and `RowVector1`..`RowVector6`, with `T` = `f64` or `f32` and literal sizes";

/// Classifies a type written without a leading `&` (the caller strips references).
pub fn classify(ty: &Type) -> Result<Kind, syn::Error> {
    match ty {
        Type::Paren(inner) => classify(&inner.elem),
        Type::Group(inner) => classify(&inner.elem),
        Type::Path(path) if path.qself.is_none() => classify_path(ty, &path.path),
        _ => Err(syn::Error::new_spanned(
            ty,
            format!("unsupported type; {SUPPORTED}"),
        )),
    }
}

fn classify_path(ty: &Type, path: &syn::Path) -> Result<Kind, syn::Error> {
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
    let float = || float_arg(ty, args[0]);
    let dim = |i: usize| {
        args.get(i)
            .map_or_else(|| Err(unsupported()), |a| dim_arg(a))
    };
    let (rows, cols) = match name.as_str() {
        "SMatrix" if args.len() == 3 => (dim(1)?, dim(2)?),
        "SVector" if args.len() == 2 => (dim(1)?, 1),
        "RowSVector" if args.len() == 2 => (1, dim(1)?),
        _ if args.len() == 1 => match alias_dims(&name) {
            Some(dims) => dims,
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

fn float_arg(ty: &Type, arg: &GenericArgument) -> Result<Float, syn::Error> {
    if let GenericArgument::Type(inner) = arg
        && let Ok(Kind::Scalar(float)) = classify(inner)
    {
        return Ok(float);
    }
    Err(syn::Error::new_spanned(
        arg,
        format!(
            "the entries of `{}` must be `f64` or `f32` to be differentiated",
            crate::text::tokens(ty)
        ),
    ))
}

fn dim_arg(arg: &GenericArgument) -> Result<usize, syn::Error> {
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
            "matrix sizes must be integer literals such as `3`; const generic sizes are not supported yet",
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
    Ok(value)
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
