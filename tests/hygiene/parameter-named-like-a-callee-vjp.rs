// A parameter named like the `_vjp` of a function the body calls: inside the generated
// `outer_grad` the parameter `inner_vjp` shadows the function `inner_vjp` that differentiates
// the call (E0618, expected function, found `f64`).
use matgrad::gradient;
use matgrad::nalgebra::Vector3;

#[gradient]
fn inner(x: &Vector3<f64>, s: f64) -> f64 {
    x.norm_squared() * s
}

#[gradient]
fn outer(x: &Vector3<f64>, inner_vjp: f64) -> f64 {
    inner(x, inner_vjp) * inner_vjp
}

fn main() {
    let x = Vector3::new(0.1, 0.2, 0.3);
    let (value, _) = outer_grad(&x, 0.5);
    assert_eq!(value, outer(&x, 0.5));
    let _ = inner_grad(&x, 0.5);
}
