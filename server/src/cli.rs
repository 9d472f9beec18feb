//! The `visita` command line: what each command and flag does, in `--help`.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "visita",
    version,
    about = "Visita: video consultations between clinicians and patients, in one program.",
    long_about = "Visita: video consultations between clinicians and patients, in one program.\n\n\
        Settings come from visita.toml (in the working directory, or --config) and from \
        VISITA_* environment variables, which win. See the README for every key."
)]
pub struct Cli {
    /// Read settings from this TOML file instead of ./visita.toml.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the web server: pages, API and realtime. Applies pending
    /// migrations and creates the first admin when there is none.
    Serve,
    /// Apply pending database migrations, print what was applied, and exit.
    Migrate,
    /// Administrative tasks on the database, without the web server.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a staff account. The password is read from standard input, so
    /// it appears in no process list or shell history.
    CreateUser(CreateUserArgs),
    /// Set a new password for an account (for example a lost admin password)
    /// and end its sessions. The password is read from standard input.
    ResetPassword(ResetPasswordArgs),
    /// Remove an account's authenticator app (a lost phone): its next
    /// password sign-in sets up a new one when one is required.
    ResetTwoFactor(ResetTwoFactorArgs),
    /// Create a key for the REST API. The key is printed once, alone on the
    /// last line; only its hash is kept.
    CreateApiKey(CreateApiKeyArgs),
    /// List the REST API's keys (never the keys themselves).
    ListApiKeys,
    /// Revoke a REST API key at once.
    RevokeApiKey(RevokeApiKeyArgs),
}

#[derive(Debug, Args)]
pub struct CreateApiKeyArgs {
    /// What uses the key, e.g. "Agenda of the cardiology clinic".
    #[arg(long)]
    pub name: String,
    /// What the key may do: consultations:read, consultations:write,
    /// webhooks:manage; several separated by commas.
    #[arg(long, value_delimiter = ',', required = true)]
    pub scopes: Vec<String>,
    /// Requests per minute the key may make (on each node).
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub requests_per_minute: u32,
}

#[derive(Debug, Args)]
pub struct RevokeApiKeyArgs {
    /// The key's id (the part after vk_, as list-api-keys shows it).
    #[arg(long)]
    pub id: String,
}

#[derive(Debug, Args)]
pub struct CreateUserArgs {
    /// Email address, used to sign in.
    #[arg(long)]
    pub email: String,
    /// Full name, as colleagues and patients will see it.
    #[arg(long)]
    pub name: String,
    /// One of admin, doctor, nurse, scheduler, translator; several separated by commas.
    #[arg(long, value_delimiter = ',', required = true)]
    pub role: Vec<String>,
    /// Read the password from standard input (required: passwords are never flags).
    #[arg(long, required = true)]
    pub password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct ResetTwoFactorArgs {
    /// Email address of the account.
    #[arg(long)]
    pub email: String,
}

#[derive(Debug, Args)]
pub struct ResetPasswordArgs {
    /// Email address of the account.
    #[arg(long)]
    pub email: String,
    /// Read the new password from standard input (required).
    #[arg(long, required = true)]
    pub password_stdin: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn create_user_takes_several_roles() {
        let cli = Cli::try_parse_from([
            "visita",
            "admin",
            "create-user",
            "--email",
            "a@b.org",
            "--name",
            "A",
            "--role",
            "doctor,nurse",
            "--password-stdin",
        ])
        .unwrap();
        let Command::Admin(AdminCommand::CreateUser(args)) = cli.command else {
            panic!("wrong command")
        };
        assert_eq!(args.role, vec!["doctor", "nurse"]);
    }

    #[test]
    fn passwords_are_never_flags() {
        assert!(
            Cli::try_parse_from([
                "visita",
                "admin",
                "create-user",
                "--email",
                "a@b.org",
                "--name",
                "A",
                "--role",
                "doctor"
            ])
            .is_err()
        );
    }
}
