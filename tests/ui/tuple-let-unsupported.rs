use matgrad::gradient;
use matgrad::nalgebra::SVector;

#[gradient]
fn arity(x: &SVector<f64, 3>, y: f64) -> f64 {
    let (a, b) = (x.norm(), y, y * y);
    a + b
}

#[gradient]
fn nested(x: &SVector<f64, 3>, y: f64) -> f64 {
    let (a, (b, c)) = (x.norm(), (y, y * y));
    a + b + c
}

#[gradient]
fn not_a_tuple(x: &SVector<f64, 3>) -> f64 {
    let (a, b) = x.norm().exp();
    a + b
}

fn main() {}
