use matgrad::gradient;
use matgrad::nalgebra::SVector;

struct Model {
    weights: SVector<f64, 3>,
}

impl Model {
    // A method is differentiated when it takes `&self`.
    #[gradient]
    fn by_mutable_reference(&mut self, x: &SVector<f64, 3>) -> f64 {
        x.norm_squared()
    }

    // A field is read with its type written.
    #[gradient]
    fn field_without_a_type(&self, x: &SVector<f64, 3>) -> f64 {
        let w = &self.weights;
        w.dot(x)
    }
}

fn main() {}
