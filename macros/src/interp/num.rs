//! The scalars the interpreter computes with: `f64`, and [`Dual`] numbers that carry one exact
//! tangent alongside the value (forward mode), so a run on duals gives a directional derivative
//! with no truncation error. Part of `interp`.

use std::fmt::Debug;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// What an operation of the primal IR needs of its scalar type.
///
/// Comparisons read only the value ([`Num::re`]): a condition is never differentiated.
pub trait Num:
    Copy
    + Debug
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    /// A constant: a value with no tangent.
    fn constant(value: f64) -> Self;
    /// The value, without the tangent.
    fn re(self) -> f64;
    fn exp(self) -> Self;
    fn ln(self) -> Self;
    fn ln_1p(self) -> Self;
    fn sqrt(self) -> Self;
    fn sin(self) -> Self;
    fn cos(self) -> Self;
    fn tanh(self) -> Self;
    /// |x|, whose derivative is taken to be signum(x) (so +1 at +0).
    fn abs(self) -> Self;
    fn powi(self, n: i32) -> Self;
    /// xᵖ, differentiable in both: d xᵖ = p xᵖ⁻¹ dx + xᵖ ln x dp.
    fn powf(self, p: Self) -> Self;

    fn zero() -> Self {
        Self::constant(0.0)
    }

    fn one() -> Self {
        Self::constant(1.0)
    }

    /// σ(x) in the stable form of `matgrad::sigmoid`: the exponential is never of a positive
    /// number.
    fn sigmoid(self) -> Self {
        if self.re() >= 0.0 {
            Self::one() / (Self::one() + (-self).exp())
        } else {
            let e = self.exp();
            e / (Self::one() + e)
        }
    }

    /// ln(1 + eˣ) in the stable form of `matgrad::softplus`: `max(x, 0) + ln_1p(exp(-abs(x)))`.
    fn softplus(self) -> Self {
        let positive = if self.re() >= 0.0 { self } else { Self::zero() };
        positive + (-self.abs()).exp().ln_1p()
    }
}

impl Num for f64 {
    fn constant(value: f64) -> Self {
        value
    }

    fn re(self) -> f64 {
        self
    }

    fn exp(self) -> Self {
        f64::exp(self)
    }

    fn ln(self) -> Self {
        f64::ln(self)
    }

    fn ln_1p(self) -> Self {
        f64::ln_1p(self)
    }

    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }

    fn sin(self) -> Self {
        f64::sin(self)
    }

    fn cos(self) -> Self {
        f64::cos(self)
    }

    fn tanh(self) -> Self {
        f64::tanh(self)
    }

    fn abs(self) -> Self {
        f64::abs(self)
    }

    fn powi(self, n: i32) -> Self {
        f64::powi(self, n)
    }

    fn powf(self, p: Self) -> Self {
        f64::powf(self, p)
    }
}

/// A dual number re + eps·ε with ε² = 0: the value and its derivative along one direction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dual {
    pub re: f64,
    pub eps: f64,
}

impl Dual {
    pub fn new(re: f64, eps: f64) -> Self {
        Dual { re, eps }
    }

    /// f(self) given f's value and derivative at `self.re`. A zero tangent stays exactly zero,
    /// even where the derivative is infinite (√x at 0), as it does for a constant.
    fn chain(self, value: f64, derivative: f64) -> Self {
        Dual::new(value, scaled(self.eps, derivative))
    }
}

/// `tangent · factor`, exactly zero when the tangent is.
fn scaled(tangent: f64, factor: f64) -> f64 {
    if tangent == 0.0 {
        0.0
    } else {
        tangent * factor
    }
}

impl Add for Dual {
    type Output = Dual;
    fn add(self, b: Dual) -> Dual {
        Dual::new(self.re + b.re, self.eps + b.eps)
    }
}

impl Sub for Dual {
    type Output = Dual;
    fn sub(self, b: Dual) -> Dual {
        Dual::new(self.re - b.re, self.eps - b.eps)
    }
}

impl Mul for Dual {
    type Output = Dual;
    // d(ab) = da·b + a·db
    fn mul(self, b: Dual) -> Dual {
        Dual::new(
            self.re * b.re,
            scaled(self.eps, b.re) + scaled(b.eps, self.re),
        )
    }
}

