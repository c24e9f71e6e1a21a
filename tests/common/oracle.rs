//! What the generated random-program tests (`tests/random_programs.rs`, and the batches of
//! `.ci/random-programs`) share: seeded inputs, the literals of the generic twins, and the
//! dual-number reference gradient with the comparisons against it.
//!
//! The reference runs a program's generic twin on `num_dual::Dual64`, once per scalar input,
//! with that input's derivative part set to 1: the derivative part of the result is then the
//! exact partial derivative (up to rounding), with no step size to choose. The reference H·v of
//! a program's `#[hessian]` copy runs the twin on `num_dual::HyperDual64`, the first part along
//! the direction and the second along one input at a time.

use matgrad::nalgebra::{RealField, SMatrix, Scalar, convert};
use num_dual::{Dual64, HyperDual64};

/// A literal of the twin's scalar type.
pub fn lit<T: RealField + Copy>(v: f64) -> T {
    convert(v)
}

/// The splitmix64 generator: the same inputs from the same seed on every machine.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    pub fn scalar(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1_u64 << 52) as f64 - 1.0
    }

    pub fn scalar_f32(&mut self) -> f32 {
        self.scalar() as f32
    }

    /// Entries uniform in [-1, 1).
    pub fn matrix<const R: usize, const C: usize>(&mut self) -> SMatrix<f64, R, C> {
        SMatrix::from_fn(|_, _| self.scalar())
    }

    pub fn matrix_f32<const R: usize, const C: usize>(&mut self) -> SMatrix<f32, R, C> {
        SMatrix::from_fn(|_, _| self.scalar_f32())
    }

    /// A diagonal in [n + 1, n + 2) and other entries in [-1, 1): every row and column has a
    /// margin of at least 2 over the sum of its other entries, which the generator counts on.
    pub fn dominant<const N: usize>(&mut self) -> SMatrix<f64, N, N> {
        SMatrix::from_fn(|i, j| {
            let u = self.scalar();
            if i == j { N as f64 + 1.5 + u / 2.0 } else { u }
        })
    }

    pub fn dominant_f32<const N: usize>(&mut self) -> SMatrix<f32, N, N> {
        self.dominant::<N>().cast()
    }

    /// 2 or 3.
    pub fn int(&mut self) -> i32 {
        2 + (self.next_u64() & 1) as i32
    }

    pub fn flag(&mut self) -> bool {
        self.next_u64() & 1 == 0
    }
}

/// A float parameter or gradient as its entries, in nalgebra's (column-major) order.
pub trait Flat {
    fn flat(&self) -> Vec<f64>;
}

impl Flat for f64 {
    fn flat(&self) -> Vec<f64> {
        vec![*self]
    }
}

impl Flat for f32 {
    fn flat(&self) -> Vec<f64> {
        vec![f64::from(*self)]
    }
}

impl<const R: usize, const C: usize> Flat for SMatrix<f64, R, C> {
    fn flat(&self) -> Vec<f64> {
        self.as_slice().to_vec()
    }
}

impl<const R: usize, const C: usize> Flat for SMatrix<f32, R, C> {
    fn flat(&self) -> Vec<f64> {
        self.as_slice().iter().map(|&v| f64::from(v)).collect()
    }
}

/// Hands out the dual inputs of one pass, parameter by parameter.
pub struct Reader<'a, D = Dual64> {
    inputs: &'a [D],
    at: usize,
}

impl<D: Scalar + Copy> Reader<'_, D> {
    pub fn scalar(&mut self) -> D {
        self.at += 1;
        self.inputs[self.at - 1]
    }

    pub fn matrix<const R: usize, const C: usize>(&mut self) -> SMatrix<D, R, C> {
        let at = self.at;
        self.at += R * C;
        SMatrix::from_fn(|i, j| self.inputs[at + i + R * j])
    }
}

