#include <gosok/regression/compare.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include <gosok/core/error.hpp>

namespace gosok::regress {

Norm parse_norm(const std::string& text) {
  if (text == "elementwise") return Norm::elementwise;
  if (text == "max") return Norm::max;
  if (text == "l2") return Norm::l2;
  throw InputError("norm '" + text + "' is not known; allowed: elementwise, max, l2");
}

const char* to_string(Norm norm) {
  switch (norm) {
    case Norm::elementwise:
      return "elementwise";
    case Norm::max:
      return "max";
    case Norm::l2:
      return "l2";
  }
  return "?";
}

std::string exact(double value) { return fmt::format("{}", value); }

std::string Bounds::describe() const {
  std::string lowside, highside;
  if (min) lowside = exact(*min) + " <= ";
  if (above) lowside = exact(*above) + " < ";
  if (max) highside = " <= " + exact(*max);
  if (below) highside = " < " + exact(*below);
  std::string out;
  if (!lowside.empty() || !highside.empty()) out = lowside + "v" + highside;
  if (abs_max) out += (out.empty() ? "" : ", ") + std::string("|v| <= ") + exact(*abs_max);
  return out.empty() ? "finite" : out;
}

namespace {

std::string describe_shape(const Quantity& q) {
  if (q.shape.empty()) return fmt::format("{} value(s)", q.values.size());
  std::string out;
  for (auto e : q.shape) out += (out.empty() ? "" : " x ") + std::to_string(e);
  return out;
}

bool same_layout(const Quantity& a, const Quantity& b, Outcome& out) {
  if (a.values.size() != b.values.size() || (!a.shape.empty() && !b.shape.empty() && a.shape != b.shape)) {
    out.detail = fmt::format("shapes differ: {} against {}", describe_shape(a), describe_shape(b));
    return false;
  }
  if (!a.labels.empty() && !b.labels.empty() && a.labels != b.labels) {
    for (std::size_t i = 0; i < a.labels.size(); ++i) {
      if (a.labels[i] != b.labels[i]) {
        out.detail = fmt::format("the values differ in name: '{}' against '{}'", a.labels[i], b.labels[i]);
        return false;
      }
    }
  }
  return true;
}

bool all_finite(const Quantity& a, Outcome& out) {
  for (std::size_t i = 0; i < a.values.size(); ++i) {
    if (!std::isfinite(a.values[i])) {
      out.detail = fmt::format("non-finite value {} at {}", a.values[i], a.where(i));
      return false;
    }
  }
  return true;
}

Outcome compare_bytes(const Quantity& a, const Quantity& b) {
  Outcome out;
  if (!a.bytes || !b.bytes) {
    out.detail = "a file's bytes can only be compared with another file's bytes";
    return out;
  }
  const std::string &x = *a.bytes, &y = *b.bytes;
  std::size_t k = 0;
  while (k < x.size() && k < y.size() && x[k] == y[k]) ++k;
  if (k == x.size() && k == y.size()) {
    out.pass = true;
    out.detail = fmt::format("identical ({} bytes)", x.size());
    return out;
  }
  const std::size_t line = 1 + static_cast<std::size_t>(std::count(x.begin(), x.begin() + static_cast<long>(k), '\n'));
  out.detail = fmt::format("the files differ from byte {} (line {}); {} against {} bytes", k, line, x.size(), y.size());
  return out;
}

}  // namespace

Outcome compare(const Quantity& a, const Quantity& b, const Tolerance& t) {
  if (a.bytes || b.bytes) return compare_bytes(a, b);
  Outcome out;
  if (!same_layout(a, b, out) || !all_finite(a, out)) return out;
  const std::size_t n = a.values.size();
  if (t.bitwise) {
    std::size_t differing = 0, first = n;
    for (std::size_t i = 0; i < n; ++i) {
      if (std::memcmp(&a.values[i], &b.values[i], sizeof(double)) != 0) {
        if (first == n) first = i;
        ++differing;
      }
    }
    if (differing == 0) {
      out.pass = true;
      out.detail = fmt::format("bitwise identical ({} values)", n);
    } else {
      out.detail = fmt::format("{} of {} values differ in their bits; first at {}: {} against {}", differing, n,
                               a.where(first), exact(a.values[first]), exact(b.values[first]));
    }
    return out;
  }
  if (t.norm == Norm::elementwise) {
    std::size_t outside = 0, worst = 0;
    double worst_ratio = -1;
    for (std::size_t i = 0; i < n; ++i) {
      const double diff = std::abs(a.values[i] - b.values[i]);
      const double allowed = t.atol + t.rtol * std::abs(b.values[i]);
      const double ratio = allowed > 0 ? diff / allowed : (diff > 0 ? INFINITY : 0);
      if (diff > allowed) ++outside;
      if (ratio > worst_ratio) {
        worst_ratio = ratio;
        worst = i;
      }
    }
    const double diff = std::abs(a.values[worst] - b.values[worst]);
    const double allowed = t.atol + t.rtol * std::abs(b.values[worst]);
    out.pass = outside == 0;
    out.detail = fmt::format("{}{}: {} against {}, |a - b| = {:.3g} {} atol + rtol |b| = {:.3g}",
                             outside ? fmt::format("{} of {} values outside the tolerance; worst at ", outside, n)
                                     : std::string("every value within the tolerance; closest to it at "),
                             a.where(worst), exact(a.values[worst]), exact(b.values[worst]), diff,
                             outside ? ">" : "<=", allowed);
    return out;
  }
  double diff_norm = 0, scale = 0;
  std::size_t worst = 0;
  double worst_diff = -1;
  for (std::size_t i = 0; i < n; ++i) {
    const double d = std::abs(a.values[i] - b.values[i]);
    if (d > worst_diff) {
      worst_diff = d;
      worst = i;
    }
    if (t.norm == Norm::max) {
      diff_norm = std::max(diff_norm, d);
      scale = std::max(scale, std::abs(b.values[i]));
    } else {
      diff_norm += d * d;
      scale += b.values[i] * b.values[i];
    }
  }
  if (t.norm == Norm::l2) {
    diff_norm = std::sqrt(diff_norm);
    scale = std::sqrt(scale);
  }
  const double allowed = t.atol + t.rtol * scale;
  const char* name = t.norm == Norm::max ? "max" : "l2";
  out.pass = diff_norm <= allowed;
  out.detail = fmt::format("{} norm of a - b = {:.3g} {} atol + rtol x {} norm of b ({:.3g}) = {:.3g}", name, diff_norm,
                           out.pass ? "<=" : ">", name, scale, allowed);
  if (n > 0 && worst_diff > 0) {
    out.detail += fmt::format("; largest difference at {}: {} against {}", a.where(worst), exact(a.values[worst]),
                              exact(b.values[worst]));
  }
  return out;
}

Outcome check_bounds(const Quantity& a, const Bounds& bounds) {
  Outcome out;
  if (a.bytes) {
    out.detail = "a file's bytes have no bounds";
    return out;
  }
  if (!all_finite(a, out)) return out;
  for (std::size_t i = 0; i < a.values.size(); ++i) {
    const double v = a.values[i];
    const bool ok = (!bounds.min || v >= *bounds.min) && (!bounds.max || v <= *bounds.max) &&
                    (!bounds.above || v > *bounds.above) && (!bounds.below || v < *bounds.below) &&
                    (!bounds.abs_max || std::abs(v) <= *bounds.abs_max);
    if (!ok) {
      out.detail = fmt::format("{} = {} breaks {}", a.where(i), exact(v), bounds.describe());
      return out;
    }
  }
  out.pass = true;
  if (a.values.size() == 1) {
    out.detail = fmt::format("{} = {}: {}", a.where(0), exact(a.values[0]), bounds.describe());
  } else {
    double lo = INFINITY, hi = -INFINITY;
    for (double v : a.values) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    out.detail = fmt::format("all {} values in [{:.6g}, {:.6g}]: {}", a.values.size(), lo, hi, bounds.describe());
  }
  return out;
}

}  // namespace gosok::regress
