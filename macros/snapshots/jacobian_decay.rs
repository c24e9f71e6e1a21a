pub fn residuals(
    p: &SVector<f64, 3>,
    t: &SVector<f64, 20>,
    y: &SVector<f64, 20>,
) -> SVector<f64, 20> {
    let a = p[0];
    let b = p[1];
    let c = p[2];
    y - t.map(|ti| a * (-b * ti).exp() + c)
}
/// The tangent of [`residuals_vjp`] along the tangents of the float parameters and of the seed: `(residuals(…), gradients, their tangents)`, the second derivatives a `#[hessian]` function differentiates a call of `residuals` with.
#[doc(hidden)]
#[allow(unused_variables, unused_mut, clippy::all, clippy::pedantic)]
#[must_use]
#[inline]
pub fn residuals_vjp_jvp<MatgradOrder: ::core::marker::Copy>(
    p: &SVector<f64, 3>,
    t: &SVector<f64, 20>,
    y: &SVector<f64, 20>,
    seed: SVector<f64, 20>,
    dp: &SVector<f64, 3>,
    dt: &SVector<f64, 20>,
    dy: &SVector<f64, 20>,
    seed_tangent: SVector<f64, 20>,
    order: MatgradOrder,
) -> (
    SVector<f64, 20>,
    (SVector<f64, 3>, SVector<f64, 20>, SVector<f64, 20>),
    (SVector<f64, 3>, SVector<f64, 20>, SVector<f64, 20>),
) {
    let __mg_v3: f64 = p[(0usize, 0usize)];
    let __mg_v4: f64 = p[(1usize, 0usize)];
    let __mg_v5: f64 = p[(2usize, 0usize)];
    let __mg_v6: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 1> = t
        .map(|__mg_m6_x: f64| -> f64 {
            let __mg_m6_v3: f64 = -__mg_v4;
            let __mg_m6_v4: f64 = __mg_m6_v3 * __mg_m6_x;
            let __mg_m6_v5: f64 = __mg_m6_v4.exp();
            let __mg_m6_v6: f64 = __mg_v3 * __mg_m6_v5;
            let __mg_m6_v8: f64 = __mg_m6_v6 + __mg_v5;
            __mg_m6_v8
        });
    let __mg_v7: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 1> = y - &__mg_v6;
    let mut __mg_v6: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 1> = <::matgrad::__private::nalgebra::SMatrix<
        f64,
        20,
        1,
    >>::zeros();
    let mut __mg_p6_0: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 1> = <::matgrad::__private::nalgebra::SMatrix<
        f64,
        20,
        1,
    >>::zeros();
    let mut __mg_p6_1: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 1> = <::matgrad::__private::nalgebra::SMatrix<
        f64,
        20,
        1,
    >>::zeros();
    let mut __mg_p6_2: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 1> = <::matgrad::__private::nalgebra::SMatrix<
        f64,
        20,
        1,
    >>::zeros();
    let mut __mg_p6_3: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 1> = <::matgrad::__private::nalgebra::SMatrix<
        f64,
        20,
        1,
    >>::zeros();
    for __mg_i in 0..__mg_v6.len() {
        let __mg_m6_x: f64 = t[__mg_i];
        let __mg_m6_v3: f64 = -__mg_v4;
        let __mg_m6_v4: f64 = __mg_m6_v3 * __mg_m6_x;
        let __mg_m6_v5: f64 = __mg_m6_v4.exp();
        let __mg_m6_v6: f64 = __mg_v3 * __mg_m6_v5;
        let __mg_m6_v8: f64 = __mg_m6_v6 + __mg_v5;
        let __mg_m6_g8: f64 = 1.0;
        let __mg_m6_g6: f64 = __mg_m6_g8;
        let __mg_m6_g7: f64 = __mg_m6_g8;
        let __mg_m6_g1: f64 = (__mg_m6_g6 * __mg_m6_v5);
        let __mg_m6_g5: f64 = (__mg_m6_g6 * __mg_v3);
        let __mg_m6_g4: f64 = (__mg_m6_g5 * __mg_m6_v5);
        let __mg_m6_g3: f64 = (__mg_m6_g4 * __mg_m6_x);
        let __mg_m6_g0: f64 = (__mg_m6_g4 * __mg_m6_v3);
        let __mg_m6_g2: f64 = (-__mg_m6_g3);
        __mg_v6[__mg_i] = __mg_m6_v8;
        __mg_p6_0[__mg_i] = __mg_m6_g0;
        __mg_p6_1[__mg_i] = __mg_m6_g1;
        __mg_p6_2[__mg_i] = __mg_m6_g2;
        __mg_p6_3[__mg_i] = __mg_m6_g7;
    }
    let __mg_d3: f64 = (dp[(0usize, 0usize)]);
    let __mg_d4: f64 = (dp[(1usize, 0usize)]);
    let __mg_d5: f64 = (dp[(2usize, 0usize)]);
    let __mg_d6: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 1> = ((((__mg_p6_0
        .component_mul(dt)) + (&__mg_p6_1 * __mg_d3)) + (&__mg_p6_2 * __mg_d4))
        + (&__mg_p6_3 * __mg_d5));
    let __mg_d7: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 1> = (dy - &__mg_d6);
    let __mg_g7: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 1> = seed;
    let __mg_g6: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 1> = (-&__mg_g7);
    let __mg_g1: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 1> = (__mg_g6
        .zip_zip_map(
            t,
            &__mg_v6,
            |__mg_m6_zbar: f64, __mg_m6_x: f64, __mg_m6_z: f64| -> f64 {
                let __mg_m6_v3: f64 = -__mg_v4;
                let __mg_m6_v4: f64 = __mg_m6_v3 * __mg_m6_x;
                let __mg_m6_v5: f64 = __mg_m6_v4.exp();
                let __mg_m6_g8: f64 = __mg_m6_zbar;
                let __mg_m6_g6: f64 = __mg_m6_g8;
                let __mg_m6_g5: f64 = (__mg_m6_g6 * __mg_v3);
                let __mg_m6_g4: f64 = (__mg_m6_g5 * __mg_m6_v5);
                let __mg_m6_g0: f64 = (__mg_m6_g4 * __mg_m6_v3);
                __mg_m6_g0
            },
        ));
    let __mg_g3: f64 = (__mg_g6
        .zip_zip_map(
            t,
            &__mg_v6,
            |__mg_m6_zbar: f64, __mg_m6_x: f64, __mg_m6_z: f64| -> f64 {
                let __mg_m6_v3: f64 = -__mg_v4;
                let __mg_m6_v4: f64 = __mg_m6_v3 * __mg_m6_x;
                let __mg_m6_v5: f64 = __mg_m6_v4.exp();
                let __mg_m6_g8: f64 = __mg_m6_zbar;
                let __mg_m6_g6: f64 = __mg_m6_g8;
                let __mg_m6_g1: f64 = (__mg_m6_g6 * __mg_m6_v5);
                __mg_m6_g1
            },
        )
        .sum());
    let __mg_g4: f64 = (__mg_g6
        .zip_zip_map(
            t,
            &__mg_v6,
            |__mg_m6_zbar: f64, __mg_m6_x: f64, __mg_m6_z: f64| -> f64 {
                let __mg_m6_v3: f64 = -__mg_v4;
                let __mg_m6_v4: f64 = __mg_m6_v3 * __mg_m6_x;
                let __mg_m6_v5: f64 = __mg_m6_v4.exp();
                let __mg_m6_g8: f64 = __mg_m6_zbar;
                let __mg_m6_g6: f64 = __mg_m6_g8;
                let __mg_m6_g5: f64 = (__mg_m6_g6 * __mg_v3);
                let __mg_m6_g4: f64 = (__mg_m6_g5 * __mg_m6_v5);
                let __mg_m6_g3: f64 = (__mg_m6_g4 * __mg_m6_x);
                let __mg_m6_g2: f64 = (-__mg_m6_g3);
                __mg_m6_g2
            },
        )
        .sum());
    let __mg_g5: f64 = (__mg_g6
        .zip_map(
            &__mg_v6,
            |__mg_m6_zbar: f64, __mg_m6_z: f64| -> f64 {
                let __mg_m6_g8: f64 = __mg_m6_zbar;
                let __mg_m6_g7: f64 = __mg_m6_g8;
                __mg_m6_g7
            },
        )
        .sum());
    let mut __mg_g0: ::matgrad::__private::nalgebra::SMatrix<f64, 3, 1> = {
        let mut __mg_m = ::matgrad::__private::nalgebra::SMatrix::<f64, 3, 1>::zeros();
        __mg_m[(2usize, 0usize)] = __mg_g5;
        __mg_m
    };
    __mg_g0[(1usize, 0usize)] += __mg_g4;
    __mg_g0[(0usize, 0usize)] += __mg_g3;
    let mut __mg_dg7: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 1> = seed_tangent;
    let mut __mg_dg6: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 1> = (-&__mg_dg7);
    let mut __mg_dg1: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 1> = ({
        let __mg_zbar_all = __mg_g6;
        let __mg_dzbar_all = __mg_dg6;
        <::matgrad::__private::nalgebra::SMatrix<
            f64,
            20,
            1,
        >>::from_fn(|__mg_m6s_i, __mg_m6s_j| -> f64 {
            let __mg_m6s_x: f64 = t[(__mg_m6s_i, __mg_m6s_j)];
            let __mg_m6s_dx: f64 = dt[(__mg_m6s_i, __mg_m6s_j)];
            let __mg_m6s_zbar: f64 = __mg_zbar_all[(__mg_m6s_i, __mg_m6s_j)];
            let __mg_m6s_dzbar: f64 = __mg_dzbar_all[(__mg_m6s_i, __mg_m6s_j)];
            let __mg_m6s_v3: f64 = -__mg_v4;
            let __mg_m6s_v4: f64 = __mg_m6s_v3 * __mg_m6s_x;
            let __mg_m6s_v5: f64 = __mg_m6s_v4.exp();
            let __mg_m6s_v6: f64 = __mg_v3 * __mg_m6s_v5;
            let __mg_m6s_v8: f64 = __mg_m6s_v6 + __mg_v5;
            let __mg_m6s_d3: f64 = (-__mg_d4);
            let __mg_m6s_d4: f64 = ((__mg_m6s_d3 * __mg_m6s_x)
                + (__mg_m6s_v3 * __mg_m6s_dx));
            let __mg_m6s_d5: f64 = (__mg_m6s_d4 * __mg_m6s_v5);
            let __mg_m6s_d6: f64 = ((__mg_d3 * __mg_m6s_v5) + (__mg_v3 * __mg_m6s_d5));
            let __mg_m6s_d8: f64 = (__mg_m6s_d6 + __mg_d5);
            let __mg_m6s_g8: f64 = __mg_m6s_zbar;
            let __mg_m6s_g6: f64 = __mg_m6s_g8;
            let __mg_m6s_g5: f64 = (__mg_m6s_g6 * __mg_v3);
            let __mg_m6s_g4: f64 = (__mg_m6s_g5 * __mg_m6s_v5);
            let __mg_m6s_g0: f64 = (__mg_m6s_g4 * __mg_m6s_v3);
            let mut __mg_m6s_dg8: f64 = __mg_m6s_dzbar;
            let mut __mg_m6s_dg6: f64 = __mg_m6s_dg8;
            let mut __mg_m6s_dg5: f64 = ((__mg_m6s_dg6 * __mg_v3)
                + (__mg_m6s_g6 * __mg_d3));
            let mut __mg_m6s_dg4: f64 = ((__mg_m6s_dg5 * __mg_m6s_v5)
                + (__mg_m6s_g5 * __mg_m6s_d5));
            let mut __mg_m6s_dg0: f64 = ((__mg_m6s_dg4 * __mg_m6s_v3)
                + (__mg_m6s_g4 * __mg_m6s_d3));
            __mg_m6s_dg0
        })
    });
    let mut __mg_dg3: f64 = ({
        let __mg_zbar_all = __mg_g6;
        let __mg_dzbar_all = __mg_dg6;
        <::matgrad::__private::nalgebra::SMatrix<
            f64,
            20,
            1,
        >>::from_fn(|__mg_m6s_i, __mg_m6s_j| -> f64 {
            let __mg_m6s_x: f64 = t[(__mg_m6s_i, __mg_m6s_j)];
            let __mg_m6s_dx: f64 = dt[(__mg_m6s_i, __mg_m6s_j)];
            let __mg_m6s_zbar: f64 = __mg_zbar_all[(__mg_m6s_i, __mg_m6s_j)];
            let __mg_m6s_dzbar: f64 = __mg_dzbar_all[(__mg_m6s_i, __mg_m6s_j)];
            let __mg_m6s_v3: f64 = -__mg_v4;
            let __mg_m6s_v4: f64 = __mg_m6s_v3 * __mg_m6s_x;
            let __mg_m6s_v5: f64 = __mg_m6s_v4.exp();
            let __mg_m6s_v6: f64 = __mg_v3 * __mg_m6s_v5;
            let __mg_m6s_v8: f64 = __mg_m6s_v6 + __mg_v5;
            let __mg_m6s_d3: f64 = (-__mg_d4);
            let __mg_m6s_d4: f64 = ((__mg_m6s_d3 * __mg_m6s_x)
                + (__mg_m6s_v3 * __mg_m6s_dx));
            let __mg_m6s_d5: f64 = (__mg_m6s_d4 * __mg_m6s_v5);
            let __mg_m6s_d6: f64 = ((__mg_d3 * __mg_m6s_v5) + (__mg_v3 * __mg_m6s_d5));
            let __mg_m6s_d8: f64 = (__mg_m6s_d6 + __mg_d5);
            let __mg_m6s_g8: f64 = __mg_m6s_zbar;
            let __mg_m6s_g6: f64 = __mg_m6s_g8;
            let __mg_m6s_g1: f64 = (__mg_m6s_g6 * __mg_m6s_v5);
            let mut __mg_m6s_dg8: f64 = __mg_m6s_dzbar;
            let mut __mg_m6s_dg6: f64 = __mg_m6s_dg8;
            let mut __mg_m6s_dg1: f64 = ((__mg_m6s_dg6 * __mg_m6s_v5)
                + (__mg_m6s_g6 * __mg_m6s_d5));
            __mg_m6s_dg1
        })
    }
        .sum());
    let mut __mg_dg4: f64 = ({
        let __mg_zbar_all = __mg_g6;
        let __mg_dzbar_all = __mg_dg6;
        <::matgrad::__private::nalgebra::SMatrix<
            f64,
            20,
            1,
        >>::from_fn(|__mg_m6s_i, __mg_m6s_j| -> f64 {
            let __mg_m6s_x: f64 = t[(__mg_m6s_i, __mg_m6s_j)];
            let __mg_m6s_dx: f64 = dt[(__mg_m6s_i, __mg_m6s_j)];
            let __mg_m6s_zbar: f64 = __mg_zbar_all[(__mg_m6s_i, __mg_m6s_j)];
            let __mg_m6s_dzbar: f64 = __mg_dzbar_all[(__mg_m6s_i, __mg_m6s_j)];
            let __mg_m6s_v3: f64 = -__mg_v4;
            let __mg_m6s_v4: f64 = __mg_m6s_v3 * __mg_m6s_x;
            let __mg_m6s_v5: f64 = __mg_m6s_v4.exp();
            let __mg_m6s_v6: f64 = __mg_v3 * __mg_m6s_v5;
            let __mg_m6s_v8: f64 = __mg_m6s_v6 + __mg_v5;
            let __mg_m6s_d3: f64 = (-__mg_d4);
            let __mg_m6s_d4: f64 = ((__mg_m6s_d3 * __mg_m6s_x)
                + (__mg_m6s_v3 * __mg_m6s_dx));
            let __mg_m6s_d5: f64 = (__mg_m6s_d4 * __mg_m6s_v5);
            let __mg_m6s_d6: f64 = ((__mg_d3 * __mg_m6s_v5) + (__mg_v3 * __mg_m6s_d5));
            let __mg_m6s_d8: f64 = (__mg_m6s_d6 + __mg_d5);
            let __mg_m6s_g8: f64 = __mg_m6s_zbar;
            let __mg_m6s_g6: f64 = __mg_m6s_g8;
            let __mg_m6s_g5: f64 = (__mg_m6s_g6 * __mg_v3);
            let __mg_m6s_g4: f64 = (__mg_m6s_g5 * __mg_m6s_v5);
            let __mg_m6s_g3: f64 = (__mg_m6s_g4 * __mg_m6s_x);
            let __mg_m6s_g2: f64 = (-__mg_m6s_g3);
            let mut __mg_m6s_dg8: f64 = __mg_m6s_dzbar;
            let mut __mg_m6s_dg6: f64 = __mg_m6s_dg8;
            let mut __mg_m6s_dg5: f64 = ((__mg_m6s_dg6 * __mg_v3)
                + (__mg_m6s_g6 * __mg_d3));
            let mut __mg_m6s_dg4: f64 = ((__mg_m6s_dg5 * __mg_m6s_v5)
                + (__mg_m6s_g5 * __mg_m6s_d5));
            let mut __mg_m6s_dg3: f64 = ((__mg_m6s_dg4 * __mg_m6s_x)
                + (__mg_m6s_g4 * __mg_m6s_dx));
            let mut __mg_m6s_dg2: f64 = (-__mg_m6s_dg3);
            __mg_m6s_dg2
        })
    }
        .sum());
    let mut __mg_dg5: f64 = ({
        let __mg_zbar_all = __mg_g6;
        let __mg_dzbar_all = __mg_dg6;
        <::matgrad::__private::nalgebra::SMatrix<
            f64,
            20,
            1,
        >>::from_fn(|__mg_m6s_i, __mg_m6s_j| -> f64 {
            let __mg_m6s_x: f64 = t[(__mg_m6s_i, __mg_m6s_j)];
            let __mg_m6s_dx: f64 = dt[(__mg_m6s_i, __mg_m6s_j)];
            let __mg_m6s_zbar: f64 = __mg_zbar_all[(__mg_m6s_i, __mg_m6s_j)];
            let __mg_m6s_dzbar: f64 = __mg_dzbar_all[(__mg_m6s_i, __mg_m6s_j)];
            let __mg_m6s_v3: f64 = -__mg_v4;
            let __mg_m6s_v4: f64 = __mg_m6s_v3 * __mg_m6s_x;
            let __mg_m6s_v5: f64 = __mg_m6s_v4.exp();
            let __mg_m6s_v6: f64 = __mg_v3 * __mg_m6s_v5;
            let __mg_m6s_v8: f64 = __mg_m6s_v6 + __mg_v5;
            let __mg_m6s_d3: f64 = (-__mg_d4);
            let __mg_m6s_d4: f64 = ((__mg_m6s_d3 * __mg_m6s_x)
                + (__mg_m6s_v3 * __mg_m6s_dx));
            let __mg_m6s_d5: f64 = (__mg_m6s_d4 * __mg_m6s_v5);
            let __mg_m6s_d6: f64 = ((__mg_d3 * __mg_m6s_v5) + (__mg_v3 * __mg_m6s_d5));
            let __mg_m6s_d8: f64 = (__mg_m6s_d6 + __mg_d5);
            let __mg_m6s_g8: f64 = __mg_m6s_zbar;
            let __mg_m6s_g7: f64 = __mg_m6s_g8;
            let mut __mg_m6s_dg8: f64 = __mg_m6s_dzbar;
            let mut __mg_m6s_dg7: f64 = __mg_m6s_dg8;
            __mg_m6s_dg7
        })
    }
        .sum());
    let mut __mg_dg0: ::matgrad::__private::nalgebra::SMatrix<f64, 3, 1> = {
        let mut __mg_m = ::matgrad::__private::nalgebra::SMatrix::<f64, 3, 1>::zeros();
        __mg_m[(2usize, 0usize)] = __mg_dg5;
        __mg_m
    };
    __mg_dg0[(1usize, 0usize)] = __mg_dg4;
    __mg_dg0[(0usize, 0usize)] = __mg_dg3;
    (
        (*&__mg_v7),
        ((*&__mg_g0), (*&__mg_g1), (*&__mg_g7)),
        ((*&__mg_dg0), (*&__mg_dg1), (*&__mg_dg7)),
    )
}
/** Value and Jacobian of [`residuals`] with respect to `p`, generated by `#[jacobian]`.

 Returns `(residuals(…), J)`, one `J` per differentiated parameter (a tuple for several): `J[(k, l)]` is the derivative of entry k of the result with respect to entry l of the parameter, both numbered in nalgebra's column-major order (that of `as_slice()`).

 Computed by one tangent sweep per parameter entry, which costs less than one adjoint sweep per result entry for these shapes; the forward values are computed once.*/
