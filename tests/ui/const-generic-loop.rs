use matgrad::gradient;
use matgrad::nalgebra::{SVector, Vector2};

// Its body cannot assign an entry at the counter, which only unrolling allows.
#[gradient(wrt(w))]
fn assigns_at_counter<const N: usize>(w: &Vector2<f64>, _unused: &SVector<f64, 2>) -> f64 {
    let mut v = SVector::<f64, N>::zeros();
    for t in 0..N {
        v[t] = w[0];
    }
    v.sum()
}

fn main() {}
