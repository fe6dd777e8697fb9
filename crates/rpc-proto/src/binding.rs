//! String bindings, the standard way: `ncacn_ip_tcp:127.0.0.1[5000]`,
//! `ncalrpc:[EXAMPLE]`.

use std::fmt;

/// A parsed string binding.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Binding {
    /// `ncacn_ip_tcp:HOST[PORT]`.
    Tcp {
        /// The host.
        host: String,
        /// The port.
        port: u16,
    },
    /// `ncalrpc:[ENDPOINT]`: a Unix socket named ENDPOINT in the local RPC directory.
    Local {
        /// The endpoint's name.
        endpoint: String,
    },
    /// `ncacn_np:HOST[\pipe\NAME]`: a Switchboard named pipe (this machine's).
    Pipe {
        /// The host (empty, `.` or this machine).
        host: String,
        /// The pipe, `\pipe\NAME`.
        endpoint: String,
    },
}

impl Binding {
    /// Parses a string binding (an optional `UUID@` object prefix is ignored).
    ///
    /// ```
    /// use switchboard_rpc_proto::binding::Binding;
    /// assert_eq!(Binding::parse("ncacn_ip_tcp:127.0.0.1[5000]"), Ok(Binding::Tcp { host: "127.0.0.1".into(), port: 5000 }));
    /// assert_eq!(Binding::parse("ncalrpc:[EXAMPLE]").unwrap().to_string(), "ncalrpc:[EXAMPLE]");
    /// assert!(Binding::parse("ncacn_ip_tcp:127.0.0.1[http]").is_err());
    /// assert!(Binding::parse("ncadg_ip_udp:h[1]").is_err());
    /// assert_eq!(Binding::parse(r"ncacn_np:[\pipe\example]").unwrap().to_string(), r"ncacn_np:[\pipe\example]");
    /// assert!(Binding::parse(r"ncacn_np:[example]").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.split_once('@').map_or(text, |(_, rest)| rest);
        let (protseq, rest) = text.split_once(':').ok_or_else(|| format!("{text:?} has no protocol sequence"))?;
        let (address, endpoint) = match rest.split_once('[') {
            Some((address, ep)) => {
                (address, ep.strip_suffix(']').ok_or_else(|| format!("{text:?}: the endpoint is not closed"))?)
            }
            None => (rest, ""),
        };
        let endpoint = endpoint.split(',').next().unwrap_or("");
        match protseq {
            "ncacn_ip_tcp" => Ok(Self::Tcp {
                host: if address.is_empty() { "127.0.0.1".into() } else { address.to_owned() },
                port: endpoint.parse().map_err(|_| format!("{endpoint:?} is not a TCP port"))?,
            }),
            "ncalrpc" if !endpoint.is_empty() && !endpoint.contains('/') => {
                Ok(Self::Local { endpoint: endpoint.to_owned() })
            }
            "ncalrpc" => Err(format!("{endpoint:?} is not an ncalrpc endpoint name")),
            "ncacn_np"
                if endpoint.get(..6).is_some_and(|p| p.eq_ignore_ascii_case(r"\pipe\"))
                    && endpoint.get(6..).is_some_and(|n| !n.is_empty() && !n.contains(['/', '\\'])) =>
            {
                Ok(Self::Pipe { host: address.to_owned(), endpoint: endpoint.to_owned() })
            }
            "ncacn_np" => Err(format!(r"{endpoint:?} is not a pipe (\pipe\NAME)")),
            other => Err(format!("protocol sequence {other} is not supported (ncacn_ip_tcp, ncalrpc, ncacn_np)")),
        }
    }
}

impl fmt::Display for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp { host, port } => write!(f, "ncacn_ip_tcp:{host}[{port}]"),
            Self::Local { endpoint } => write!(f, "ncalrpc:[{endpoint}]"),
            Self::Pipe { host, endpoint } => write!(f, "ncacn_np:{host}[{endpoint}]"),
        }
    }
}
