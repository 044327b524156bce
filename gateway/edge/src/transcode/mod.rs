//! JSON ⇄ protobuf the way Kong's grpc-gateway does it: requests through lua-protobuf's
//! `pb.encode` of a Lua table built from path variables, query or body; responses through
//! `cjson.encode(pb.decode(...))` — not the proto3 JSON mapping.

pub mod lua;
pub mod request;
pub mod response;
#[cfg(test)]
mod tests;

/// Why a request could not be turned into a protobuf message. Kong answers 400 to all.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TranscodeError {
    /// The body is not JSON (Kong: `decode json err: …`).
    #[error("decode json err: {0}")]
    Json(String),
    /// `body: "*"` with a JSON value that is not an object.
    #[error("body must be a table")]
    NotAnObject,
    /// A value does not fit its field (Kong: `failed to encode payload`).
    #[error("failed to encode payload: {0}")]
    Encode(String),
}

pub const TIMESTAMP: &str = "google.protobuf.Timestamp";
