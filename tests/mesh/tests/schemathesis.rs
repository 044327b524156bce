//! Schemathesis (scripts/openapi.sh schemathesis) against the whole mesh: every operation
//! of gateway/openapi/openapi.yaml, signed in through a real signup (scripts/openapi/
//! hooks.py), checked for server errors, schema-conformant answers and documented status
//! codes. The real binaries on the real PostgreSQL and Kafka.

use std::path::Path;

use mesh::Mesh;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_or_undocumented_answer() {
    let mesh = Mesh::start().await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let edge = mesh.edge.clone();
    let report = mesh.dir.join("schemathesis");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(root.join("scripts/openapi.sh"))
            .arg("schemathesis")
            .arg(&edge)
            .env("SCHEMATHESIS_REPORT_DIR", &report)
            .output()
            .expect("scripts/openapi.sh runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{stdout}\n{}\nlogs in {}",
        String::from_utf8_lossy(&out.stderr),
        mesh.dir.display()
    );
}
