#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "storage/storage.h"

namespace nasforge {

namespace {

constexpr std::size_t kMaxStudyNameLength = 128;

bool is_alnum(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

std::string describe_byte(unsigned char c) {
  if (c == '/') return "a path separator '/'";
  if (c == '\\') return "a backslash (a path separator on Windows)";
  if (c == ' ') return "a space";
  char buf[48];
  if (c < 0x20 || c == 0x7f) {
    std::snprintf(buf, sizeof buf, "the control character \\x%02x", c);
  } else if (c >= 0x80) {
    std::snprintf(buf, sizeof buf, "the non-ASCII byte \\x%02x", c);
  } else {
    std::snprintf(buf, sizeof buf, "'%c'", c);
  }
  return buf;
}

}  // namespace

std::optional<std::string> study_name_problem(const std::string& name) {
  if (name.empty()) return std::string("it is empty");
  if (name.size() > kMaxStudyNameLength) {
    return "it is " + std::to_string(name.size()) + " characters long, more than " +
           std::to_string(kMaxStudyNameLength);
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    auto c = static_cast<unsigned char>(name[i]);
    if (!is_alnum(c) && c != '.' && c != '_' && c != '-') {
      return "it contains " + describe_byte(c) + " at position " + std::to_string(i + 1);
    }
  }
  // "." and "..", hidden folders, and names a command line would read as an option.
  if (name[0] == '.' || name[0] == '-') return "it starts with '" + name.substr(0, 1) + "'";
  return std::nullopt;
}

std::string quote_study_name(const std::string& name) {
  std::string out = "'";
  for (char ch : name) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c >= 0x7f || c == '\'' || c == '\\') {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "'";
}

std::string quoted_study_names(Storage& storage) {
  std::string names;
  for (const StudyInfo& s : storage.list_studies()) names += (names.empty() ? "" : ", ") + quote_study_name(s.name);
  return names.empty() ? "none" : names;
}

void check_study_name(const std::string& name, const std::string& what) {
  if (auto problem = study_name_problem(name)) {
    throw ValueError(what + " " + quote_study_name(name) + " is not a valid study name: " + *problem + "; " +
                     kStudyNameRule);
  }
}

std::string Storage::study_artifact_dir(const std::string& name) const {
  std::string root = artifact_root();
  if (root.empty()) return root;
  if (auto problem = study_name_problem(name)) {
    throw ValueError("study " + quote_study_name(name) + " has a name that cannot be used as a folder (" + *problem +
                     "), so nasforge will not touch its trial files; rename it first with 'nasforge rename "
                     "--storage URL --study " + quote_study_name(name) + " --as NEW_NAME' (" +
                     kStudyNameRule + ")");
  }
  // A valid name is one path component that is neither "." nor "..", so the folder is a direct child of the root.
  return (std::filesystem::path(root) / name).string();
}

}  // namespace nasforge
