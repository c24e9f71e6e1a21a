//! Counted loops of many iterations stay loops: the forward pass keeps the values carried from
//! one iteration to the next on a stack tape, the reverse pass runs the loop backwards, the
//! tangent runs it forwards; under `#[hessian]` (or called from it) the tangent also keeps a
//! tape and each iteration's second-order program runs backwards. Against dual numbers on the
//! same functions, generic over the scalar, and against the same loops unrolled.

#![allow(
    clippy::float_cmp,
    reason = "the values must be those of the functions, bit for bit"
)]
#![allow(
    clippy::explicit_iter_loop,
    clippy::cast_lossless,
    reason = "the loops are spelt as users spell them"
)]

mod common;

use common::{Rng, SEEDS, assert_close, assert_close_scalar};
use matgrad::nalgebra::{RealField, SMatrix, SVector, Vector2};
use matgrad::{gradient, jacobian};

/// 200 steps of v ← tanh(A·v / 2), summing ⟨A·v, v⟩ along the way.
#[gradient(wrt(a), twice)]
fn iterated<T: RealField + Copy>(a: &SMatrix<T, 4, 4>, v0: &SVector<T, 4>) -> T {
    let mut v = *v0;
    let mut s = T::zero();
    let half = T::one() / (T::one() + T::one());
    for _ in 0..200 {
        let w = a * v;
        s += w.dot(&v);
        v = (w * half).map(T::tanh);
    }
    s
}

#[test]
fn two_hundred_iterations_against_dual_numbers() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let a: SMatrix<f64, 4, 4> = rng.matrix::<4, 4>() * 0.5;
        let v0: SVector<f64, 4> = rng.vector();
        let (value, g) = iterated_grad(&a, &v0);
        assert_eq!(value, iterated(&a, &v0));
        let flat = SVector::<f64, 16>::from_column_slice(a.as_slice());
        let (_, expected) = num_dual::gradient(
            |w| {
                let a = SMatrix::<_, 4, 4>::from_column_slice(w.as_slice());
                iterated(&a, &v0.map(num_dual::DualVec::from_re))
            },
            &flat,
        );
        assert_close(
            &SVector::<f64, 16>::from_column_slice(g.as_slice()),
            &expected,
            1e-12,
        );
        let d: SMatrix<f64, 4, 4> = rng.matrix();
        let (value, t) = iterated_jvp(&a, &v0, &d, &SVector::zeros());
        assert_eq!(value, iterated(&a, &v0));
        let flat_d = SVector::<f64, 16>::from_column_slice(d.as_slice());
        assert_close_scalar(t, expected.dot(&flat_d), 1e-12);
    }
}

/// A damped oscillator integrated by 100 explicit Euler steps; the counter gives the time.
#[jacobian(wrt(p))]
fn oscillator<T: RealField + Copy>(p: &Vector2<T>, x0: &Vector2<T>) -> Vector2<T> {
    let mut x = *x0;
    let dt = T::one() / (T::one() + T::one()).powi(5);
    for i in 0..100 {
        let t = dt * T::from_usize(i).unwrap_or_else(T::zero);
        let force = -p[0] * x[0] - p[1] * x[1] + (t * p[0]).sin() * dt;
        x = Vector2::new(x[0] + dt * x[1], x[1] + dt * force);
    }
    x
}

#[test]
fn a_jacobian_through_one_hundred_euler_steps_against_dual_numbers() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let p = Vector2::new(rng.uniform(0.5, 2.0), rng.uniform(0.0, 0.5));
        let x0: Vector2<f64> = rng.vector();
        let (value, j) = oscillator_jacobian(&p, &x0);
        assert_eq!(value, oscillator(&p, &x0));
        let (_, expected) =
            num_dual::jacobian(|p| oscillator(&p, &x0.map(num_dual::DualVec::from_re)), &p);
        assert_close(&j, &expected, 1e-12);
    }
}

/// A loop of 80 iterations with a loop over data and an `if` in its body, and a variable it
/// only overwrites; `kept` stays a loop, as does `kept_twice` (the same under `#[hessian]`),
/// and `unrolled` (the same loop written as two of 40 iterations) does not.
#[gradient(wrt(w))]
fn kept(w: &SVector<f64, 3>, xs: &[SVector<f64, 3>]) -> f64 {
    let mut m = w * 0.5;
    let mut last = 0.0;
    for step in 0..80 {
        let mut t = 0.0;
        for x in xs.iter() {
            t += x.dot(&m).tanh();
        }
        if t > 0.0 {
            m = m * 0.99 + w * (0.01 * t);
        } else {
            m = m * 0.98 - w * (0.001 * step as f64);
        }
        last = t;
    }
    last + m.norm_squared()
}

#[matgrad::hessian(wrt(w))]
fn kept_twice(w: &SVector<f64, 3>, xs: &[SVector<f64, 3>]) -> f64 {
    let mut m = w * 0.5;
    let mut last = 0.0;
    for step in 0..80 {
        let mut t = 0.0;
        for x in xs.iter() {
            t += x.dot(&m).tanh();
        }
        if t > 0.0 {
            m = m * 0.99 + w * (0.01 * t);
        } else {
            m = m * 0.98 - w * (0.001 * step as f64);
        }
        last = t;
    }
    last + m.norm_squared()
}

