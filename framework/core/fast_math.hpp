#pragma once

#include <Kokkos_Core.hpp>
#include <cstdint>
#include <cstring>

// Branch-free elementary functions for hot kernels. Unlike a call to the C library's pow,
// they are plain arithmetic that a compiler inlines and vectorises (and that a GPU runs as
// is); with AVX2 or AVX-512 code generation a kernel dominated by pow runs several times
// faster. They are accurate to a few ulp, not correctly rounded: results differ from
// std::pow in the last bits, identically on every rank count.
namespace gosok::math {

namespace detail {
KOKKOS_INLINE_FUNCTION double bits_to_double(std::uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}
KOKKOS_INLINE_FUNCTION std::uint64_t double_to_bits(double d) {
  std::uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  return bits;
}
}  // namespace detail

/// x^y for finite, positive, normal x and |y log x| < 700; relative error about
/// |y log x| * 1.1e-16 (2e-15 for the equation of state, 8e-15 for |y log x| < 50;
/// tests/unit/test_weather_fast_math.cpp). Outside that domain the result is meaningless.
///
/// log x: x = 2^e m with m in [sqrt(1/2), sqrt(2)) found by integer arithmetic on the bits
/// (no comparison, so no branch), log m = 2 atanh(f) with f = (m - 1)/(m + 1), |f| < 0.172,
/// summed to f^23. exp: y log x = n ln2 + r with |r| <= ln2/2, e^r by its Taylor series to
/// r^13, times 2^n built in the exponent bits.
KOKKOS_INLINE_FUNCTION double pow_positive(double x, double y) {
  using detail::bits_to_double;
  using detail::double_to_bits;
  constexpr std::uint64_t sqrt_half_bits = 0x3fe6a09e667f3bcdULL;  // bits of sqrt(1/2)
  constexpr std::uint64_t bias = 1023ULL << 52;
  constexpr std::uint64_t mantissa = (1ULL << 52) - 1;
  constexpr double two52 = 4503599627370496.0;
  // Shifting by sqrt(1/2) makes the exponent field of `t` that of x / sqrt(1/2); the bias
  // keeps `t` positive so a logical shift suffices.
  const std::uint64_t t = double_to_bits(x) - sqrt_half_bits + bias;
  const double e = bits_to_double((t >> 52) | 0x4330000000000000ULL) - two52 - 1023.0;
  const double m = bits_to_double((t & mantissa) + sqrt_half_bits);
  const double f = (m - 1.0) / (m + 1.0);
  const double f2 = f * f;
  double s = 1.0 / 23;
  s = s * f2 + 1.0 / 21;
  s = s * f2 + 1.0 / 19;
  s = s * f2 + 1.0 / 17;
  s = s * f2 + 1.0 / 15;
  s = s * f2 + 1.0 / 13;
  s = s * f2 + 1.0 / 11;
  s = s * f2 + 1.0 / 9;
  s = s * f2 + 1.0 / 7;
  s = s * f2 + 1.0 / 5;
  s = s * f2 + 1.0 / 3;
  s = s * f2 + 1.0;
  constexpr double ln2_hi = 6.93147180369123816490e-01;  // ln 2 split so n * ln2_hi is exact
  constexpr double ln2_lo = 1.90821492927058770002e-10;
  const double z = y * (e * ln2_hi) + y * (e * ln2_lo + 2.0 * f * s);  // y log x
  constexpr double shifter = 6755399441055744.0;                       // 1.5 * 2^52: adding it rounds to an integer
  const double shifted = z * 1.4426950408889634 + shifter;
  const double n = shifted - shifter;
  const double r = (z - n * ln2_hi) - n * ln2_lo;
  double p = 1.0 / 6227020800.0;
  p = p * r + 1.0 / 479001600;
  p = p * r + 1.0 / 39916800;
  p = p * r + 1.0 / 3628800;
  p = p * r + 1.0 / 362880;
  p = p * r + 1.0 / 40320;
  p = p * r + 1.0 / 5040;
  p = p * r + 1.0 / 720;
  p = p * r + 1.0 / 120;
  p = p * r + 1.0 / 24;
  p = p * r + 1.0 / 6;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  // The low bits of `shifted` hold n in two's complement; add the bias and move them up.
  return p * bits_to_double((double_to_bits(shifted) + 1023) << 52);
}

}  // namespace gosok::math