#[allow(unused_variables, unused_mut, clippy::all, clippy::pedantic)]
#[must_use]
#[inline]
pub fn residuals_jacobian(
    p: &SVector<f64, 3>,
    t: &SVector<f64, 20>,
    y: &SVector<f64, 20>,
) -> (SVector<f64, 20>, ::matgrad::__private::nalgebra::SMatrix<f64, 20, 3>) {
    let __mg_v3: f64 = p[(0usize, 0usize)];
    let __mg_v4: f64 = p[(1usize, 0usize)];
    let __mg_v5: f64 = p[(2usize, 0usize)];
    let mut __mg_v6: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 1> = <::matgrad::__private::nalgebra::SMatrix<
        f64,
        20,
        1,
    >>::zeros();
    let mut __mg_p6_1: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 1> = <::matgrad::__private::nalgebra::SMatrix<
        f64,
        20,
        1,
    >>::zeros();
    let mut __mg_p6_2: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 1> = <::matgrad::__private::nalgebra::SMatrix<
        f64,
        20,
        1,
    >>::zeros();
    let mut __mg_p6_3: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 1> = <::matgrad::__private::nalgebra::SMatrix<
        f64,
        20,
        1,
    >>::zeros();
    for __mg_i in 0..__mg_v6.len() {
        let __mg_m6_x: f64 = t[__mg_i];
        let __mg_m6_v3: f64 = -__mg_v4;
        let __mg_m6_v4: f64 = __mg_m6_v3 * __mg_m6_x;
        let __mg_m6_v5: f64 = __mg_m6_v4.exp();
        let __mg_m6_v6: f64 = __mg_v3 * __mg_m6_v5;
        let __mg_m6_v8: f64 = __mg_m6_v6 + __mg_v5;
        let __mg_m6_g8: f64 = 1.0;
        let __mg_m6_g6: f64 = __mg_m6_g8;
        let __mg_m6_g7: f64 = __mg_m6_g8;
        let __mg_m6_g1: f64 = (__mg_m6_g6 * __mg_m6_v5);
        let __mg_m6_g5: f64 = (__mg_m6_g6 * __mg_v3);
        let __mg_m6_g4: f64 = (__mg_m6_g5 * __mg_m6_v5);
        let __mg_m6_g3: f64 = (__mg_m6_g4 * __mg_m6_x);
        let __mg_m6_g2: f64 = (-__mg_m6_g3);
        __mg_v6[__mg_i] = __mg_m6_v8;
        __mg_p6_1[__mg_i] = __mg_m6_g1;
        __mg_p6_2[__mg_i] = __mg_m6_g2;
        __mg_p6_3[__mg_i] = __mg_m6_g7;
    }
    let __mg_v7: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 1> = y - &__mg_v6;
    let mut __mg_j0: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 3> = <::matgrad::__private::nalgebra::SMatrix<
        f64,
        20,
        3,
    >>::zeros();
    {
        let mut __mg_e0: ::matgrad::__private::nalgebra::SMatrix<f64, 3, 1> = <::matgrad::__private::nalgebra::SMatrix<
            f64,
            3,
            1,
        >>::zeros();
        __mg_e0[0] = 1.0;
        let __mg_d3: f64 = 1.0;
        {
            for __mg_k in 0..<::matgrad::__private::nalgebra::SMatrix<
                f64,
                20,
                1,
            >>::zeros()
                .len()
            {
                __mg_j0[(__mg_k, 0)] = (-__mg_p6_1[__mg_k]);
            }
        }
    }
    {
        let mut __mg_e0: ::matgrad::__private::nalgebra::SMatrix<f64, 3, 1> = <::matgrad::__private::nalgebra::SMatrix<
            f64,
            3,
            1,
        >>::zeros();
        __mg_e0[1] = 1.0;
        let __mg_d4: f64 = 1.0;
        {
            for __mg_k in 0..<::matgrad::__private::nalgebra::SMatrix<
                f64,
                20,
                1,
            >>::zeros()
                .len()
            {
                __mg_j0[(__mg_k, 1)] = (-__mg_p6_2[__mg_k]);
            }
        }
    }
    {
        let mut __mg_e0: ::matgrad::__private::nalgebra::SMatrix<f64, 3, 1> = <::matgrad::__private::nalgebra::SMatrix<
            f64,
            3,
            1,
        >>::zeros();
        __mg_e0[2] = 1.0;
        let __mg_d5: f64 = 1.0;
        {
            for __mg_k in 0..<::matgrad::__private::nalgebra::SMatrix<
                f64,
                20,
                1,
            >>::zeros()
                .len()
            {
                __mg_j0[(__mg_k, 2)] = (-__mg_p6_3[__mg_k]);
            }
        }
    }
    ((*&__mg_v7), __mg_j0)
}
/// The vector-Jacobian product of [`residuals`], generated by `#[jacobian]`: its value, and the gradient of ⟨seed, residuals(…)⟩ with respect to each float parameter, in order. Other `#[jacobian]` functions call it to differentiate through `residuals`.
#[allow(unused_variables, clippy::all, clippy::pedantic)]
#[must_use]
#[inline]
pub fn residuals_vjp(
    p: &SVector<f64, 3>,
    t: &SVector<f64, 20>,
    y: &SVector<f64, 20>,
    seed: SVector<f64, 20>,
) -> (SVector<f64, 20>, (SVector<f64, 3>, SVector<f64, 20>, SVector<f64, 20>)) {
    let __mg_v3: f64 = p[(0usize, 0usize)];
    let __mg_v4: f64 = p[(1usize, 0usize)];
    let __mg_v5: f64 = p[(2usize, 0usize)];
    let __mg_v6: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 1> = t
        .map(|__mg_m6_x: f64| -> f64 {
            let __mg_m6_v3: f64 = -__mg_v4;
            let __mg_m6_v4: f64 = __mg_m6_v3 * __mg_m6_x;
            let __mg_m6_v5: f64 = __mg_m6_v4.exp();
            let __mg_m6_v6: f64 = __mg_v3 * __mg_m6_v5;
            let __mg_m6_v8: f64 = __mg_m6_v6 + __mg_v5;
            __mg_m6_v8
        });
    let __mg_v7: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 1> = y - &__mg_v6;
    let __mg_g7: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 1> = seed;
    let __mg_g6: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 1> = (-&__mg_g7);
    let __mg_g1: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 1> = (__mg_g6
        .zip_zip_map(
            t,
            &__mg_v6,
            |__mg_m6_zbar: f64, __mg_m6_x: f64, __mg_m6_z: f64| -> f64 {
                let __mg_m6_v3: f64 = -__mg_v4;
                let __mg_m6_v4: f64 = __mg_m6_v3 * __mg_m6_x;
                let __mg_m6_v5: f64 = __mg_m6_v4.exp();
                let __mg_m6_g8: f64 = __mg_m6_zbar;
                let __mg_m6_g6: f64 = __mg_m6_g8;
                let __mg_m6_g5: f64 = (__mg_m6_g6 * __mg_v3);
                let __mg_m6_g4: f64 = (__mg_m6_g5 * __mg_m6_v5);
                let __mg_m6_g0: f64 = (__mg_m6_g4 * __mg_m6_v3);
                __mg_m6_g0
            },
        ));
    let __mg_g3: f64 = (__mg_g6
        .zip_zip_map(
            t,
            &__mg_v6,
            |__mg_m6_zbar: f64, __mg_m6_x: f64, __mg_m6_z: f64| -> f64 {
                let __mg_m6_v3: f64 = -__mg_v4;
                let __mg_m6_v4: f64 = __mg_m6_v3 * __mg_m6_x;
                let __mg_m6_v5: f64 = __mg_m6_v4.exp();
                let __mg_m6_g8: f64 = __mg_m6_zbar;
                let __mg_m6_g6: f64 = __mg_m6_g8;
                let __mg_m6_g1: f64 = (__mg_m6_g6 * __mg_m6_v5);
                __mg_m6_g1
            },
        )
        .sum());
    let __mg_g4: f64 = (__mg_g6
        .zip_zip_map(
            t,
            &__mg_v6,
            |__mg_m6_zbar: f64, __mg_m6_x: f64, __mg_m6_z: f64| -> f64 {
                let __mg_m6_v3: f64 = -__mg_v4;
                let __mg_m6_v4: f64 = __mg_m6_v3 * __mg_m6_x;
                let __mg_m6_v5: f64 = __mg_m6_v4.exp();
                let __mg_m6_g8: f64 = __mg_m6_zbar;
                let __mg_m6_g6: f64 = __mg_m6_g8;
                let __mg_m6_g5: f64 = (__mg_m6_g6 * __mg_v3);
                let __mg_m6_g4: f64 = (__mg_m6_g5 * __mg_m6_v5);
                let __mg_m6_g3: f64 = (__mg_m6_g4 * __mg_m6_x);
                let __mg_m6_g2: f64 = (-__mg_m6_g3);
                __mg_m6_g2
            },
        )
        .sum());
    let __mg_g5: f64 = (__mg_g6
        .zip_map(
            &__mg_v6,
            |__mg_m6_zbar: f64, __mg_m6_z: f64| -> f64 {
                let __mg_m6_g8: f64 = __mg_m6_zbar;
                let __mg_m6_g7: f64 = __mg_m6_g8;
                __mg_m6_g7
            },
        )
        .sum());
    let mut __mg_g0: ::matgrad::__private::nalgebra::SMatrix<f64, 3, 1> = {
        let mut __mg_m = ::matgrad::__private::nalgebra::SMatrix::<f64, 3, 1>::zeros();
        __mg_m[(2usize, 0usize)] = __mg_g5;
        __mg_m
    };
    __mg_g0[(1usize, 0usize)] += __mg_g4;
    __mg_g0[(0usize, 0usize)] += __mg_g3;
    ((*&__mg_v7), (__mg_g0, __mg_g1, __mg_g7))
}
/// The Jacobian-vector product of [`residuals`], generated by matgrad: its value, and its directional derivative Σₓ ∂residuals/∂x · dx along the tangents `dp`, `dt`, `dy`, one for each float parameter in order, each shaped like its parameter. Other matgrad functions call it to differentiate through `residuals` in forward mode.
#[allow(unused_variables, clippy::all, clippy::pedantic)]
#[must_use]
#[inline]
pub fn residuals_jvp(
    p: &SVector<f64, 3>,
    t: &SVector<f64, 20>,
    y: &SVector<f64, 20>,
    dp: &SVector<f64, 3>,
    dt: &SVector<f64, 20>,
    dy: &SVector<f64, 20>,
) -> (SVector<f64, 20>, SVector<f64, 20>) {
    let __mg_v3: f64 = p[(0usize, 0usize)];
    let __mg_v4: f64 = p[(1usize, 0usize)];
    let __mg_v5: f64 = p[(2usize, 0usize)];
    let mut __mg_v6: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 1> = <::matgrad::__private::nalgebra::SMatrix<
        f64,
        20,
        1,
    >>::zeros();
    let mut __mg_p6_0: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 1> = <::matgrad::__private::nalgebra::SMatrix<
        f64,
        20,
        1,
    >>::zeros();
    let mut __mg_p6_1: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 1> = <::matgrad::__private::nalgebra::SMatrix<
        f64,
        20,
        1,
    >>::zeros();
    let mut __mg_p6_2: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 1> = <::matgrad::__private::nalgebra::SMatrix<
        f64,
        20,
        1,
    >>::zeros();
    let mut __mg_p6_3: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 1> = <::matgrad::__private::nalgebra::SMatrix<
        f64,
        20,
        1,
    >>::zeros();
    for __mg_i in 0..__mg_v6.len() {
        let __mg_m6_x: f64 = t[__mg_i];
        let __mg_m6_v3: f64 = -__mg_v4;
        let __mg_m6_v4: f64 = __mg_m6_v3 * __mg_m6_x;
        let __mg_m6_v5: f64 = __mg_m6_v4.exp();
        let __mg_m6_v6: f64 = __mg_v3 * __mg_m6_v5;
        let __mg_m6_v8: f64 = __mg_m6_v6 + __mg_v5;
        let __mg_m6_g8: f64 = 1.0;
        let __mg_m6_g6: f64 = __mg_m6_g8;
        let __mg_m6_g7: f64 = __mg_m6_g8;
        let __mg_m6_g1: f64 = (__mg_m6_g6 * __mg_m6_v5);
        let __mg_m6_g5: f64 = (__mg_m6_g6 * __mg_v3);
        let __mg_m6_g4: f64 = (__mg_m6_g5 * __mg_m6_v5);
        let __mg_m6_g3: f64 = (__mg_m6_g4 * __mg_m6_x);
        let __mg_m6_g0: f64 = (__mg_m6_g4 * __mg_m6_v3);
        let __mg_m6_g2: f64 = (-__mg_m6_g3);
        __mg_v6[__mg_i] = __mg_m6_v8;
        __mg_p6_0[__mg_i] = __mg_m6_g0;
        __mg_p6_1[__mg_i] = __mg_m6_g1;
        __mg_p6_2[__mg_i] = __mg_m6_g2;
        __mg_p6_3[__mg_i] = __mg_m6_g7;
    }
    let __mg_v7: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 1> = y - &__mg_v6;
    let __mg_d3: f64 = (dp[(0usize, 0usize)]);
    let __mg_d4: f64 = (dp[(1usize, 0usize)]);
    let __mg_d5: f64 = (dp[(2usize, 0usize)]);
    let __mg_d6: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 1> = ((((__mg_p6_0
        .component_mul(dt)) + (&__mg_p6_1 * __mg_d3)) + (&__mg_p6_2 * __mg_d4))
        + (&__mg_p6_3 * __mg_d5));
    let __mg_d7: ::matgrad::__private::nalgebra::SMatrix<f64, 20, 1> = (dy - &__mg_d6);
    ((*&__mg_v7), (*&__mg_d7))
}
