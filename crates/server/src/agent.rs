//! `switchboard agent password --subject S [--role agent|supervisor] [--email E]`: sets the password a
//! person signs in with (the console, `Auth/SignIn`), through `Auth/SetPassword` with an admin's
//! `SWITCHBOARD_TOKEN`, for the token's tenant. The password comes from `SWITCHBOARD_PASSWORD` or
//! the first line of standard input, never from argv (visible to every user of the machine).

use anyhow::Context as _;
use clap::Subcommand;
use switchboard_proto::auth::v1::{SetPasswordRequest, auth_client::AuthClient};

use crate::api::ApiArgs;

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Set (or replace) the password of an agent or supervisor of the token's tenant, read from
    /// SWITCHBOARD_PASSWORD or the first line of standard input.
    Password {
        /// The person's id (letters, digits, '-', '_'), the subject of their tokens.
        #[arg(long)]
        subject: String,
        /// agent or supervisor.
        #[arg(long, default_value = "agent")]
        role: String,
        /// The email the person may sign in with instead of their id (kept when not given).
        #[arg(long, default_value = "")]
        email: String,
        #[command(flatten)]
        api: ApiArgs,
    },
}

pub async fn run(command: AgentCommand) -> anyhow::Result<()> {
    let AgentCommand::Password { subject, role, email, api } = command;
    let from_env = std::env::var("SWITCHBOARD_PASSWORD").ok();
    let password = match from_env.filter(|password| !password.is_empty()) {
        Some(password) => password,
        None => first_line(std::io::stdin().lock())?,
    };
    set_password(&api, &Person { subject: &subject, role: &role, email: &email }, password).await?;
    match email.as_str() {
        "" => println!("password set for {role} {subject}"),
        email => println!("password set for {role} {subject}, who signs in as {subject} or {email}"),
    }
    Ok(())
}

/// Who a password is for.
pub struct Person<'a> {
    pub subject: &'a str,
    pub role: &'a str,
    /// Empty: keep the one set before.
    pub email: &'a str,
}

/// Sets a person's password through the API; the server checks its length (12 to 128
/// characters), the role and the email.
pub async fn set_password(api: &ApiArgs, person: &Person<'_>, password: String) -> anyhow::Result<()> {
    let mut client = AuthClient::new(api.connect().await?);
    let request = SetPasswordRequest {
        subject: person.subject.into(),
        role: person.role.into(),
        password,
        email: person.email.into(),
    };
    client
        .set_password(request)
        .await
        .map_err(|status| anyhow::anyhow!("the password was not set: {}", status.message()))?;
    Ok(())
}

/// The first line of `input`, without its line ending (other whitespace is the password's).
fn first_line(mut input: impl std::io::BufRead) -> anyhow::Result<String> {
    let mut line = String::new();
    input.read_line(&mut line).context("cannot read the password from standard input")?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    anyhow::ensure!(
        !password.is_empty(),
        "no password: give it on standard input or in SWITCHBOARD_PASSWORD"
    );
    Ok(password.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_the_first_line_without_its_ending() {
        let read = |text: &str| first_line(text.as_bytes());
        assert_eq!(read("correct horse battery\nnext").expect("a line"), "correct horse battery");
        assert_eq!(read(" spaced out \r\n").expect("a line"), " spaced out ");
        assert_eq!(read("no newline at the end").expect("a line"), "no newline at the end");
        assert!(read("").expect_err("empty").to_string().contains("SWITCHBOARD_PASSWORD"));
        assert!(read("\n").is_err());
    }
}
