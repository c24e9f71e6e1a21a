//! Dense matrices over any [`Num`], stored column-major as nalgebra stores them (entry (i, j) is
//! number i + rows·j), with the linear algebra the primal IR uses. Factorisations run in the
//! scalar type, so dual numbers flow through inverses, determinants and solves exactly. Part of
//! `interp`.

use super::num::Num;

/// A rows × cols matrix, column-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Mat<S> {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<S>,
}

impl<S: Num> Mat<S> {
    /// The matrix whose entry (i, j) is `f(i, j)`.
    pub fn from_fn(rows: usize, cols: usize, mut f: impl FnMut(usize, usize) -> S) -> Self {
        let mut data = Vec::with_capacity(rows * cols);
        for j in 0..cols {
            for i in 0..rows {
                data.push(f(i, j));
            }
        }
        Mat { rows, cols, data }
    }

    /// A matrix from its entries in column-major order.
    pub fn from_column_major(rows: usize, cols: usize, data: Vec<S>) -> Result<Self, String> {
        if data.len() == rows * cols {
            Ok(Mat { rows, cols, data })
        } else {
            Err(format!(
                "{} entries cannot fill a {rows}×{cols} matrix",
                data.len()
            ))
        }
    }

    pub fn identity(n: usize) -> Self {
        Mat::from_fn(n, n, |i, j| if i == j { S::one() } else { S::zero() })
    }

    pub fn at(&self, i: usize, j: usize) -> S {
        self.data[i + self.rows * j]
    }

    /// Entry (i, j), or an error naming the shape when it is outside.
    /// The column-major index of the entry `max` (kind 0), `min` (1), `amax` (2) or `amin` (3)
    /// takes, the first at a tie: as the runtime's `extremum_index`.
    pub fn extremum_index(&self, kind: u8) -> usize {
        let key = |x: S| if kind >= 2 { x.abs() } else { x };
        let largest = kind & 1 == 0;
        let mut index = 0;
        for k in 1..self.data.len() {
            let (x, best) = (key(self.data[k]).re(), key(self.data[index]).re());
            if (largest && x > best) || (!largest && x < best) {
                index = k;
            }
        }
        index
    }

    /// The Cholesky factor L of A = L·Lᵀ from A's lower triangle, column by column as nalgebra
    /// computes it; an error where a pivot is not positive (nalgebra's `None`).
    pub fn cholesky(&self) -> Result<Self, String> {
        let n = self.rows;
        if self.cols != n {
            return Err(format!("the Cholesky factor of a {n}×{} matrix", self.cols));
        }
        let mut l = Mat::from_fn(n, n, |_, _| S::zero());
        for j in 0..n {
            let mut pivot = self.data[j + n * j];
            for k in 0..j {
                pivot = pivot - l.data[j + n * k] * l.data[j + n * k];
            }
            if pivot.re() <= 0.0 {
                return Err("the matrix is not positive definite, so `.unwrap()` fails".into());
            }
            let d = pivot.sqrt();
            l.data[j + n * j] = d;
            for i in j + 1..n {
                let mut x = self.data[i + n * j];
                for k in 0..j {
                    x = x - l.data[i + n * k] * l.data[j + n * k];
                }
                l.data[i + n * j] = x / d;
            }
        }
        Ok(l)
    }

    /// L⁻¹·B (L⁻ᵀ·B when `transpose`) for the lower triangle L of this square matrix.
    pub fn tri_solve(&self, b: &Self, transpose: bool) -> Result<Self, String> {
        let n = self.rows;
        if self.cols != n || b.rows != n {
            return Err(format!(
                "a triangular solve with a {n}×{} factor and a {}×{} right-hand side",
                self.cols, b.rows, b.cols
            ));
        }
        let at = |i: usize, j: usize| self.data[i + n * j];
        let mut x = b.clone();
        for c in 0..b.cols {
            let col = |x: &Self, i: usize| x.data[i + n * c];
            if transpose {
                for i in (0..n).rev() {
                    let mut v = col(&x, i);
                    for k in i + 1..n {
                        v = v - at(k, i) * col(&x, k);
                    }
                    x.data[i + n * c] = v / at(i, i);
                }
            } else {
                for i in 0..n {
                    let mut v = col(&x, i);
                    for k in 0..i {
                        v = v - at(i, k) * col(&x, k);
                    }
                    x.data[i + n * c] = v / at(i, i);
                }
            }
        }
        Ok(x)
    }

