fn scaled_exp(w: &Vector3<f64>, s: f64) -> f64 {
    w.map(|v| (v * s).exp()).sum()
}
/// The tangent of [`scaled_exp_vjp`] along the tangents of the float parameters and of the seed: `(scaled_exp(…), gradients, their tangents)`, the second derivatives a `#[hessian]` function differentiates a call of `scaled_exp` with.
#[doc(hidden)]
#[allow(unused_variables, unused_mut, clippy::all, clippy::pedantic)]
#[must_use]
#[inline]
fn scaled_exp_vjp_jvp<MatgradOrder: ::core::marker::Copy>(
    w: &Vector3<f64>,
    s: f64,
    seed: f64,
    dw: &Vector3<f64>,
    ds: f64,
    seed_tangent: f64,
    order: MatgradOrder,
) -> (f64, (Vector3<f64>, f64), (Vector3<f64>, f64)) {
    let __mg_v2: ::matgrad::__private::nalgebra::SMatrix<f64, 3, 1> = w
        .map(|__mg_m2_x: f64| -> f64 {
            let __mg_m2_v2: f64 = __mg_m2_x * s;
            let __mg_m2_v3: f64 = __mg_m2_v2.exp();
            __mg_m2_v3
        });
    let __mg_v3: f64 = __mg_v2.sum();
    let mut __mg_v2: ::matgrad::__private::nalgebra::SMatrix<f64, 3, 1> = <::matgrad::__private::nalgebra::SMatrix<
        f64,
        3,
        1,
    >>::zeros();
    let mut __mg_p2_0: ::matgrad::__private::nalgebra::SMatrix<f64, 3, 1> = <::matgrad::__private::nalgebra::SMatrix<
        f64,
        3,
        1,
    >>::zeros();
    let mut __mg_p2_1: ::matgrad::__private::nalgebra::SMatrix<f64, 3, 1> = <::matgrad::__private::nalgebra::SMatrix<
        f64,
        3,
        1,
    >>::zeros();
    for __mg_i in 0..__mg_v2.len() {
        let __mg_m2_x: f64 = w[__mg_i];
        let __mg_m2_v2: f64 = __mg_m2_x * s;
        let __mg_m2_v3: f64 = __mg_m2_v2.exp();
        let __mg_m2_g3: f64 = 1.0;
        let __mg_m2_g2: f64 = (__mg_m2_g3 * __mg_m2_v3);
        let __mg_m2_g0: f64 = (__mg_m2_g2 * s);
        let __mg_m2_g1: f64 = (__mg_m2_g2 * __mg_m2_x);
        __mg_v2[__mg_i] = __mg_m2_v3;
        __mg_p2_0[__mg_i] = __mg_m2_g0;
        __mg_p2_1[__mg_i] = __mg_m2_g1;
    }
    let __mg_d2: ::matgrad::__private::nalgebra::SMatrix<f64, 3, 1> = ((__mg_p2_0
        .component_mul(dw)) + (&__mg_p2_1 * ds));
    let __mg_d3: f64 = (__mg_d2.sum());
    let __mg_g3: f64 = seed;
    let __mg_g0: ::matgrad::__private::nalgebra::SMatrix<f64, 3, 1> = (__mg_v2
        .map(|__mg_m2_z: f64| -> f64 {
            let __mg_m2_zbar: f64 = __mg_g3;
            let __mg_m2_g3: f64 = __mg_m2_zbar;
            let __mg_m2_g2: f64 = (__mg_m2_g3 * __mg_m2_z);
            let __mg_m2_g0: f64 = (__mg_m2_g2 * s);
            __mg_m2_g0
        }));
    let __mg_g1: f64 = (w
        .zip_map(
            &__mg_v2,
            |__mg_m2_x: f64, __mg_m2_z: f64| -> f64 {
                let __mg_m2_zbar: f64 = __mg_g3;
                let __mg_m2_g3: f64 = __mg_m2_zbar;
                let __mg_m2_g2: f64 = (__mg_m2_g3 * __mg_m2_z);
                let __mg_m2_g1: f64 = (__mg_m2_g2 * __mg_m2_x);
                __mg_m2_g1
            },
        )
        .sum());
    let mut __mg_dg3: f64 = seed_tangent;
    let mut __mg_dg0: ::matgrad::__private::nalgebra::SMatrix<f64, 3, 1> = ({
        let __mg_zbar_all = (::matgrad::__private::nalgebra::SMatrix::<
            f64,
            3,
            1,
        >::repeat(__mg_g3));
        let __mg_dzbar_all = (::matgrad::__private::nalgebra::SMatrix::<
            f64,
            3,
            1,
        >::repeat(__mg_dg3));
        <::matgrad::__private::nalgebra::SMatrix<
            f64,
            3,
            1,
        >>::from_fn(|__mg_m2s_i, __mg_m2s_j| -> f64 {
            let __mg_m2s_x: f64 = w[(__mg_m2s_i, __mg_m2s_j)];
            let __mg_m2s_dx: f64 = dw[(__mg_m2s_i, __mg_m2s_j)];
            let __mg_m2s_zbar: f64 = __mg_zbar_all[(__mg_m2s_i, __mg_m2s_j)];
            let __mg_m2s_dzbar: f64 = __mg_dzbar_all[(__mg_m2s_i, __mg_m2s_j)];
            let __mg_m2s_v2: f64 = __mg_m2s_x * s;
            let __mg_m2s_v3: f64 = __mg_m2s_v2.exp();
            let __mg_m2s_d2: f64 = ((__mg_m2s_dx * s) + (__mg_m2s_x * ds));
            let __mg_m2s_d3: f64 = (__mg_m2s_d2 * __mg_m2s_v3);
            let __mg_m2s_g3: f64 = __mg_m2s_zbar;
            let __mg_m2s_g2: f64 = (__mg_m2s_g3 * __mg_m2s_v3);
            let __mg_m2s_g0: f64 = (__mg_m2s_g2 * s);
            let mut __mg_m2s_dg3: f64 = __mg_m2s_dzbar;
            let mut __mg_m2s_dg2: f64 = ((__mg_m2s_dg3 * __mg_m2s_v3)
                + (__mg_m2s_g3 * __mg_m2s_d3));
            let mut __mg_m2s_dg0: f64 = ((__mg_m2s_dg2 * s) + (__mg_m2s_g2 * ds));
            __mg_m2s_dg0
        })
    });
    let mut __mg_dg1: f64 = ({
        let __mg_zbar_all = (::matgrad::__private::nalgebra::SMatrix::<
            f64,
            3,
            1,
        >::repeat(__mg_g3));
        let __mg_dzbar_all = (::matgrad::__private::nalgebra::SMatrix::<
            f64,
            3,
            1,
        >::repeat(__mg_dg3));
        <::matgrad::__private::nalgebra::SMatrix<
            f64,
            3,
            1,
        >>::from_fn(|__mg_m2s_i, __mg_m2s_j| -> f64 {
            let __mg_m2s_x: f64 = w[(__mg_m2s_i, __mg_m2s_j)];
            let __mg_m2s_dx: f64 = dw[(__mg_m2s_i, __mg_m2s_j)];
            let __mg_m2s_zbar: f64 = __mg_zbar_all[(__mg_m2s_i, __mg_m2s_j)];
            let __mg_m2s_dzbar: f64 = __mg_dzbar_all[(__mg_m2s_i, __mg_m2s_j)];
            let __mg_m2s_v2: f64 = __mg_m2s_x * s;
            let __mg_m2s_v3: f64 = __mg_m2s_v2.exp();
            let __mg_m2s_d2: f64 = ((__mg_m2s_dx * s) + (__mg_m2s_x * ds));
            let __mg_m2s_d3: f64 = (__mg_m2s_d2 * __mg_m2s_v3);
            let __mg_m2s_g3: f64 = __mg_m2s_zbar;
            let __mg_m2s_g2: f64 = (__mg_m2s_g3 * __mg_m2s_v3);
            let __mg_m2s_g1: f64 = (__mg_m2s_g2 * __mg_m2s_x);
            let mut __mg_m2s_dg3: f64 = __mg_m2s_dzbar;
            let mut __mg_m2s_dg2: f64 = ((__mg_m2s_dg3 * __mg_m2s_v3)
                + (__mg_m2s_g3 * __mg_m2s_d3));
            let mut __mg_m2s_dg1: f64 = ((__mg_m2s_dg2 * __mg_m2s_x)
                + (__mg_m2s_g2 * __mg_m2s_dx));
            __mg_m2s_dg1
        })
    }
        .sum());
    (__mg_v3, ((*&__mg_g0), __mg_g1), ((*&__mg_dg0), __mg_dg1))
}
/** Value and gradient of [`scaled_exp`] with respect to `w`, `s`, generated by `#[gradient]`.

 Returns `(scaled_exp(…), gradients)`. Each gradient has its parameter's shape, and its entry `(i, j)` is the partial derivative of `scaled_exp` with respect to entry `(i, j)` of that parameter.

 # Derivation

 ```text
 ∇w = (v ↦ exp(v·s))′(w)
 ∇s = Σ(∂(v ↦ exp(v·s))/∂s)
 ```*/
