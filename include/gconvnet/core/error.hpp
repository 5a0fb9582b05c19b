// gconvnet/core/error.hpp — how the library reports bad input.
//
// Every check at the public boundary throws gconvnet::Error (an std::invalid_argument) whose message
// names the function, the argument, what was expected and what came:
//   "Conv::configure: argument 'input_shape' has 1 channel, layer expects 3"
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace gconvnet {

/// The exception thrown for bad input at the public boundary.
class Error : public std::invalid_argument {
public:
  explicit Error(const std::string& what) : std::invalid_argument(what) {}
};

/// Thrown when a computation produces NaN or Inf (a diverging sampler or learner).
class NumericalError : public std::runtime_error {
public:
  explicit NumericalError(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {

template <class... Parts>
std::string concat(Parts&&... parts) {
  std::ostringstream os;
  (os << ... << std::forward<Parts>(parts));
  return os.str();
}

/// Throws Error("FUNCTION: MESSAGE...").
template <class... Parts>
[[noreturn]] void fail(const char* function, Parts&&... parts) {
  throw Error(concat(function, ": ", std::forward<Parts>(parts)...));
}

/// Throws Error when `condition` is false.
template <class... Parts>
void check(bool condition, const char* function, Parts&&... parts) {
  if (!condition) fail(function, std::forward<Parts>(parts)...);
}

}  // namespace detail
}  // namespace gconvnet