    /// The lower triangle with the diagonal scaled by `diagonal` (1: tril, ½: Φ).
    pub fn lower(&self, diagonal: f64) -> Self {
        Mat::from_fn(self.rows, self.cols, |i, j| match i.cmp(&j) {
            std::cmp::Ordering::Greater => self.data[i + self.rows * j],
            std::cmp::Ordering::Equal => self.data[i + self.rows * j] * S::constant(diagonal),
            std::cmp::Ordering::Less => S::zero(),
        })
    }

    /// The symmetric matrix whose lower triangle is this one's.
    pub fn sym_from_lower(&self) -> Self {
        Mat::from_fn(self.rows, self.cols, |i, j| {
            let (p, q) = if i >= j { (i, j) } else { (j, i) };
            self.data[p + self.rows * q]
        })
    }

    /// Mᵢⱼ + Mⱼᵢ below the diagonal, Mᵢᵢ on it, zero above: the adjoint of `sym_from_lower`.
    pub fn sym_lower(&self) -> Self {
        Mat::from_fn(self.rows, self.cols, |i, j| match i.cmp(&j) {
            std::cmp::Ordering::Greater => {
                self.data[i + self.rows * j] + self.data[j + self.rows * i]
            }
            std::cmp::Ordering::Equal => self.data[i + self.rows * j],
            std::cmp::Ordering::Less => S::zero(),
        })
    }

    /// The diagonal, as a column.
    pub fn diagonal(&self) -> Self {
        let n = self.rows.min(self.cols);
        Mat::from_fn(n, 1, |i, _| self.data[i + self.rows * i])
    }

    /// a × b of two 3-vectors of the same shape.
    pub fn cross(&self, b: &Mat<S>) -> Result<Self, String> {
        if self.data.len() != 3 || b.data.len() != 3 || (self.rows, self.cols) != (b.rows, b.cols) {
            return Err(format!(
                "a cross product of {}×{} and {}×{}",
                self.rows, self.cols, b.rows, b.cols
            ));
        }
        let (x, y) = (&self.data, &b.data);
        let z = [
            x[1] * y[2] - x[2] * y[1],
            x[2] * y[0] - x[0] * y[2],
            x[0] * y[1] - x[1] * y[0],
        ];
        Ok(Mat::from_fn(self.rows, self.cols, |i, j| z[i + j]))
    }

    /// The r×c block whose top-left entry is (i, j).
    pub fn block(&self, i: usize, j: usize, r: usize, c: usize) -> Result<Self, String> {
        if i + r > self.rows || j + c > self.cols {
            return Err(format!(
                "the {r}×{c} block at ({i}, {j}) of a {}×{} matrix",
                self.rows, self.cols
            ));
        }
        Ok(Mat::from_fn(r, c, |p, q| {
            self.data[(i + p) + self.rows * (j + q)]
        }))
    }

    /// Writes `b` into the block whose top-left entry is (i, j).
    pub fn set_block(&mut self, i: usize, j: usize, b: &Mat<S>) -> Result<(), String> {
        if i + b.rows > self.rows || j + b.cols > self.cols {
            return Err(format!(
                "the {}×{} block at ({i}, {j}) of a {}×{} matrix",
                b.rows, b.cols, self.rows, self.cols
            ));
        }
        for q in 0..b.cols {
            for p in 0..b.rows {
                self.data[(i + p) + self.rows * (j + q)] = b.data[p + b.rows * q];
            }
        }
        Ok(())
    }

    pub fn get(&self, i: usize, j: usize) -> Result<S, String> {
        if i < self.rows && j < self.cols {
            Ok(self.at(i, j))
        } else {
            Err(format!(
                "index ({i}, {j}) is out of range for a {}×{} matrix",
                self.rows, self.cols
            ))
        }
    }

    pub fn map(&self, f: impl FnMut(S) -> S) -> Self {
        Mat {
            rows: self.rows,
            cols: self.cols,
            data: self.data.iter().copied().map(f).collect(),
        }
    }

