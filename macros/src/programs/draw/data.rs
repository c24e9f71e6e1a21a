//! Drawing loops over data: the data sets a program reads (slices of scalars, vectors or small
//! matrices), and `for x in xs.iter() { … }` or `for (x, y) in xs.iter().zip(ys.iter()) { … }`
//! loops over them. Part of `draw`.
//!
//! The body of a loop over data may compute anything from the samples, the parameters and the
//! values in scope, and assign its own locals; it changes the variables declared before it only
//! with `acc += …` or `acc -= …` (at its top level, or in a counted loop inside it) and never
//! reads those. So while the body is drawn, every variable from outside is immutable and its
//! accumulators are hidden, as a counted loop hides its own; an accumulator's bound grows by
//! [`SAMPLES`] times what one sample adds.

use super::Gen;
use crate::programs::{Dim, Expr, Param, ParamKind, Rng, SAMPLES, Sample, Shape, Stmt};

/// The chance that a program reads data sets (every such program loops over them at least once).
pub(super) const DATA_CHANCE: f64 = 0.25;

/// The chance that a statement of a program with data sets (outside a loop over data, a
/// closure, and the deepest nesting) is another loop over data.
const LOOP_CHANCE: f64 = 0.08;

/// One or two data sets, `xs` and `ys`: scalars half of the time, otherwise mostly vectors.
pub(super) fn data_sets(rng: &mut Rng, dims: [Dim; 2]) -> Vec<Param> {
    let [d1, d2] = dims;
    let one = Dim::Lit(1);
    let shapes = [
        Shape::Scalar,
        Shape::Scalar,
        Shape::Scalar,
        Shape::Scalar,
        Shape::Mat(d1, one),
        Shape::Mat(d1, one),
        Shape::Mat(d2, one),
        Shape::Mat(one, d2),
        Shape::Mat(d1, d2),
    ];
    let count = if rng.chance(0.45) { 2 } else { 1 };
    ["xs", "ys"][..count]
        .iter()
        .map(|name| Param {
            name: (*name).to_string(),
            kind: ParamKind::Samples(rng.pick(&shapes)),
        })
        .collect()
}

