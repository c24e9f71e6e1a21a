//! A finite-difference gradient checker for users' own tests.
//!
//! [`check_gradient`] perturbs one scalar entry of a [`Point`] at a time, takes a central
//! difference of the function, and compares it with the gradient the caller supplies (usually
//! the one a `{name}_grad` function returned). The result, a [`GradientCheck`], remembers the
//! entry that disagrees most, so a failing test names the entry that is wrong.

use core::fmt;

use nalgebra::SMatrix;

/// A point at which a function can be evaluated: a float scalar, a fixed-size matrix, or a
/// tuple of those.
///
/// A point is viewed as a flat list of [`len`](Point::len) scalar entries, read and written as
/// `f64`. Matrix entries come in column-major order (nalgebra's storage order); the entries of
/// a tuple are those of its components, one component after another.
///
/// `#[gradient]` returns the gradient for one differentiated parameter as the bare value and for
/// several as a tuple, so the gradient of `f(beta, x, y)` is compared with the point
/// `(beta, x, y)`, and the gradient of `f(beta)` with `beta`.
///
/// Implemented for `f64`, `f32`, `SMatrix<f64, R, C>`, `SMatrix<f32, R, C>` (which includes
/// `SVector` and `RowSVector`), and tuples of one to six points.
pub trait Point: Clone {
    /// The number of scalar entries.
    fn len(&self) -> usize;

    /// Whether the point has no entries at all (a matrix with zero rows or columns).
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entry `i` as an `f64`.
    ///
    /// # Panics
    ///
    /// If `i >= self.len()`.
    fn get(&self, i: usize) -> f64;

    /// Sets entry `i` to `v`, rounded to the entry's own type.
    ///
    /// # Panics
    ///
    /// If `i >= self.len()`.
    fn set(&mut self, i: usize, v: f64);

    /// A label for entry `i` in messages: `"(2, 0)"` for a matrix entry, `"component 1, (2, 0)"`
    /// for the same entry in the second component of a tuple, and `""` for a scalar.
    ///
    /// # Panics
    ///
    /// May panic if `i >= self.len()`.
    fn describe(&self, i: usize) -> String;

    /// The machine epsilon of entry `i`'s type (`f64::EPSILON` or `f32::EPSILON`), from which
    /// [`check_gradient`] chooses its step.
    ///
    /// # Panics
    ///
    /// May panic if `i >= self.len()`.
    fn epsilon(&self, i: usize) -> f64;
}

/// Implements [`Point`] for a float type and for the fixed-size matrices of that type.
macro_rules! impl_point_for_float {
    ($($t:ty),*) => {$(
        impl Point for $t {
            fn len(&self) -> usize {
                1
            }

            fn get(&self, i: usize) -> f64 {
                assert_eq!(i, 0, "index {i} out of range for a scalar point");
                f64::from(*self)
            }

            fn set(&mut self, i: usize, v: f64) {
                assert_eq!(i, 0, "index {i} out of range for a scalar point");
                *self = v as $t;
            }

            fn describe(&self, _: usize) -> String {
                String::new()
            }

            fn epsilon(&self, _: usize) -> f64 {
                f64::from(<$t>::EPSILON)
            }
        }

        impl<const R: usize, const C: usize> Point for SMatrix<$t, R, C> {
            fn len(&self) -> usize {
                R * C
            }

            fn get(&self, i: usize) -> f64 {
                // Linear indexing of a matrix is column-major.
                f64::from(self[i])
            }

            fn set(&mut self, i: usize, v: f64) {
                self[i] = v as $t;
            }

            fn describe(&self, i: usize) -> String {
                let (row, col) = self.vector_to_matrix_index(i);
                format!("({row}, {col})")
            }

            fn epsilon(&self, _: usize) -> f64 {
                f64::from(<$t>::EPSILON)
            }
        }
    )*};
}

impl_point_for_float!(f64, f32);

/// Splits a flat index into (component, index within that component), given the components'
/// lengths in order.
fn locate(lens: &[usize], i: usize) -> (usize, usize) {
    let mut rest = i;
    for (component, &len) in lens.iter().enumerate() {
        if rest < len {
            return (component, rest);
        }
        rest -= len;
    }
    let total: usize = lens.iter().sum();
    panic!("index {i} out of range for a point with {total} entries");
}

