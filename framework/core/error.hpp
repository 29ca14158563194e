#pragma once

#include <stdexcept>
#include <string>

namespace gosok {

/// Bad input from a user: a file, a key, a command-line option. The CLI maps it to exit
/// code 2; the message names where the input came from and what would have been allowed.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A failure while running (I/O, numerics, MPI). Exit code 1.
class RunError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace gosok
