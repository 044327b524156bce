//! Kong's router plus the grpc-gateway plugin's path matching: finds the route for a
//! method and path, or answers 404 as Kong does for an unmatched request. Both see the
//! path as Kong normalises it first ([`normalize_path`]).

use std::sync::Arc;

use axum::body::Body;
use http::{Method, Request, Response, StatusCode};

use crate::{
    api::{Route, Verb},
    error::EdgeError,
    middleware::{middleware_layer, BoxFuture, Middleware, Next},
};

/// The matched route and its path variables, for the layers below.
#[derive(Debug, Clone)]
pub struct Matched {
    pub route: Arc<Route>,
    pub vars: Vec<(String, String)>,
}

/// All routes, most specific template first per verb.
#[derive(Debug, Clone)]
pub struct RouteTable {
    routes: Arc<Vec<Arc<Route>>>,
}

impl RouteTable {
    pub fn new(routes: Vec<Route>) -> Self {
        let mut routes: Vec<(usize, Arc<Route>)> = routes.into_iter().map(Arc::new).enumerate().collect();
        // Kong orders regex routes by `regex_priority` (kong.yml sets it to the same
        // specificity); declaration order breaks ties, as in deco.lua.
        routes.sort_by(|(ia, a), (ib, b)| {
            b.template
                .specificity()
                .cmp(&a.template.specificity())
                .then(ia.cmp(ib))
        });
        Self {
            routes: Arc::new(routes.into_iter().map(|(_, r)| r).collect()),
        }
    }

    pub fn routes(&self) -> &[Arc<Route>] {
        &self.routes
    }

    pub fn find(&self, verb: Verb, path: &str) -> Option<Matched> {
        self.routes.iter().filter(|r| r.verb == verb).find_map(|r| {
            r.template.matches(path).map(|vars| Matched {
                route: r.clone(),
                vars,
            })
        })
    }

    fn knows_path(&self, path: &str) -> bool {
        self.routes.iter().any(|r| r.template.matches(path).is_some())
    }
}

/// Resolves the route; 404 when there is none.
#[derive(Clone)]
pub struct RouteLayer {
    table: RouteTable,
}

impl RouteLayer {
    pub fn new(table: RouteTable) -> Self {
        Self { table }
    }
}

middleware_layer!(RouteLayer);

impl Middleware for RouteLayer {
    fn handle(&self, mut req: Request<Body>, next: Next) -> BoxFuture<Response<Body>> {
        let normalized = normalize_path(req.uri().path());
        let path = normalized.as_str();
        if req.method() == Method::OPTIONS {
            // A non-preflight OPTIONS (the CORS layer answered real preflights already):
            // grpc-gateway answers any OPTIONS on its routes with 200.
            let known = self.table.knows_path(path);
            return Box::pin(async move {
                if known {
                    let mut res = Response::new(Body::empty());
                    *res.status_mut() = StatusCode::OK;
                    res
                } else {
                    EdgeError::no_route().into_response()
                }
            });
        }
        let matched = Verb::from_method(req.method()).and_then(|v| self.table.find(v, path));
        match matched {
            Some(m) => {
                req.extensions_mut().insert(m);
                Box::pin(next.run(req))
            }
            None => Box::pin(async { EdgeError::no_route().into_response() }),
        }
    }
}

// === path normalisation ===

/// RFC 3986 reserved characters: Kong keeps their escapes (upper-cased), since decoding
/// them would change what the path means (`a%2Fb` is one segment).
const RESERVED: &[u8] = b"!*'();:@&=+$,/?%#[]";

/// The path as Kong routes it and as grpc-gateway reads its variables
/// (`kong.request.get_path()` = `kong/tools/uri.lua`'s `normalize(path, true)`):
/// percent-escapes of unreserved and other characters decoded, reserved ones kept and
/// upper-cased, then dot segments resolved and `//` merged. Bytes that are not UTF-8
/// after decoding become U+FFFD (a gRPC string must be UTF-8).
pub fn normalize_path(raw: &str) -> String {
    if raw.is_empty() || raw == "/" {
        return raw.to_owned();
    }
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                let byte = (h * 16 + l) as u8;
                if RESERVED.contains(&byte) {
                    decoded.extend_from_slice(&[
                        b'%',
                        bytes[i + 1].to_ascii_uppercase(),
                        bytes[i + 2].to_ascii_uppercase(),
                    ]);
                } else {
                    decoded.push(byte);
                }
                i += 3;
                continue;
            }
        }
        decoded.push(bytes[i]);
        i += 1;
    }
    let needs_segments = decoded.contains(&b'.') || decoded.windows(2).any(|w| w == b"//");
    let path = if needs_segments {
        remove_dot_segments(&decoded)
    } else {
        decoded
    };
    String::from_utf8_lossy(&path).into_owned()
}

/// `normalize`'s loop in kong/tools/uri.lua, step for step (merge_slashes on).
fn remove_dot_segments(input: &[u8]) -> Vec<u8> {
    let mut buf = input.to_vec();
    let mut start = 0;
    let mut out: Vec<Vec<u8>> = vec![];
    let mut n = 0;
    while start < buf.len() {
        let u = &buf[start..];
        if u == b"/." {
            buf = b"/".to_vec();
            start = 0;
        } else if u == b"/.." {
            buf = b"/".to_vec();
            start = 0;
            n = usize::saturating_sub(n, 1);
        } else if u == b"." || u == b".." {
            start = buf.len();
        } else if u.starts_with(b"../") {
            start += 3;
        } else if u.starts_with(b"./") || u.starts_with(b"/./") {
            start += 2;
        } else if u.starts_with(b"/../") {
            start += 3;
            n = usize::saturating_sub(n, 1);
        } else if u.starts_with(b"//") {
            start += 1;
        } else {
            // One segment: up to the next `/` after the first character.
            let end = u[1..].iter().position(|&c| c == b'/').map_or(u.len(), |p| p + 1);
            let segment = u[..end].to_vec();
            if n < out.len() {
                out[n] = segment;
            } else {
                out.push(segment);
            }
            n += 1;
            start += end;
        }
    }
    out[..n].concat()
}

#[cfg(test)]
mod tests {
    use super::normalize_path;

    #[test]
    fn paths_normalise_as_in_kongs_uri_lua() {
        // The example of kong.request.get_path()'s documentation.
        assert_eq!(
            normalize_path("/t/Abc%20123%C3%B8%2f/parent/..//test/./"),
            "/t/Abc 123ø%2F/test/"
        );
        for (raw, want) in [
            ("/", "/"),
            ("/v1/expenses", "/v1/expenses"),
            ("/v1//expenses///e1", "/v1/expenses/e1"),
            ("/v1/./expenses/.", "/v1/expenses/"),
            ("/v1/x/../expenses/..", "/v1/"),
            ("/../../v1", "/v1"),
            ("/v1/%2e%2E/v2", "/v2"),
            ("/v1/%7e%41%3a%3F", "/v1/~A%3A%3F"),
            ("/v1/50%", "/v1/50%"),
            ("/v1/%zz%4", "/v1/%zz%4"),
            ("/v1/%FF", "/v1/\u{fffd}"),
            ("/..", "/"),
            ("/a/b/../../..", "/"),
        ] {
            assert_eq!(normalize_path(raw), want, "{raw}");
        }
    }
}