/// Implements [`Point`] for a tuple whose components are points, e.g.
/// `impl_point_for_tuple!(A 0, B 1)` for `(A, B)`.
macro_rules! impl_point_for_tuple {
    ($($name:ident $idx:tt),+) => {
        impl<$($name: Point),+> Point for ($($name,)+) {
            fn len(&self) -> usize {
                0 $(+ self.$idx.len())+
            }

            fn get(&self, i: usize) -> f64 {
                match locate(&[$(self.$idx.len()),+], i) {
                    $(($idx, j) => self.$idx.get(j),)+
                    _ => unreachable!("invariant: `locate` returns an existing component"),
                }
            }

            fn set(&mut self, i: usize, v: f64) {
                match locate(&[$(self.$idx.len()),+], i) {
                    $(($idx, j) => self.$idx.set(j, v),)+
                    _ => unreachable!("invariant: `locate` returns an existing component"),
                }
            }

            fn describe(&self, i: usize) -> String {
                let (component, inner) = match locate(&[$(self.$idx.len()),+], i) {
                    $(($idx, j) => ($idx, self.$idx.describe(j)),)+
                    _ => unreachable!("invariant: `locate` returns an existing component"),
                };
                if inner.is_empty() {
                    format!("component {component}")
                } else {
                    format!("component {component}, {inner}")
                }
            }

            fn epsilon(&self, i: usize) -> f64 {
                match locate(&[$(self.$idx.len()),+], i) {
                    $(($idx, j) => self.$idx.epsilon(j),)+
                    _ => unreachable!("invariant: `locate` returns an existing component"),
                }
            }
        }
    };
}

impl_point_for_tuple!(A 0);
impl_point_for_tuple!(A 0, B 1);
impl_point_for_tuple!(A 0, B 1, C 2);
impl_point_for_tuple!(A 0, B 1, C 2, D 3);
impl_point_for_tuple!(A 0, B 1, C 2, D 3, E 4);
impl_point_for_tuple!(A 0, B 1, C 2, D 3, E 4, F 5);

/// The comparison at one entry.
#[derive(Clone, Debug)]
struct Entry {
    index: usize,
    label: String,
    analytic: f64,
    numeric: f64,
    absolute_error: f64,
    relative_error: f64,
}

/// The outcome of [`check_gradient`]: how many entries were compared, and the one whose
/// analytic and numeric derivatives disagree most.
///
/// The relative error of an entry is |a − n| / max(1, |a|, |n|), where a is the analytic
/// derivative (from the gradient passed in) and n the numeric one (the central difference).
/// Dividing by at least 1 makes it an absolute error for derivatives smaller than 1, so
/// derivatives that should be zero do not fail on rounding noise. An entry where either value
/// is NaN or infinite has a NaN relative error; it counts as the worst entry and makes the
/// check fail at every tolerance.
///
/// The [`Display`](fmt::Display) text names the worst entry, e.g.
/// `worst entry component 1, (2, 0): analytic 1.25, numeric 1.2500001, relative error 8.0e-8
/// (15 entries checked)`.
#[derive(Clone, Debug)]
#[must_use = "call `.assert_within(tolerance)` or `.passes(tolerance)` to act on the check"]
pub struct GradientCheck {
    entries: usize,
    worst: Option<Entry>,
}

impl GradientCheck {
    /// The largest relative error over all entries, NaN if any entry was NaN, and 0 when the
    /// point has no entries.
    #[must_use]
    pub fn max_relative_error(&self) -> f64 {
        self.worst.as_ref().map_or(0.0, |w| w.relative_error)
    }

    /// Whether every entry's relative error is at most `tolerance`.
    ///
    /// False if any entry was NaN (or `tolerance` is NaN); true for a point with no entries.
    #[must_use]
    pub fn passes(&self, tolerance: f64) -> bool {
        // A NaN error compares false, so it never passes.
        self.max_relative_error() <= tolerance
    }

    /// Panics with a message naming the worst entry unless [`passes`](Self::passes)`(tolerance)`.
    ///
    /// # Panics
    ///
    /// If the check does not pass at `tolerance`.
    #[track_caller]
    pub fn assert_within(&self, tolerance: f64) {
        assert!(
            self.passes(tolerance),
            "gradient check failed at tolerance {tolerance:e}: {self}"
        );
    }

