fn mlp2(
    w1: &SMatrix<f64, 32, 16>,
    b1: &SVector<f64, 32>,
    w2: &SMatrix<f64, 4, 32>,
    b2: &SVector<f64, 4>,
    x: &SVector<f64, 16>,
    y: &SVector<f64, 4>,
) -> f64 {
    let h = (w1 * x + b1).map(f64::tanh);
    0.5 * (w2 * h + b2 - y).norm_squared()
}
/// The tangent of [`mlp2_vjp`] along the tangents of the float parameters and of the seed: `(mlp2(…), gradients, their tangents)`, the second derivatives a `#[hessian]` function differentiates a call of `mlp2` with.
#[doc(hidden)]
#[allow(unused_variables, unused_mut, clippy::all, clippy::pedantic)]
#[must_use]
#[inline]
fn mlp2_vjp_jvp<MatgradOrder: ::core::marker::Copy>(
    w1: &SMatrix<f64, 32, 16>,
    b1: &SVector<f64, 32>,
    w2: &SMatrix<f64, 4, 32>,
    b2: &SVector<f64, 4>,
    x: &SVector<f64, 16>,
    y: &SVector<f64, 4>,
    seed: f64,
    dw1: &SMatrix<f64, 32, 16>,
    db1: &SVector<f64, 32>,
    dw2: &SMatrix<f64, 4, 32>,
    db2: &SVector<f64, 4>,
    dx: &SVector<f64, 16>,
    dy: &SVector<f64, 4>,
    seed_tangent: f64,
    order: MatgradOrder,
) -> (
    f64,
    (
        SMatrix<f64, 32, 16>,
        SVector<f64, 32>,
        SMatrix<f64, 4, 32>,
        SVector<f64, 4>,
        SVector<f64, 16>,
        SVector<f64, 4>,
    ),
    (
        SMatrix<f64, 32, 16>,
        SVector<f64, 32>,
        SMatrix<f64, 4, 32>,
        SVector<f64, 4>,
        SVector<f64, 16>,
        SVector<f64, 4>,
    ),
) {
    let __mg_v6: ::matgrad::__private::nalgebra::SMatrix<f64, 32, 1> = w1 * x;
    let __mg_v7: ::matgrad::__private::nalgebra::SMatrix<f64, 32, 1> = &__mg_v6 + b1;
    let __mg_v8: ::matgrad::__private::nalgebra::SMatrix<f64, 32, 1> = __mg_v7
        .map(|__mg_m8_x: f64| -> f64 {
            let __mg_m8_v1: f64 = __mg_m8_x.tanh();
            __mg_m8_v1
        });
    let __mg_v9: f64 = 0.5;
    let __mg_v10: ::matgrad::__private::nalgebra::SMatrix<f64, 4, 1> = w2 * &__mg_v8;
    let __mg_v11: ::matgrad::__private::nalgebra::SMatrix<f64, 4, 1> = &__mg_v10 + b2;
    let __mg_v12: ::matgrad::__private::nalgebra::SMatrix<f64, 4, 1> = &__mg_v11 - y;
    let __mg_v13: f64 = __mg_v12.norm_squared();
    let __mg_v14: f64 = __mg_v9 * __mg_v13;
    let mut __mg_v8: ::matgrad::__private::nalgebra::SMatrix<f64, 32, 1> = <::matgrad::__private::nalgebra::SMatrix<
        f64,
        32,
        1,
    >>::zeros();
    let mut __mg_p8_0: ::matgrad::__private::nalgebra::SMatrix<f64, 32, 1> = <::matgrad::__private::nalgebra::SMatrix<
        f64,
        32,
        1,
    >>::zeros();
    for __mg_i in 0..__mg_v8.len() {
        let __mg_m8_x: f64 = __mg_v7[__mg_i];
        let __mg_m8_v1: f64 = __mg_m8_x.tanh();
        let __mg_m8_g1: f64 = 1.0;
        let __mg_m8_g0: f64 = (__mg_m8_g1 * (1.0 - (__mg_m8_v1 * __mg_m8_v1)));
        __mg_v8[__mg_i] = __mg_m8_v1;
        __mg_p8_0[__mg_i] = __mg_m8_g0;
    }
    let __mg_d6: ::matgrad::__private::nalgebra::SMatrix<f64, 32, 1> = ((dw1 * x)
        + (w1 * dx));
    let __mg_d7: ::matgrad::__private::nalgebra::SMatrix<f64, 32, 1> = (&__mg_d6 + db1);
    let __mg_d8: ::matgrad::__private::nalgebra::SMatrix<f64, 32, 1> = (__mg_p8_0
        .component_mul(&__mg_d7));
    let __mg_d10: ::matgrad::__private::nalgebra::SMatrix<f64, 4, 1> = ((dw2 * &__mg_v8)
        + (w2 * &__mg_d8));
    let __mg_d11: ::matgrad::__private::nalgebra::SMatrix<f64, 4, 1> = (&__mg_d10 + db2);
    let __mg_d12: ::matgrad::__private::nalgebra::SMatrix<f64, 4, 1> = (&__mg_d11 - dy);
    let __mg_d13: f64 = (2.0 * (__mg_v12.dot(&__mg_d12)));
    let __mg_d14: f64 = (__mg_v9 * __mg_d13);
    let __mg_g14: f64 = seed;
    let __mg_g13: f64 = (__mg_g14 * __mg_v9);
    let __mg_g8: ::matgrad::__private::nalgebra::SMatrix<f64, 32, 1> = ((w2
        .tr_mul(&__mg_v12)) * (2.0 * __mg_g13));
    let __mg_g7: ::matgrad::__private::nalgebra::SMatrix<f64, 32, 1> = (__mg_g8
        .zip_map(
            &__mg_v8,
            |__mg_m8_zbar: f64, __mg_m8_z: f64| -> f64 {
                let __mg_m8_g1: f64 = __mg_m8_zbar;
                let __mg_m8_g0: f64 = (__mg_m8_g1 * (1.0 - (__mg_m8_z * __mg_m8_z)));
                __mg_m8_g0
            },
        ));
    let __mg_g4: ::matgrad::__private::nalgebra::SMatrix<f64, 16, 1> = (w1
        .tr_mul(&__mg_g7));
    let mut __mg_dg14: f64 = seed_tangent;
    let mut __mg_dg13: f64 = (__mg_dg14 * __mg_v9);
    let mut __mg_dg8: ::matgrad::__private::nalgebra::SMatrix<f64, 32, 1> = ((((dw2
        .tr_mul(&__mg_v12)) + (w2.tr_mul(&__mg_d12))) * (2.0 * __mg_g13))
        + ((w2.tr_mul(&__mg_v12)) * (2.0 * __mg_dg13)));
    let mut __mg_dg7: ::matgrad::__private::nalgebra::SMatrix<f64, 32, 1> = ({
        let __mg_zbar_all = __mg_g8;
        let __mg_dzbar_all = __mg_dg8;
        <::matgrad::__private::nalgebra::SMatrix<
            f64,
            32,
            1,
        >>::from_fn(|__mg_m8s_i, __mg_m8s_j| -> f64 {
            let __mg_m8s_x: f64 = __mg_v7[(__mg_m8s_i, __mg_m8s_j)];
            let __mg_m8s_dx: f64 = __mg_d7[(__mg_m8s_i, __mg_m8s_j)];
            let __mg_m8s_zbar: f64 = __mg_zbar_all[(__mg_m8s_i, __mg_m8s_j)];
            let __mg_m8s_dzbar: f64 = __mg_dzbar_all[(__mg_m8s_i, __mg_m8s_j)];
            let __mg_m8s_v1: f64 = __mg_m8s_x.tanh();
            let __mg_m8s_d1: f64 = (__mg_m8s_dx * (1.0 - (__mg_m8s_v1 * __mg_m8s_v1)));
            let __mg_m8s_g1: f64 = __mg_m8s_zbar;
            let __mg_m8s_g0: f64 = (__mg_m8s_g1 * (1.0 - (__mg_m8s_v1 * __mg_m8s_v1)));
            let mut __mg_m8s_dg1: f64 = __mg_m8s_dzbar;
            let mut __mg_m8s_dg0: f64 = ((__mg_m8s_dg1
                * (1.0 - (__mg_m8s_v1 * __mg_m8s_v1)))
                + (__mg_m8s_g1
                    * (-((__mg_m8s_d1 * __mg_m8s_v1) + (__mg_m8s_v1 * __mg_m8s_d1)))));
            __mg_m8s_dg0
        })
    });
    let mut __mg_dg4: ::matgrad::__private::nalgebra::SMatrix<f64, 16, 1> = ((dw1
        .tr_mul(&__mg_g7)) + (w1.tr_mul(&__mg_dg7)));
    (
        __mg_v14,
        (
            ((&__mg_g7 * (x.transpose()))),
            (*&__mg_g7),
            (((&__mg_v12 * (2.0 * __mg_g13)) * (__mg_v8.transpose()))),
            ((&__mg_v12 * (2.0 * __mg_g13))),
            (*&__mg_g4),
            ((&__mg_v12 * (-(2.0 * __mg_g13)))),
        ),
        (
            ((&__mg_dg7 * (x.transpose())) + (&__mg_g7 * (dx.transpose()))),
            (*&__mg_dg7),
            ((((&__mg_d12 * (2.0 * __mg_g13)) + (&__mg_v12 * (2.0 * __mg_dg13)))
                * (__mg_v8.transpose()))
                + ((&__mg_v12 * (2.0 * __mg_g13)) * (__mg_d8.transpose()))),
            ((&__mg_d12 * (2.0 * __mg_g13)) + (&__mg_v12 * (2.0 * __mg_dg13))),
            (*&__mg_dg4),
            ((&__mg_d12 * (-(2.0 * __mg_g13))) + (&__mg_v12 * (-(2.0 * __mg_dg13)))),
        ),
    )
}
/** Value and gradient of [`mlp2`] with respect to `w1`, `b1`, `w2`, `b2`, generated by `#[gradient]`.

 Returns `(mlp2(…), gradients)`. Each gradient has its parameter's shape, and its entry `(i, j)` is the partial derivative of `mlp2` with respect to entry `(i, j)` of that parameter.

 # Derivation

 ```text
 ∇w1 = ((w2ᵀ·(w2·h + b2 − y)) ∘ tanh′(w1·x + b1))·xᵀ
 ∇b1 = (w2ᵀ·(w2·h + b2 − y)) ∘ tanh′(w1·x + b1)
 ∇w2 = (w2·h + b2 − y)·hᵀ
 ∇b2 = w2·h + b2 − y

 where
 h = (w1·x + b1).map(tanh)
 ```*/
