//! The served OpenAPI document must describe exactly the routes the router has.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use serde_json::Value;

fn concrete(path: &str) -> String {
    path.replace("{username}", "alice")
        .replace("{account_id}", "0123456789abcdef0123456789abcdef")
        .replace("{device_id}", "1")
        .replace("{message_id}", "0123456789abcdef")
        .replace("{id}", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .replace("{channel_id}", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
}

#[tokio::test]
async fn document_matches_the_routes() {
    let relay = TestRelay::new(relaxed()).await;
    let (status, doc, _) = relay
        .call(Method::GET, "/v1/openapi.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 11);
    let all = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
    ];
    for (path, operations) in paths {
        let url = concrete(path);
        for method in &all {
            let documented = operations
                .get(method.as_str().to_ascii_lowercase())
                .is_some();
            let (status, body, _) = relay.call(method.clone(), &url, None, None).await;
            let code = body.get("code").and_then(Value::as_str).unwrap_or_default();
            if documented {
                assert!(
                    code != "unknown_route" && status != StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path}: {status} {body}"
                );
                let op = &operations[method.as_str().to_ascii_lowercase()];
                let listed: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
                let got = status.as_u16().to_string();
                assert!(
                    listed.contains(&&got),
                    "{method} {path} answered {got}, not documented: {listed:?}"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} is routed but undocumented"
                );
            }
        }
    }
    // Every schema reference resolves.
    let text = doc.to_string();
    for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = &reference[..reference.find('"').unwrap()];
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "dangling $ref {name}"
        );
    }
}

#[tokio::test]
async fn undocumented_paths_are_not_routed() {
    let relay = TestRelay::new(relaxed()).await;
    for path in [
        "/v1",
        "/v1/",
        "/v1/keys/extra/1/2",
        "/v1/messages/x",
        "/v1/admin",
        "/",
    ] {
        let (status, body, _) = relay.call(Method::GET, path, None, None).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("unknown_route")),
            "{path}"
        );
    }
}