#[matgrad::hessian(wrt(w))]
fn unrolled(w: &SVector<f64, 3>, xs: &[SVector<f64, 3>]) -> f64 {
    let mut m = w * 0.5;
    let mut last = 0.0;
    for step in 0..40 {
        let mut t = 0.0;
        for x in xs.iter() {
            t += x.dot(&m).tanh();
        }
        if t > 0.0 {
            m = m * 0.99 + w * (0.01 * t);
        } else {
            m = m * 0.98 - w * (0.001 * step as f64);
        }
        last = t;
    }
    for step in 40..80 {
        let mut t = 0.0;
        for x in xs.iter() {
            t += x.dot(&m).tanh();
        }
        if t > 0.0 {
            m = m * 0.99 + w * (0.01 * t);
        } else {
            m = m * 0.98 - w * (0.001 * step as f64);
        }
        last = t;
    }
    last + m.norm_squared()
}

#[test]
fn the_unrolled_loop_is_the_function() {
    let mut rng = Rng::new(SEEDS[0]);
    let w: SVector<f64, 3> = rng.vector();
    let xs: Vec<SVector<f64, 3>> = (0..5).map(|_| rng.vector()).collect();
    assert_eq!(unrolled_grad(&w, &xs).0, unrolled(&w, &xs));
}

#[test]
fn a_loop_kept_as_a_loop_agrees_with_the_same_loop_unrolled() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let w: SVector<f64, 3> = rng.vector();
        let xs: Vec<SVector<f64, 3>> = (0..5).map(|_| rng.vector()).collect();
        let (value, g) = kept_grad(&w, &xs);
        let (unrolled_value, expected) = unrolled_grad(&w, &xs);
        assert_eq!(value, kept(&w, &xs));
        assert_eq!(value, unrolled_value);
        assert_close(&g, &expected, 1e-12);
        let d: SVector<f64, 3> = rng.vector();
        let (_, t) = kept_jvp(&w, &xs, &d);
        assert_close_scalar(t, expected.dot(&d), 1e-12);
    }
}

#[test]
fn second_derivatives_through_a_loop_kept_as_a_loop_agree_with_the_loop_unrolled() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let w: SVector<f64, 3> = rng.vector();
        let xs: Vec<SVector<f64, 3>> = (0..5).map(|_| rng.vector()).collect();
        let (value, g, h) = kept_twice_hessian(&w, &xs);
        let (unrolled_value, expected_g, expected) = unrolled_hessian(&w, &xs);
        assert_eq!(value, kept_twice(&w, &xs));
        assert_eq!(value, unrolled_value);
        assert_close(&g, &expected_g, 1e-12);
        assert_close(&h, &expected, 1e-11);
        assert_eq!(h, h.transpose());
        let v: SVector<f64, 3> = rng.vector();
        let (_, _, hv) = kept_twice_hvp(&w, &xs, &v);
        assert_close(&hv, &(expected * v), 1e-11);
    }
}

/// An RNN over a const generic number of steps, N: h ← tanh(W·h + xₜ); a loop that can only
/// stay a loop.
#[gradient(wrt(w))]
fn rnn<T: RealField + Copy, const N: usize>(w: &SMatrix<T, 2, 2>, xs: &SMatrix<T, 2, N>) -> T {
    let mut h = Vector2::<T>::zeros();
    for t in 0..N {
        h = (w * h + Vector2::new(xs[(0, t)], xs[(1, t)])).map(T::tanh);
    }
    h.norm_squared()
}

/// The same RNN under `#[hessian]`: its N steps stay a loop, differentiated twice.
#[matgrad::hessian(wrt(w))]
fn rnn_twice<T: RealField + Copy, const N: usize>(
    w: &SMatrix<T, 2, 2>,
    xs: &SMatrix<T, 2, N>,
) -> T {
    let mut h = Vector2::<T>::zeros();
    for t in 0..N {
        h = (w * h + Vector2::new(xs[(0, t)], xs[(1, t)])).map(T::tanh);
    }
    h.norm_squared()
}

/// A `#[hessian]` function that calls `iterated`, whose 200 steps stay a loop there: its
/// second derivatives come through `iterated_vjp_jvp`.
#[matgrad::hessian(wrt(a))]
fn iterated_squared(a: &SMatrix<f64, 4, 4>, v0: &SVector<f64, 4>) -> f64 {
    let s = iterated(a, v0);
    s * s
}

