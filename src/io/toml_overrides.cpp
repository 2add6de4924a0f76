// `--set` overrides of a parsed TOML document; see include/spinlat/io/toml_overrides.hpp.
#include "spinlat/io/toml_overrides.hpp"

#include <algorithm>
#include <sstream>

#include "spinlat/core/error.hpp"
#include "spinlat/io/text.hpp"

namespace spinlat {
namespace {

// ---- --set overrides ---------------------------------------------------------------------

bool is_index(const std::string& s) {
  return !s.empty() && s.size() <= 9 && std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
}

const std::string kSetPrefix = "--set ";

[[noreturn]] void override_error(const std::string& key, const std::string& msg) {
  throw InputError("--set", key, 0, msg);
}

// Moves a parsed value (any node type) into a table or an array slot.
void put(toml::table& t, const std::string& key, toml::node&& n) {
  std::move(n).visit([&](auto&& v) { t.insert_or_assign(key, std::move(v)); });
}
void put(toml::array& a, std::size_t i, toml::node&& n) {
  std::move(n).visit([&](auto&& v) {
    if (i == a.size())
      a.push_back(std::move(v));
    else
      a.replace(a.cbegin() + static_cast<std::ptrdiff_t>(i), std::move(v));
  });
}

}  // namespace

void apply_override(toml::table& doc, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos) override_error("", "expected KEY=VALUE, got '" + assignment + "'");
  const std::string key = trim(assignment.substr(0, eq)), text = trim(assignment.substr(eq + 1));
  std::vector<std::string> parts;
  std::string part;
  for (std::size_t i = 0; i <= key.size(); ++i) {
    if (i == key.size() || key[i] == '.') {
      if (part.empty()) override_error(key, "expected a dotted key such as structure.cells or potential.0.J");
      parts.push_back(part);
      part.clear();
    } else {
      part += key[i];
    }
  }

  // The value: any TOML value ([8,8,8], 5, 0.01, true, "x"), else the text as a string. Its
  // source is the argument itself, so that a later error names it (override_source()) rather
  // than line 1 of the input file.
  const std::string source = kSetPrefix + assignment;
  toml::table parsed;
  bool ok = false;
  try {
    parsed = toml::parse("v = " + text, source);
    ok = parsed.size() == 1 && parsed.contains("v");
  } catch (const toml::parse_error&) {
  }
  if (!ok) {
    std::ostringstream quoted;  // the text as a TOML string, escaped by toml++ itself
    quoted << toml::table{{"v", text}};
    parsed = toml::parse(quoted.str(), source);
  }
  toml::node& value = *parsed.get("v");

  toml::node* cur = &doc;
  std::string walked;
  for (std::size_t k = 0; k < parts.size(); ++k) {
    const std::string& p = parts[k];
    const bool last = k + 1 == parts.size();
    const bool next_is_index = !last && is_index(parts[k + 1]);
    if (toml::table* t = cur->as_table()) {
      if (last) {
        put(*t, p, std::move(value));
        return;
      }
      if (!t->contains(p)) {
        if (next_is_index)
          t->insert(p, toml::array{});
        else
          t->insert(p, toml::table{});
      }
      cur = t->get(p);
    } else if (toml::array* a = cur->as_array()) {
      if (!is_index(p)) override_error(key, "'" + walked + "' is a list: expected an index after it, got '" + p + "'");
      const std::size_t i = std::stoul(p);
      if (i > a->size())
        override_error(key, "index " + p + " is out of range: '" + walked + "' has " + std::to_string(a->size()) +
                                " entr" + (a->size() == 1 ? "y" : "ies") + " (an index equal to the count appends one)");
      if (last) {
        put(*a, i, std::move(value));
        return;
      }
      if (i == a->size()) {
        if (next_is_index)
          a->push_back(toml::array{});
        else
          a->push_back(toml::table{});
      }
      cur = a->get(i);
    } else {
      override_error(key, "'" + walked + "' is a single value, not a table or list");
    }
    walked += (walked.empty() ? "" : ".") + p;
  }
}

std::string override_source(const toml::node& n) {
  const auto& path = n.source().path;
  if (path && path->compare(0, kSetPrefix.size(), kSetPrefix) == 0) return *path;
  return "";
}

toml::table parse_toml_with_overrides(const std::string& text, const std::string& name,
                                      const std::vector<std::string>& overrides) {
  toml::table doc;
  try {
    doc = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    throw InputError(name, "", static_cast<int>(e.source().begin.line), "invalid TOML: " + std::string(e.description()));
  }
  for (const auto& o : overrides) apply_override(doc, o);
  return doc;
}

}  // namespace spinlat
