// A `const` named like a local of the one-hot block, `__m` (E0530, let bindings cannot shadow
// constants).
use matgrad::gradient;
use matgrad::nalgebra::Matrix3;

#[allow(dead_code, non_upper_case_globals)]
const __m: f64 = 2.0;

#[gradient]
fn loss(a: &Matrix3<f64>) -> f64 {
    a[(1, 2)] * 3.0
}

fn main() {
    let a = Matrix3::from_fn(|i, j| (i + 2 * j) as f64);
    let (value, _) = loss_grad(&a);
    assert_eq!(value, loss(&a));
}
