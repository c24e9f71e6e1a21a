//! Drawing statements: `let`, assignments under the loop rules, `if`/`else if`/`else`, `for`
//! loops, calls, and the final value (loops over data are in `data`). Part of `draw`.

use super::{BLOCK_STATEMENTS, CAP, Gen};
use crate::programs::{Dim, Expr, Mix, Shape, Stmt};

impl Gen<'_> {
    pub(super) fn stmts(&mut self, count: usize) -> Vec<Stmt> {
        (0..count).map(|_| self.stmt()).collect()
    }

    pub(super) fn stmt(&mut self) -> Stmt {
        if self.data_here()
            && let Some(s) = self.data_stmt()
        {
            return s;
        }
        let nested = self.nest < 3;
        match self.rng.below(20) {
            7..=10 => self.assign().unwrap_or_else(|| self.let_stmt()),
            11 | 12 if nested => self.if_stmt(),
            13 | 14 if nested => self.for_stmt(),
            15 if nested && BLOCK_STATEMENTS => {
                let saved = self.scope.len();
                self.nest += 1;
                let count = 1 + self.rng.below(3);
                let body = self.stmts(count);
                self.nest -= 1;
                self.scope.truncate(saved);
                Stmt::Block(body)
            }
            16 if !self.callees.is_empty() => self.call_stmt(),
            17 => self.scale().unwrap_or_else(|| self.let_stmt()),
            _ => self.let_stmt(),
        }
    }

    /// A fresh local name, or (one time in five) the name of a local in scope, shadowed.
    pub(super) fn local_name(&mut self) -> String {
        let locals: Vec<String> = self
            .visible()
            .iter()
            .filter(|&&id| self.vars[id].name.starts_with('t'))
            .map(|&id| self.vars[id].name.clone())
            .collect();
        if !locals.is_empty() && self.rng.chance(0.2) {
            return locals[self.rng.below(locals.len())].clone();
        }
        self.next_local += 1;
        format!("t{}", self.next_local - 1)
    }

    pub(super) fn let_stmt(&mut self) -> Stmt {
        let shapes = self.shapes();
        let shape = shapes[self.rng.below(shapes.len())];
        let depth = 1 + self.rng.below(2);
        let (init, mag) = self.mat(shape, depth);
        let name = self.local_name();
        let mutable = self.rng.chance(0.4);
        let ty = self.rng.chance(0.3).then_some(shape);
        self.declare(&name, shape, mag, mutable, false);
        Stmt::Let {
            name,
            mutable,
            ty,
            init,
        }
    }

    pub(super) fn call_stmt(&mut self) -> Stmt {
        let c = self.callees[self.rng.below(self.callees.len())].clone();
        let args = self.call_args(&c, 2);
        let name = self.local_name();
        let ty = (c.ret != Shape::Scalar || self.rng.chance(0.5)).then_some(c.ret);
        self.declare(&name, c.ret, CAP, false, false);
        Stmt::Let {
            name,
            mutable: false,
            ty,
            init: Expr::Call(c.name, args),
        }
    }

    pub(super) fn mutable_targets(&self) -> Vec<usize> {
        let mut ids: Vec<usize> = self
            .scope
            .iter()
            .copied()
            .filter(|&id| self.vars[id].mutable)
            .collect();
        // Only the binding a name refers to can be assigned.
        ids.retain(|&id| {
            let name = &self.vars[id].name;
            self.scope
                .iter()
                .rev()
                .find(|&&j| &self.vars[j].name == name)
                == Some(&id)
        });
        ids
    }

    pub(super) fn assign(&mut self) -> Option<Stmt> {
        let targets = self.mutable_targets();
        if targets.is_empty() {
            return None;
        }
        let id = targets[self.rng.below(targets.len())];
        let (name, shape, outer, hidden) = {
            let v = &self.vars[id];
            (
                v.name.clone(),
                v.shape,
                v.loop_depth < self.loop_depth,
                v.hidden,
            )
        };
        if hidden || !outer {
            let op = if hidden {
                self.rng.pick(&["+=", "-="])
            } else {
                self.rng.pick(&["=", "+=", "-=", "="])
            };
            // `t += …` borrows `t` while the right side runs, which must not assign it.
            self.vars[id].mutable = op == "=";
            let (value, mv) = self.mat(shape, 2);
            let v = &mut self.vars[id];
            v.mutable = true;
            v.mag = if op == "=" { v.mag.max(mv) } else { v.mag + mv };
            return Some(Stmt::Assign { name, op, value });
        }
        // Reassigned in a loop it was declared outside of: through a squashing function.
        let (value, _) = self.mat(shape, 2);
        let value = match shape {
            Shape::Scalar => match self.rng.below(3) {
                0 => Expr::Method("tanh", Box::new(self.nonliteral(value)), None),
                1 => Expr::Method("sin", Box::new(self.nonliteral(value)), None),
                _ => Expr::Helper("sigmoid", Box::new(value)),
            },
            Shape::Mat(..) => {
                let f = self.rng.pick(&["tanh", "sin"]);
                let body = Expr::Method(f, Box::new(Expr::Var("v".into(), false)), None);
                Expr::Map(Box::new(value), Box::new(body), Some(f))
            }
        };
        let v = &mut self.vars[id];
        v.mag = v.mag.max(1.0);
        Some(Stmt::Assign {
            name,
            op: "=",
            value,
        })
    }

    pub(super) fn nonliteral(&mut self, e: Expr) -> Expr {
        match e {
            Expr::Lit(_) => self.receiver(1).0,
            other => other,
        }
    }

    /// `t *= s` outside loops (or on a local of the current iteration).
    pub(super) fn scale(&mut self) -> Option<Stmt> {
        let targets: Vec<usize> = self
            .mutable_targets()
            .into_iter()
            .filter(|&id| self.vars[id].loop_depth == self.loop_depth && !self.vars[id].hidden)
            .collect();
        if targets.is_empty() {
            return None;
        }
        let id = targets[self.rng.below(targets.len())];
        self.vars[id].mutable = false;
        let (value, mv) = if self.rng.chance(0.5) {
            let v = self.literal(0.5, 1.5);
            (Expr::Lit(v), v.abs())
        } else {
            let s = self.scalar(2);
            Self::within(s, 1.5, Shape::Scalar)
        };
        let v = &mut self.vars[id];
        v.mutable = true;
        v.mag *= mv;
        Some(Stmt::Assign {
            name: v.name.clone(),
            op: "*=",
            value,
        })
    }

    pub(super) fn if_stmt(&mut self) -> Stmt {
        let mut arms = Vec::new();
        for _ in 0..=self.rng.below(3) {
            let c = self.cond(2);
            let body = self.branch();
            arms.push((c, body));
        }
        let otherwise = self.rng.chance(0.6).then(|| self.branch());
        Stmt::If { arms, otherwise }
    }

    pub(super) fn branch(&mut self) -> Vec<Stmt> {
        let saved = self.scope.len();
        self.nest += 1;
        let count = 1 + self.rng.below(3);
        let body = (0..count)
            .map(|_| {
                if self.rng.chance(0.4) {
                    self.assign().unwrap_or_else(|| self.stmt())
                } else {
                    self.stmt()
                }
            })
            .collect();
        self.nest -= 1;
        self.scope.truncate(saved);
        body
    }

    pub(super) fn for_stmt(&mut self) -> Stmt {
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
        // Accumulators of this loop: hidden from reads; other outer variables are reassigned
        // only through squashing functions, so their bound is at least 1.
        for id in self.mutable_targets() {
            if self.vars[id].hidden || self.vars[id].loop_depth != self.loop_depth {
                continue;
            }
            if self.rng.chance(0.5) {
                self.vars[id].hidden = true;
            } else {
                self.vars[id].mag = self.vars[id].mag.max(1.0);
            }
        }
        let hidden: Vec<usize> = (0..self.vars.len())
            .filter(|&id| self.vars[id].hidden)
            .collect();
        let before: Vec<f64> = hidden.iter().map(|&id| self.vars[id].mag).collect();
        let newly: Vec<usize> = hidden
            .iter()
            .copied()
            .filter(|&id| self.vars[id].loop_depth >= self.loop_depth)
            .collect();
        let saved = self.scope.len();
        self.nest += 1;
        self.loop_depth += 1;
        self.counters.push((var.clone(), end));
        let count = 1 + self.rng.below(4);
        let body = self.stmts(count);
        self.counters.pop();
        self.loop_depth -= 1;
        self.nest -= 1;
        self.scope.truncate(saved);
        for (&id, b) in hidden.iter().zip(before) {
            let v = &mut self.vars[id];
            v.mag = b + end as f64 * (v.mag - b);
        }
        for id in newly {
            self.vars[id].hidden = false;
        }
        Stmt::For { var, end, body }
    }

    /// The value: a few locals in scope, reduced to scalars, in a sum with small weights.
    pub(super) fn tail(&mut self) -> Expr {
        let vis = self.visible();
        let mut picked: Vec<usize> = vis
            .iter()
            .rev()
            .copied()
            .filter(|&id| self.vars[id].name.starts_with('t'))
            .take(4)
            .collect();
        if picked.is_empty() {
            picked.push(vis[0]);
        }
        let mut total: Option<Expr> = None;
        for id in picked {
            let (e, mag) = self.var_expr(id);
            let shape = self.vars[id].shape;
            let (term, mag) = match shape {
                Shape::Scalar => (e, mag),
                Shape::Mat(r, c) => match self.rng.below(4) {
                    0 => (
                        Expr::Method("sum", Box::new(e), None),
                        mag * shape.count() as f64,
                    ),
                    1 => (
                        Expr::Method("norm_squared", Box::new(e), None),
                        mag * mag * shape.count() as f64,
                    ),
                    2 if r == c => (
                        Expr::Method("trace", Box::new(e), None),
                        mag * r.size() as f64,
                    ),
                    _ => (self.index(e, shape), mag),
                },
            };
            let (term, _) = Self::tame(term, mag, Shape::Scalar);
            total = Some(match total {
                None => term,
                Some(t) => Expr::Bin(
                    self.rng.pick(&['+', '-']),
                    Mix::Same,
                    Box::new(t),
                    Box::new(term),
                ),
            });
        }
        let total = total.expect("invariant: at least one term");
        if self.rng.chance(0.4) {
            let (extra, _) = self.scalar(2);
            Expr::Bin('+', Mix::Same, Box::new(total), Box::new(extra))
        } else {
            total
        }
    }
}
