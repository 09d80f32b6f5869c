//! Metadata policy (OpenID Federation 1.0 §6.1): the standard operators `value`, `add`,
//! `default`, `one_of`, `subset_of`, `superset_of`, `essential`, their merge across
//! superiors and their application to the leaf's metadata. An operator outside these is
//! ignored unless `metadata_policy_crit` names it, then the chain is refused.

use serde_json::{Map, Value};

use super::statement::MAX_LIST;
use super::OidcError;

/// The operators understood.
pub const OPERATORS: [&str; 7] = [
    "value",
    "add",
    "default",
    "one_of",
    "subset_of",
    "superset_of",
    "essential",
];
const MAX_PARAMETERS: usize = 128;

fn conflict(parameter: &str, reason: &'static str) -> OidcError {
    OidcError::PolicyConflict {
        parameter: parameter.chars().take(64).collect(),
        reason,
    }
}

fn violation(parameter: &str, reason: &'static str) -> OidcError {
    OidcError::PolicyViolation {
        parameter: parameter.chars().take(64).collect(),
        reason,
    }
}

fn as_list<'a>(v: &'a Value, parameter: &str) -> Result<&'a Vec<Value>, OidcError> {
    match v.as_array() {
        Some(a) if a.len() <= MAX_PARAMETERS => Ok(a),
        _ => Err(conflict(parameter, "operator value not a bounded array")),
    }
}

/// Values as a list (a scalar counts as a list of one).
fn values_of(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    }
}

fn subset(a: &[Value], b: &[Value]) -> bool {
    a.iter().all(|x| b.contains(x))
}

fn union(a: &[Value], b: &[Value]) -> Vec<Value> {
    let mut out = a.to_vec();
    for x in b {
        if !out.contains(x) {
            out.push(x.clone());
        }
    }
    out
}

fn intersection(a: &[Value], b: &[Value]) -> Vec<Value> {
    a.iter().filter(|x| b.contains(x)).cloned().collect()
}

fn ops_of<'a>(v: &'a Value, parameter: &str) -> Result<&'a Map<String, Value>, OidcError> {
    v.as_object()
        .ok_or_else(|| conflict(parameter, "policy entry not an object"))
}

/// Merges two operator sets for one parameter (superior first).
fn merge_ops(
    parameter: &str,
    sup: &Map<String, Value>,
    sub: &Map<String, Value>,
) -> Result<Map<String, Value>, OidcError> {
    let mut out = sup.clone();
    for (op, b) in sub {
        let Some(a) = sup.get(op) else {
            out.insert(op.clone(), b.clone());
            continue;
        };
        let merged = match op.as_str() {
            "add" | "superset_of" => {
                Value::Array(union(as_list(a, parameter)?, as_list(b, parameter)?))
            }
            "one_of" => {
                let i = intersection(as_list(a, parameter)?, as_list(b, parameter)?);
                if i.is_empty() {
                    return Err(conflict(parameter, "one_of intersection empty"));
                }
                Value::Array(i)
            }
            "subset_of" => {
                Value::Array(intersection(as_list(a, parameter)?, as_list(b, parameter)?))
            }
            "essential" => Value::Bool(a.as_bool() == Some(true) || b.as_bool() == Some(true)),
            // value, default and unknown operators: equal or conflict.
            _ => {
                if a != b {
                    return Err(conflict(
                        parameter,
                        "different values for the same operator",
                    ));
                }
                a.clone()
            }
        };
        out.insert(op.clone(), merged);
    }
    check_combination(parameter, &out)?;
    Ok(out)
}

