#pragma once
// The term registry of a program: the engine's terms, plus the learned one in a LibTorch
// build. Inline so that each program (the `spinlat` executable, the Python module) compiles
// it with its own SPINLAT_HAVE_TORCH; the engine library, built without LibTorch, has none.
#include "spinlat/terms/registry.hpp"
#ifdef SPINLAT_HAVE_TORCH
#include "spinlat/learned/learned_term.hpp"
#endif

namespace spinlat {

inline TermRegistry all_terms() {
  TermRegistry r = builtin_terms();
#ifdef SPINLAT_HAVE_TORCH
  add_learned_terms(r);
#endif
  return r;
}

}  // namespace spinlat
