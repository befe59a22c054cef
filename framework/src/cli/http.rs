//! The `--http` flags of `flow run`: where the control port listens, and who may use it.

use std::net::SocketAddr;

use clap::Args;

use crate::control::{ControlError, ControlOptions, ControlServer};
use crate::graph::Graph;
use crate::runtime::Flowgraph;

/// Control port options of `flow run`.
#[derive(Args, Debug, Clone, Default)]
pub struct HttpArgs {
    /// Serve the control port (REST, /metrics, live web view) on this address (default
    /// 127.0.0.1:8000 when given without one). Loopback only unless --http-allow-remote.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:8000")]
    pub http: Option<SocketAddr>,
    /// Allow a non-loopback --http address (then a token is required).
    #[arg(long, requires = "http")]
    pub http_allow_remote: bool,
    /// Token every control-port request must carry (`Authorization: Bearer TOKEN` or
    /// `?token=TOKEN`); required with --http-allow-remote.
    #[arg(
        long,
        env = "FLOW_HTTP_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub http_token: Option<String>,
}

impl HttpArgs {
    /// The control port options, if `--http` was given.
    pub fn options(&self) -> Option<ControlOptions> {
        self.http.map(|addr| ControlOptions {
            addr,
            allow_remote: self.http_allow_remote,
            token: self.http_token.clone(),
        })
    }

    /// Checks the options without binding (before the flowgraph starts).
    pub fn check(&self) -> Result<(), ControlError> {
        self.options().map_or(Ok(()), |o| o.check())
    }

    /// Starts the control port for `fg`, if asked for.
    pub fn start(
        &self,
        graph: &Graph,
        fg: &Flowgraph,
    ) -> Result<Option<ControlServer>, ControlError> {
        self.options()
            .map(|o| ControlServer::start(&o, graph, fg))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(addr: &str, remote: bool, token: Option<&str>) -> HttpArgs {
        HttpArgs {
            http: Some(addr.parse().unwrap()),
            http_allow_remote: remote,
            http_token: token.map(String::from),
        }
    }

    #[test]
    fn http_alone_means_loopback_port_8000() {
        #[derive(clap::Parser)]
        struct T {
            #[command(flatten)]
            http: HttpArgs,
        }
        let t = <T as clap::Parser>::try_parse_from(["t", "--http"]).unwrap();
        assert_eq!(t.http.http, Some("127.0.0.1:8000".parse().unwrap()));
        let t = <T as clap::Parser>::try_parse_from(["t", "--http", "[::1]:9000"]).unwrap();
        assert_eq!(t.http.http, Some("[::1]:9000".parse().unwrap()));
        assert!(<T as clap::Parser>::try_parse_from(["t", "--http-allow-remote"]).is_err());
    }

    #[test]
    fn remote_binds_need_the_flag_and_a_token() {
        assert!(args("127.0.0.1:8000", false, None).check().is_ok());
        assert!(args("[::1]:8000", false, None).check().is_ok());
        let e = args("0.0.0.0:8000", false, Some("t")).check().unwrap_err();
        assert!(
            e.to_string()
                .contains("add --http-allow-remote and a token"),
            "{e}"
        );
        let e = args("0.0.0.0:8000", true, None).check().unwrap_err();
        assert!(e.to_string().contains("needs a token"), "{e}");
        assert!(args("0.0.0.0:8000", true, Some("")).check().is_err());
        assert!(args("0.0.0.0:8000", true, Some("s3cret")).check().is_ok());
        assert!(HttpArgs::default().check().is_ok());
    }
}
