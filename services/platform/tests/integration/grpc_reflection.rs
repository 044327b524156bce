//! What grpcurl needs from every service: reflection that describes the health service as
//! well as the contracts, and a health Check that answers SERVING (overall and per service)
//! without a token, even on a server that requires one for everything else.

use contracts::user::{
    user_service_server::UserService, DeleteMeRequest, DeleteMeResponse, GetMeRequest, GetUserRequest,
    UpdateMeRequest, UserProfile,
};

use prost::Message;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};
use tonic_health::pb::{
    health_check_response::ServingStatus, health_client::HealthClient, HealthCheckRequest,
};
use tonic_reflection::pb::v1::{
    server_reflection_client::ServerReflectionClient, server_reflection_request::MessageRequest,
    server_reflection_response::MessageResponse, ServerReflectionRequest,
};

struct Unimplemented;

#[tonic::async_trait]
impl UserService for Unimplemented {
    async fn get_me(&self, _: Request<GetMeRequest>) -> Result<Response<UserProfile>, Status> {
        Err(Status::unimplemented("test"))
    }
    async fn update_me(&self, _: Request<UpdateMeRequest>) -> Result<Response<UserProfile>, Status> {
        Err(Status::unimplemented("test"))
    }
    async fn delete_me(&self, _: Request<DeleteMeRequest>) -> Result<Response<DeleteMeResponse>, Status> {
        Err(Status::unimplemented("test"))
    }
    async fn get_user(&self, _: Request<GetUserRequest>) -> Result<Response<UserProfile>, Status> {
        Err(Status::unimplemented("test"))
    }
}

async fn spawn_server() -> (String, CancellationToken) {
    crate::spawn_user_service(Unimplemented).await
}

async fn channel(addr: &str) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(addr.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// One reflection request, one answer (what grpcurl sends before each call).
async fn reflect(addr: &str, request: MessageRequest) -> MessageResponse {
    let mut client = ServerReflectionClient::new(channel(addr).await);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    let mut answers = client
        .server_reflection_info(tokio_stream::iter([req]))
        .await
        .unwrap()
        .into_inner();
    answers
        .message()
        .await
        .unwrap()
        .and_then(|r| r.message_response)
        .expect("one reflection answer")
}

#[tokio::test]
async fn reflection_describes_the_health_service_so_grpcurl_can_call_check() {
    let (addr, stop) = spawn_server().await;

    let MessageResponse::ListServicesResponse(list) =
        reflect(&addr, MessageRequest::ListServices(String::new())).await
    else {
        panic!("expected a service list");
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"grpc.health.v1.Health"), "{names:?}");
    assert!(
        names.contains(&"expense_tracker.user.v1.UserService"),
        "{names:?}"
    );

    let answer = reflect(
        &addr,
        MessageRequest::FileContainingSymbol("grpc.health.v1.Health".into()),
    )
    .await;
    let MessageResponse::FileDescriptorResponse(files) = answer else {
        panic!("grpc.health.v1.Health is not described: {answer:?}");
    };
    let file = files
        .file_descriptor_proto
        .iter()
        .map(|bytes| prost_types::FileDescriptorProto::decode(bytes.as_slice()).unwrap())
        .find(|f| f.package() == "grpc.health.v1")
        .expect("the health proto");
    let service = file
        .service
        .iter()
        .find(|s| s.name() == "Health")
        .expect("Health");
    let methods: Vec<_> = service.method.iter().map(|m| m.name()).collect();
    assert!(methods.contains(&"Check"), "{methods:?}");
    assert!(file
        .message_type
        .iter()
        .any(|m| m.name() == "HealthCheckResponse"));
    stop.cancel();
}

#[tokio::test]
async fn health_check_answers_serving_without_a_token_overall_and_per_service() {
    let (addr, stop) = spawn_server().await;
    let mut health = HealthClient::new(channel(&addr).await);
    for service in ["", "expense_tracker.user.v1.UserService"] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status();
        assert_eq!(status, ServingStatus::Serving, "service {service:?}");
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "no.such.Service".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    stop.cancel();
}
