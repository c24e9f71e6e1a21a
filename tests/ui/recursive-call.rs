use matgrad::gradient;

#[gradient]
fn loss(x: f64, n: u32) -> f64 {
    if n == 0 { x } else { x * loss(x, n - 1) }
}

fn main() {}
