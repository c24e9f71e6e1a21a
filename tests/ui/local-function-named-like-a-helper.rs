use matgrad::gradient;

// A function of the user's own named `softplus`: matgrad knows the derivative of its own
// `softplus` only, so the generated code checks that the name is matgrad's and this fails to
// compile rather than differentiate the wrong function.
fn softplus(v: f64) -> f64 {
    2.0 * v
}

#[gradient]
fn loss(x: f64) -> f64 {
    softplus(x)
}

fn main() {}