    /// `f` entry by entry of two matrices of one shape.
    pub fn zip(&self, other: &Self, what: &str, f: impl Fn(S, S) -> S) -> Result<Self, String> {
        self.same_shape(other, what)?;
        let data = self.data.iter().zip(&other.data).map(|(&a, &b)| f(a, b));
        Ok(Mat {
            rows: self.rows,
            cols: self.cols,
            data: data.collect(),
        })
    }

    fn same_shape(&self, other: &Self, what: &str) -> Result<(), String> {
        if (self.rows, self.cols) == (other.rows, other.cols) {
            Ok(())
        } else {
            Err(format!(
                "`{what}` of a {}×{} and a {}×{} matrix",
                self.rows, self.cols, other.rows, other.cols
            ))
        }
    }

    pub fn component_mul(&self, other: &Self) -> Result<Self, String> {
        self.zip(other, "component_mul", |a, b| a * b)
    }

    pub fn component_div(&self, other: &Self) -> Result<Self, String> {
        self.zip(other, "component_div", |a, b| a / b)
    }

    pub fn transpose(&self) -> Self {
        Mat::from_fn(self.cols, self.rows, |i, j| self.at(j, i))
    }

    pub fn matmul(&self, other: &Self) -> Result<Self, String> {
        if self.cols != other.rows {
            return Err(format!(
                "product of a {}×{} and a {}×{} matrix",
                self.rows, self.cols, other.rows, other.cols
            ));
        }
        Ok(Mat::from_fn(self.rows, other.cols, |i, j| {
            (0..self.cols).fold(S::zero(), |acc, k| acc + self.at(i, k) * other.at(k, j))
        }))
    }

    pub fn sum(&self) -> S {
        self.data.iter().fold(S::zero(), |acc, &x| acc + x)
    }

    /// The Frobenius inner product ⟨A, B⟩ = Σ Aᵢⱼ Bᵢⱼ.
    pub fn dot(&self, other: &Self) -> Result<S, String> {
        Ok(self.zip(other, "dot", |a, b| a * b)?.sum())
    }

    pub fn norm_squared(&self) -> S {
        self.data.iter().fold(S::zero(), |acc, &x| acc + x * x)
    }

    fn square(&self, what: &str) -> Result<usize, String> {
        if self.rows == self.cols {
            Ok(self.rows)
        } else {
            Err(format!(
                "`{what}` of a non-square {}×{} matrix",
                self.rows, self.cols
            ))
        }
    }

    pub fn trace(&self) -> Result<S, String> {
        let n = self.square("trace")?;
        Ok((0..n).fold(S::zero(), |acc, i| acc + self.at(i, i)))
    }

    /// (A⊗B)[(i·rb + k, j·cb + l)] = Aᵢⱼ Bₖₗ.
    pub fn kronecker(&self, b: &Self) -> Self {
        Mat::from_fn(self.rows * b.rows, self.cols * b.cols, |r, c| {
            self.at(r / b.rows, c / b.cols) * b.at(r % b.rows, c % b.cols)
        })
    }

    /// Aᵏ by repeated squaring (A¹³ = A·A⁴·A⁸); A⁰ = I, as nalgebra's `pow(0)`.
    pub fn pow(&self, k: u32) -> Result<Self, String> {
        let n = self.square("pow")?;
        let (mut out, mut square, mut k) = (Mat::identity(n), self.clone(), k);
        while k > 0 {
            if k & 1 == 1 {
                out = out.matmul(&square)?;
            }
            k >>= 1;
            if k > 0 {
                square = square.matmul(&square)?;
            }
        }
        Ok(out)
    }

    /// Whether the entries fill the shape: a matrix built field by field may not.
    pub fn is_consistent(&self) -> bool {
        self.data.len() == self.rows * self.cols
    }

    pub fn inverse(&self) -> Result<Self, String> {
        let n = self.square("try_inverse")?;
        Ok(Lu::of(self)?.solve(&Mat::identity(n)))
    }

    /// A⁻¹B through the LU factors of A.
    pub fn solve(&self, b: &Self) -> Result<Self, String> {
        self.square("lu().solve")?;
        if b.rows != self.rows {
            return Err(format!(
                "solve of a {}×{} system with a {}×{} right-hand side",
                self.rows, self.cols, b.rows, b.cols
            ));
        }
        Ok(Lu::of(self)?.solve(b))
    }

