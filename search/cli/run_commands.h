#pragma once

#include <string>

#include "search/cli/common_args.h"

namespace nasforge {

/// `nasforge run`: creates the study of `file` (or continues it when stored with the same file) and runs it.
int cmd_run(const std::string& file, CommonArgs args);

/// `nasforge resume`: continues a stored study after a stop or crash.
int cmd_resume(CommonArgs args);

/// `nasforge worker`: runs trials of a stored study until its target; one of any number sharing the storage.
int cmd_worker(CommonArgs args);

}  // namespace nasforge
