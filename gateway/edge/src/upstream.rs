//! The gRPC side: one lazily connected HTTP/2 channel per upstream address, unary calls
//! with raw protobuf bytes (`tonic::client::Grpc` with a pass-through codec, so nothing
//! here knows any service), and health checks for `/healthz`.

use std::{collections::BTreeMap, time::Duration};

use bytes::{Buf, BufMut, Bytes};
use tonic::{
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
    metadata::MetadataMap,
    transport::{Channel, Endpoint},
    Status,
};
use tonic_health::pb::{
    health_check_response::ServingStatus, health_client::HealthClient, HealthCheckRequest,
};

use crate::config::Config;

/// An upstream gRPC service the edge can call.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub service: String,
    pub address: String,
    pub timeout: Duration,
    channel: Channel,
}

/// Every configured upstream, by fully qualified service name.
#[derive(Debug, Clone, Default)]
pub struct Upstreams {
    by_service: BTreeMap<String, Upstream>,
}

impl Upstreams {
    /// Channels are lazy: the edge starts even when upstreams are down, and reconnects.
    pub fn new(config: &Config) -> Result<Self, tonic::transport::Error> {
        let mut channels: BTreeMap<String, Channel> = BTreeMap::new();
        let mut by_service = BTreeMap::new();
        for (service, up) in &config.upstreams {
            let uri = up.uri();
            let channel = match channels.get(&uri) {
                Some(c) => c.clone(),
                None => {
                    let c = Endpoint::from_shared(uri.clone())?
                        .connect_timeout(up.connect_timeout())
                        .tcp_nodelay(true)
                        .http2_keep_alive_interval(Duration::from_secs(30))
                        .keep_alive_while_idle(true)
                        .connect_lazy();
                    channels.insert(uri.clone(), c.clone());
                    c
                }
            };
            by_service.insert(
                service.clone(),
                Upstream {
                    service: service.clone(),
                    address: uri,
                    timeout: up.timeout(),
                    channel,
                },
            );
        }
        Ok(Self { by_service })
    }

    pub fn get(&self, service: &str) -> Option<&Upstream> {
        self.by_service.get(service)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Upstream> {
        self.by_service.values()
    }
}

/// Whether a failed call's status came from the upstream (vs. the transport).
#[derive(Debug)]
pub enum CallError {
    /// The upstream answered with this status.
    Status(Status),
    /// The upstream could not be reached.
    Unreachable(String),
    /// No answer within the timeout.
    Timeout,
}

impl Upstream {
    /// `POST <grpc_path>` with `content-type: application/grpc` and `metadata`.
    pub async fn unary(
        &self,
        grpc_path: &str,
        message: Bytes,
        metadata: MetadataMap,
    ) -> Result<(MetadataMap, Bytes), CallError> {
        let path: http::uri::PathAndQuery = grpc_path
            .parse()
            .map_err(|e| CallError::Unreachable(format!("bad gRPC path {grpc_path}: {e}")))?;
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        let call = async {
            grpc.ready()
                .await
                .map_err(|e| CallError::Unreachable(format!("{}: {e}", self.address)))?;
            let mut req = tonic::Request::new(message);
            *req.metadata_mut() = metadata;
            match grpc.unary(req, path, BytesCodec).await {
                Ok(res) => {
                    let (meta, body, _) = res.into_parts();
                    Ok((meta, body))
                }
                // Transport failures come back as UNAVAILABLE with the error as source.
                Err(status)
                    if status.code() == tonic::Code::Unavailable
                        && std::error::Error::source(&status).is_some() =>
                {
                    Err(CallError::Unreachable(format!(
                        "{}: {}",
                        self.address,
                        status.message()
                    )))
                }
                Err(status) => Err(CallError::Status(status)),
            }
        };
        tokio::time::timeout(self.timeout, call)
            .await
            .unwrap_or(Err(CallError::Timeout))
    }

    /// The gRPC health of this service on its upstream.
    pub async fn health(&self, timeout: Duration) -> Result<ServingStatus, String> {
        let mut client = HealthClient::new(self.channel.clone());
        let req = HealthCheckRequest {
            service: self.service.clone(),
        };
        match tokio::time::timeout(timeout, client.check(req)).await {
            Err(_) => Err("health check timed out".into()),
            Ok(Err(status)) => Err(format!("{:?}: {}", status.code(), status.message())),
            Ok(Ok(res)) => Ok(res.into_inner().status()),
        }
    }
}

// === impl BytesCodec ===

/// Messages as raw protobuf bytes: the transcoder encodes and decodes them itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesCodec;

impl Codec for BytesCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = BytesCodec;
    type Decoder = BytesCodec;

    fn encoder(&mut self) -> Self::Encoder {
        BytesCodec
    }
    fn decoder(&mut self) -> Self::Decoder {
        BytesCodec
    }
}

impl Encoder for BytesCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for BytesCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}
