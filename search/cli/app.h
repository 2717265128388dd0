#pragma once

namespace nasforge {

/// Parses the command line and runs one command. Errors are thrown (main() maps them to exit codes); the
/// return value is the exit status for outcomes that are not errors (0, or CLI11's for --help).
int run_cli(int argc, char** argv);

}  // namespace nasforge