/// The rules on operators that appear together (§6.1.3.1).
fn check_combination(parameter: &str, ops: &Map<String, Value>) -> Result<(), OidcError> {
    let list = |name: &str| ops.get(name).map(values_of);
    if let Some(e) = ops.get("essential") {
        if !e.is_boolean() {
            return Err(conflict(parameter, "essential not a boolean"));
        }
    }
    if ops.contains_key("one_of")
        && (ops.contains_key("add")
            || ops.contains_key("subset_of")
            || ops.contains_key("superset_of"))
    {
        return Err(conflict(parameter, "one_of with add/subset_of/superset_of"));
    }
    if let Some(value) = ops.get("value") {
        let v = values_of(value);
        if let Some(add) = list("add") {
            if !value.is_null() && !subset(&add, &v) {
                return Err(conflict(parameter, "add not within value"));
            }
        }
        if let Some(one_of) = list("one_of") {
            if !value.is_null() && !one_of.contains(value) {
                return Err(conflict(parameter, "value not in one_of"));
            }
        }
        if let Some(s) = list("subset_of") {
            if !value.is_null() && !subset(&v, &s) {
                return Err(conflict(parameter, "value not a subset of subset_of"));
            }
        }
        if let Some(s) = list("superset_of") {
            if !value.is_null() && !subset(&s, &v) {
                return Err(conflict(parameter, "value not a superset of superset_of"));
            }
        }
        if value.is_null() && ops.get("essential") == Some(&Value::Bool(true)) {
            return Err(conflict(parameter, "value null but essential"));
        }
    }
    if let (Some(add), Some(s)) = (list("add"), list("subset_of")) {
        if !subset(&add, &s) {
            return Err(conflict(parameter, "add not within subset_of"));
        }
    }
    if let (Some(sup), Some(sub)) = (list("superset_of"), list("subset_of")) {
        if !subset(&sup, &sub) {
            return Err(conflict(parameter, "superset_of not within subset_of"));
        }
    }
    Ok(())
}

/// Merges a superior's policy for one entity type with its subordinate's (the superior
/// closer to the trust anchor first).
pub fn combine_policies(
    superior: &Map<String, Value>,
    subordinate: &Map<String, Value>,
) -> Result<Map<String, Value>, OidcError> {
    if superior.len() > MAX_PARAMETERS || subordinate.len() > MAX_PARAMETERS {
        return Err(OidcError::TooLarge {
            what: "metadata policy",
        });
    }
    let mut out = Map::new();
    for (p, ops) in superior {
        let ops = ops_of(ops, p)?;
        check_combination(p, ops)?;
        out.insert(p.clone(), Value::Object(ops.clone()));
    }
    for (p, ops) in subordinate {
        let sub = ops_of(ops, p)?;
        let merged = match out.get(p) {
            Some(sup) => merge_ops(p, ops_of(sup, p)?, sub)?,
            None => {
                check_combination(p, sub)?;
                sub.clone()
            }
        };
        out.insert(p.clone(), Value::Object(merged));
    }
    Ok(out)
}

