// A `const` named like a generated value, `__v2`: the generated `let __v2 = …;` becomes a
// pattern that refers to the constant (E0005, refutable pattern in local binding).
use matgrad::gradient;
use matgrad::nalgebra::Matrix3;

#[allow(dead_code, non_upper_case_globals)]
const __v2: f64 = 2.0;

#[gradient]
fn loss(a: &Matrix3<f64>) -> f64 {
    a[(1, 2)] * 3.0
}

fn main() {
    let a = Matrix3::from_fn(|i, j| (i + 2 * j) as f64);
    let (value, _) = loss_grad(&a);
    assert_eq!(value, loss(&a));
}
