#pragma once

#include <string>

#include "search/cli/common_args.h"

namespace nasforge {

/// `nasforge export`: writes trial `number`'s network to `out_dir` (`force`: into a non-empty folder), then with
/// `evaluate` rebuilds and evaluates it.
int cmd_export(const CommonArgs& args, int number, const std::string& out_dir, bool evaluate, bool force);

/// `nasforge evaluate`: rebuilds the model bundle in `dir` and evaluates it on its validation data.
int cmd_evaluate(const std::string& dir, const CommonArgs& args);

/// `nasforge delete`: deletes a study, its trials and its trial files; refuses without `yes`.
int cmd_delete(const CommonArgs& args, bool yes);

/// `nasforge rename`: gives a study `new_name` and moves its trial files with it.
int cmd_rename(const CommonArgs& args, const std::string& new_name);

/// `nasforge copy`: copies study `name` with its trials and trial files from one storage to another, as
/// `new_name` ("" keeps the name).
int cmd_copy(const std::string& from_url, const std::string& to_url, const std::string& name, std::string new_name);

}  // namespace nasforge
