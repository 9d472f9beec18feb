//! Where webhooks may go. A subscription's URL is typed by an integrator,
//! so without a guard an API key could make the server call its own
//! loopback, the hospital's internal network or a cloud metadata service
//! (server-side request forgery). Internal addresses are refused unless the
//! administrator lists their network in `webhook_allow_networks`, and the
//! check is made on every address a name resolves to, when subscribing and
//! again on each delivery (a name may resolve elsewhere later).

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

/// Why a webhook URL is refused, in the integrator's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefusal {
    #[error("this is not a URL like https://hooks.example.org/visita")]
    NotUrl,
    #[error("the URL must start with https:// (or http://)")]
    Scheme,
    #[error("the URL must not carry a user name or password; put a secret in the path instead")]
    Credentials,
    #[error("the URL must not have a #fragment")]
    Fragment,
    #[error("{0} could not be resolved to an address")]
    Unresolvable(String),
    #[error(
        "{host} is an internal address ({ip}); webhooks go only to public addresses unless the administrator allows this network (webhook_allow_networks)"
    )]
    Internal { host: String, ip: IpAddr },
}

/// How long a name may take to resolve when subscribing.
const LOOKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Networks that are not the public internet.
const INTERNAL: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.88.99.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/128",
    "::1/128",
    "100::/64",
    "2001:db8::/32",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
];

/// Decides which addresses webhooks may reach.
#[derive(Debug, Clone)]
pub struct AddressGuard {
    internal: Vec<IpNet>,
    allowed: Vec<IpNet>,
}

impl AddressGuard {
    /// Public addresses, plus the internal networks in `allowed`.
    pub fn new(allowed: Vec<IpNet>) -> Self {
        Self {
            internal: INTERNAL
                .iter()
                .map(|n| n.parse().expect("a valid network in the table"))
                .collect(),
            allowed,
        }
    }

    pub fn permits(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.allowed.iter().any(|n| n.contains(&ip))
            || !self.internal.iter().any(|n| n.contains(&ip))
    }

    /// A subscription's URL, parsed, when it may be called: every address
    /// its host resolves to now must be permitted.
    pub async fn check_url(&self, raw: &str) -> Result<reqwest::Url, UrlRefusal> {
        let url = self.check_literal(raw)?;
        let host = url.host_str().ok_or(UrlRefusal::NotUrl)?.to_string();
        if literal_ip(&url).is_none() {
            let port = url.port_or_known_default().unwrap_or(443);
            // A name server that does not answer must not hold the request.
            let lookup = tokio::net::lookup_host((host.as_str(), port));
            let addrs: Vec<SocketAddr> = tokio::time::timeout(LOOKUP_TIMEOUT, lookup)
                .await
                .ok()
                .and_then(Result::ok)
                .ok_or_else(|| UrlRefusal::Unresolvable(host.clone()))?
                .collect();
            if addrs.is_empty() {
                return Err(UrlRefusal::Unresolvable(host));
            }
            if let Some(bad) = addrs.iter().find(|a| !self.permits(a.ip())) {
                return Err(UrlRefusal::Internal { host, ip: bad.ip() });
            }
        }
        Ok(url)
    }

    /// The URL's form, and its address when it is written as one (the
    /// HTTP client resolves names through `resolver`, but not literals).
    pub fn check_literal(&self, raw: &str) -> Result<reqwest::Url, UrlRefusal> {
        let url = reqwest::Url::parse(raw.trim()).map_err(|_| UrlRefusal::NotUrl)?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(UrlRefusal::Scheme);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlRefusal::Credentials);
        }
        if url.fragment().is_some() {
            return Err(UrlRefusal::Fragment);
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(UrlRefusal::NotUrl);
        }
        if let Some(ip) = literal_ip(&url)
            && !self.permits(ip)
        {
            return Err(UrlRefusal::Internal {
                host: url.host_str().unwrap_or_default().to_string(),
                ip,
            });
        }
        Ok(url)
    }

    /// A resolver for the HTTP client that drops refused addresses, so a
    /// name that resolves inside at delivery time is not called.
    pub fn resolver(self: &Arc<Self>) -> Arc<GuardedResolver> {
        Arc::new(GuardedResolver(self.clone()))
    }

    /// An HTTP client for requests to URLs integrators give (webhooks,
    /// logos): names resolve through the guard; redirects are not followed
    /// and proxies not used, since either would reach an address the guard
    /// never saw.
    pub fn client(self: &Arc<Self>, timeout: std::time::Duration) -> reqwest::Client {
        reqwest::Client::builder()
            .dns_resolver(self.resolver())
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .user_agent(concat!("Visita/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client's settings are valid")
    }
}