/// The value and the gradient of `f` at `point`, by one dual-number pass per entry.
pub fn dual_gradient(point: &[f64], f: impl Fn(&mut Reader) -> Dual64) -> (f64, Vec<f64>) {
    let mut value = 0.0;
    let gradient = (0..point.len())
        .map(|k| {
            let inputs: Vec<Dual64> = point
                .iter()
                .enumerate()
                .map(|(j, &v)| Dual64::new(v, if j == k { 1.0 } else { 0.0 }))
                .collect();
            let out = f(&mut Reader {
                inputs: &inputs,
                at: 0,
            });
            value = out.re;
            out.eps
        })
        .collect();
    (value, gradient)
}

/// Entries `range` (one parameter's) of H·v, H the Hessian of `f` at `point` and `direction`
/// zero outside `range`: for each entry k one hyper-dual pass, ε₁ along `direction` and ε₂ along
/// entry k, whose ε₁ε₂ part is eₖᵀ·H·v.
pub fn dual_hvp(
    point: &[f64],
    direction: &[f64],
    range: std::ops::Range<usize>,
    f: impl Fn(&mut Reader<HyperDual64>) -> HyperDual64,
) -> Vec<f64> {
    range
        .map(|k| {
            let inputs: Vec<HyperDual64> = point
                .iter()
                .zip(direction)
                .enumerate()
                .map(|(j, (&v, &d))| HyperDual64::new(v, d, if j == k { 1.0 } else { 0.0 }, 0.0))
                .collect();
            f(&mut Reader {
                inputs: &inputs,
                at: 0,
            })
            .eps1eps2
        })
        .collect()
}

/// Asserts `actual` = `expected` within `rel` relative to max(1, |expected|).
#[track_caller]
pub fn check_value(what: &str, actual: f64, expected: f64, rel: f64) {
    let scale = expected.abs().max(1.0);
    assert!(
        (actual - expected).abs() <= rel * scale,
        "{what}: {actual:e} differs from {expected:e} by more than {rel:e} relative"
    );
}

/// Asserts every entry of a gradient against the dual-number reference.
#[track_caller]
pub fn check_gradient(what: &str, actual: &[f64], expected: &[f64], rel: f64) {
    assert_eq!(actual.len(), expected.len(), "{what}: entry counts");
    for (k, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        check_value(&format!("{what}, entry {k}"), a, e, rel);
    }
}

/// Asserts a directional derivative against ⟨reference gradient, direction⟩, within `rel`
/// relative to max(1, Σ|gᵢ·dᵢ|) (the sum's own rounding scale).
#[track_caller]
pub fn check_tangent(what: &str, actual: f64, reference: &[f64], direction: &[f64], rel: f64) {
    assert_eq!(reference.len(), direction.len(), "{what}: entry counts");
    let expected: f64 = reference.iter().zip(direction).map(|(g, d)| g * d).sum();
    let scale = reference
        .iter()
        .zip(direction)
        .map(|(g, d)| (g * d).abs())
        .sum::<f64>()
        .max(1.0);
    assert!(
        (actual - expected).abs() <= rel * scale,
        "{what}: {actual:e} differs from {expected:e} by more than {rel:e} relative"
    );
}

/// The value and the Jacobian of `f` at `point`, by one dual-number pass per entry: entry `l`
/// of the result is the column ∂F/∂xₗ (F's entries in column-major order), so a parameter's
/// Jacobian, flattened column-major, is the concatenation of its entries' columns.
pub fn dual_jacobian<const R: usize, const C: usize>(
    point: &[f64],
    f: impl Fn(&mut Reader) -> SMatrix<Dual64, R, C>,
) -> (Vec<f64>, Vec<Vec<f64>>) {
    let mut value = Vec::new();
    let columns = (0..point.len())
        .map(|k| {
            let inputs: Vec<Dual64> = point
                .iter()
                .enumerate()
                .map(|(j, &v)| Dual64::new(v, if j == k { 1.0 } else { 0.0 }))
                .collect();
            let out = f(&mut Reader {
                inputs: &inputs,
                at: 0,
            });
            value = out.iter().map(|d| d.re).collect();
            out.iter().map(|d| d.eps).collect()
        })
        .collect();
    (value, columns)
}
