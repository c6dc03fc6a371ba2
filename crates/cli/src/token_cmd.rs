//! `gauntlet token create|list|revoke`: the API tokens of the web's write actions (rerun,
//! cancel). The token is printed once, when created; the store keeps only its SHA-256.

use anyhow::{Result, bail};
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub(crate) enum TokenCommand {
    /// Issue a token (printed once: the store keeps only its hash)
    Create(NameArgs),
    /// Every token issued: name, when, revoked or not (never the token)
    List,
    /// Revoke the token of that name
    Revoke(NameArgs),
}

#[derive(Args)]
pub(crate) struct NameArgs {
    /// Who or what uses the token (a person, a bot)
    name: String,
}

fn when(at: i64) -> String {
    gauntlet_mail::date::format_utc(at).replace('T', " ") + " UTC"
}

pub(crate) async fn run(db: &Option<String>, cmd: TokenCommand) -> Result<()> {
    let store = crate::open(db).await?;
    match cmd {
        TokenCommand::Create(args) => {
            let (id, token) = store.create_token(&args.name).await?;
            eprintln!(
                "token {id} for {:?}; send it as `Authorization: Bearer TOKEN` (shown only now):",
                args.name
            );
            println!("{token}");
        }
        TokenCommand::List => {
            for t in store.tokens().await? {
                let state = match t.revoked_at {
                    Some(at) => format!("revoked {}", when(at)),
                    None => "active".to_owned(),
                };
                println!("{}\t{}\t{}\t{state}", t.id, t.name, when(t.created_at));
            }
        }
        TokenCommand::Revoke(args) => {
            if !store.revoke_token(&args.name).await? {
                bail!("no active token named {:?}", args.name);
            }
            println!("revoked the token {:?}", args.name);
        }
    }
    store.close().await;
    Ok(())
}
