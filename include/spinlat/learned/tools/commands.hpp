#pragma once
// The learned module's commands (eval, train, export, convert, bench learned), added to the
// command registry of a LibTorch build the way add_learned_terms adds its term.
#include "spinlat/app/commands.hpp"

namespace spinlat {

void add_learned_commands(CommandRegistry& registry);

}  // namespace spinlat
