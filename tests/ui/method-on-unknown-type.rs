use matgrad::gradient;
use matgrad::nalgebra::SVector;

struct Model {
    w: SVector<f64, 3>,
}

impl Model {
    fn score(&self, x: &SVector<f64, 3>) -> f64 {
        self.w.dot(x)
    }
}

#[gradient]
fn loss(model: &Model, x: &SVector<f64, 3>) -> f64 {
    model.score(x).powi(2)
}

fn main() {
    let model = Model {
        w: SVector::zeros(),
    };
    let x = SVector::zeros();
    let _ = (model.score(&x), loss(&model, &x));
}
