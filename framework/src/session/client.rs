//! The kube client a session uses: kube's own layers (base URI, retries, authentication,
//! impersonation headers, TLS with the kubeconfig's CA and client certificate, connect, read
//! and write timeouts) on a TCP connector with `TCP_NODELAY`.
//!
//! kube's default connector leaves Nagle's algorithm on. A request written in two pieces
//! (headers, then a body) on a fresh connection then waits for the API server's delayed ACK:
//! 40 ms on Linux, measured on the first namespace create of a process — more than the whole
//! create usually takes. client-go turns Nagle off, as this does.
//!
//! A kubeconfig with a proxy goes through kube's default builder, which handles proxies.

use kube::client::ConfigExt as _;
use kube::client::retry::RetryPolicy;
use tower::ServiceBuilder;

/// Builds the client for `config`.
///
/// # Errors
///
/// TLS material or authentication settings of the kubeconfig that kube refuses.
pub fn build_client(config: kube::Config) -> Result<kube::Client, kube::Error> {
    if config.proxy_url.is_some() {
        return kube::Client::try_from(config);
    }
    let mut tcp = hyper_util::client::legacy::connect::HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    let https = config.rustls_https_connector_with_connector(tcp)?;
    let mut connector = hyper_timeout::TimeoutConnector::new(https);
    connector.set_connect_timeout(config.connect_timeout);
    connector.set_read_timeout(config.read_timeout);
    connector.set_write_timeout(config.write_timeout);
    connector.set_reset_reader_on_write(config.reset_reader_on_write);
    let http: hyper_util::client::legacy::Client<_, kube::client::Body> =
        hyper_util::client::legacy::Builder::new(hyper_util::rt::TokioExecutor::new())
            .build(connector);
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(
            config
                .default_retry
                .then(|| tower::retry::RetryLayer::new(RetryPolicy::server_retry())),
        )
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .map_err(tower::BoxError::from)
        .service(http);
    Ok(kube::Client::new(service, config.default_namespace))
}
