#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nasforge {

/// Levenshtein edit distance, used to suggest the nearest valid name.
std::size_t edit_distance(const std::string& a, const std::string& b);

/// The candidate closest to `word`, if any is close enough to be a plausible typo.
std::optional<std::string> nearest(const std::string& word, const std::vector<std::string>& candidates);

/// " (did you mean 'x'?)" or "" when nothing is close; appended to unknown-name errors.
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

/// Joins items with a separator.
std::string join(const std::vector<std::string>& items, const std::string& sep);

/// Formats a double so that it reads back to the same value ("0.1", "1e-05", "nan", "inf").
std::string format_double(double v);

/// Parses a whole string as a double ("nan", "inf", "-inf" accepted); nullopt if it is not one.
std::optional<double> parse_double(const std::string& text);

/// Parses a whole string as a signed 64-bit integer; nullopt if it is not one.
std::optional<long long> parse_int(const std::string& text);

/// Offset of the first byte of `text` that does not belong to a well-formed UTF-8 sequence; nullopt if none.
std::optional<std::size_t> invalid_utf8_offset(std::string_view text);

/// Trims ASCII whitespace at both ends.
std::string trim(const std::string& s);

}  // namespace nasforge
