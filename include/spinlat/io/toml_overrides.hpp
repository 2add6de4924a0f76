#pragma once
// TOML documents with command-line overrides (`--set KEY=VALUE`): the file format half of
// reading an input; what the keys mean is the input schema (workflows/input.hpp).
#include <string>
#include <vector>

#include <toml++/toml.h>

namespace spinlat {

/// Applies one `--set KEY=VALUE` override (dotted path, array index for arrays of tables,
/// VALUE parsed as a TOML value, or as a string if it is not one) to a parsed document.
void apply_override(toml::table& doc, const std::string& assignment);
/// "--set KEY=VALUE" when `n` (or the value it lies in) was given by that override, "" when it
/// comes from the file: errors about it name the argument instead of a line of the file.
std::string override_source(const toml::node& n);
/// Parses TOML text (`name` stands for the file in messages) and applies `--set` overrides;
/// InputError with the line for invalid TOML.
toml::table parse_toml_with_overrides(const std::string& text, const std::string& name,
                                      const std::vector<std::string>& overrides);

}  // namespace spinlat
