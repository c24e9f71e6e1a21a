use matgrad::gradient;
use matgrad::nalgebra::{Matrix2x3, RowVector3, Vector2, Vector3};

// A block must lie inside the matrix.
#[gradient]
fn row_out_of_range(m: &Matrix2x3<f64>) -> f64 {
    m.row(2).sum()
}

#[gradient]
fn block_out_of_range(m: &Matrix2x3<f64>) -> f64 {
    m.fixed_view::<2, 2>(0, 2).sum()
}

// A fixed block names its size.
#[gradient]
fn size_missing(m: &Matrix2x3<f64>) -> f64 {
    m.fixed_rows(1).sum()
}

// Indices are known at compile time.
#[gradient]
fn index_at_run_time(m: &Matrix2x3<f64>, i: usize) -> f64 {
    m.column(i).sum()
}

// `set_row` takes a row of the matrix's width, `set_column` a column of its height.
#[gradient]
fn column_for_a_row(m: &Matrix2x3<f64>, v: &Vector3<f64>) -> f64 {
    let mut k = *m;
    k.set_row(0, v);
    k.sum()
}

#[gradient]
fn row_for_a_column(m: &Matrix2x3<f64>, r: &RowVector3<f64>, c: &Vector2<f64>) -> f64 {
    let mut k = *m;
    k.set_column(1, c);
    k.set_column(2, r);
    k.sum()
}

#[gradient]
fn set_row_out_of_range(m: &Matrix2x3<f64>, r: &RowVector3<f64>) -> f64 {
    let mut k = *m;
    k.set_row(2, r);
    k.sum()
}

fn main() {}