impl Div for Dual {
    type Output = Dual;
    // d(a/b) = da/b − a·db/b²
    fn div(self, b: Dual) -> Dual {
        let q = self.re / b.re;
        Dual::new(q, scaled(self.eps, 1.0 / b.re) - scaled(b.eps, q / b.re))
    }
}

impl Neg for Dual {
    type Output = Dual;
    fn neg(self) -> Dual {
        Dual::new(-self.re, -self.eps)
    }
}

impl Num for Dual {
    fn constant(value: f64) -> Self {
        Dual::new(value, 0.0)
    }

    fn re(self) -> f64 {
        self.re
    }

    fn exp(self) -> Self {
        let e = self.re.exp();
        self.chain(e, e)
    }

    fn ln(self) -> Self {
        self.chain(self.re.ln(), 1.0 / self.re)
    }

    fn ln_1p(self) -> Self {
        self.chain(self.re.ln_1p(), 1.0 / (1.0 + self.re))
    }

    fn sqrt(self) -> Self {
        let s = self.re.sqrt();
        self.chain(s, 0.5 / s)
    }

    fn sin(self) -> Self {
        self.chain(self.re.sin(), self.re.cos())
    }

    fn cos(self) -> Self {
        self.chain(self.re.cos(), -self.re.sin())
    }

    fn tanh(self) -> Self {
        let t = self.re.tanh();
        self.chain(t, 1.0 - t * t)
    }

    fn abs(self) -> Self {
        self.chain(self.re.abs(), self.re.signum())
    }

    // d xⁿ = n xⁿ⁻¹ dx
    fn powi(self, n: i32) -> Self {
        let derivative = if n == 0 {
            0.0
        } else {
            f64::from(n) * self.re.powi(n - 1)
        };
        self.chain(self.re.powi(n), derivative)
    }

    // d xᵖ = p xᵖ⁻¹ dx + xᵖ ln x dp; each term only when its tangent is not zero, so x = 0
    // with a constant exponent does not meet 0·ln 0.
    fn powf(self, p: Self) -> Self {
        let value = self.re.powf(p.re);
        let base = scaled(self.eps, p.re * self.re.powf(p.re - 1.0));
        let exponent = scaled(p.eps, value * self.re.ln());
        Dual::new(value, base + exponent)
    }
}

/// A hyper-dual number re + e1·ε₁ + e2·ε₂ + e12·ε₁ε₂ with ε₁² = ε₂² = 0: run through a function
/// with e1 = u and e2 = w, its e12 is the exact second directional derivative uᵀ·H·w (Fike and
/// Alonso 2011), the reference of the second-order property tests.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HyperDual {
    pub re: f64,
    pub e1: f64,
    pub e2: f64,
    pub e12: f64,
}

impl HyperDual {
    pub fn new(re: f64, e1: f64, e2: f64, e12: f64) -> Self {
        HyperDual { re, e1, e2, e12 }
    }

    /// f(self) given f, f′ and f″ at `self.re`: e12 takes f′·e12 + f″·e1·e2. A zero tangent stays
    /// exactly zero, even where a derivative is infinite.
    fn chain(self, value: f64, first: f64, second: f64) -> Self {
        HyperDual::new(
            value,
            scaled(self.e1, first),
            scaled(self.e2, first),
            scaled(self.e12, first) + scaled(self.e1 * self.e2, second),
        )
    }
}

impl Add for HyperDual {
    type Output = HyperDual;
    fn add(self, b: HyperDual) -> HyperDual {
        HyperDual::new(
            self.re + b.re,
            self.e1 + b.e1,
            self.e2 + b.e2,
            self.e12 + b.e12,
        )
    }
}

impl Sub for HyperDual {
    type Output = HyperDual;
    fn sub(self, b: HyperDual) -> HyperDual {
        HyperDual::new(
            self.re - b.re,
            self.e1 - b.e1,
            self.e2 - b.e2,
            self.e12 - b.e12,
        )
    }
}

