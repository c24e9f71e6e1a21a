use matgrad::hessian;
use matgrad::nalgebra::Matrix2;

// A Kronecker product of two differentiated factors is not yet differentiated twice: the error
// says what is.
#[hessian]
fn kronecker_square(x: &Matrix2<f64>) -> f64 {
    x.kronecker(x).trace()
}

fn main() {}
