use matgrad::nalgebra::{SMatrix, SVector, Vector2};
use matgrad::{gradient, hessian};

// A loop over a const generic count stays a loop, which `#[hessian]` does not differentiate.
#[hessian(wrt(w))]
fn twice<const N: usize>(w: &Vector2<f64>, xs: &SMatrix<f64, 2, N>) -> f64 {
    let mut s = 0.0;
    for t in 0..N {
        s += w.dot(&Vector2::new(xs[(0, t)], xs[(1, t)]));
    }
    s
}

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