    /// The number of entries compared.
    #[must_use]
    pub fn entries_checked(&self) -> usize {
        self.entries
    }

    /// The flat index (as in [`Point::get`]) of the worst entry, or `None` if there were no
    /// entries.
    #[must_use]
    pub fn worst_index(&self) -> Option<usize> {
        self.worst.as_ref().map(|w| w.index)
    }

    /// The label (as in [`Point::describe`]) of the worst entry, or `None` if there were no
    /// entries. A scalar point's label is the empty string.
    #[must_use]
    pub fn worst_label(&self) -> Option<&str> {
        self.worst.as_ref().map(|w| w.label.as_str())
    }

    /// The analytic derivative (from the gradient passed in) at the worst entry.
    #[must_use]
    pub fn worst_analytic(&self) -> Option<f64> {
        self.worst.as_ref().map(|w| w.analytic)
    }

    /// The numeric derivative (the central difference) at the worst entry.
    #[must_use]
    pub fn worst_numeric(&self) -> Option<f64> {
        self.worst.as_ref().map(|w| w.numeric)
    }

    /// The absolute error |a − n| at the worst entry.
    #[must_use]
    pub fn worst_absolute_error(&self) -> Option<f64> {
        self.worst.as_ref().map(|w| w.absolute_error)
    }

    /// The relative error |a − n| / max(1, |a|, |n|) at the worst entry; the same value as
    /// [`max_relative_error`](Self::max_relative_error) when there is an entry.
    #[must_use]
    pub fn worst_relative_error(&self) -> Option<f64> {
        self.worst.as_ref().map(|w| w.relative_error)
    }
}

impl fmt::Display for GradientCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(w) = &self.worst else {
            return f.write_str("no entries checked");
        };
        f.write_str("worst entry")?;
        if !w.label.is_empty() {
            write!(f, " {}", w.label)?;
        }
        let plural = if self.entries == 1 {
            "entry"
        } else {
            "entries"
        };
        write!(
            f,
            ": analytic {}, numeric {}, relative error {:.1e} ({} {plural} checked)",
            w.analytic, w.numeric, w.relative_error, self.entries,
        )
    }
}

/// Compares the gradient `grad` of `f` at `x` with central finite differences.
///
/// For every entry i of `x` the numeric derivative is
/// (f(x + h·eᵢ) − f(x − h·eᵢ)) / (2h), with the relative step h = ε^(1/3)·max(1, |xᵢ|), where ε
/// is the machine epsilon of the entry's type ([`Point::epsilon`]: `f64::EPSILON` for `f64`
/// entries, about 6·10⁻⁶ as step, and `f32::EPSILON` for `f32` entries, about 5·10⁻³). The cube
/// root balances the truncation error of the central difference, O(h²), against the rounding
/// error of the function values, O(ε/h), so a correct gradient of a smooth function typically
/// agrees to a relative error near ε^(2/3): about 10⁻¹⁰ in `f64`, 10⁻⁵–10⁻⁴ in `f32`. The
/// divisor 2h is the difference of the two perturbed entries as actually stored, which removes
/// the rounding of x ± h from the result.
///
/// The rounding error grows with the size of the function value, about ε·|f(x)|/h, so a
/// function whose value is much larger than its derivatives (a sum of many squares, say) needs
/// a looser tolerance than one of moderate size.
///
/// `f` is called twice per entry, never at `x` itself. The result reports the entry with the
/// largest relative error; see [`GradientCheck`] for the formula.
///
/// ```
/// use matgrad::check_gradient;
/// use matgrad::nalgebra::SVector;
///
/// // f(x) = xᵀx has gradient 2x.
/// let x = SVector::<f64, 3>::new(1.0, -2.0, 0.5);
/// let check = check_gradient(|x: &SVector<f64, 3>| x.dot(x), &x, &(2.0 * x));
/// check.assert_within(1e-7);
/// assert_eq!(check.entries_checked(), 3);
///
/// // A wrong gradient fails and names the wrong entry.
/// let mut wrong = 2.0 * x;
/// wrong[1] += 0.1;
/// let check = check_gradient(|x: &SVector<f64, 3>| x.dot(x), &x, &wrong);
/// assert!(!check.passes(1e-7));
/// assert_eq!(check.worst_label(), Some("(1, 0)"));
/// ```
///
/// Several parameters go in a tuple, with the gradients in a tuple of the same shape (as
/// `#[gradient]` returns them):
///
/// ```
/// use matgrad::check_gradient;
/// use matgrad::nalgebra::SMatrix;
///
/// // f(A, s) = s·tr(A) + s² has ∇A = s·I and ∂f/∂s = tr(A) + 2s.
/// let f = |(a, s): &(SMatrix<f64, 2, 2>, f64)| s * a.trace() + s * s;
/// let a = SMatrix::<f64, 2, 2>::new(1.0, 2.0, 3.0, 4.0);
/// let s = 0.5;
/// let grad = (s * SMatrix::<f64, 2, 2>::identity(), a.trace() + 2.0 * s);
/// let check = check_gradient(f, &(a, s), &grad);
/// check.assert_within(1e-7);
/// assert_eq!(check.entries_checked(), 5);
/// ```
///
/// # Panics
///
/// If `grad` has a different number of entries than `x` (only possible for a hand-written
/// [`Point`] whose length varies), or if `f` panics.
pub fn check_gradient<P: Point, V: Into<f64>>(
    f: impl Fn(&P) -> V,
    x: &P,
    grad: &P,
) -> GradientCheck {
    let entries = x.len();
    assert_eq!(
        grad.len(),
        entries,
        "the gradient has {} entries but the point has {entries}",
        grad.len(),
    );
    let mut probe = x.clone();
    let mut worst: Option<Entry> = None;
    for i in 0..entries {
        let numeric = central_difference(&f, &mut probe, i);
        let entry = compare(i, grad.get(i), numeric);
        if worst.as_ref().is_none_or(|w| is_worse(&entry, w)) {
            // Only the reported entry needs its label.
            worst = Some(Entry {
                label: x.describe(i),
                ..entry
            });
        }
    }
    GradientCheck { entries, worst }
}

