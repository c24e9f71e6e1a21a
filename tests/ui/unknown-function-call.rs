use matgrad::gradient;
use matgrad::nalgebra::SVector;

// `relu` has neither `#[gradient]` nor a hand-written `relu_vjp`, so there is nothing to
// differentiate it with: the error names the missing `relu_vjp` at the call.
fn relu(v: f64) -> f64 {
    v.max(0.0)
}

#[gradient]
fn loss(x: &SVector<f64, 3>) -> f64 {
    relu(x.sum())
}

fn main() {}
