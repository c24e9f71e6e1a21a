use matgrad::jacobian;
use matgrad::nalgebra::Vector3;

// A Jacobian is of a float result: a function returning nothing has none.
#[jacobian]
fn check(x: &Vector3<f64>) {
    let _ = x;
}

fn main() {}
