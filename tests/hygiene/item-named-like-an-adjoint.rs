// A unit struct named like a generated adjoint, `__g3`: the generated `let __g3 = …;` becomes a
// pattern that matches the struct (E0308).
use matgrad::gradient;
use matgrad::nalgebra::Matrix3;

#[allow(dead_code, non_camel_case_types)]
struct __g3;

#[gradient]
fn loss(a: &Matrix3<f64>) -> f64 {
    a[(1, 2)] * 3.0
}

fn main() {
    let a = Matrix3::from_fn(|i, j| (i + 2 * j) as f64);
    let (value, _) = loss_grad(&a);
    assert_eq!(value, loss(&a));
}
