//! What each CLI command does.

use crate::accounts::{AccountService, FirstAdmin};
use crate::cli::{AdminCommand, Command};
use crate::config::Config;
use crate::db::{Db, DbError};
use app::domain::{NewUser, Role};
use std::io::Read;

/// A command that could not finish, worded for the operator.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("{0}")]
    Database(#[from] DbError),
    #[error("{0}")]
    Invalid(String),
    #[error("cannot listen on {addr}: {source} (is another program using it? set VISITA_ADDR)")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl CommandError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CommandError::Invalid(_) => 2,
            _ => 1,
        }
    }
}

pub async fn run(command: Command, config: Config) -> Result<(), CommandError> {
    match command {
        Command::Serve => crate::serve::serve(config).await,
        Command::Migrate => {
            let db = Db::connect(&config).await?;
            let applied = db.migrate().await?;
            if applied.is_empty() {
                println!("The database is up to date.");
            } else {
                for name in applied {
                    println!("applied {name}");
                }
            }
            Ok(())
        }
        Command::Admin(admin) => {
            // Every input is checked before the database is opened: a typo
            // costs nothing and touches nothing.
            let task = AdminTask::from_command(admin)?;
            let db = Db::connect(&config).await?;
            db.migrate().await?;
            let accounts = AccountService::new(db.clone(), &config);
            task.run(&accounts, &crate::rest::keys::ApiKeys::new(db))
                .await
        }
    }
}

/// An admin command whose input has been read and validated.
enum AdminTask {
    CreateUser(NewUser),
    ResetPassword {
        email: String,
        password: String,
    },
    ResetTwoFactor {
        email: String,
    },
    CreateApiKey {
        name: String,
        scopes: Vec<String>,
        rate: u32,
    },
    ListApiKeys,
    RevokeApiKey {
        id: String,
    },
}

impl AdminTask {
    fn from_command(command: AdminCommand) -> Result<Self, CommandError> {
        match command {
            AdminCommand::CreateUser(args) => {
                let roles = args
                    .role
                    .iter()
                    .map(|r| r.parse::<Role>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| CommandError::Invalid(format!("--role: {e}")))?;
                let password = read_password_from_stdin()?;
                let user = NewUser {
                    email: args.email,
                    name: args.name,
                    roles,
                    password,
                }
                .validate()
                .map_err(|e| CommandError::Invalid(format!("--{}: {}", e.field, e.message)))?;
                Ok(AdminTask::CreateUser(user))
            }
            AdminCommand::CreateApiKey(args) => Ok(AdminTask::CreateApiKey {
                name: args.name,
                scopes: args.scopes,
                rate: args.requests_per_minute,
            }),
            AdminCommand::ListApiKeys => Ok(AdminTask::ListApiKeys),
            AdminCommand::RevokeApiKey(args) => Ok(AdminTask::RevokeApiKey {
                id: args.id.trim().trim_start_matches("vk_").to_string(),
            }),
            AdminCommand::ResetTwoFactor(args) => Ok(AdminTask::ResetTwoFactor {
                email: args.email.trim().to_lowercase(),
            }),
            AdminCommand::ResetPassword(args) => {
                let password = read_password_from_stdin()?;
                app::domain::check_password_strength(&password)
                    .map_err(|m| CommandError::Invalid(format!("password: {m}")))?;
                Ok(AdminTask::ResetPassword {
                    email: args.email.trim().to_lowercase(),
                    password,
                })
            }
        }
    }

