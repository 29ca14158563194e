#pragma once

#include <optional>
#include <string>

#include <gosok/regression/quantity.hpp>

namespace gosok::regress {

/// The one comparator of gosok: every sanity check of a suite (against a baseline, between
/// rank counts, restart against uninterrupted, invariants) ends here.
///
/// Vocabulary: `a` is the run's quantity, `b` the one it is compared with (baseline or
/// reference run). A *norm* says how the difference is measured:
///  - elementwise: every value satisfies |a - b| <= atol + rtol |b| (numpy's allclose);
///  - max:         max |a - b| <= atol + rtol max |b| (relative to the field's scale, so
///                 values near zero do not demand the impossible);
///  - l2:          ||a - b||_2 <= atol + rtol ||b||_2.
/// *Bitwise* compares bit patterns (or a file's bytes): the claim "identical", with nothing
/// allowed. A non-finite value in `a` always fails.
enum class Norm { elementwise, max, l2 };

Norm parse_norm(const std::string& text);  // throws InputError
const char* to_string(Norm norm);

struct Tolerance {
  double rtol = 0;
  double atol = 0;
  Norm norm = Norm::elementwise;
  bool bitwise = false;
};

/// Bounds an invariant must keep, each optional: min <= v <= max, above < v < below,
/// |v| <= abs_max, for every value.
struct Bounds {
  std::optional<double> min, max, above, below, abs_max;
  bool any() const { return min || max || above || below || abs_max; }
  std::string describe() const;  // "|v| <= 1e-13", "-4.5e-05 <= v < 0"
};

struct Outcome {
  bool pass = false;
  std::string detail;  // what was measured and against what, in one line
};

Outcome compare(const Quantity& a, const Quantity& b, const Tolerance& tolerance);
Outcome check_bounds(const Quantity& a, const Bounds& bounds);

/// Shortest text that reads back as the same double ("0.1", "1.2345678901234567e-13").
std::string exact(double value);

}  // namespace gosok::regress
