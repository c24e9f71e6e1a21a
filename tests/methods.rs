//! `#[gradient]`, `#[jacobian]` and `#[hessian]` on methods taking `&self`, the usual shape of
//! an optimisation problem with its data in a struct: fields are read as constants with their
//! type written (`let x: &SMatrix<f64, 20, 3> = &self.x;`), and the companions are methods
//! (`self.loss_grad(…)`), against closed forms.

#![allow(
    clippy::float_cmp,
    reason = "the values must be those of the functions, bit for bit"
)]

mod common;

use common::{Rng, SEEDS, assert_close};
use matgrad::nalgebra::{SMatrix, SVector};
use matgrad::{gradient, hessian, jacobian};

/// Ridge regression with its data in a struct.
struct Ridge {
    x: SMatrix<f64, 20, 3>,
    y: SVector<f64, 20>,
    lambda: f64,
    /// How many of the samples, from the first, the loss reads (an integer field).
    first: usize,
    /// Whether the ridge term is on (a `bool` field).
    penalised: bool,
}

impl Ridge {
    /// f(β) = ½‖y − Xβ‖² + ½λ‖β‖² (with the penalty on) + (y₀ − x₀·β)² (sample `first − 1`).
    #[hessian(wrt(beta))]
    fn loss(&self, beta: &SVector<f64, 3>) -> f64 {
        let x: &SMatrix<f64, 20, 3> = &self.x;
        let y: SVector<f64, 20> = self.y;
        let lambda: f64 = self.lambda;
        let first: usize = self.first;
        let penalised: bool = self.penalised;
        let r = y - x * beta;
        let mut f = 0.5 * r.norm_squared() + r[first - 1] * r[first - 1];
        if penalised {
            f += 0.5 * lambda * beta.norm_squared();
        }
        f
    }

    /// The residuals y − Xβ.
    #[jacobian(wrt(beta))]
    fn residuals(&self, beta: &SVector<f64, 3>) -> SVector<f64, 20> {
        let x: &SMatrix<f64, 20, 3> = &self.x;
        let y: &SVector<f64, 20> = &self.y;
        y - x * beta
    }

    /// ‖β‖² scaled by the field `lambda`, with the gradient alone.
    #[gradient]
    fn penalty(&self, beta: &SVector<f64, 3>) -> f64 {
        let lambda: f64 = self.lambda;
        lambda * beta.norm_squared()
    }
}

#[test]
fn methods_read_their_fields_as_constants() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let model = Ridge {
            x: rng.matrix(),
            y: rng.vector(),
            lambda: 0.3,
            first: 3,
            penalised: seed % 2 == 1,
        };
        let beta: SVector<f64, 3> = rng.vector();
        let (value, grad, h) = model.loss_hessian(&beta);
        assert_eq!(value, model.loss(&beta));
        let (x, y) = (model.x, model.y);
        let r = y - x * beta;
        let k = model.first - 1;
        let xk = x.row(k).transpose();
        let lambda = if model.penalised { model.lambda } else { 0.0 };
        let expected = -(x.transpose() * r) - xk * (2.0 * r[k]) + beta * lambda;
        assert_close(&grad, &expected, 1e-13);
        let curvature = x.transpose() * x
            + xk * xk.transpose() * 2.0
            + SMatrix::<f64, 3, 3>::identity() * lambda;
        assert_close(&h, &curvature, 1e-13);
        let (same, g) = model.loss_grad(&beta);
        assert_eq!((same, g), (value, grad));

        let (residuals, j) = model.residuals_jacobian(&beta);
        assert_eq!(residuals, model.residuals(&beta));
        assert_eq!(j, -x);

        let (value, g) = model.penalty_grad(&beta);
        assert_eq!(value, model.penalty(&beta));
        assert_close(&g, &(beta * (2.0 * model.lambda)), 1e-15);
    }
}
