use matgrad::gradient;
use matgrad::nalgebra::SVector;

#[gradient(wrt(betta))]
fn loss(beta: &SVector<f64, 3>, x: &SVector<f64, 3>) -> f64 {
    (beta - x).norm_squared()
}

fn main() {
    let (value, grad) = loss_grad(&SVector::zeros(), &SVector::zeros());
    println!("{value} {}", grad.sum());
}
