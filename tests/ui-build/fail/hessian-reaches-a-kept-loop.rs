use matgrad::nalgebra::{Matrix2, Vector2};
use matgrad::{gradient, hessian};

// 100 steps: the loop stays a loop, which is differentiated once.
#[gradient]
fn simulate(v: &Vector2<f64>, a: &Matrix2<f64>) -> f64 {
    let mut v = *v;
    for _ in 0..100 {
        v = (a * v).map(|x| x.tanh());
    }
    v.sum()
}

#[hessian(wrt(v))]
fn outer(v: &Vector2<f64>, a: &Matrix2<f64>) -> f64 {
    simulate(v, a).exp()
}

fn main() {
    let _ = outer_hvp(&Vector2::new(0.3, -0.2), &Matrix2::identity(), &Vector2::new(1.0, 0.0));
}
