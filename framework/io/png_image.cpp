#include <gosok/io/png_image.hpp>

#include <png.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include <gosok/core/error.hpp>

namespace gosok {

namespace {

std::uint8_t channel(double v) { return static_cast<std::uint8_t>(std::lround(std::clamp(v, 0.0, 1.0) * 255.0)); }

// Linear blend of two RGB colours (components in [0, 1]).
void blend(const double (&a)[3], const double (&b)[3], double t, std::uint8_t (&rgb)[3]) {
  for (int c = 0; c < 3; ++c) rgb[c] = channel(a[c] + (b[c] - a[c]) * std::clamp(t, 0.0, 1.0));
}

}  // namespace

void diverging_colour(double t, std::uint8_t (&rgb)[3]) {
  static constexpr double blue[3] = {0.13, 0.30, 0.75}, white[3] = {1, 1, 1}, red[3] = {0.75, 0.10, 0.12};
  if (!std::isfinite(t)) t = 0;
  if (t < 0) {
    blend(white, blue, -t, rgb);
  } else {
    blend(white, red, t, rgb);
  }
}

void sequential_colour(double t, std::uint8_t (&rgb)[3]) {
  static constexpr double white[3] = {1, 1, 1}, orange[3] = {0.99, 0.55, 0.24}, dark[3] = {0.40, 0.0, 0.05};
  if (!std::isfinite(t)) t = 0;
  if (t < 0.5) {
    blend(white, orange, 2 * t, rgb);
  } else {
    blend(orange, dark, 2 * t - 1, rgb);
  }
}

namespace {

// libpng reports errors by longjmp back into this function, so it holds nothing with a
// destructor (the caller owns the file, the text chunks and the pixels).
bool encode(std::FILE* file, const RgbImage& image, png_text* chunks, int chunk_count) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!png || !info) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_init_io(png, file);
  png_set_IHDR(png, info, static_cast<png_uint_32>(image.width), static_cast<png_uint_32>(image.height), 8,
               PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (chunk_count > 0) png_set_text(png, info, chunks, chunk_count);
  png_write_info(png, info);
  for (int y = 0; y < image.height; ++y) {
    png_write_row(png, image.pixels.data() + static_cast<std::size_t>(y) * image.width * 3);
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

}  // namespace

void write_png(const std::filesystem::path& path, const RgbImage& image,
               const std::map<std::string, std::string>& text) {
  if (image.width <= 0 || image.height <= 0) throw RunError("cannot write an empty picture to " + path.string());
  const auto tmp = path.string() + ".tmp";
  std::vector<png_text> chunks;
  for (const auto& [key, value] : text) {
    png_text t{};
    t.compression = PNG_TEXT_COMPRESSION_NONE;
    t.key = const_cast<char*>(key.c_str());
    t.text = const_cast<char*>(value.c_str());
    t.text_length = value.size();
    chunks.push_back(t);
  }
  std::FILE* file = std::fopen(tmp.c_str(), "wb");
  if (!file) throw RunError("cannot write " + tmp + ": " + std::strerror(errno));
  const bool encoded = encode(file, image, chunks.data(), static_cast<int>(chunks.size()));
  const bool closed = std::fclose(file) == 0;
  std::error_code ec;
  if (!encoded || !closed) {
    std::filesystem::remove(tmp, ec);
    throw RunError(fmt::format("cannot write the picture {}: {}", path.string(),
                               encoded ? "closing it failed" : "libpng failed (see the message above)"));
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw RunError("cannot rename " + tmp + " to " + path.string() + ": " + ec.message());
}

}  // namespace gosok
