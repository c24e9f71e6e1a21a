use matgrad::gradient;
use matgrad::nalgebra::{SMatrix, SVector};

#[gradient]
pub fn ols(beta: &SVector<f64, 5>, x: &SMatrix<f64, 20, 5>, y: &SVector<f64, 20>) -> f64 {
    let r = y - x * beta;
    r.norm_squared()
}

#[gradient(wrt(w))]
fn layer(w: &SMatrix<f64, 8, 16>, x: &SVector<f64, 16>, y: &SVector<f64, 8>) -> f64 {
    let s = (w * x).map(|v| matgrad::sigmoid(v));
    0.5 * (s - y).norm_squared()
}

#[test]
fn smoke() {
    let beta = SVector::<f64, 5>::from_fn(|i, _| i as f64 * 0.1);
    let x = SMatrix::<f64, 20, 5>::from_fn(|i, j| ((i * 7 + j * 3) % 11) as f64 / 11.0);
    let y = SVector::<f64, 20>::from_fn(|i, _| (i as f64).sin());
    let (v, (gb, gx, gy)) = ols_grad(&beta, &x, &y);
    assert_eq!(v, ols(&beta, &x, &y));
    let expected = -2.0 * x.transpose() * (y - x * beta);
    assert!((gb - expected).norm() < 1e-12, "{gb} {expected}");
    let r = matgrad::check_gradient(
        |p: &(SVector<f64, 5>, SMatrix<f64, 20, 5>, SVector<f64, 20>)| ols(&p.0, &p.1, &p.2),
        &(beta, x, y),
        &(gb, gx, gy),
    );
    r.assert_within(1e-7);
    let w = SMatrix::<f64, 8, 16>::from_fn(|i, j| ((i * 5 + j * 3) % 7) as f64 / 7.0 - 0.5);
    let xx = SVector::<f64, 16>::from_fn(|i, _| (i as f64).cos());
    let yy = SVector::<f64, 8>::from_fn(|i, _| (i % 2) as f64);
    let (_, gw) = layer_grad(&w, &xx, &yy);
    let r = matgrad::check_gradient(|w: &SMatrix<f64, 8, 16>| layer(w, &xx, &yy), &w, &gw);
    r.assert_within(1e-7);
}
