//! The `visita` binary as an operator meets it: help, configuration errors,
//! and the admin commands on a real on-disk database.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn visita(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_visita"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        command.env(k, v);
    }
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("visita runs");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_describes_every_command() {
    let out = visita(&["--help"], &[], None);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for command in ["serve", "migrate", "admin"] {
        assert!(help.contains(command), "{help}");
    }
    let admin = text(&visita(&["admin", "create-user", "--help"], &[], None).stdout);
    for flag in ["--email", "--name", "--role", "--password-stdin"] {
        assert!(admin.contains(flag), "{admin}");
    }
}

#[test]
fn an_invalid_setting_stops_with_status_2_and_one_plain_line() {
    let out = visita(&["serve"], &[("VISITA_ADDR", "abc")], None);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "VISITA_ADDR: \"abc\" is not a socket address like 127.0.0.1:3000\n"
    );

    let out = visita(
        &["migrate"],
        &[("VISITA_SESSION_IDLE_MINUTES", "forever")],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).starts_with("VISITA_SESSION_IDLE_MINUTES: "));
}

#[test]
fn create_user_reads_the_password_from_stdin_and_keeps_it_secret() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("VISITA_DATA_DIR", dir.path().to_str().unwrap())];
    let secret = "a very secret password";
    let args = [
        "admin",
        "create-user",
        "--email",
        "Doc@H.org",
        "--name",
        "Dr Who",
        "--role",
        "doctor",
        "--password-stdin",
    ];

    let out = visita(&args, &env, Some(&format!("{secret}\n")));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("created doc@h.org ("), "{stdout}");
    assert!(!stdout.contains(secret) && !text(&out.stderr).contains(secret));

    // The account survived the process: a second creation is a duplicate.
    let out = visita(&args, &env, Some(secret));
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "An account with the email doc@h.org already exists.\n",
        "one plain line, nothing from the database's shutdown"
    );

    let out = visita(&["migrate"], &env, None);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "The database is up to date.\n");
}

/// `visita admin create-user` for a@h.org with `role`, `password` on stdin.
fn create_user(env: &[(&str, &str)], role: &str, password: &str) -> Output {
    visita(
        &[
            "admin",
            "create-user",
            "--email",
            "a@h.org",
            "--name",
            "A",
            "--role",
            role,
            "--password-stdin",
        ],
        env,
        Some(password),
    )
}

#[test]
fn create_user_refuses_bad_input_plainly() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("VISITA_DATA_DIR", dir.path().to_str().unwrap())];
    let weak = create_user(&env, "doctor", "short");
    assert_eq!(weak.status.code(), Some(2));
    assert_eq!(
        text(&weak.stderr),
        "--password: The password must have at least 12 characters.\n"
    );

    let role = create_user(&env, "surgeon", "long enough password");
    assert_eq!(role.status.code(), Some(2));
    assert!(text(&role.stderr).contains("\"surgeon\" is not a role"));

    let empty = create_user(&env, "doctor", "");
    assert_eq!(empty.status.code(), Some(2));
}
