//! `atom add|find|name|delete|ls`: the realm's global atom table.

use clap::Subcommand;
use serde::Serialize;
use switchboard::Result;
use switchboard::atom::{self, Atom};

use super::{Ctx, Done};
use crate::output::Table;

/// Global atom commands.
#[derive(Debug, Subcommand)]
pub enum AtomCommand {
    /// Add a reference to a global atom, creating it if needed (`GlobalAddAtom`).
    ///
    /// Starts a broker if none is running: global atoms outlive the process
    /// that added them.
    Add {
        /// The name (1 to 255 characters, case-insensitive; `#123` is the integer atom 123).
        name: String,
    },
    /// Find a global atom by name (`GlobalFindAtom`).
    Find {
        /// The name.
        name: String,
    },
    /// Print a global atom's name (`GlobalGetAtomName`).
    Name {
        /// The atom: hex (`0xC001`) or decimal.
        #[arg(value_parser = parse_atom)]
        atom: Atom,
    },
    /// Drop one reference to a global atom (`GlobalDeleteAtom`).
    Delete {
        /// The atom: hex (`0xC001`) or decimal.
        #[arg(value_parser = parse_atom)]
        atom: Atom,
    },
    /// List the global string atoms with their reference counts.
    Ls,
}

/// Reads an atom written in hex (`0xC001`) or decimal (`49153`).
pub fn parse_atom(text: &str) -> std::result::Result<Atom, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u16::from_str_radix(hex, 16),
        None => text.parse::<u16>(),
    };
    parsed.map(Atom).map_err(|e| format!("{text:?} is not an atom (0x0001 to 0xFFFF, hex with 0x or decimal): {e}"))
}

#[derive(Serialize)]
struct AtomJson<'a> {
    atom: Atom,
    hex: String,
    name: &'a str,
}

fn print_atom(ctx: &Ctx, atom: Atom, name: &str, text: String) -> Result<Done> {
    ctx.emit(&AtomJson { atom, hex: atom.to_string(), name }, || text)?;
    Ok(Done::Ok)
}

/// Runs an atom command.
pub fn run(ctx: &Ctx, command: AtomCommand) -> Result<Done> {
    match command {
        AtomCommand::Add { name } => {
            let conn = ctx.connect()?;
            let atom = atom::global_add(&conn, &name)?;
            print_atom(ctx, atom, &name, format!("{atom}\n"))
        }
        AtomCommand::Find { name } => {
            let conn = ctx.connect_existing()?;
            let atom = atom::global_find(&conn, &name)?;
            print_atom(ctx, atom, &name, format!("{atom}\n"))
        }
        AtomCommand::Name { atom } => {
            let conn = ctx.connect_existing()?;
            let name = atom::global_name(&conn, atom)?;
            print_atom(ctx, atom, &name, format!("{name}\n"))
        }
        AtomCommand::Delete { atom } => {
            let conn = ctx.connect_existing()?;
            atom::global_delete(&conn, atom)?;
            ctx.emit(&serde_json::json!({ "atom": atom, "hex": atom.to_string(), "deleted": true }), || {
                format!("deleted one reference to {atom}\n")
            })?;
            Ok(Done::Ok)
        }
        AtomCommand::Ls => {
            let conn = ctx.connect_existing()?;
            let entries = atom::global_list(&conn)?;
            ctx.emit(&entries, || {
                let mut table = Table::new(&["ATOM", "REFS", "NAME"]);
                for e in &entries {
                    table.row(vec![e.atom.to_string(), e.refs.to_string(), e.name.clone()]);
                }
                table.render()
            })?;
            Ok(Done::Ok)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoms_read_as_hex_or_decimal() {
        assert_eq!(parse_atom("0xC001"), Ok(Atom(0xC001)));
        assert_eq!(parse_atom("0Xc001"), Ok(Atom(0xC001)));
        assert_eq!(parse_atom("49153"), Ok(Atom(0xC001)));
        assert_eq!(Atom(0xC001).to_string(), "0xC001");
    }

    #[test]
    fn malformed_atoms_are_refused() {
        for bad in ["", "0x", "C001", "0x10000", "65536", "-1", "0xC00G", " 1"] {
            assert!(parse_atom(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