#[test]
fn hessians_through_loops_kept_as_loops_against_dual_numbers() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let w: SMatrix<f64, 2, 2> = rng.matrix();
        let xs: SMatrix<f64, 2, 40> = rng.matrix();
        let flat = SVector::<f64, 4>::from_column_slice(w.as_slice());
        let (value, g, h) = rnn_twice_hessian(&w, &xs);
        assert_eq!(value, rnn_twice(&w, &xs));
        let (_, expected_g, expected) = num_dual::hessian(
            |v| {
                let w = SMatrix::<_, 2, 2>::from_column_slice(v.as_slice());
                rnn(&w, &xs.map(matgrad::nalgebra::convert))
            },
            &flat,
        );
        assert_close(
            &SVector::<f64, 4>::from_column_slice(g.as_slice()),
            &expected_g,
            1e-12,
        );
        assert_close(&h, &expected, 1e-11);
        assert_eq!(h, h.transpose());
        let d: SMatrix<f64, 2, 2> = rng.matrix();
        let (_, _, hv) = rnn_twice_hvp(&w, &xs, &d);
        let flat_d = SVector::<f64, 4>::from_column_slice(d.as_slice());
        assert_close(
            &SVector::<f64, 4>::from_column_slice(hv.as_slice()),
            &(expected * flat_d),
            1e-11,
        );

        let a: SMatrix<f64, 4, 4> = rng.matrix::<4, 4>() * 0.5;
        let v0: SVector<f64, 4> = rng.vector();
        let flat = SVector::<f64, 16>::from_column_slice(a.as_slice());
        let (value, g, h) = iterated_squared_hessian(&a, &v0);
        assert_eq!(value, iterated_squared(&a, &v0));
        let (_, expected_g, expected) = num_dual::hessian(
            |w| {
                let a = SMatrix::<_, 4, 4>::from_column_slice(w.as_slice());
                let s = iterated(&a, &v0.map(matgrad::nalgebra::convert));
                s * s
            },
            &flat,
        );
        assert_close(
            &SVector::<f64, 16>::from_column_slice(g.as_slice()),
            &expected_g,
            1e-12,
        );
        assert_close(&h, &expected, 1e-10);
        assert_eq!(h, h.transpose());
    }
}

/// 70 steps in a 5×4 matrix: a Hessian of 20 entries, swept in a loop over the unit directions.
#[matgrad::hessian(wrt(a))]
fn swept(a: &SMatrix<f64, 5, 4>, x: &SVector<f64, 4>) -> f64 {
    let mut v = *x;
    let mut s = 0.0;
    for _ in 0..70 {
        let w = (a * v).map(f64::tanh);
        s += w.sum();
        v = v * 0.9 + a.transpose() * w * 0.05;
    }
    s + v.norm_squared()
}

fn swept_generic<T: RealField + Copy>(a: &SMatrix<T, 5, 4>, x: &SVector<f64, 4>) -> T {
    let c = |v: f64| T::from_f64(v).expect("f64 converts");
    let mut v: SVector<T, 4> = x.map(c);
    let mut s = T::zero();
    for _ in 0..70 {
        let w = (a * v).map(T::tanh);
        s += w.sum();
        v = v * c(0.9) + a.transpose() * w * c(0.05);
    }
    s + v.norm_squared()
}

#[test]
fn a_swept_hessian_through_a_loop_kept_as_a_loop_against_dual_numbers() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let a: SMatrix<f64, 5, 4> = rng.matrix::<5, 4>() * 0.5;
        let x: SVector<f64, 4> = rng.vector();
        let flat = SVector::<f64, 20>::from_column_slice(a.as_slice());
        let (value, g, h) = swept_hessian(&a, &x);
        assert_eq!(value, swept(&a, &x));
        let (_, expected_g, expected) = num_dual::hessian(
            |w| swept_generic(&SMatrix::<_, 5, 4>::from_column_slice(w.as_slice()), &x),
            &flat,
        );
        assert_close(
            &SVector::<f64, 20>::from_column_slice(g.as_slice()),
            &expected_g,
            1e-12,
        );
        assert_close(&h, &expected, 1e-11);
        assert_eq!(h, h.transpose());
    }
}

#[test]
fn a_const_generic_number_of_steps_against_dual_numbers() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let w: SMatrix<f64, 2, 2> = rng.matrix();
        let short: SMatrix<f64, 2, 5> = rng.matrix();
        let long: SMatrix<f64, 2, 40> = rng.matrix();
        let flat = SVector::<f64, 4>::from_column_slice(w.as_slice());
        let (value, g) = rnn_grad(&w, &short);
        assert_eq!(value, rnn(&w, &short));
        let (_, expected) = num_dual::gradient(
            |v| {
                rnn(
                    &SMatrix::<_, 2, 2>::from_column_slice(v.as_slice()),
                    &short.map(num_dual::DualVec::from_re),
                )
            },
            &flat,
        );
        assert_close(
            &SVector::<f64, 4>::from_column_slice(g.as_slice()),
            &expected,
            1e-13,
        );
        let (value, g) = rnn_grad(&w, &long);
        assert_eq!(value, rnn(&w, &long));
        let (_, expected) = num_dual::gradient(
            |v| {
                rnn(
                    &SMatrix::<_, 2, 2>::from_column_slice(v.as_slice()),
                    &long.map(num_dual::DualVec::from_re),
                )
            },
            &flat,
        );
        assert_close(
            &SVector::<f64, 4>::from_column_slice(g.as_slice()),
            &expected,
            1e-12,
        );
    }
}
