// A function of the user's own named `softplus` (or `sigmoid`) in scope: `loss` calls it, but
// `loss_grad` differentiates `matgrad::softplus` instead, so the value and the gradient are
// silently those of another function.
use matgrad::gradient;

fn softplus(v: f64) -> f64 {
    2.0 * v
}

#[gradient]
fn loss(x: f64) -> f64 {
    softplus(x)
}

fn main() {
    let (value, grad) = loss_grad(0.5);
    assert_eq!(
        value,
        loss(0.5),
        "the value of `loss_grad` is not the value of `loss`"
    );
    assert_eq!(
        grad, 2.0,
        "the gradient is not the derivative of the user's `softplus`"
    );
}
