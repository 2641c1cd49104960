//! What the frontend serves: the page for any GET path, the assets, and
//! `/config.js` carrying the GraphQL URL made from SERVER_URI.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use service_kit::test_server::TestServer;
use todo_frontend::Config;

async fn start(server_uri: &str) -> TestServer<todo_frontend::Error> {
    let config = Config::for_tests(server_uri);
    TestServer::start(move |listener, shutdown| todo_frontend::run(listener, config, shutdown))
        .await
}

#[tokio::test]
async fn serves_the_board_and_its_config() {
    let server = start("backend.example:8081").await;
    let client = reqwest::Client::new();

    for path in ["/", "/index.html", "/lists/3", "/some/deep/link?x=1"] {
        let response = client.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "text/html; charset=utf-8"
        );
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("connect-src 'self' http://backend.example:8081"),
            "{csp}"
        );
        let body = response.text().await.unwrap();
        assert!(body.contains("<script src=\"/config.js\">"), "{path}");
    }

    let config = client.get(server.url("/config.js")).send().await.unwrap();
    assert_eq!(config.headers()["cache-control"], "no-store");
    assert_eq!(
        config.text().await.unwrap(),
        "window.TODO_CONFIG = { graphqlUrl: \"http://backend.example:8081/graphql\" };\n"
    );
    let app = client.get(server.url("/app.js")).send().await.unwrap();
    assert!(
        app.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let app = app.text().await.unwrap();
    // The original frontend's operations, as the backend's contract lists them.
    assert!(app.contains(
        "query homePageQuery{ lists { id name position items{ id name position listId } } }"
    ));
    let css = client.get(server.url("/style.css")).send().await.unwrap();
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );

    assert_eq!(
        client
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client
            .get(server.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client
            .post(server.url("/anything"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn refuses_an_unusable_server_uri() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let result = todo_frontend::run(listener, Config::for_tests("ftp://x"), async {}).await;
    assert!(result.unwrap_err().to_string().contains("SERVER_URI"));
}