/// The URL's host when it is an address (the parser has already turned
/// `2130706433` or `0x7f.1` into 127.0.0.1).
fn literal_ip(url: &reqwest::Url) -> Option<IpAddr> {
    let host = url.host_str()?;
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// IPv4 written as IPv6 (`::ffff:10.0.0.1`, NAT64 `64:ff9b::a00:1`) is
/// judged as the IPv4 address it reaches.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let s = v6.segments();
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = s[6].to_be_bytes();
                let [c, d] = s[7].to_be_bytes();
                return IpAddr::V4(Ipv4Addr::new(a, b, c, d));
            }
            IpAddr::V6(v6)
        }
        v4 => v4,
    }
}

pub struct GuardedResolver(Arc<AddressGuard>);

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| guard.permits(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!(
                    "{host} resolves to no address webhooks may reach (internal addresses are refused)"
                )
                .into());
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// Parses `webhook_allow_networks`: CIDR networks or single addresses.
pub fn parse_networks(list: &str) -> Result<Vec<IpNet>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!(
                        "{item:?} is not a network like 10.20.0.0/16 or an address like 127.0.0.1"
                    )
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internal_addresses_are_refused_and_public_ones_pass() {
        let guard = AddressGuard::new(Vec::new());
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.31.255.255",
            "192.168.0.10",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(!guard.permits(ip(internal)), "{internal} must be refused");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "172.32.0.1"] {
            assert!(guard.permits(ip(public)), "{public} must pass");
        }
    }

    #[test]
    fn an_allowed_network_opens_only_itself() {
        let guard = AddressGuard::new(parse_networks("127.0.0.1, 10.20.0.0/16").unwrap());
        assert!(guard.permits(ip("127.0.0.1")));
        assert!(guard.permits(ip("::ffff:127.0.0.1")));
        assert!(guard.permits(ip("10.20.5.5")));
        assert!(!guard.permits(ip("127.0.0.2")));
        assert!(!guard.permits(ip("10.21.0.1")));
        assert!(!guard.permits(ip("::1")));
    }

    #[test]
    fn urls_are_refused_for_their_form_or_literal_address() {
        let guard = AddressGuard::new(Vec::new());
        assert_eq!(guard.check_literal("not a url"), Err(UrlRefusal::NotUrl));
        assert_eq!(
            guard.check_literal("ftp://example.org/"),
            Err(UrlRefusal::Scheme)
        );
        assert_eq!(
            guard.check_literal("https://u:p@example.org/"),
            Err(UrlRefusal::Credentials)
        );
        assert_eq!(
            guard.check_literal("https://example.org/#x"),
            Err(UrlRefusal::Fragment)
        );
        assert!(matches!(
            guard.check_literal("http://169.254.169.254/latest/meta-data"),
            Err(UrlRefusal::Internal { .. })
        ));
        assert!(matches!(
            guard.check_literal("http://[::1]:8080/"),
            Err(UrlRefusal::Internal { .. })
        ));
        // Decimal and hex spellings of loopback are the same address.
        assert!(matches!(
            guard.check_literal("http://2130706433/"),
            Err(UrlRefusal::Internal { .. })
        ));
        assert!(matches!(
            guard.check_literal("http://0x7f.1/"),
            Err(UrlRefusal::Internal { .. })
        ));
        assert!(guard.check_literal("https://hooks.example.org/v").is_ok());
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused() {
        let guard = AddressGuard::new(Vec::new());
        assert!(matches!(
            guard.check_url("http://localhost:9/hook").await,
            Err(UrlRefusal::Internal { .. })
        ));
        let allowed = AddressGuard::new(parse_networks("127.0.0.0/8, ::1").unwrap());
        assert!(allowed.check_url("http://localhost:9/hook").await.is_ok());
    }
}
