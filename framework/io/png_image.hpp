#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace gosok {

/// An 8-bit RGB picture, row-major from the top row down, three bytes per pixel.
struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> pixels;

  RgbImage(int w, int h, std::uint8_t grey = 255)
      : width(w), height(h), pixels(static_cast<std::size_t>(w) * h * 3, grey) {}
  void set(int x, int y, const std::uint8_t (&rgb)[3]) {
    auto* p = &pixels[(static_cast<std::size_t>(y) * width + x) * 3];
    p[0] = rgb[0];
    p[1] = rgb[1];
    p[2] = rgb[2];
  }
};

/// Colour maps for fields: `diverging` for signed values (blue below 0, white at 0, red
/// above; t in [-1, 1]), `sequential` for non-negative ones (white to dark red; t in [0, 1]).
void diverging_colour(double t, std::uint8_t (&rgb)[3]);
void sequential_colour(double t, std::uint8_t (&rgb)[3]);

/// Writes `image` as a PNG file with libpng (written to a temporary, then renamed), with
/// `text` as its tEXt chunks (Title, Description, ...). Throws RunError on failure.
void write_png(const std::filesystem::path& path, const RgbImage& image,
               const std::map<std::string, std::string>& text = {});

}  // namespace gosok
