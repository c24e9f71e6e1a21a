//! The fallback derivation: the adjoint program line by line (`ḡn += …`, `tk = …`), each
//! parameter's gradient as the adjoint it ends in, then the definitions of the values the
//! lines read, under a legend that says what the marks mean.

use crate::adjoint::Step;
use crate::ir::Op;

use super::notation::plain;
use super::{Derivation, Deriver};

impl Deriver<'_> {
    /// The fallback: the adjoint program line by line, then the values it reads.
    pub(super) fn program(&self, params: &[(usize, String)]) -> Derivation {
        let mut lines = Vec::new();
        for step in &self.adj.steps {
            match step {
                Step::Add { target, expr } => {
                    let node = &self.prog.nodes[*target];
                    let label = if node.name.is_some() || matches!(node.op, Op::Param(_)) {
                        format!(" ({})", self.value(*target).text)
                    } else {
                        String::new()
                    };
                    lines.push(format!("ḡ{target}{label} += {}", self.render(expr).text));
                }
                // A product the planner shares is not part of the adjoint program.
                Step::Share { index, .. } if *index >= crate::reuse::SHARED_PRODUCTS => {}
                Step::Share { index, expr } => {
                    lines.push(format!("t{index} = {}", self.render(expr).text));
                }
            }
        }
        for (index, name) in params {
            match self
                .prog
                .param_node(*index)
                .filter(|&p| self.adj.nonzero[p])
            {
                Some(p) => lines.push(format!("∇{} = ḡ{p}", plain(name))),
                None => lines.push(format!("∇{} = 0", plain(name))),
            }
        }
        let definitions = self.values.definitions(&lines);
        let mut out = vec![LEGEND.to_string()];
        out.append(&mut lines);
        if !definitions.is_empty() {
            out.push(String::new());
            out.push("where".to_string());
            out.extend(definitions);
        }
        Derivation {
            lines: out,
            closed: Vec::new(),
        }
    }
}

/// The first line of the adjoint program.
const LEGEND: &str = "the adjoint program, where ḡn is the gradient of the result with respect \
     to value n, tk a value it shares (tk.i its entry i), ∂if(c; ḡ…) the gradients through the \
     branch the condition c takes, and ∂f(…; ḡ) those through a call of f:";