impl Gen<'_> {
    /// Whether a statement drawn here is a loop over data.
    pub(super) fn data_here(&mut self) -> bool {
        !self.data.is_empty()
            && !self.in_data
            && !self.closure
            && self.nest < 3
            && self.rng.chance(LOOP_CHANCE)
    }

    /// The variables a loop over data drawn here may add to: mutable, named by the binding they
    /// are, and either declared in the current iteration of the enclosing loops or an
    /// accumulator of an enclosing counted loop (whose bound grows only by what it adds).
    fn accumulator_targets(&self) -> Vec<usize> {
        self.mutable_targets()
            .into_iter()
            .filter(|&id| {
                let v = &self.vars[id];
                v.hidden || v.loop_depth == self.loop_depth
            })
            .collect()
    }

    /// A loop over data, with fresh accumulators declared just before it when there is nothing
    /// to add to, and often otherwise.
    pub(super) fn data_block(&mut self) -> Vec<Stmt> {
        let mut out = Vec::new();
        let mut fresh = Vec::new();
        if self.accumulator_targets().is_empty() || self.rng.chance(0.6) {
            for _ in 0..=usize::from(self.rng.chance(0.3)) {
                let (stmt, id) = self.accumulator();
                out.push(stmt);
                fresh.push(id);
            }
        }
        let data = self
            .data_loop(&fresh)
            .expect("invariant: a fresh accumulator or a target is in scope");
        out.push(data);
        out
    }

    /// A loop over data as one statement, when something in scope can be added to.
    pub(super) fn data_stmt(&mut self) -> Option<Stmt> {
        self.data_loop(&[])
    }

    /// `let mut t = 0.0;`, `let mut t = SMatrix::<f64, R, C>::zeros();` or a drawn value.
    fn accumulator(&mut self) -> (Stmt, usize) {
        let shapes = self.shapes();
        let shape = shapes[self.rng.below(shapes.len())];
        let (init, mag) = match shape {
            Shape::Scalar if self.rng.chance(0.6) => (Expr::Lit(0.0), 0.0),
            Shape::Mat(..) if self.rng.chance(0.6) => (Expr::Zeros(shape), 0.0),
            _ => self.mat(shape, 1),
        };
        self.next_local += 1;
        let name = format!("t{}", self.next_local - 1);
        let ty = self.rng.chance(0.3).then_some(shape);
        self.declare(&name, shape, mag, true, false);
        let stmt = Stmt::Let {
            name,
            mutable: true,
            ty,
            init,
        };
        (stmt, self.vars.len() - 1)
    }

    /// A loop over one data set or two zipped ones that adds to the `fresh` accumulators and
    /// maybe to others in scope; `None` when there is nothing to add to.
    fn data_loop(&mut self, fresh: &[usize]) -> Option<Stmt> {
        let mut others: Vec<usize> = self
            .accumulator_targets()
            .into_iter()
            .filter(|id| !fresh.contains(id))
            .collect();
        let mut accs = fresh.to_vec();
        for _ in 0..2 {
            if !others.is_empty() && (accs.is_empty() || self.rng.chance(0.3)) {
                accs.push(others.remove(self.rng.below(others.len())));
            }
        }
        if accs.is_empty() {
            return None;
        }
        let sets = if self.data.len() == 2 && self.rng.chance(0.5) {
            let mut both = self.data.clone();
            if self.rng.chance(0.3) {
                both.reverse();
            }
            both
        } else {
            vec![self.data[self.rng.below(self.data.len())].clone()]
        };
        let samples: Vec<Sample> = sets
            .iter()
            .map(|(set, _)| Sample {
                name: format!("{}i", set.trim_end_matches('s')),
                set: set.clone(),
                by_value: self.rng.chance(0.25),
            })
            .collect();

        // The body: nothing from outside is assigned but through `+=`/`-=`, and the
        // accumulators are not read.
        let saved = self.scope.len();
        let frozen: Vec<usize> = self
            .scope
            .iter()
            .copied()
            .filter(|&id| self.vars[id].mutable)
            .collect();
        for &id in &frozen {
            self.vars[id].mutable = false;
        }
        let newly: Vec<usize> = accs
            .iter()
            .copied()
            .filter(|&id| !self.vars[id].hidden)
            .collect();
        for &id in &accs {
            self.vars[id].hidden = true;
        }
        let before: Vec<f64> = accs.iter().map(|&id| self.vars[id].mag).collect();
        self.loop_depth += 1;
        self.nest += 1;
        self.in_data = true;
        for (s, (_, shape)) in samples.iter().zip(&sets) {
            self.declare(&s.name, *shape, 1.0, false, !s.by_value);
            self.samples.push(self.vars.len() - 1);
        }
        let count = self.rng.below(3);
        let mut body = self.stmts(count);
        let mut order = accs.clone();
        if order.len() > 1 && self.rng.chance(0.5) {
            order.reverse();
        }
        for (k, &id) in order.iter().enumerate() {
            if k > 0 && self.rng.chance(0.3) {
                body.push(self.stmt());
            }
            body.push(self.accumulate(id));
        }
        self.in_data = false;
        self.samples.clear();
        self.nest -= 1;
        self.loop_depth -= 1;
        self.scope.truncate(saved);
        for &id in &frozen {
            self.vars[id].mutable = true;
        }
        for (&id, b) in accs.iter().zip(before) {
            let v = &mut self.vars[id];
            v.mag = b + SAMPLES as f64 * (v.mag - b);
        }
        for id in newly {
            self.vars[id].hidden = false;
        }
        let bare_zip = samples.len() == 2 && self.rng.chance(0.3);
        Some(Stmt::Data {
            samples,
            bare_zip,
            body,
        })
    }

    /// `acc += …;` or `acc -= …;` of what one sample adds, sometimes in a counted loop
    /// (`for i in 0..2 { acc += …; }`).
    fn accumulate(&mut self, id: usize) -> Stmt {
        let (name, shape) = (self.vars[id].name.clone(), self.vars[id].shape);
        let op = self.rng.pick(&["+=", "+=", "-="]);
        if self.rng.chance(0.2) {
            let bound = self
                .dims
                .iter()
                .map(|d| match d {
                    Dim::Lit(n) => *n,
                    Dim::N => 2,
                })
                .min()
                .unwrap_or(2);
            let end = 2 + self.rng.below(bound - 1);
            let var = ["i", "j", "l"][self.loop_depth.min(2)].to_string();
            self.loop_depth += 1;
            self.nest += 1;
            self.counters.push((var.clone(), end));
            let (value, mv) = self.term(shape);
            self.counters.pop();
            self.nest -= 1;
            self.loop_depth -= 1;
            self.vars[id].mag += end as f64 * mv;
            let body = vec![Stmt::Assign { name, op, value }];
            return Stmt::For { var, end, body };
        }
        let (value, mv) = self.term(shape);
        self.vars[id].mag += mv;
        Stmt::Assign { name, op, value }
    }

    /// What one sample adds: a value of `shape`, sometimes an `if` (the body may not assign
    /// outer variables in a branch, so it adds the branch's value).
    fn term(&mut self, shape: Shape) -> (Expr, f64) {
        let term = if self.rng.chance(0.2) {
            self.if_expr(shape, 2)
        } else {
            self.mat(shape, 2)
        };
        Self::within(term, 2.0, shape)
    }

    /// A sample in scope read as a value of `shape` (an entry of a matrix sample for a scalar),
    /// preferred by the leaves of a loop over data's body; `None` when none fits.
    pub(super) fn sample_leaf(&mut self, shape: Shape) -> Option<(Expr, f64)> {
        let vis = self.visible();
        let samples: Vec<usize> = vis
            .iter()
            .copied()
            .filter(|id| self.samples.contains(id))
            .collect();
        if samples.is_empty() || !self.rng.chance(0.4) {
            return None;
        }
        let fits = |g: &Self, id: usize| match (shape, g.vars[id].shape) {
            (Shape::Scalar, _) => true,
            (Shape::Mat(r, c), s) => s == shape || s == Shape::Mat(c, r),
        };
        let fitting: Vec<usize> = samples.into_iter().filter(|&id| fits(self, id)).collect();
        if fitting.is_empty() {
            return None;
        }
        let id = fitting[self.rng.below(fitting.len())];
        let (e, mag) = self.var_expr(id);
        let own = self.vars[id].shape;
        Some(match shape {
            Shape::Scalar => (self.index(e, own), mag),
            _ if own == shape => (e, mag),
            Shape::Mat(..) => (Expr::Method("transpose", Box::new(e), None), mag),
        })
    }
}