    /// det A from the LU factors; for a singular A, by cofactor expansion, which divides by
    /// nothing and so keeps the derivative exact (d det A = tr(adj(A) dA) need not vanish).
    pub fn determinant(&self) -> Result<S, String> {
        let n = self.square("determinant")?;
        match Lu::of(self) {
            Ok(lu) => Ok(lu.determinant()),
            Err(_) if n <= 8 => Ok(cofactor_determinant(self)),
            Err(e) => Err(format!("{e} (cofactor expansion is limited to 8×8)")),
        }
    }
}

/// det A = Σⱼ (−1)ʲ A₀ⱼ det A₍₀ⱼ₎, expanding along the first row.
fn cofactor_determinant<S: Num>(a: &Mat<S>) -> S {
    if a.rows == 1 {
        return a.at(0, 0);
    }
    (0..a.cols).fold(S::zero(), |acc, j| {
        let minor = Mat::from_fn(a.rows - 1, a.cols - 1, |r, c| {
            a.at(r + 1, if c < j { c } else { c + 1 })
        });
        let term = a.at(0, j) * cofactor_determinant(&minor);
        if j % 2 == 0 { acc + term } else { acc - term }
    })
}

/// PA = LU with partial pivoting: L unit lower triangular and U upper triangular, packed in one
/// matrix, and the row permutation.
struct Lu<S> {
    packed: Mat<S>,
    perm: Vec<usize>,
    swaps: usize,
}

impl<S: Num> Lu<S> {
    /// Factors `a`; an error when a pivot is exactly zero (the matrix is singular).
    fn of(a: &Mat<S>) -> Result<Self, String> {
        let n = a.rows;
        let mut m = a.clone();
        let mut perm: Vec<usize> = (0..n).collect();
        let mut swaps = 0;
        for k in 0..n {
            let pivot = (k..n)
                .max_by(|&x, &y| m.at(x, k).re().abs().total_cmp(&m.at(y, k).re().abs()))
                .unwrap_or(k);
            if m.at(pivot, k).re() == 0.0 {
                return Err(format!("the {n}×{n} matrix is singular"));
            }
            if pivot != k {
                swap_rows(&mut m, k, pivot);
                perm.swap(k, pivot);
                swaps += 1;
            }
            eliminate_below(&mut m, k);
        }
        Ok(Lu {
            packed: m,
            perm,
            swaps,
        })
    }

    fn determinant(&self) -> S {
        let n = self.packed.rows;
        let product = (0..n).fold(S::one(), |acc, i| acc * self.packed.at(i, i));
        if self.swaps.is_multiple_of(2) {
            product
        } else {
            -product
        }
    }

    /// X with AX = B: forward substitution through L, then back substitution through U.
    fn solve(&self, b: &Mat<S>) -> Mat<S> {
        let (n, lu) = (self.packed.rows, &self.packed);
        let mut x = Mat::from_fn(n, b.cols, |i, j| b.at(self.perm[i], j));
        for col in 0..b.cols {
            for i in 0..n {
                let s = (0..i).fold(x.at(i, col), |acc, k| acc - lu.at(i, k) * x.at(k, col));
                x.data[i + n * col] = s;
            }
            for i in (0..n).rev() {
                let s = (i + 1..n).fold(x.at(i, col), |acc, k| acc - lu.at(i, k) * x.at(k, col));
                x.data[i + n * col] = s / lu.at(i, i);
            }
        }
        x
    }
}

fn swap_rows<S: Num>(m: &mut Mat<S>, a: usize, b: usize) {
    for j in 0..m.cols {
        m.data.swap(a + m.rows * j, b + m.rows * j);
    }
}

/// One step of Gaussian elimination: the multipliers of column k go below the pivot (L), and
/// the rows below are reduced (U).
fn eliminate_below<S: Num>(m: &mut Mat<S>, k: usize) {
    let n = m.rows;
    let pivot = m.at(k, k);
    for i in k + 1..n {
        let factor = m.at(i, k) / pivot;
        m.data[i + n * k] = factor;
        for j in k + 1..m.cols {
            let reduced = m.at(i, j) - factor * m.at(k, j);
            m.data[i + n * j] = reduced;
        }
    }
}