/// The central difference of `f` along entry `i` of `probe`, which is restored afterwards.
fn central_difference<P: Point, V: Into<f64>>(
    f: &impl Fn(&P) -> V,
    probe: &mut P,
    i: usize,
) -> f64 {
    let xi = probe.get(i);
    let h = probe.epsilon(i).cbrt() * xi.abs().max(1.0);
    // Read the perturbed entries back: for `f32` entries, or where xᵢ ± h is not exactly
    // representable, the stored step differs from h; dividing by the stored one keeps that
    // rounding out of the quotient.
    probe.set(i, xi + h);
    let (up, f_up) = (probe.get(i), f(probe).into());
    probe.set(i, xi - h);
    let (down, f_down) = (probe.get(i), f(probe).into());
    probe.set(i, xi);
    (f_up - f_down) / (up - down)
}

/// Compares one entry. The label is left empty for the caller to fill in.
fn compare(index: usize, analytic: f64, numeric: f64) -> Entry {
    let absolute_error = (analytic - numeric).abs();
    let relative_error = if analytic.is_finite() && numeric.is_finite() {
        absolute_error / 1.0_f64.max(analytic.abs()).max(numeric.abs())
    } else {
        // NaN or infinity in either value must fail every check, and a NaN error does.
        f64::NAN
    };
    Entry {
        index,
        label: String::new(),
        analytic,
        numeric,
        absolute_error,
        relative_error,
    }
}

/// Whether `a` should replace `b` as the worst entry: a larger error, or the first NaN.
fn is_worse(a: &Entry, b: &Entry) -> bool {
    !b.relative_error.is_nan() && (a.relative_error.is_nan() || a.relative_error > b.relative_error)
}

#[cfg(test)]
mod tests {
    use nalgebra::{SMatrix, SVector};

    use super::{Point, check_gradient};

    type M32 = SMatrix<f64, 3, 2>;

    /// f(A, v, s) = vᵀ·A·w + s·‖A‖² + sin(s) with a fixed w, and its gradient
    /// ∇A = v·wᵀ + 2s·A, ∇v = A·w, ∂f/∂s = ‖A‖² + cos(s).
    fn f(p: &(M32, SVector<f64, 3>, f64)) -> f64 {
        let (a, v, s) = p;
        let w = SVector::<f64, 2>::new(0.3, -1.1);
        v.dot(&(a * w)) + s * a.norm_squared() + s.sin()
    }