/// Applies a (combined) policy for one entity type to that type's metadata. `crit` lists
/// operators that must be understood (`metadata_policy_crit`).
pub fn apply_policy(
    metadata: &Map<String, Value>,
    policy: &Map<String, Value>,
    crit: &[String],
) -> Result<Map<String, Value>, OidcError> {
    if policy.len() > MAX_PARAMETERS || crit.len() > MAX_LIST {
        return Err(OidcError::TooLarge {
            what: "metadata policy",
        });
    }
    let mut out = metadata.clone();
    for (p, ops) in policy {
        let ops = ops_of(ops, p)?;
        check_combination(p, ops)?;
        for op in ops.keys() {
            if !OPERATORS.contains(&op.as_str()) && crit.iter().any(|c| c == op) {
                return Err(violation(p, "unknown critical operator"));
            }
        }
        if let Some(value) = ops.get("value") {
            if value.is_null() {
                out.remove(p);
            } else {
                out.insert(p.clone(), value.clone());
            }
        }
        if let Some(add) = ops.get("add") {
            let add = values_of(add);
            let merged = match out.get(p) {
                Some(Value::Array(cur)) => union(cur, &add),
                Some(_) => return Err(violation(p, "add on a non-array")),
                None => add,
            };
            out.insert(p.clone(), Value::Array(merged));
        }
        if let Some(default) = ops.get("default") {
            if !out.contains_key(p) && !default.is_null() {
                out.insert(p.clone(), default.clone());
            }
        }
        if let (Some(one_of), Some(cur)) = (ops.get("one_of"), out.get(p)) {
            if !values_of(one_of).contains(cur) {
                return Err(violation(p, "one_of"));
            }
        }
        if let Some(s) = ops.get("subset_of") {
            if let Some(cur) = out.get(p) {
                let Value::Array(cur) = cur else {
                    return Err(violation(p, "subset_of on a non-array"));
                };
                let kept = intersection(cur, &values_of(s));
                if kept.is_empty() {
                    out.remove(p);
                } else {
                    out.insert(p.clone(), Value::Array(kept));
                }
            }
        }
        if let (Some(s), Some(cur)) = (ops.get("superset_of"), out.get(p)) {
            if !subset(&values_of(s), &values_of(cur)) {
                return Err(violation(p, "superset_of"));
            }
        }
        if ops.get("essential") == Some(&Value::Bool(true)) && !out.contains_key(p) {
            return Err(violation(p, "essential parameter missing"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn operators_apply_in_order() {
        let policy = m(json!({
            "scope": {"subset_of": ["openid", "profile"], "superset_of": ["openid"]},
            "grant_types": {"add": ["refresh_token"]},
            "token_endpoint_auth_method": {"one_of": ["private_key_jwt"], "essential": true},
            "id_token_signed_response_alg": {"default": "RS256"},
            "contacts": {"value": null},
            "client_name": {"value": "Ente"}
        }));
        let md = m(json!({
            "scope": ["openid", "profile", "email"],
            "grant_types": ["authorization_code"],
            "token_endpoint_auth_method": "private_key_jwt",
            "contacts": ["a@b.example"],
            "client_name": "x"
        }));
        let out = apply_policy(&md, &policy, &[]).unwrap();
        assert_eq!(out["scope"], json!(["openid", "profile"]));
        assert_eq!(
            out["grant_types"],
            json!(["authorization_code", "refresh_token"])
        );
        assert_eq!(out["id_token_signed_response_alg"], json!("RS256"));
        assert!(!out.contains_key("contacts"));
        assert_eq!(out["client_name"], json!("Ente"));
    }

    #[test]
    fn violations_and_conflicts_are_named() {
        let md =
            m(json!({"token_endpoint_auth_method": "client_secret_basic", "scope": ["profile"]}));
        let p = m(json!({"token_endpoint_auth_method": {"one_of": ["private_key_jwt"]}}));
        assert_eq!(
            apply_policy(&md, &p, &[]).unwrap_err().code(),
            "oidc_policy_violation"
        );
        let p = m(json!({"scope": {"superset_of": ["openid"]}}));
        assert_eq!(
            apply_policy(&md, &p, &[]).unwrap_err().code(),
            "oidc_policy_violation"
        );
        let p = m(json!({"jwks": {"essential": true}}));
        assert_eq!(
            apply_policy(&md, &p, &[]).unwrap_err().code(),
            "oidc_policy_violation"
        );
        let p = m(json!({"scope": {"x_custom": 1}}));
        assert!(apply_policy(&md, &p, &[]).is_ok());
        assert_eq!(
            apply_policy(&md, &p, &["x_custom".to_owned()])
                .unwrap_err()
                .code(),
            "oidc_policy_violation"
        );
        let a = m(json!({"client_name": {"value": "A"}}));
        let b = m(json!({"client_name": {"value": "B"}}));
        assert_eq!(
            combine_policies(&a, &b).unwrap_err().code(),
            "oidc_policy_conflict"
        );
        let a = m(json!({"alg": {"one_of": ["RS256"]}}));
        let b = m(json!({"alg": {"one_of": ["ES256"]}}));
        assert_eq!(
            combine_policies(&a, &b).unwrap_err().code(),
            "oidc_policy_conflict"
        );
        let a = m(json!({"scope": {"subset_of": ["openid"]}}));
        let b = m(json!({"scope": {"add": ["profile"]}}));
        assert_eq!(
            combine_policies(&a, &b).unwrap_err().code(),
            "oidc_policy_conflict"
        );
    }

    #[test]
    fn merge_rules() {
        let a = m(
            json!({"scope": {"subset_of": ["openid", "profile", "email"], "essential": false},
                         "g": {"add": ["a"]}, "o": {"one_of": ["x", "y"]}}),
        );
        let b = m(
            json!({"scope": {"subset_of": ["openid", "profile"], "essential": true},
                         "g": {"add": ["b"]}, "o": {"one_of": ["y", "z"]}}),
        );
        let c = combine_policies(&a, &b).unwrap();
        assert_eq!(c["scope"]["subset_of"], json!(["openid", "profile"]));
        assert_eq!(c["scope"]["essential"], json!(true));
        assert_eq!(c["g"]["add"], json!(["a", "b"]));
        assert_eq!(c["o"]["one_of"], json!(["y"]));
    }
}