#[allow(unused_variables, clippy::all, clippy::pedantic)]
#[must_use]
#[inline]
fn scaled_exp_grad(w: &Vector3<f64>, s: f64) -> (f64, (Vector3<f64>, f64)) {
    let __mg_v2: ::matgrad::__private::nalgebra::SMatrix<f64, 3, 1> = w
        .map(|__mg_m2_x: f64| -> f64 {
            let __mg_m2_v2: f64 = __mg_m2_x * s;
            let __mg_m2_v3: f64 = __mg_m2_v2.exp();
            __mg_m2_v3
        });
    let __mg_v3: f64 = __mg_v2.sum();
    let __mg_g3: f64 = 1.0;
    let __mg_g0: ::matgrad::__private::nalgebra::SMatrix<f64, 3, 1> = (__mg_v2
        .map(|__mg_m2_z: f64| -> f64 {
            let __mg_m2_zbar: f64 = __mg_g3;
            let __mg_m2_g3: f64 = __mg_m2_zbar;
            let __mg_m2_g2: f64 = (__mg_m2_g3 * __mg_m2_z);
            let __mg_m2_g0: f64 = (__mg_m2_g2 * s);
            __mg_m2_g0
        }));
    let __mg_g1: f64 = (w
        .zip_map(
            &__mg_v2,
            |__mg_m2_x: f64, __mg_m2_z: f64| -> f64 {
                let __mg_m2_zbar: f64 = __mg_g3;
                let __mg_m2_g3: f64 = __mg_m2_zbar;
                let __mg_m2_g2: f64 = (__mg_m2_g3 * __mg_m2_z);
                let __mg_m2_g1: f64 = (__mg_m2_g2 * __mg_m2_x);
                __mg_m2_g1
            },
        )
        .sum());
    (__mg_v3, (__mg_g0, __mg_g1))
}
/// The vector-Jacobian product of [`scaled_exp`], generated by `#[gradient]`: its value, and the gradient of ⟨seed, scaled_exp(…)⟩ with respect to each float parameter, in order. Other `#[gradient]` functions call it to differentiate through `scaled_exp`.
#[allow(unused_variables, clippy::all, clippy::pedantic)]
#[must_use]
#[inline]
fn scaled_exp_vjp(w: &Vector3<f64>, s: f64, seed: f64) -> (f64, (Vector3<f64>, f64)) {
    let __mg_v2: ::matgrad::__private::nalgebra::SMatrix<f64, 3, 1> = w
        .map(|__mg_m2_x: f64| -> f64 {
            let __mg_m2_v2: f64 = __mg_m2_x * s;
            let __mg_m2_v3: f64 = __mg_m2_v2.exp();
            __mg_m2_v3
        });
    let __mg_v3: f64 = __mg_v2.sum();
    let __mg_g3: f64 = seed;
    let __mg_g0: ::matgrad::__private::nalgebra::SMatrix<f64, 3, 1> = (__mg_v2
        .map(|__mg_m2_z: f64| -> f64 {
            let __mg_m2_zbar: f64 = __mg_g3;
            let __mg_m2_g3: f64 = __mg_m2_zbar;
            let __mg_m2_g2: f64 = (__mg_m2_g3 * __mg_m2_z);
            let __mg_m2_g0: f64 = (__mg_m2_g2 * s);
            __mg_m2_g0
        }));
    let __mg_g1: f64 = (w
        .zip_map(
            &__mg_v2,
            |__mg_m2_x: f64, __mg_m2_z: f64| -> f64 {
                let __mg_m2_zbar: f64 = __mg_g3;
                let __mg_m2_g3: f64 = __mg_m2_zbar;
                let __mg_m2_g2: f64 = (__mg_m2_g3 * __mg_m2_z);
                let __mg_m2_g1: f64 = (__mg_m2_g2 * __mg_m2_x);
                __mg_m2_g1
            },
        )
        .sum());
    (__mg_v3, (__mg_g0, __mg_g1))
}
/// The Jacobian-vector product of [`scaled_exp`], generated by matgrad: its value, and its directional derivative Σₓ ∂scaled_exp/∂x · dx along the tangents `dw`, `ds`, one for each float parameter in order, each shaped like its parameter. Other matgrad functions call it to differentiate through `scaled_exp` in forward mode.
#[allow(unused_variables, clippy::all, clippy::pedantic)]
#[must_use]
#[inline]
fn scaled_exp_jvp(w: &Vector3<f64>, s: f64, dw: &Vector3<f64>, ds: f64) -> (f64, f64) {
    let mut __mg_v2: ::matgrad::__private::nalgebra::SMatrix<f64, 3, 1> = <::matgrad::__private::nalgebra::SMatrix<
        f64,
        3,
        1,
    >>::zeros();
    let mut __mg_p2_0: ::matgrad::__private::nalgebra::SMatrix<f64, 3, 1> = <::matgrad::__private::nalgebra::SMatrix<
        f64,
        3,
        1,
    >>::zeros();
    let mut __mg_p2_1: ::matgrad::__private::nalgebra::SMatrix<f64, 3, 1> = <::matgrad::__private::nalgebra::SMatrix<
        f64,
        3,
        1,
    >>::zeros();
    for __mg_i in 0..__mg_v2.len() {
        let __mg_m2_x: f64 = w[__mg_i];
        let __mg_m2_v2: f64 = __mg_m2_x * s;
        let __mg_m2_v3: f64 = __mg_m2_v2.exp();
        let __mg_m2_g3: f64 = 1.0;
        let __mg_m2_g2: f64 = (__mg_m2_g3 * __mg_m2_v3);
        let __mg_m2_g0: f64 = (__mg_m2_g2 * s);
        let __mg_m2_g1: f64 = (__mg_m2_g2 * __mg_m2_x);
        __mg_v2[__mg_i] = __mg_m2_v3;
        __mg_p2_0[__mg_i] = __mg_m2_g0;
        __mg_p2_1[__mg_i] = __mg_m2_g1;
    }
    let __mg_v3: f64 = __mg_v2.sum();
    let __mg_d2: ::matgrad::__private::nalgebra::SMatrix<f64, 3, 1> = ((__mg_p2_0
        .component_mul(dw)) + (&__mg_p2_1 * ds));
    let __mg_d3: f64 = (__mg_d2.sum());
    (__mg_v3, __mg_d3)
}