    fn grad_f(p: &(M32, SVector<f64, 3>, f64)) -> (M32, SVector<f64, 3>, f64) {
        let (a, v, s) = p;
        let w = SVector::<f64, 2>::new(0.3, -1.1);
        (
            v * w.transpose() + 2.0 * s * a,
            a * w,
            a.norm_squared() + s.cos(),
        )
    }

    fn point() -> (M32, SVector<f64, 3>, f64) {
        (
            M32::new(1.0, -2.0, 0.5, 3.0, 12.5, -0.25),
            SVector::<f64, 3>::new(0.7, -1.3, 2.0),
            0.4,
        )
    }

    #[test]
    fn correct_gradient_passes() {
        let x = point();
        let check = check_gradient(f, &x, &grad_f(&x));
        assert_eq!(check.entries_checked(), 10);
        assert!(check.passes(1e-7), "{check}");
        check.assert_within(1e-7);
    }

    #[test]
    fn one_wrong_entry_fails_and_is_named() {
        let x = point();
        let mut grad = grad_f(&x);
        grad.0[(2, 1)] += 1e-3;
        let check = check_gradient(f, &x, &grad);
        assert!(!check.passes(1e-7), "{check}");
        assert_eq!(check.worst_index(), Some(5));
        assert_eq!(check.worst_label(), Some("component 0, (2, 1)"));
        let (analytic, numeric) = (
            check.worst_analytic().unwrap(),
            check.worst_numeric().unwrap(),
        );
        assert!((analytic - numeric - 1e-3).abs() < 1e-8);
        assert!((check.worst_absolute_error().unwrap() - 1e-3).abs() < 1e-8);
        let text = check.to_string();
        assert!(
            text.starts_with("worst entry component 0, (2, 1): analytic "),
            "{text}"
        );
        assert!(text.ends_with("(10 entries checked)"), "{text}");
    }

    #[test]
    fn wrong_scalar_component_is_named_without_matrix_index() {
        let x = point();
        let mut grad = grad_f(&x);
        grad.2 = -grad.2;
        let check = check_gradient(f, &x, &grad);
        assert!(!check.passes(1e-3));
        assert_eq!(check.worst_index(), Some(9));
        assert_eq!(check.worst_label(), Some("component 2"));
    }

    #[test]
    #[should_panic(expected = "gradient check failed at tolerance 1e-7: worst entry (1, 0)")]
    fn assert_within_panics_with_the_worst_entry() {
        let x = SVector::<f64, 2>::new(1.0, 2.0);
        let grad = SVector::<f64, 2>::new(2.0, 5.0);
        check_gradient(|x: &SVector<f64, 2>| x.norm_squared(), &x, &grad).assert_within(1e-7);
    }

    #[test]
    fn f32_points_work_at_a_looser_tolerance() {
        let x = SMatrix::<f32, 2, 3>::new(0.5, -1.5, 2.0, 0.25, 3.0, -0.75);
        let g = |x: &SMatrix<f32, 2, 3>| x.map(f32::sin).sum() + x.norm_squared();
        let grad = x.map(f32::cos) + 2.0 * x;
        let check = check_gradient(g, &x, &grad);
        assert!(check.passes(1e-3), "{check}");

        let mut wrong = grad;
        wrong[(1, 2)] += 0.05;
        let check = check_gradient(g, &x, &wrong);
        assert!(!check.passes(1e-3), "{check}");
        assert_eq!(check.worst_label(), Some("(1, 2)"));
    }

    #[test]
    fn f32_scalar_with_f64_parts_in_a_tuple() {
        let x = (2.0_f32, SVector::<f64, 2>::new(1.0, -1.0));
        let h = |(s, v): &(f32, SVector<f64, 2>)| f64::from(*s) * v.sum() + v.norm_squared();
        let grad = (0.0_f32, SVector::<f64, 2>::new(4.0, 0.0));
        let check = check_gradient(h, &x, &grad);
        assert!(check.passes(1e-6), "{check}");
        assert!(x.epsilon(0) > x.epsilon(1));
    }

    #[test]
    fn f32_step_is_the_stored_one() {
        // x ± h is rounded to f32; dividing by the rounded step keeps a linear function exact.
        let x = 1000.3_f32;
        let check = check_gradient(|x: &f32| 2.0 * f64::from(*x), &x, &2.0);
        assert!(check.passes(1e-12), "{check}");
    }

