//! Every error the edge answers is `{"code": "<gRPC code name>", "message": "..."}` with a
//! JSON content type: upstream statuses go through Kong's table (platform's
//! `http_status`), the edge's own refusals (Kong's jwt, rate-limiting, size limit and
//! router) use the code that names their HTTP status. kong.yml's post-function writes the
//! same body behind Kong.

use axum::body::Body;
use http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use platform::error::{code_name, http_status};
use tonic::Code;

/// An error answer.
#[derive(Debug, Clone)]
pub struct EdgeError {
    pub status: StatusCode,
    pub code: Code,
    pub message: String,
    /// Extra response headers (`grpc-status`, `Retry-After`, …).
    pub headers: HeaderMap,
}

impl EdgeError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::from_u16(http_status(code)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
            message: message.into(),
            headers: HeaderMap::new(),
        }
    }

    /// An error whose HTTP status is fixed by the Kong plugin it stands for.
    pub fn with_status(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code_for_http(status),
            message: message.into(),
            headers: HeaderMap::new(),
        }
    }

    /// Kong's router: no route for this method and path.
    pub fn no_route() -> Self {
        Self::with_status(StatusCode::NOT_FOUND, "no Route matched with those values")
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::with_status(StatusCode::UNAUTHORIZED, message)
    }

    /// Kong's request-size-limiting, word for word (the limit is in kong.yml and logged).
    pub fn too_large(limit: usize) -> Self {
        tracing::debug!(limit, "request body over the limit");
        Self::with_status(StatusCode::PAYLOAD_TOO_LARGE, "Request size limit exceeded")
    }

    /// An error status returned by the upstream: mapped by Kong's table, `grpc-status`,
    /// `grpc-message` and the status's other metadata passed through as headers.
    pub fn from_upstream(status: &tonic::Status) -> Self {
        let mut headers = status.metadata().clone().into_headers();
        // Writes grpc-status, grpc-message (percent-encoded) and grpc-status-details-bin.
        let _ = status.add_header(&mut headers);
        let mut err = Self::new(status.code(), status.message());
        err.headers = headers;
        err
    }

    pub fn header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        error_body(self.code, &self.message)
    }

    pub fn into_response(self) -> Response<Body> {
        let body = self.body();
        let mut res = Response::new(Body::from(body));
        *res.status_mut() = self.status;
        let headers = res.headers_mut();
        for (name, value) in self.headers.iter() {
            headers.append(name.clone(), value.clone());
        }
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        res
    }
}

/// `{"code": ..., "message": ...}`.
pub fn error_body(code: Code, message: &str) -> String {
    serde_json::json!({ "code": code_name(code), "message": message }).to_string()
}

/// The gRPC code that names an HTTP status the edge or a Kong plugin answered by itself
/// (the inverse of Kong's table where it is one-to-one). kong.yml's post-function holds
/// the same table.
pub fn code_for_http(status: StatusCode) -> Code {
    match status.as_u16() {
        400 | 413 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        409 => Code::Aborted,
        429 => Code::ResourceExhausted,
        499 => Code::Cancelled,
        501 => Code::Unimplemented,
        502 | 503 => Code::Unavailable,
        504 => Code::DeadlineExceeded,
        _ => Code::Internal,
    }
}

/// HTTP status → code table rows, for the Lua in kong.yml (kept beside the Rust one).
pub const HTTP_CODE_TABLE: &[(u16, Code)] = &[
    (400, Code::InvalidArgument),
    (401, Code::Unauthenticated),
    (403, Code::PermissionDenied),
    (404, Code::NotFound),
    (409, Code::Aborted),
    (413, Code::InvalidArgument),
    (429, Code::ResourceExhausted),
    (499, Code::Cancelled),
    (501, Code::Unimplemented),
    (502, Code::Unavailable),
    (503, Code::Unavailable),
    (504, Code::DeadlineExceeded),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lua_table_and_the_rust_table_agree() {
        for (status, code) in HTTP_CODE_TABLE {
            assert_eq!(code_for_http(StatusCode::from_u16(*status).unwrap()), *code);
        }
        assert_eq!(code_for_http(StatusCode::INTERNAL_SERVER_ERROR), Code::Internal);
    }

    #[test]
    fn upstream_errors_keep_grpc_headers() {
        let mut status = tonic::Status::not_found("no such expense: ünïcode");
        status.metadata_mut().insert("retry-after", "3".parse().unwrap());
        let err = EdgeError::from_upstream(&status);
        assert_eq!(err.status, StatusCode::NOT_FOUND);
        assert_eq!(err.headers.get("grpc-status").unwrap(), "5");
        assert!(err
            .headers
            .get("grpc-message")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("%C3%BC"));
        assert_eq!(err.headers.get("retry-after").unwrap(), "3");
        assert_eq!(
            err.body(),
            r#"{"code":"NOT_FOUND","message":"no such expense: ünïcode"}"#
        );
    }
}
