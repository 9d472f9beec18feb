//! Sign-in against the hospital's directory (LDAP, Active Directory) through
//! the ordinary sign-in form: bind with the service account, find the one
//! entry the login names, bind as that entry with the password typed, then
//! read the groups the entry is in — nested ones too: by following groups
//! of groups (any directory), or in one search with Active Directory's
//! matching rule in chain. The connection is LDAPS (`ldaps://`), or StartTLS
//! when asked; certificates are checked against the system's authorities
//! (`SSL_CERT_FILE` adds your own).

use super::external::{ExternalIdentity, RoleMapping, normalise_email};
use crate::config::Secret;
use ldap3::{
    Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry, SearchOptions, ldap_escape,
};
use std::collections::BTreeSet;
use std::time::Duration;

/// One exchange with the directory may take this long.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Groups of groups are followed this deep at most (a loop ends anyway).
const MAX_NESTING: usize = 8;
/// Active Directory's LDAP_MATCHING_RULE_IN_CHAIN.
const IN_CHAIN: &str = "1.2.840.113556.1.4.1941";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupSearch {
    /// Groups whose `member` (or `uniqueMember`) is the person, then groups
    /// whose member is one of those, and so on: works on any directory.
    Recursive,
    /// One search with the matching rule in chain (Active Directory only).
    InChain,
}

#[derive(Clone)]
pub struct LdapConfig {
    pub url: String,
    pub starttls: bool,
    pub bind_dn: String,
    pub bind_password: Secret,
    pub user_base: String,
    /// With `{login}` where the typed login goes (escaped).
    pub user_filter: String,
    pub email_attribute: String,
    pub name_attribute: String,
    pub group_base: String,
    pub group_search: GroupSearch,
    pub mapping: RoleMapping,
}

impl std::fmt::Debug for LdapConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapConfig")
            .field("url", &self.url)
            .field("bind_dn", &self.bind_dn)
            .field("user_base", &self.user_base)
            .finish_non_exhaustive()
    }
}

/// Why the directory did not vouch for someone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LdapRefusal {
    /// No entry, several entries, or the wrong password: the same answer.
    #[error("the login or the password is wrong")]
    WrongCredentials,
    #[error("the directory cannot be reached right now")]
    Unavailable,
}

impl LdapRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            LdapRefusal::WrongCredentials => "wrong_credentials",
            LdapRefusal::Unavailable => "unavailable",
        }
    }
}

pub struct LdapDirectory {
    pub config: LdapConfig,
}

impl LdapDirectory {
    pub fn new(config: LdapConfig) -> Self {
        Self { config }
    }

