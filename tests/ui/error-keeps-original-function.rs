use matgrad::gradient;
use matgrad::nalgebra::{SMatrix, SVector};

// The one error is the shape mismatch: `loss` is still emitted with its signature, and `loss_grad`
// as a stub, so the calls in `main` add no "cannot find function" or type error on top.
#[gradient]
fn loss(w: &SMatrix<f64, 3, 4>, y: &SVector<f64, 3>) -> f64 {
    (w * y).sum()
}

fn main() {
    let w = SMatrix::<f64, 3, 4>::zeros();
    let y = SVector::<f64, 3>::zeros();
    let _value: f64 = loss(&w, &y);
    let (_value, (_gw, _gy)): (f64, (SMatrix<f64, 3, 4>, SVector<f64, 3>)) = loss_grad(&w, &y);
}
