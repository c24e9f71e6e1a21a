// A `static` named like the entry of a generated closure, `__m1_x` (E0530, function parameters
// cannot shadow statics).
use matgrad::gradient;
use matgrad::nalgebra::Vector3;

#[allow(dead_code, non_upper_case_globals)]
static __m1_x: f64 = 2.0;

#[gradient]
fn loss(a: &Vector3<f64>) -> f64 {
    a.map(|v| v.exp()).sum()
}

fn main() {
    let a = Vector3::new(0.1, 0.2, 0.3);
    let (value, _) = loss_grad(&a);
    assert_eq!(value, loss(&a));
}