    async fn connect(&self) -> Result<Ldap, LdapRefusal> {
        let settings = LdapConnSettings::new()
            .set_conn_timeout(TIMEOUT)
            .set_starttls(self.config.starttls);
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &self.config.url)
            .await
            .map_err(|error| {
                tracing::warn!(%error, url = %self.config.url, "the directory cannot be reached");
                LdapRefusal::Unavailable
            })?;
        ldap3::drive!(conn);
        ldap.with_timeout(TIMEOUT);
        Ok(ldap)
    }

    async fn bind_service(&self, ldap: &mut Ldap) -> Result<(), LdapRefusal> {
        ldap.with_timeout(TIMEOUT)
            .simple_bind(&self.config.bind_dn, self.config.bind_password.expose())
            .await
            .and_then(|r| r.success())
            .map(|_| ())
            .map_err(|error| {
                tracing::error!(%error, "the directory refused Visita's service account");
                LdapRefusal::Unavailable
            })
    }

    /// Who `login` is, if `password` is theirs.
    pub async fn authenticate(
        &self,
        login: &str,
        password: &str,
    ) -> Result<ExternalIdentity, LdapRefusal> {
        // An empty password would be an anonymous bind, which "succeeds".
        if login.trim().is_empty() || password.is_empty() || login.len() > 254 {
            return Err(LdapRefusal::WrongCredentials);
        }
        let mut ldap = self.connect().await?;
        self.bind_service(&mut ldap).await?;
        let filter = self
            .config
            .user_filter
            .replace("{login}", &ldap_escape(login.trim()));
        let attributes = [
            self.config.email_attribute.as_str(),
            self.config.name_attribute.as_str(),
        ];
        let (entries, _) = ldap
            .with_search_options(SearchOptions::new().sizelimit(2))
            .with_timeout(TIMEOUT)
            .search(
                &self.config.user_base,
                Scope::Subtree,
                &filter,
                attributes.to_vec(),
            )
            .await
            .and_then(|r| r.non_error())
            .map_err(|error| {
                tracing::error!(%error, "the directory's user search failed");
                LdapRefusal::Unavailable
            })?;
        // Exactly one entry, or nobody (an ambiguous login is nobody).
        let [entry] = <[_; 1]>::try_from(entries).map_err(|_| LdapRefusal::WrongCredentials)?;
        let entry = SearchEntry::construct(entry);
        let bound = ldap
            .with_timeout(TIMEOUT)
            .simple_bind(&entry.dn, password)
            .await
            .map_err(|_| LdapRefusal::Unavailable)?;
        if bound.rc != 0 {
            return Err(LdapRefusal::WrongCredentials);
        }
        // Groups are read as the service account: a person may not be
        // allowed to read the groups.
        self.bind_service(&mut ldap).await?;
        let groups = self.groups_of(&mut ldap, &entry.dn).await?;
        let _ = ldap.unbind().await;
        let first = |name: &str| {
            entry
                .attrs
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .and_then(|(_, values)| values.first().cloned())
        };
        Ok(ExternalIdentity {
            method: "ldap".into(),
            subject: entry.dn.clone(),
            email: first(&self.config.email_attribute)
                .and_then(|e| normalise_email(&e))
                .unwrap_or_default(),
            name: first(&self.config.name_attribute),
            groups,
        })
    }

    /// The names of the groups `dn` is in, directly or through other
    /// groups: each group's DN and its `cn`.
    async fn groups_of(&self, ldap: &mut Ldap, dn: &str) -> Result<Vec<String>, LdapRefusal> {
        let mut found: Vec<SearchEntry> = Vec::new();
        match self.config.group_search {
            GroupSearch::InChain => {
                found = self
                    .search_groups(ldap, &format!("(member:{IN_CHAIN}:={})", ldap_escape(dn)))
                    .await?;
            }
            GroupSearch::Recursive => {
                let mut seen: BTreeSet<String> = BTreeSet::new();
                let mut frontier = vec![dn.to_string()];
                for _ in 0..MAX_NESTING {
                    if frontier.is_empty() {
                        break;
                    }
                    let filter = member_filter(&frontier);
                    let groups = self.search_groups(ldap, &filter).await?;
                    frontier = Vec::new();
                    for group in groups {
                        if seen.insert(group.dn.to_lowercase()) {
                            frontier.push(group.dn.clone());
                            found.push(group);
                        }
                    }
                }
            }
        }
        let mut names = Vec::new();
        for group in found {
            if let Some(cn) = group
                .attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("cn"))
                .and_then(|(_, v)| v.first())
            {
                names.push(cn.clone());
            }
            names.push(group.dn);
        }
        Ok(names)
    }

    async fn search_groups(
        &self,
        ldap: &mut Ldap,
        filter: &str,
    ) -> Result<Vec<SearchEntry>, LdapRefusal> {
        let (entries, _) = ldap
            .with_search_options(SearchOptions::new().sizelimit(1000))
            .with_timeout(TIMEOUT)
            .search(&self.config.group_base, Scope::Subtree, filter, vec!["cn"])
            .await
            .and_then(|r| r.non_error())
            .map_err(|error| {
                tracing::error!(%error, "the directory's group search failed");
                LdapRefusal::Unavailable
            })?;
        Ok(entries.into_iter().map(SearchEntry::construct).collect())
    }
}

/// Groups having any of `dns` as a member (`member` or `uniqueMember`).
fn member_filter(dns: &[String]) -> String {
    let mut filter = String::from("(|");
    for dn in dns {
        let dn = ldap_escape(dn.as_str());
        filter.push_str(&format!("(member={dn})(uniqueMember={dn})"));
    }
    filter.push(')');
    filter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_filters_escape_what_they_quote() {
        assert_eq!(
            member_filter(&["cn=a (x),dc=y".into(), "cn=b".into()]),
            "(|(member=cn=a \\28x\\29,dc=y)(uniqueMember=cn=a \\28x\\29,dc=y)(member=cn=b)(uniqueMember=cn=b))"
        );
    }
}
