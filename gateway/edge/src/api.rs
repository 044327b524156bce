//! The HTTP API, read from the descriptor set: every `google.api.http` rule of every
//! service, as Kong's grpc-gateway plugin reads it (`deco.lua`): verbs get/put/post/
//! patch/delete (no `custom`), the rule itself plus one `additional_bindings`, path
//! templates with `{f}` = `[^/]+`, `{f=*}`, `{f=**}` = `.+`.
//!
//! Both the edge's router and `edge kong-config` take their routes from here.

use std::sync::Arc;

use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor, ServiceDescriptor, Value};

use crate::config::{Config, DescriptorSource};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("cannot read descriptor set {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("invalid descriptor set: {0}")]
    Decode(String),
    #[error("{method}: invalid path template {template:?}: {reason}")]
    Template {
        method: String,
        template: String,
        reason: String,
    },
}

/// The HTTP verbs Kong's grpc-gateway serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verb {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Verb {
    pub const ALL: [Verb; 5] = [Verb::Get, Verb::Post, Verb::Put, Verb::Patch, Verb::Delete];

    /// The `HttpRule` field naming this verb.
    pub fn rule_field(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::Post => "post",
            Verb::Put => "put",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
        }
    }

    pub fn method(self) -> http::Method {
        match self {
            Verb::Get => http::Method::GET,
            Verb::Post => http::Method::POST,
            Verb::Put => http::Method::PUT,
            Verb::Patch => http::Method::PATCH,
            Verb::Delete => http::Method::DELETE,
        }
    }

    pub fn from_method(m: &http::Method) -> Option<Self> {
        Verb::ALL.into_iter().find(|v| v.method() == *m)
    }
}

/// Where the JSON body goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyRule {
    /// No body; query parameters map onto fields.
    None,
    /// `body: "*"`: the JSON object is merged over the path variables.
    Whole,
    /// `body: "field"`: the JSON value becomes that field.
    Field(String),
}

/// One piece of a path template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    /// A variable and the regex its value must match.
    Var {
        name: String,
        pattern: String,
    },
}

/// A compiled `google.api.http` path template.
#[derive(Debug, Clone)]
pub struct PathTemplate {
    pub source: String,
    pieces: Vec<Piece>,
    regex: regex::Regex,
}

impl PathTemplate {
    /// Parses a template the way `deco.lua` does: `{name}` or `{name=segments}` where
    /// segments use `*` (one segment) and `**` (anything).
    pub fn parse(source: &str) -> Result<Self, String> {
        if !source.starts_with('/') {
            return Err("must start with '/'".into());
        }
        let mut pieces = vec![];
        let mut literal = String::new();
        let mut chars = source.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '}' {
                return Err("unbalanced '}'".into());
            }
            if c != '{' {
                literal.push(c);
                continue;
            }
            let mut inner = String::new();
            loop {
                match chars.next() {
                    Some('}') => break,
                    Some('{') | None => return Err("unbalanced '{'".into()),
                    Some(c) => inner.push(c),
                }
            }
            let (name, segs) = match inner.split_once('=') {
                Some((n, s)) => (n.to_owned(), Some(s.to_owned())),
                None => (inner, None),
            };
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.~".contains(c))
            {
                return Err(format!("bad variable name {name:?}"));
            }
            let pattern = match segs.as_deref() {
                None | Some("*") => "[^/]+".to_owned(),
                Some(s) => s
                    .split('/')
                    .map(|seg| match seg {
                        "**" => ".+".to_owned(),
                        "*" => "[^/]+".to_owned(),
                        lit => escape_regex(lit),
                    })
                    .collect::<Vec<_>>()
                    .join("/"),
            };
            if !literal.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(&mut literal)));
            }
            pieces.push(Piece::Var { name, pattern });
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        let regex = regex::Regex::new(&format!("^{}$", Self::regex_body(&pieces, true)))
            .map_err(|e| e.to_string())?;
        Ok(Self {
            source: source.to_owned(),
            pieces,
            regex,
        })
    }

    fn regex_body(pieces: &[Piece], capture: bool) -> String {
        pieces
            .iter()
            .map(|p| match p {
                Piece::Literal(l) => escape_regex(l),
                Piece::Var { pattern, .. } if capture => format!("({pattern})"),
                Piece::Var { pattern, .. } => pattern.clone(),
            })
            .collect()
    }

    /// The Kong route path: a regex (`~` prefix) anchored at the end, or the literal
    /// path when there are no variables (still anchored, so `/v1/expenses` does not
    /// swallow `/v1/expenses/{id}` by prefix).
    pub fn kong_path(&self) -> String {
        format!("~{}$", Self::regex_body(&self.pieces, false))
    }

    /// The template as an OpenAPI path: `{name}` for every variable (`{name=**}` too).
    pub fn openapi_path(&self) -> String {
        self.pieces
            .iter()
            .map(|p| match p {
                Piece::Literal(l) => l.clone(),
                Piece::Var { name, .. } => format!("{{{name}}}"),
            })
            .collect()
    }

    /// Variable names in order (a dotted name stays one literal key, as in Kong).
    pub fn variables(&self) -> Vec<&str> {
        self.pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Var { name, .. } => Some(name.as_str()),
                Piece::Literal(_) => None,
            })
            .collect()
    }

    /// How specific the template is: literal characters count, so `/v1/a/b` beats `/v1/a/{x}`.
    pub fn specificity(&self) -> usize {
        self.pieces
            .iter()
            .map(|p| match p {
                Piece::Literal(l) => l.len(),
                Piece::Var { .. } => 0,
            })
            .sum()
    }

    /// Matches a path normalised as Kong does ([`crate::router::normalize_path`]); returns
    /// the variables.
    pub fn matches(&self, path: &str) -> Option<Vec<(String, String)>> {
        let caps = self.regex.captures(path)?;
        let vars = self.variables();
        Some(
            vars.iter()
                .enumerate()
                // The path is normalised already (router::normalize_path): what is still
                // escaped is reserved, and Kong hands it to the variable as it stands.
                .map(|(i, name)| {
                    let value = caps.get(i + 1).map_or("", |m| m.as_str());
                    ((*name).to_owned(), value.to_owned())
                })
                .collect(),
        )
    }
}