impl Mul for HyperDual {
    type Output = HyperDual;
    // (a + a₁ε₁ + a₂ε₂ + a₁₂ε₁ε₂)(b + …) = ab + (a₁b + ab₁)ε₁ + (a₂b + ab₂)ε₂
    //                                      + (a₁₂b + a₁b₂ + a₂b₁ + ab₁₂)ε₁ε₂
    fn mul(self, b: HyperDual) -> HyperDual {
        HyperDual::new(
            self.re * b.re,
            self.e1 * b.re + self.re * b.e1,
            self.e2 * b.re + self.re * b.e2,
            self.e12 * b.re + self.e1 * b.e2 + self.e2 * b.e1 + self.re * b.e12,
        )
    }
}

impl Div for HyperDual {
    type Output = HyperDual;
    // a/b = a·(1/b), with (1/x)′ = −1/x², (1/x)″ = 2/x³
    fn div(self, b: HyperDual) -> HyperDual {
        let r = 1.0 / b.re;
        self * b.chain(r, -r * r, 2.0 * r * r * r)
    }
}

impl Neg for HyperDual {
    type Output = HyperDual;
    fn neg(self) -> HyperDual {
        HyperDual::new(-self.re, -self.e1, -self.e2, -self.e12)
    }
}

impl Num for HyperDual {
    fn constant(value: f64) -> Self {
        HyperDual::new(value, 0.0, 0.0, 0.0)
    }

    fn re(self) -> f64 {
        self.re
    }

    fn exp(self) -> Self {
        let e = self.re.exp();
        self.chain(e, e, e)
    }

    fn ln(self) -> Self {
        let r = 1.0 / self.re;
        self.chain(self.re.ln(), r, -r * r)
    }

    fn ln_1p(self) -> Self {
        let r = 1.0 / (1.0 + self.re);
        self.chain(self.re.ln_1p(), r, -r * r)
    }

    fn sqrt(self) -> Self {
        let s = self.re.sqrt();
        self.chain(s, 0.5 / s, -0.25 / (s * self.re))
    }

    fn sin(self) -> Self {
        let (s, c) = self.re.sin_cos();
        self.chain(s, c, -s)
    }

    fn cos(self) -> Self {
        let (s, c) = self.re.sin_cos();
        self.chain(c, -s, -c)
    }

    fn tanh(self) -> Self {
        let t = self.re.tanh();
        let slope = 1.0 - t * t;
        self.chain(t, slope, -2.0 * t * slope)
    }

    fn abs(self) -> Self {
        self.chain(self.re.abs(), self.re.signum(), 0.0)
    }

    fn powi(self, n: i32) -> Self {
        let first = if n == 0 {
            0.0
        } else {
            f64::from(n) * self.re.powi(n - 1)
        };
        let second = if n == 0 || n == 1 {
            0.0
        } else {
            f64::from(n) * f64::from(n - 1) * self.re.powi(n - 2)
        };
        self.chain(self.re.powi(n), first, second)
    }

    // z = aᵖ: z_a = p·aᵖ⁻¹, z_p = z·ln a, z_aa = p(p − 1)·aᵖ⁻², z_ap = aᵖ⁻¹(1 + p·ln a),
    // z_pp = z·ln²a; each term only where its tangents are not zero.
    fn powf(self, p: Self) -> Self {
        let (a, q) = (self.re, p.re);
        let z = a.powf(q);
        let base = p.e1 == 0.0 && p.e2 == 0.0 && p.e12 == 0.0;
        let za = q * a.powf(q - 1.0);
        let zaa = q * (q - 1.0) * a.powf(q - 2.0);
        if base {
            return self.chain(z, za, zaa);
        }
        let l = a.ln();
        let (zp, zap, zpp) = (z * l, a.powf(q - 1.0) * (1.0 + q * l), z * l * l);
        let e1 = scaled(self.e1, za) + scaled(p.e1, zp);
        let e2 = scaled(self.e2, za) + scaled(p.e2, zp);
        let e12 = scaled(self.e12, za)
            + scaled(p.e12, zp)
            + scaled(self.e1 * self.e2, zaa)
            + scaled(self.e1 * p.e2 + self.e2 * p.e1, zap)
            + scaled(p.e1 * p.e2, zpp);
        HyperDual::new(z, e1, e2, e12)
    }
}
