use matgrad::jacobian;
use matgrad::nalgebra::SVector;

// 2000 results by 1000 parameter entries: two million entries, too many for the stack.
#[jacobian]
fn scaled(x: &SVector<f64, 1000>, y: &SVector<f64, 2000>) -> SVector<f64, 2000> {
    y * x.sum()
}

fn main() {}
