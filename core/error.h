#pragma once

#include <stdexcept>
#include <string>

namespace nasforge {

/// Root of every exception nasforge throws; main() maps the subclasses to exit codes.
class Error : public std::runtime_error {
 public:
  /// Creates an error with a complete, user-facing message.
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

/// Bad command-line usage (unknown flag, missing argument); exit code 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

/// A bad value passed through the API or a file; exit code 2.
class ValueError : public Error {
 public:
  using Error::Error;
};

/// A malformed or invalid configuration file; the message names file, line, key and value; exit code 2.
class ConfigError : public ValueError {
 public:
  using ValueError::ValueError;
};

/// A malformed data file (CSV, IDX, ...); exit code 2.
class DataError : public ValueError {
 public:
  using ValueError::ValueError;
};

/// A study, trial or file that the user named does not exist; exit code 2.
class NotFoundError : public ValueError {
 public:
  using ValueError::ValueError;
};

/// A study with this name already exists in the storage; exit code 2.
class DuplicateStudyError : public ValueError {
 public:
  using ValueError::ValueError;
};

/// The storage backend failed (I/O, corrupt database, lost connection); exit code 1.
class StorageError : public Error {
 public:
  using Error::Error;
};

/// An operation is not valid in the object's current state (e.g. telling a finished trial); exit code 1.
class StateError : public Error {
 public:
  using Error::Error;
};

/// The objective failed for one trial; the study loop marks that trial FAIL and goes on.
class ObjectiveError : public Error {
 public:
  using Error::Error;
};

/// A genotype that names no trainable network (e.g. a cell whose output is disconnected from its input); the
/// trial fails before any training.
class InvalidArchitecture : public ObjectiveError {
 public:
  using ObjectiveError::ObjectiveError;
};

/// Thrown by an objective to stop its trial early; the study loop marks the trial PRUNED.
class TrialPruned : public Error {
 public:
  /// Creates the signal; the message is informational only.
  explicit TrialPruned(const std::string& message = "trial pruned") : Error(message) {}
};

/// The search space has no unvisited point left (e.g. a finished grid); the study loop stops cleanly.
class SpaceExhausted : public Error {
 public:
  using Error::Error;
};

/// The user interrupted the run (SIGINT/SIGTERM); exit code 130.
class Interrupted : public Error {
 public:
  using Error::Error;
};

/// Throws ValueError(message) when cond is false; the message should quote the bad value.
void check(bool cond, const std::string& message);

}  // namespace nasforge