    #[test]
    fn nan_in_function_fails() {
        // The step of the second entry (about 6e-6) takes it below zero, where `ln` is NaN.
        let x = SVector::<f64, 2>::new(1.0, 1e-7);
        let g = |x: &SVector<f64, 2>| x[0] * x[0] + x[1].ln();
        let check = check_gradient(g, &x, &SVector::<f64, 2>::new(2.0, 1e7));
        assert!(check.max_relative_error().is_nan());
        assert!(!check.passes(f64::INFINITY));
        assert_eq!(check.worst_label(), Some("(1, 0)"));
    }

    #[test]
    fn nan_in_gradient_fails() {
        let x = SVector::<f64, 3>::new(1.0, 2.0, 3.0);
        let mut grad = 2.0 * x;
        grad[0] = f64::NAN;
        grad[2] += 100.0; // a larger finite error does not hide the NaN
        let check = check_gradient(|x: &SVector<f64, 3>| x.norm_squared(), &x, &grad);
        assert!(!check.passes(f64::INFINITY));
        assert_eq!(check.worst_index(), Some(0));
        assert!(check.to_string().contains("relative error NaN"), "{check}");
    }

    #[test]
    fn infinite_gradient_fails() {
        let x = 1.0_f64;
        let check = check_gradient(|x: &f64| x * x, &x, &f64::INFINITY);
        assert!(!check.passes(f64::INFINITY));
    }

    #[test]
    fn empty_point_passes_vacuously() {
        let x = SMatrix::<f64, 0, 3>::zeros();
        assert!(x.is_empty());
        let check = check_gradient(|_: &SMatrix<f64, 0, 3>| 1.0, &x, &x);
        assert_eq!(check.entries_checked(), 0);
        assert!(check.passes(0.0));
        assert_eq!(check.worst_index(), None);
        assert!(check.max_relative_error().abs() <= 0.0);
        assert_eq!(check.to_string(), "no entries checked");
    }

    #[test]
    fn relative_error_is_absolute_below_one_and_relative_above() {
        let small = check_gradient(|x: &f64| 0.5 * x * x, &1e-3, &0.0);
        let e = small.max_relative_error();
        assert!((e - 1e-3).abs() < 1e-9, "{small}");

        let large = check_gradient(|x: &f64| 1000.0 * x, &0.0, &1001.0);
        let e = large.max_relative_error();
        assert!((e - 1.0 / 1001.0).abs() < 1e-9, "{large}");
        assert_eq!(large.worst_label(), Some(""));
        assert!(
            large
                .to_string()
                .starts_with("worst entry: analytic 1001, numeric "),
            "{large}"
        );
        assert!(large.to_string().ends_with("(1 entry checked)"), "{large}");
    }

    #[test]
    fn labels_and_flat_layout() {
        let p = (
            1.0_f64,
            SMatrix::<f32, 2, 2>::new(1.0, 2.0, 3.0, 4.0),
            (SVector::<f64, 2>::new(5.0, 6.0), 7.0_f32),
        );
        assert_eq!(p.len(), 8);
        let values: Vec<f64> = (0..p.len()).map(|i| p.get(i)).collect();
        // Column-major: (0,0)=1, (1,0)=3, (0,1)=2, (1,1)=4.
        assert_eq!(values, [1.0, 1.0, 3.0, 2.0, 4.0, 5.0, 6.0, 7.0]);
        assert_eq!(p.describe(0), "component 0");
        assert_eq!(p.describe(3), "component 1, (0, 1)");
        assert_eq!(p.describe(6), "component 2, component 0, (1, 0)");
        assert_eq!(p.describe(7), "component 2, component 1");
        let row = nalgebra::RowSVector::<f64, 3>::new(1.0, 2.0, 3.0);
        assert_eq!(row.describe(2), "(0, 2)");

        let mut q = p;
        q.set(6, -6.0);
        assert_eq!(q.2.0[1].to_bits(), (-6.0_f64).to_bits());
        q.set(4, 0.5);
        assert_eq!(q.1[(1, 1)].to_bits(), 0.5_f32.to_bits());
    }

    #[test]
    #[should_panic(expected = "index 8 out of range for a point with 8 entries")]
    fn out_of_range_index_panics() {
        let p = (1.0_f64, SVector::<f64, 7>::zeros());
        let _ = p.get(8);
    }
}
