//! Running the host commands that set the node up (`ip`, `nsenter`, `sysctl`, `apt-get`).

use std::process::Command;

use crate::error::{Error, Result};

/// Run `program args…`; fail with its stderr when it does not succeed.
pub(super) fn run(program: &str, args: &[&str]) -> Result<()> {
    run_output(program, args).map(|_| ())
}

/// Run `program args…` and return its stdout; fail with its stderr when it does not succeed.
pub(super) fn run_output(program: &str, args: &[&str]) -> Result<String> {
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(Error::io(program))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(Error::Command {
            command: format!("{program} {}", args.join(" ")),
            status: output.status.to_string(),
            output: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }
}
