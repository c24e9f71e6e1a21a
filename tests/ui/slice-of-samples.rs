use matgrad::gradient;
use matgrad::nalgebra::SVector;

// A data set passed as a slice: the error gives the supported spelling.
#[gradient(wrt(w))]
fn data_loss(w: &SVector<f64, 3>, xs: &[SVector<f64, 3>]) -> f64 {
    let mut total = 0.0;
    for x in xs.iter() {
        total += w.dot(x).powi(2);
    }
    total
}

fn main() {}