    async fn run(
        self,
        accounts: &AccountService,
        keys: &crate::rest::keys::ApiKeys,
    ) -> Result<(), CommandError> {
        let key_error = |e: crate::rest::keys::KeyError| CommandError::Invalid(e.to_string());
        match self {
            AdminTask::CreateUser(user) => {
                let created = accounts
                    .create_user_unchecked(user, None, None)
                    .await
                    .map_err(|e| CommandError::Invalid(e.to_string()))?;
                println!("created {} ({})", created.email, created.id);
            }
            AdminTask::ResetPassword { email, password } => {
                accounts
                    .reset_password_by_email(&email, &password)
                    .await
                    .map_err(|e| CommandError::Invalid(e.to_string()))?;
                println!("password changed for {email}; their sessions were ended");
            }
            AdminTask::ResetTwoFactor { email } => {
                accounts
                    .reset_second_factor_by_email(&email)
                    .await
                    .map_err(|e| CommandError::Invalid(e.to_string()))?;
                println!(
                    "two-step sign-in removed for {email}; they set it up again at their next sign-in"
                );
            }
            AdminTask::CreateApiKey { name, scopes, rate } => {
                let issued = keys
                    .create(&name, &scopes, rate, "command line")
                    .await
                    .map_err(key_error)?;
                println!(
                    "created API key {} ({name}) with {}; it is shown once, keep it now:",
                    issued.id,
                    scopes.join(", ")
                );
                println!("{}", issued.key);
            }
            AdminTask::ListApiKeys => {
                for row in keys.list().await.map_err(key_error)? {
                    let state = match (row.revoked_at, row.last_used_at) {
                        (Some(at), _) => format!("revoked {}", at.format("%Y-%m-%d %H:%M UTC")),
                        (None, Some(at)) => {
                            format!("last used {}", at.format("%Y-%m-%d %H:%M UTC"))
                        }
                        (None, None) => "never used".into(),
                    };
                    println!(
                        "{}\t{}\t{}\t{state}",
                        row.key(),
                        row.name,
                        row.scopes.join(",")
                    );
                }
            }
            AdminTask::RevokeApiKey { id } => {
                keys.revoke(&id, chrono::Utc::now())
                    .await
                    .map_err(key_error)?;
                println!("revoked API key {id}");
            }
        }
        Ok(())
    }
}

/// The embedded database shuts down in tasks of its own once its last handle
/// is dropped. Leaving before they finish would cancel them mid-way (and log
/// errors an operator should not have to read), so wait for them, briefly.
pub async fn wait_for_background_tasks() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while metrics.num_alive_tasks() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The first line of standard input, without its line ending.
fn read_password_from_stdin() -> Result<String, CommandError> {
    let mut input = String::new();
    std::io::stdin().take(4096).read_to_string(&mut input)?;
    let password = input.lines().next().unwrap_or("").to_string();
    if password.is_empty() {
        return Err(CommandError::Invalid(
            "no password on standard input (try: echo 'a long password' | visita …)".into(),
        ));
    }
    Ok(password)
}

/// The lines `serve` prints once it listens: where to go, and how to sign in.
pub fn banner(config: &Config, first_admin: &FirstAdmin) -> String {
    let login = match first_admin {
        FirstAdmin::Created {
            email,
            password: Some(generated),
        } => {
            format!(
                "  First admin:  {email}\n  Password:     {generated}\n                (shown this once: write it down or change it after signing in)"
            )
        }
        FirstAdmin::Created {
            email,
            password: None,
        } => {
            format!("  First admin:  {email}\n  Password:     the one in VISITA_ADMIN_PASSWORD")
        }
        FirstAdmin::Existing { email } => format!(
            "  Admin login:  {email}\n  Password:     as printed at first start (lost it? visita admin reset-password --email {email} --password-stdin)"
        ),
    };
    let login = if config.totp_admins_required {
        format!(
            "{login}\n  Second step:  an authenticator app (set up at the first sign-in; lost it? visita admin reset-two-factor --email …)"
        )
    } else {
        login
    };
    let media = &config.media;
    let turn = match media.builtin_turn_port {
        Some(port) => format!(", built-in TURN on {port} (UDP and TCP)"),
        None => String::new(),
    };
    format!(
        "\nVisita {} is running.\n  Open:         {}/login\n  Health:       {}/healthz\n  Media:        UDP {}-{}{turn}\n{login}\n",
        env!("CARGO_PKG_VERSION"),
        config.public_url,
        config.public_url,
        media.ports.0,
        media.ports.1,
    )
}
