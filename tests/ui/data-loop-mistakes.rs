use matgrad::gradient;
use matgrad::nalgebra::{SVector, Vector2};

// A loop over data adds each sample's part to variables outside it: it cannot read them.
#[gradient(wrt(w))]
fn reads_the_sum(w: &Vector2<f64>, xs: &[Vector2<f64>]) -> f64 {
    let mut total = 0.0;
    for x in xs.iter() {
        total += total * w.dot(x);
    }
    total
}

// Nor assign them any other way.
#[gradient(wrt(w))]
fn assigns_the_sum(w: &Vector2<f64>, xs: &[Vector2<f64>]) -> f64 {
    let mut total = 0.0;
    for x in xs.iter() {
        total = 0.5 * total + w.dot(x);
    }
    total
}

// An `if` inside adds its value instead.
#[gradient(wrt(w))]
fn adds_in_an_if(w: &Vector2<f64>, xs: &[Vector2<f64>]) -> f64 {
    let mut total = 0.0;
    for x in xs.iter() {
        if w.dot(x) > 0.0 {
            total += w.dot(x);
        }
    }
    total
}

// Loops run over ranges or over slices of samples.
#[gradient(wrt(w))]
fn loops_over_a_matrix(w: &Vector2<f64>) -> f64 {
    let mut total = 0.0;
    for v in w.iter() {
        total += v;
    }
    total
}

// Samples are floats, float matrices or integers.
#[gradient(wrt(w))]
fn flag_samples(w: &Vector2<f64>, flags: &[bool]) -> f64 {
    w.sum()
}

// A data set is read in a loop, not as a value.
#[gradient(wrt(w))]
fn indexes_the_data(w: &Vector2<f64>, xs: &[Vector2<f64>]) -> f64 {
    w.dot(&xs[0])
}

// One name per data set zipped.
#[gradient(wrt(w))]
fn one_name_for_two(w: &Vector2<f64>, xs: &[Vector2<f64>], ys: &[f64]) -> f64 {
    let mut total = 0.0;
    for x in xs.iter().zip(ys.iter()) {
        total += w.dot(&x.0);
    }
    total
}

// The loop must add to something.
#[gradient(wrt(w))]
fn adds_nothing(w: &SVector<f64, 2>, xs: &[Vector2<f64>]) -> f64 {
    for x in xs.iter() {
        let _unused = w.dot(x);
    }
    w.sum()
}

fn main() {}
