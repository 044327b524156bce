//! Kong's router plus the grpc-gateway plugin's path matching: finds the route for a
//! method and path, or answers 404 as Kong does for an unmatched request.

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
        let path = req.uri().path();
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
