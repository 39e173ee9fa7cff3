//! Expressions and call variables: evaluation of the graph's [`Expr`] against a call.

use std::collections::BTreeMap;

use centralino_compiler::graph::{BinaryOp, Expr, Function, Graph};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::Presence;

/// A call variable's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Str(String),
}

impl Value {
    pub fn truthy(&self) -> bool {
        match self {
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Str(s) => !s.is_empty(),
        }
    }

    fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(_) => None,
            Value::Str(s) => s.trim().parse().ok(),
        }
    }

    fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Str(s) => serde_json::Value::String(s.clone()),
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Str(s) => f.write_str(s),
        }
    }
}

/// What an expression can see.
pub struct Context<'a> {
    pub vars: &'a BTreeMap<String, Value>,
    pub graph: &'a Graph,
    pub presence: &'a dyn Presence,
    pub now: Timestamp,
}

impl Context<'_> {
    /// Variables as nested JSON (`ticket.ref` -> `{"ticket": {"ref": ...}}`), for templates.
    pub fn template_values(&self) -> serde_json::Value {
        let mut root = serde_json::Map::new();
        for (name, value) in self.vars {
            insert_path(&mut root, name, value.to_json());
        }
        serde_json::Value::Object(root)
    }
}

fn insert_path(
    map: &mut serde_json::Map<String, serde_json::Value>,
    path: &str,
    value: serde_json::Value,
) {
    match path.split_once('.') {
        None => {
            // A scalar never replaces an object made by a dotted name.
            if !map.get(path).is_some_and(serde_json::Value::is_object) {
                map.insert(path.to_owned(), value);
            }
        }
        Some((head, rest)) => {
            let entry = map
                .entry(head.to_owned())
                .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
            if !entry.is_object() {
                *entry = serde_json::Value::Object(serde_json::Map::new());
            }
            if let serde_json::Value::Object(inner) = entry {
                insert_path(inner, rest, value);
            }
        }
    }
}

/// A webhook's JSON answer stored under `var`: objects become dotted names.
pub fn flatten(var: &str, value: &serde_json::Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    flatten_into(var, value, 0, &mut out);
    out
}

fn flatten_into(
    name: &str,
    value: &serde_json::Value,
    depth: usize,
    out: &mut Vec<(String, Value)>,
) {
    match value {
        serde_json::Value::Object(map) if depth < 4 => {
            for (k, v) in map {
                flatten_into(&format!("{name}.{k}"), v, depth + 1, out);
            }
        }
        serde_json::Value::Bool(b) => out.push((name.to_owned(), Value::Bool(*b))),
        serde_json::Value::Number(n) => out.push((
            name.to_owned(),
            n.as_i64()
                .map_or_else(|| Value::Str(n.to_string()), Value::Int),
        )),
        serde_json::Value::String(s) => out.push((name.to_owned(), Value::Str(s.clone()))),
        serde_json::Value::Null => out.push((name.to_owned(), Value::Str(String::new()))),
        other => out.push((name.to_owned(), Value::Str(other.to_string()))),
    }
}

/// Evaluate an expression. Unknown variables are empty text; nothing fails.
pub fn eval(expr: &Expr, context: &Context<'_>) -> Value {
    match expr {
        Expr::Bool(b) => Value::Bool(*b),
        Expr::Int(i) => Value::Int(*i),
        Expr::Str(s) | Expr::Name(s) => Value::Str(s.clone()),
        Expr::Var(name) => context
            .vars
            .get(name)
            .cloned()
            .unwrap_or_else(|| Value::Str(String::new())),
        Expr::Not(inner) => Value::Bool(!eval(inner, context).truthy()),
        Expr::Binary { op, left, right } => binary(*op, left, right, context),
        Expr::Call { function, args } => call(*function, args, context),
    }
}

fn binary(op: BinaryOp, left: &Expr, right: &Expr, context: &Context<'_>) -> Value {
    // `and`/`or` short-circuit.
    match op {
        BinaryOp::And => {
            return Value::Bool(eval(left, context).truthy() && eval(right, context).truthy());
        }
        BinaryOp::Or => {
            return Value::Bool(eval(left, context).truthy() || eval(right, context).truthy());
        }
        _ => {}
    }
    let l = eval(left, context);
    let r = eval(right, context);
    let numbers = l.as_int().zip(r.as_int());
    match op {
        BinaryOp::Add => match numbers {
            Some((a, b)) => Value::Int(a.saturating_add(b)),
            None => Value::Str(format!("{l}{r}")),
        },
        BinaryOp::Sub => Value::Int(numbers.map_or(0, |(a, b)| a.saturating_sub(b))),
        BinaryOp::Eq => Value::Bool(match numbers {
            Some((a, b)) => a == b,
            None => l.to_string() == r.to_string(),
        }),
        BinaryOp::Ne => Value::Bool(match numbers {
            Some((a, b)) => a != b,
            None => l.to_string() != r.to_string(),
        }),
        BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
            let ordering = match numbers {
                Some((a, b)) => a.cmp(&b),
                None => l.to_string().cmp(&r.to_string()),
            };
            Value::Bool(match op {
                BinaryOp::Lt => ordering.is_lt(),
                BinaryOp::Le => ordering.is_le(),
                BinaryOp::Gt => ordering.is_gt(),
                _ => ordering.is_ge(),
            })
        }
        BinaryOp::And | BinaryOp::Or => Value::Bool(false),
    }
}

fn name_arg(args: &[Expr]) -> Option<&str> {
    match args.first() {
        Some(Expr::Name(name)) => Some(name),
        _ => None,
    }
}

fn call(function: Function, args: &[Expr], context: &Context<'_>) -> Value {
    let graph = context.graph;
    match function {
        Function::Open | Function::Closed => {
            let open = name_arg(args)
                .and_then(|name| graph.calendars.get(name))
                .is_some_and(|c| crate::calendar::is_open(c, context.now));
            Value::Bool(if function == Function::Open {
                open
            } else {
                !open
            })
        }
        Function::Holiday => Value::Bool(
            name_arg(args)
                .and_then(|name| graph.calendars.get(name))
                .is_some_and(|c| crate::calendar::closure_on(c, context.now).is_some()),
        ),
        Function::Available => {
            let available = name_arg(args)
                .and_then(|name| graph.offices.get(name))
                .is_some_and(|office| {
                    let open = office
                        .hours
                        .as_ref()
                        .and_then(|h| graph.calendars.get(h))
                        .is_none_or(|c| crate::calendar::is_open(c, context.now));
                    open && office
                        .staff
                        .iter()
                        .any(|s| context.presence.is_present(&s.contact))
                });
            Value::Bool(available)
        }
        Function::StartsWith => {
            let mut values = args.iter().map(|a| eval(a, context).to_string());
            let text = values.next().unwrap_or_default();
            let prefix = values.next().unwrap_or_default();
            Value::Bool(text.starts_with(&prefix))
        }
        Function::Len => Value::Int(args.first().map_or(0, |a| {
            i64::try_from(eval(a, context).to_string().chars().count()).unwrap_or(i64::MAX)
        })),
    }
}
