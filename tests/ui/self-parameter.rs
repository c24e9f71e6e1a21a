use matgrad::gradient;
use matgrad::nalgebra::SVector;

struct Model;

impl Model {
    #[gradient]
    fn loss(&self, x: &SVector<f64, 3>) -> f64 {
        x.norm_squared()
    }
}

fn main() {}