#[allow(unused_variables, clippy::all, clippy::pedantic)]
#[must_use]
#[inline]
fn mlp2_grad(
    w1: &SMatrix<f64, 32, 16>,
    b1: &SVector<f64, 32>,
    w2: &SMatrix<f64, 4, 32>,
    b2: &SVector<f64, 4>,
    x: &SVector<f64, 16>,
    y: &SVector<f64, 4>,
) -> (
    f64,
    (SMatrix<f64, 32, 16>, SVector<f64, 32>, SMatrix<f64, 4, 32>, SVector<f64, 4>),
) {
    let __mg_v6: ::matgrad::__private::nalgebra::SMatrix<f64, 32, 1> = w1 * x;
    let __mg_v7: ::matgrad::__private::nalgebra::SMatrix<f64, 32, 1> = &__mg_v6 + b1;
    let __mg_v8: ::matgrad::__private::nalgebra::SMatrix<f64, 32, 1> = __mg_v7
        .map(|__mg_m8_x: f64| -> f64 {
            let __mg_m8_v1: f64 = __mg_m8_x.tanh();
            __mg_m8_v1
        });
    let __mg_v9: f64 = 0.5;
    let __mg_v10: ::matgrad::__private::nalgebra::SMatrix<f64, 4, 1> = w2 * &__mg_v8;
    let __mg_v11: ::matgrad::__private::nalgebra::SMatrix<f64, 4, 1> = &__mg_v10 + b2;
    let __mg_v12: ::matgrad::__private::nalgebra::SMatrix<f64, 4, 1> = &__mg_v11 - y;
    let __mg_v13: f64 = __mg_v12.norm_squared();
    let __mg_v14: f64 = __mg_v9 * __mg_v13;
    let __mg_g14: f64 = 1.0;
    let __mg_g13: f64 = (__mg_g14 * __mg_v9);
    let __mg_g8: ::matgrad::__private::nalgebra::SMatrix<f64, 32, 1> = ((w2
        .tr_mul(&__mg_v12)) * (2.0 * __mg_g13));
    let __mg_g7: ::matgrad::__private::nalgebra::SMatrix<f64, 32, 1> = (__mg_g8
        .zip_map(
            &__mg_v8,
            |__mg_m8_zbar: f64, __mg_m8_z: f64| -> f64 {
                let __mg_m8_g1: f64 = __mg_m8_zbar;
                let __mg_m8_g0: f64 = (__mg_m8_g1 * (1.0 - (__mg_m8_z * __mg_m8_z)));
                __mg_m8_g0
            },
        ));
    (
        __mg_v14,
        (
            ((&__mg_g7 * (x.transpose()))),
            __mg_g7,
            (((&__mg_v12 * (2.0 * __mg_g13)) * (__mg_v8.transpose()))),
            ((&__mg_v12 * (2.0 * __mg_g13))),
        ),
    )
}
/// The vector-Jacobian product of [`mlp2`], generated by `#[gradient]`: its value, and the gradient of ⟨seed, mlp2(…)⟩ with respect to each float parameter, in order. Other `#[gradient]` functions call it to differentiate through `mlp2`.
#[allow(unused_variables, clippy::all, clippy::pedantic)]
#[must_use]
#[inline]
fn mlp2_vjp(
    w1: &SMatrix<f64, 32, 16>,
    b1: &SVector<f64, 32>,
    w2: &SMatrix<f64, 4, 32>,
    b2: &SVector<f64, 4>,
    x: &SVector<f64, 16>,
    y: &SVector<f64, 4>,
    seed: f64,
) -> (
    f64,
    (
        SMatrix<f64, 32, 16>,
        SVector<f64, 32>,
        SMatrix<f64, 4, 32>,
        SVector<f64, 4>,
        SVector<f64, 16>,
        SVector<f64, 4>,
    ),
) {
    let __mg_v6: ::matgrad::__private::nalgebra::SMatrix<f64, 32, 1> = w1 * x;
    let __mg_v7: ::matgrad::__private::nalgebra::SMatrix<f64, 32, 1> = &__mg_v6 + b1;
    let __mg_v8: ::matgrad::__private::nalgebra::SMatrix<f64, 32, 1> = __mg_v7
        .map(|__mg_m8_x: f64| -> f64 {
            let __mg_m8_v1: f64 = __mg_m8_x.tanh();
            __mg_m8_v1
        });
    let __mg_v9: f64 = 0.5;
    let __mg_v10: ::matgrad::__private::nalgebra::SMatrix<f64, 4, 1> = w2 * &__mg_v8;
    let __mg_v11: ::matgrad::__private::nalgebra::SMatrix<f64, 4, 1> = &__mg_v10 + b2;
    let __mg_v12: ::matgrad::__private::nalgebra::SMatrix<f64, 4, 1> = &__mg_v11 - y;
    let __mg_v13: f64 = __mg_v12.norm_squared();
    let __mg_v14: f64 = __mg_v9 * __mg_v13;
    let __mg_g14: f64 = seed;
    let __mg_g13: f64 = (__mg_g14 * __mg_v9);
    let __mg_g8: ::matgrad::__private::nalgebra::SMatrix<f64, 32, 1> = ((w2
        .tr_mul(&__mg_v12)) * (2.0 * __mg_g13));
    let __mg_g7: ::matgrad::__private::nalgebra::SMatrix<f64, 32, 1> = (__mg_g8
        .zip_map(
            &__mg_v8,
            |__mg_m8_zbar: f64, __mg_m8_z: f64| -> f64 {
                let __mg_m8_g1: f64 = __mg_m8_zbar;
                let __mg_m8_g0: f64 = (__mg_m8_g1 * (1.0 - (__mg_m8_z * __mg_m8_z)));
                __mg_m8_g0
            },
        ));
    let __mg_g4: ::matgrad::__private::nalgebra::SMatrix<f64, 16, 1> = (w1
        .tr_mul(&__mg_g7));
    (
        __mg_v14,
        (
            ((&__mg_g7 * (x.transpose()))),
            __mg_g7,
            (((&__mg_v12 * (2.0 * __mg_g13)) * (__mg_v8.transpose()))),
            ((&__mg_v12 * (2.0 * __mg_g13))),
            __mg_g4,
            ((&__mg_v12 * (-(2.0 * __mg_g13)))),
        ),
    )
}
/// The Jacobian-vector product of [`mlp2`], generated by matgrad: its value, and its directional derivative Σₓ ∂mlp2/∂x · dx along the tangents `dw1`, `db1`, `dw2`, `db2`, `dx`, `dy`, one for each float parameter in order, each shaped like its parameter. Other matgrad functions call it to differentiate through `mlp2` in forward mode.
#[allow(unused_variables, clippy::all, clippy::pedantic)]
#[must_use]
#[inline]
fn mlp2_jvp(
    w1: &SMatrix<f64, 32, 16>,
    b1: &SVector<f64, 32>,
    w2: &SMatrix<f64, 4, 32>,
    b2: &SVector<f64, 4>,
    x: &SVector<f64, 16>,
    y: &SVector<f64, 4>,
    dw1: &SMatrix<f64, 32, 16>,
    db1: &SVector<f64, 32>,
    dw2: &SMatrix<f64, 4, 32>,
    db2: &SVector<f64, 4>,
    dx: &SVector<f64, 16>,
    dy: &SVector<f64, 4>,
) -> (f64, f64) {
    let __mg_v6: ::matgrad::__private::nalgebra::SMatrix<f64, 32, 1> = w1 * x;
    let __mg_v7: ::matgrad::__private::nalgebra::SMatrix<f64, 32, 1> = &__mg_v6 + b1;
    let mut __mg_v8: ::matgrad::__private::nalgebra::SMatrix<f64, 32, 1> = <::matgrad::__private::nalgebra::SMatrix<
        f64,
        32,
        1,
    >>::zeros();
    let mut __mg_p8_0: ::matgrad::__private::nalgebra::SMatrix<f64, 32, 1> = <::matgrad::__private::nalgebra::SMatrix<
        f64,
        32,
        1,
    >>::zeros();
    for __mg_i in 0..__mg_v8.len() {
        let __mg_m8_x: f64 = __mg_v7[__mg_i];
        let __mg_m8_v1: f64 = __mg_m8_x.tanh();
        let __mg_m8_g1: f64 = 1.0;
        let __mg_m8_g0: f64 = (__mg_m8_g1 * (1.0 - (__mg_m8_v1 * __mg_m8_v1)));
        __mg_v8[__mg_i] = __mg_m8_v1;
        __mg_p8_0[__mg_i] = __mg_m8_g0;
    }
    let __mg_v9: f64 = 0.5;
    let __mg_v10: ::matgrad::__private::nalgebra::SMatrix<f64, 4, 1> = w2 * &__mg_v8;
    let __mg_v11: ::matgrad::__private::nalgebra::SMatrix<f64, 4, 1> = &__mg_v10 + b2;
    let __mg_v12: ::matgrad::__private::nalgebra::SMatrix<f64, 4, 1> = &__mg_v11 - y;
    let __mg_v13: f64 = __mg_v12.norm_squared();
    let __mg_v14: f64 = __mg_v9 * __mg_v13;
    let __mg_d6: ::matgrad::__private::nalgebra::SMatrix<f64, 32, 1> = ((dw1 * x)
        + (w1 * dx));
    let __mg_d7: ::matgrad::__private::nalgebra::SMatrix<f64, 32, 1> = (&__mg_d6 + db1);
    let __mg_d8: ::matgrad::__private::nalgebra::SMatrix<f64, 32, 1> = (__mg_p8_0
        .component_mul(&__mg_d7));
    let __mg_d10: ::matgrad::__private::nalgebra::SMatrix<f64, 4, 1> = ((dw2 * &__mg_v8)
        + (w2 * &__mg_d8));
    let __mg_d11: ::matgrad::__private::nalgebra::SMatrix<f64, 4, 1> = (&__mg_d10 + db2);
    let __mg_d12: ::matgrad::__private::nalgebra::SMatrix<f64, 4, 1> = (&__mg_d11 - dy);
    let __mg_d13: f64 = (2.0 * (__mg_v12.dot(&__mg_d12)));
    let __mg_d14: f64 = (__mg_v9 * __mg_d13);
    (__mg_v14, __mg_d14)
}