/// Escapes PCRE metacharacters (and nothing else, so Kong paths stay readable).
pub fn escape_regex(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\^$.|?*+()[]{}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One RPC reachable over HTTP.
#[derive(Debug)]
pub struct Rpc {
    pub service: ServiceDescriptor,
    pub method: MethodDescriptor,
    /// `/package.Service/Method`, the gRPC path.
    pub grpc_path: String,
    /// Reachable without a token.
    pub public: bool,
}

impl Rpc {
    pub fn service_name(&self) -> &str {
        self.service.full_name()
    }
    pub fn full_name(&self) -> &str {
        self.method.full_name()
    }
}

/// One HTTP rule of an RPC.
#[derive(Debug, Clone)]
pub struct Route {
    pub rpc: Arc<Rpc>,
    pub verb: Verb,
    pub template: PathTemplate,
    pub body: BodyRule,
    /// 0 for the rule itself, 1 for its additional binding.
    pub binding: usize,
}

impl Route {
    /// A unique, stable name: `pkg.Service.Method` (`-binding-1` for the additional binding).
    pub fn name(&self) -> String {
        if self.binding == 0 {
            self.rpc.full_name().to_owned()
        } else {
            format!("{}-binding-{}", self.rpc.full_name(), self.binding)
        }
    }
}

/// Decodes the configured descriptor set.
pub fn load_pool(config: &Config) -> Result<DescriptorPool, ApiError> {
    match &config.descriptor_set {
        DescriptorSource::Builtin => decode_pool(contracts::FILE_DESCRIPTOR_SET),
        DescriptorSource::File(p) => {
            let path = config.resolve(p);
            let bytes = std::fs::read(&path).map_err(|source| ApiError::Read {
                path: path.clone(),
                source,
            })?;
            decode_pool(&bytes)
        }
    }
}

pub fn decode_pool(bytes: &[u8]) -> Result<DescriptorPool, ApiError> {
    DescriptorPool::decode(bytes).map_err(|e| ApiError::Decode(e.to_string()))
}

/// Every HTTP route of every service in `pool`, in descriptor order.
pub fn routes(pool: &DescriptorPool, is_public: impl Fn(&str, &str) -> bool) -> Result<Vec<Route>, ApiError> {
    let Some(ext) = pool.get_extension_by_name("google.api.http") else {
        return Ok(vec![]);
    };
    let mut out = vec![];
    for service in pool.services() {
        for method in service.methods() {
            let opts = method.options();
            if !opts.has_extension(&ext) {
                continue;
            }
            let rule = match opts.get_extension(&ext).as_ref() {
                Value::Message(m) => m.clone(),
                _ => continue,
            };
            let rpc = Arc::new(Rpc {
                grpc_path: format!("/{}/{}", service.full_name(), method.name()),
                public: is_public(service.full_name(), method.name()),
                service: service.clone(),
                method: method.clone(),
            });
            // Kong's proto parser reads option text without the HttpRule schema, so a
            // repeated `additional_bindings` is one table and the last occurrence wins.
            let mut rules = vec![rule.clone()];
            if let Some(Value::List(extra)) = rule.get_field_by_name("additional_bindings").as_deref() {
                if let Some(Value::Message(b)) = extra.last() {
                    rules.push(b.clone());
                }
                if extra.len() > 1 {
                    tracing::warn!(
                        method = method.full_name(),
                        "more than one additional_binding; Kong serves only the last"
                    );
                }
            }
            for (binding, r) in rules.iter().enumerate() {
                if let Some(route) = route_of(&rpc, r, binding)? {
                    out.push(route);
                }
            }
        }
    }
    Ok(out)
}

fn route_of(rpc: &Arc<Rpc>, rule: &DynamicMessage, binding: usize) -> Result<Option<Route>, ApiError> {
    for verb in Verb::ALL {
        if !rule.has_field_by_name(verb.rule_field()) {
            continue;
        }
        let path = rule
            .get_field_by_name(verb.rule_field())
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let template = PathTemplate::parse(&path).map_err(|reason| ApiError::Template {
            method: rpc.full_name().to_owned(),
            template: path.clone(),
            reason,
        })?;
        if template.variables().iter().any(|v| v.contains('.')) {
            tracing::warn!(
                method = rpc.full_name(),
                template = %path,
                "dotted path variable: Kong binds it to the literal key, i.e. to no field"
            );
        }
        let body = match rule
            .get_field_by_name("body")
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
            .as_str()
        {
            "" => BodyRule::None,
            "*" => BodyRule::Whole,
            f => BodyRule::Field(f.to_owned()),
        };
        return Ok(Some(Route {
            rpc: rpc.clone(),
            verb,
            template,
            body,
            binding,
        }));
    }
    // `custom` verbs and empty rules: Kong ignores them.
    Ok(None)
}

/// The proto file (name inside the descriptor set) that defines `service`.
pub fn service_file(service: &ServiceDescriptor) -> String {
    service.parent_file().name().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_like_deco_lua() {
        let t = PathTemplate::parse("/v1/expenses/{id}").unwrap();
        assert_eq!(
            t.matches("/v1/expenses/abc"),
            Some(vec![("id".into(), "abc".into())])
        );
        assert_eq!(t.matches("/v1/expenses/a/b"), None);
        assert_eq!(t.matches("/v1/expenses/"), None);
        assert_eq!(t.kong_path(), "~/v1/expenses/[^/]+$");

        let t = PathTemplate::parse("/v1/{name=shelves/*/books/**}").unwrap();
        assert_eq!(
            t.matches("/v1/shelves/1/books/a/b"),
            Some(vec![("name".into(), "shelves/1/books/a/b".into())])
        );
        let t = PathTemplate::parse("/v1/a.b").unwrap();
        assert!(t.matches("/v1/axb").is_none(), "literals are escaped");
        assert_eq!(t.kong_path(), "~/v1/a\\.b$");
    }

    #[test]
    fn path_variables_take_the_normalised_path_as_it_stands() {
        let t = PathTemplate::parse("/v1/x/{id}").unwrap();
        let path = crate::router::normalize_path("/v1/x/a%20b%2fc");
        assert_eq!(t.matches(&path), Some(vec![("id".into(), "a b%2Fc".into())]));
    }

    #[test]
    fn every_annotated_rpc_of_the_contracts_becomes_a_route() {
        let pool = decode_pool(contracts::FILE_DESCRIPTOR_SET).unwrap();
        let routes = routes(&pool, |s, _| s.ends_with("AuthService")).unwrap();
        assert_eq!(routes.len(), 26);
        let get = routes
            .iter()
            .find(|r| r.rpc.full_name() == "expense_tracker.expense.v1.ExpenseService.GetExpense")
            .unwrap();
        assert_eq!(get.verb, Verb::Get);
        assert_eq!(get.body, BodyRule::None);
        assert_eq!(
            get.rpc.grpc_path,
            "/expense_tracker.expense.v1.ExpenseService/GetExpense"
        );
        assert!(routes
            .iter()
            .filter(|r| r.rpc.public)
            .all(|r| r.rpc.service_name().ends_with("AuthService")));
    }
}
