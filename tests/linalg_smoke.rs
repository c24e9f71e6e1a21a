use matgrad::gradient;
use matgrad::nalgebra::{Matrix2, Matrix3, SMatrix, Vector3};

#[gradient]
fn logdet_quad(s: &Matrix3<f64>, r: &Vector3<f64>) -> f64 {
    let inv = s.try_inverse().unwrap();
    0.5 * s.determinant().ln() + 0.5 * r.dot(&(inv * r))
}

#[gradient]
fn solved(a: &Matrix3<f64>, b: &SMatrix<f64, 3, 2>) -> f64 {
    a.lu().solve(&b).expect("singular").norm_squared()
}

#[gradient]
fn kron(a: &Matrix2<f64>, b: &SMatrix<f64, 3, 2>, c: &SMatrix<f64, 6, 4>) -> f64 {
    a.kronecker(&b).dot(&c)
}

#[gradient(wrt(a))]
fn power(a: &Matrix3<f64>, k: u32) -> f64 {
    a.pow(k).trace()
}

#[test]
fn linalg_smoke() {
    let s = Matrix3::new(3.0, 0.5, 0.2, 0.5, 2.0, 0.3, 0.2, 0.3, 1.5);
    let r = Vector3::new(0.3, -0.2, 0.5);
    let (v, g) = logdet_quad_grad(&s, &r);
    assert_eq!(v, logdet_quad(&s, &r));
    matgrad::check_gradient(
        |p: &(Matrix3<f64>, Vector3<f64>)| logdet_quad(&p.0, &p.1),
        &(s, r),
        &g,
    )
    .assert_within(1e-7);
    let b = SMatrix::<f64, 3, 2>::new(1.0, 2.0, -0.5, 0.3, 0.7, -1.0);
    let (_, g) = solved_grad(&s, &b);
    matgrad::check_gradient(
        |p: &(Matrix3<f64>, SMatrix<f64, 3, 2>)| solved(&p.0, &p.1),
        &(s, b),
        &g,
    )
    .assert_within(1e-7);
    let a = Matrix2::new(1.0, 2.0, -0.5, 0.7);
    let c = SMatrix::<f64, 6, 4>::from_fn(|i, j| (i as f64) * 0.3 - (j as f64) * 0.2);
    let (_, g) = kron_grad(&a, &b, &c);
    matgrad::check_gradient(
        |p: &(Matrix2<f64>, SMatrix<f64, 3, 2>, SMatrix<f64, 6, 4>)| kron(&p.0, &p.1, &p.2),
        &(a, b, c),
        &g,
    )
    .assert_within(1e-7);
    let (_, g) = power_grad(&s, 3);
    let expected = 3.0 * (s * s).transpose();
    assert!((g - expected).norm() < 1e-10);
}
